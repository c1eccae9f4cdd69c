"""kill -9 at random moments of a render: every audio and lock file is the old one or the complete new one."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

from acegit.project import Project, load_project

TRIALS = 20


@pytest.fixture
def kproject(project: Project, tmp_path_factory: pytest.TempPathFactory) -> Project:
    from acegit.engine.checkpoint import build_model, save_checkpoint

    weights = project.root / "weights" / "test"
    shutil.rmtree(weights)
    save_checkpoint(build_model("tiny", seed=1), weights)
    (project.root / "tracks" / "example.toml").unlink()
    return load_project(project.root)


def _render(root: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "NO_COLOR": "1"}
    cmd = [sys.executable, "-m", "acegit", "render"]
    return subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_sigkill_never_leaves_a_partial_file(kproject: Project, cli: Callable[..., Result]) -> None:
    root = kproject.root
    added = cli("add", "boss", "--prompt", "battle drums", "--seed", "1", "--duration", "3", "--steps", "4")
    assert added.exit_code == 0
    track = root / "tracks" / "boss.toml"
    lock, audio = root / "tracks" / "boss.lock.toml", root / "build" / "boss.wav"
    text = {seed: track.read_text().replace("seed = 1", f"seed = {seed}") for seed in (1, 2)}

    # The two complete outcomes (renders are deterministic, so these are the only valid files).
    complete: dict[str, set[bytes]] = {"lock": set(), "audio": set()}
    durations = []
    for seed in (1, 2):
        track.write_text(text[seed])
        start = time.perf_counter()
        assert _render(root).wait(timeout=300) == 0
        durations.append(time.perf_counter() - start)
        complete["lock"].add(lock.read_bytes())
        complete["audio"].add(audio.read_bytes())
    assert len(complete["lock"]) == 2
    cache = root / ".acegit" / "cache"

    rng = random.Random(0)
    span = max(durations)
    for trial in range(TRIALS):
        track.write_text(text[1 + trial % 2])
        if trial % 2 == 0:
            shutil.rmtree(cache, ignore_errors=True)  # half the trials sample, half restore from the cache
        proc = _render(root)
        time.sleep(rng.uniform(0.5, 1.02) * span)  # the writes happen late: spend the kills near them
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        assert lock.read_bytes() in complete["lock"], f"trial {trial}: partial lock file"
        assert audio.read_bytes() in complete["audio"], f"trial {trial}: partial audio file"

    # The next render cleans up what the kills left and finishes normally; the cache is still usable.
    track.write_text(text[1])
    assert _render(root).wait(timeout=300) == 0
    assert lock.read_bytes() in complete["lock"]
    assert not list((root / "tracks").glob(".*.tmp")) and not list((root / "build").glob(".*.tmp"))
    checked = cli("render", "--check")
    assert checked.exit_code == 0, checked.output
