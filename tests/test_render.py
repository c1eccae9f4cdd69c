"""acegit render in real temporary git repos, with a randomly initialised tiny model (no trained weights needed)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

from acegit.errors import UsageError
from acegit.lockfile import read_lock
from acegit.project import PROJECT_FILE, Project, load_project
from acegit.render import in_shard, latent_error, parse_shard

FAST = ["--duration", "3", "--steps", "3"]


@pytest.fixture(scope="session")
def random_tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised tiny checkpoint (saved once per test session)."""
    from acegit.engine.checkpoint import build_model, save_checkpoint

    folder = tmp_path_factory.mktemp("weights") / "tiny-random"
    save_checkpoint(build_model("tiny", seed=0), folder)
    return folder


@pytest.fixture
def rproject(project: Project, random_tiny: Path) -> Project:
    """The shared `project` fixture, its "test" model swapped for a real (random) tiny checkpoint; no example track."""
    shutil.rmtree(project.root / "weights" / "test")
    shutil.copytree(random_tiny, project.root / "weights" / "test")
    (project.root / "tracks" / "example.toml").unlink()
    return load_project(project.root)


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


def _ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def _status(cli: Callable[..., Result]) -> dict[str, str]:
    data = json.loads(_ok(cli("status", "--json")).stdout)
    return {t["name"]: t["state"] for t in data["tracks"]}


def test_render_edit_rerender_cycle(rproject: Project, cli: Callable[..., Result]) -> None:
    _ok(cli("add", "boss", "--prompt", "epic orchestral boss battle", "--seed", "7", *FAST))
    assert _status(cli) == {"boss": "stale"}
    out = json.loads(_ok(cli("render", "--json")).stdout)
    assert [t["result"] for t in out["tracks"]] == ["rendered"]
    lock_file = rproject.root / "tracks" / "boss.lock.toml"
    audio = rproject.root / "build" / "boss.wav"
    assert lock_file.is_file() and audio.is_file()
    assert _status(cli) == {"boss": "fresh"}
    first = lock_file.read_bytes()
    lock = read_lock(lock_file)
    assert lock.audio.duration == pytest.approx(3.0, abs=1e-3)

    # Nothing stale: a no-op that touches nothing.
    again = json.loads(_ok(cli("render", "--json")).stdout)
    assert [t["result"] for t in again["tracks"]] == ["fresh"]

    track = rproject.root / "tracks" / "boss.toml"
    track.write_text(track.read_text().replace("epic orchestral", "quiet piano"))
    assert _status(cli) == {"boss": "stale"}
    _ok(cli("render"))
    assert _status(cli) == {"boss": "fresh"}
    assert lock_file.read_bytes() != first


def test_force_on_fresh_track_leaves_git_clean(rproject: Project, cli: Callable[..., Result]) -> None:
    _ok(cli("add", "intro", "--prompt", "calm solo piano", "--seed", "1", *FAST))
    _ok(cli("render"))
    _git(rproject.root, "add", "-A")
    _git(rproject.root, "commit", "-qm", "render")
    out = json.loads(_ok(cli("render", "--force", "--no-cache", "--json")).stdout)
    assert out["tracks"][0]["result"] == "rendered" and out["tracks"][0]["lock_changed"] is False
    assert _git(rproject.root, "status", "--porcelain") == ""


def test_check_passes_then_catches_latent_and_seed_edits(rproject: Project, cli: Callable[..., Result]) -> None:
    import dataclasses

    import numpy as np

    from acegit.lockfile import decode_latent, dumps_lock, encode_latent

    _ok(cli("add", "boss", "--prompt", "dark synth", "--seed", "3", *FAST))
    _ok(cli("render"))
    report = json.loads(_ok(cli("render", "--check", "--json")).stdout)
    assert report["ok"] and report["tracks"][0]["verdict"] == "exact"

    # A consistently re-encoded but altered latent passes the integrity check and must still fail --check.
    lock_file = rproject.root / "tracks" / "boss.lock.toml"
    original = lock_file.read_bytes()
    lock = read_lock(lock_file)
    latent = decode_latent(lock).copy()
    latent[:, :, : latent.shape[-1] // 2] += np.float32(0.5)
    lock_file.write_text(dumps_lock(dataclasses.replace(lock, latent=encode_latent(latent))))
    bad = cli("render", "--check")
    assert bad.exit_code == 1
    assert "mismatch" in bad.stdout and "boss" in bad.stderr

    lock_file.write_bytes(original)
    track = rproject.root / "tracks" / "boss.toml"
    track.write_text(track.read_text().replace("seed = 3", "seed = 4"))
    stale = cli("render", "--check", "--json")
    assert stale.exit_code == 1
    assert json.loads(stale.stdout)["tracks"][0]["verdict"] == "stale"
    assert lock_file.read_bytes() == original  # --check writes nothing


def test_cache_restores_after_checkout(rproject: Project, cli: Callable[..., Result]) -> None:
    _ok(cli("add", "theme", "--prompt", "lo-fi beat", "--seed", "11", *FAST))
    _ok(cli("render"))
    _git(rproject.root, "add", "-A")
    _git(rproject.root, "commit", "-qm", "v1")
    v1 = (rproject.root / "tracks" / "theme.lock.toml").read_bytes()
    track = rproject.root / "tracks" / "theme.toml"
    track.write_text(track.read_text().replace("seed = 11", "seed = 12"))
    _ok(cli("render"))
    _git(rproject.root, "commit", "-qam", "v2")
    _git(rproject.root, "checkout", "-q", "HEAD~1")
    assert _status(cli) == {"theme": "fresh"}  # the lock file came back with the checkout
    (rproject.root / "tracks" / "theme.lock.toml").unlink()  # lose it: the cache must restore it exactly
    out = json.loads(_ok(cli("render", "--json")).stdout)
    assert out["tracks"][0]["result"] == "cached"
    assert (rproject.root / "tracks" / "theme.lock.toml").read_bytes() == v1


def test_alone_vs_batched_and_two_processes(rproject: Project, cli: Callable[..., Result]) -> None:
    _ok(cli("add", "solo", "--prompt", "march with brass", "--seed", "5", *FAST))
    _ok(cli("render", "solo", "--no-cache"))
    alone = (rproject.root / "tracks" / "solo.lock.toml").read_bytes()
    for i in range(3):
        _ok(cli("add", f"other{i}", "--prompt", f"ambient pad {i}", "--seed", str(100 + i), *FAST))
    _ok(cli("render", "--all", "--no-cache", "--batch-size", "4"))
    assert (rproject.root / "tracks" / "solo.lock.toml").read_bytes() == alone

    # A second process (its own torch, its own thread pool) renders the same bits.
    env = {**os.environ, "NO_COLOR": "1"}
    cmd = [sys.executable, "-m", "acegit", "render", "solo", "--force", "--no-cache", "--json"]
    proc = subprocess.run(cmd, cwd=rproject.root, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["tracks"][0]["lock_changed"] is False
    assert (rproject.root / "tracks" / "solo.lock.toml").read_bytes() == alone


def test_shards_cover_each_track_exactly_once() -> None:
    names = [f"track-{i:04d}" for i in range(1000)]
    for n in (1, 2, 3, 7):
        owners = [[k for k in range(1, n + 1) if in_shard(name, (k, n))] for name in names]
        assert all(len(o) == 1 for o in owners)
        sizes = [sum(o == [k] for o in owners) for k in range(1, n + 1)]
        assert min(sizes) > 1000 / n * 0.8  # a fair split, not one job doing everything


@pytest.mark.parametrize("text", ["0/4", "5/4", "a/b", "3", "1/0"])
def test_bad_shard_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError):
        parse_shard(text)


def test_shard_and_changed_since_select(rproject: Project, cli: Callable[..., Result]) -> None:
    for i in range(6):
        _ok(cli("add", f"t{i}", "--prompt", "piano", "--seed", str(i), *FAST))
    _git(rproject.root, "add", "-A")
    _git(rproject.root, "commit", "-qm", "tracks")
    track = rproject.root / "tracks" / "t3.toml"
    track.write_text(track.read_text().replace("seed = 3", "seed = 33"))
    out = json.loads(_ok(cli("render", "--changed-since", "HEAD", "--json")).stdout)
    assert [t["name"] for t in out["tracks"]] == ["t3"]
    unknown = cli("render", "--changed-since", "no-such-rev")
    assert unknown.exit_code == 1 and "no-such-rev" in unknown.stderr


def test_second_render_is_refused_while_one_runs(rproject: Project, cli: Callable[..., Result]) -> None:
    from filelock import FileLock

    _ok(cli("add", "boss", "--prompt", "x", "--seed", "1", *FAST))
    held = FileLock(str(rproject.root / ".acegit" / "render.lock"))
    rproject.root.joinpath(".acegit").mkdir(exist_ok=True)
    with held:
        result = cli("render")
    assert result.exit_code == 1
    assert "another acegit render is running" in result.stderr
    assert not (rproject.root / "tracks" / "boss.lock.toml").exists()


def test_bad_render_input(rproject: Project, cli: Callable[..., Result]) -> None:
    assert cli("render", "nope").exit_code == 1
    assert cli("render", "--device", "tpu").exit_code == 2
    assert cli("render", "--shard", "9/2").exit_code == 2
    text = (rproject.root / PROJECT_FILE).read_text().replace('path = "weights/test"', 'path = "weights/missing"')
    (rproject.root / PROJECT_FILE).write_text(text)
    _ok(cli("add", "boss", "--prompt", "x", "--seed", "1", *FAST))
    result = cli("render")
    assert result.exit_code == 1 and "weights/missing" in result.stderr and "Traceback" not in result.output


def test_latent_error_figures() -> None:
    import numpy as np

    a = np.ones((2, 2, 4), np.float32)
    assert latent_error(a, a) == (0.0, float("inf"))
    b = a.copy()
    b[0, 0, 0] += 0.1
    max_abs, snr = latent_error(b, a)
    assert max_abs == pytest.approx(0.1, rel=1e-5) and snr == pytest.approx(10 * np.log10(16 / 0.01), rel=1e-4)


def test_a_loop_of_uneven_bars_renders_with_a_warning(rproject: Project, cli: Callable[..., Result]) -> None:
    _ok(
        cli(
            "add",
            "even",
            "--prompt",
            "calm loop",
            "--seed",
            "1",
            "--duration",
            "4",
            "--bpm",
            "120",
            "--loop",
            *FAST[2:],
        )
    )
    _ok(
        cli(
            "add", "odd", "--prompt", "calm loop", "--seed", "1", "--duration", "3", "--bpm", "120", "--loop", *FAST[2:]
        )
    )
    result = _ok(cli("render", "--json"))
    by_name = {t["name"]: t for t in json.loads(result.stdout)["tracks"]}
    assert by_name["even"]["warning"] is None  # 4 s at 120 BPM: 2 whole bars
    expected = (
        "tracks/odd.toml: loop = true but duration = 3 s holds 1.50 bars at 120 BPM in 4/4: the loop renders as "
        "2 whole bars at 160.0 BPM. For 120 BPM, set duration = 2 or 4."
    )
    assert by_name["odd"]["warning"] == expected
    assert f"warning: {expected}" in " ".join(result.stderr.split())
