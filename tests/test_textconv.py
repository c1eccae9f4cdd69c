"""acegit textconv: the lock-file summary Git shows through `diff.acegit.textconv`."""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from typer.testing import Result

from acegit.project import Project
from acegit.textconv import energy_profile, textconv


def _acegit_command() -> str:
    script = Path(sys.executable).with_name("acegit")
    return shlex.quote(str(script)) if script.exists() else f"{shlex.quote(sys.executable)} -m acegit"


def test_summary_fields_and_energy_profile(project: Project, render_fake: Callable[[Project, str], Path]) -> None:
    lock_file = render_fake(project, "example")
    text = textconv(lock_file)
    lines = text.splitlines()
    assert lines[0] == "acegit snapshot of track example (lock format 1)"
    assert any(line.startswith("input fingerprint  sha256:") for line in lines)
    assert any(line.startswith("model              test, builtin backend (weights sha256:") for line in lines)
    assert "latent             8 × 16 × 4" in text and "audio              1 s at 44100 Hz" in text
    assert "energy profile" in lines[-1]

    quiet_then_loud = np.concatenate([np.full((8, 16, 10), 0.1), np.full((8, 16, 10), 1.0)], axis=-1)
    profile, frames_per_cell = energy_profile(quiet_then_loud, cells=4)
    assert profile == "▁▁██" and frames_per_cell == 5
    assert energy_profile(np.zeros((8, 16, 6)), cells=3)[0] == "▁▁▁"


def test_damaged_lock_gives_a_readable_line(project: Project, render_fake: Callable[[Project, str], Path]) -> None:
    lock_file = render_fake(project, "example")
    lock_file.write_text(lock_file.read_text()[:300])
    assert textconv(lock_file).startswith("acegit snapshot that cannot be read: snapshot is damaged")


def test_cli(project: Project, render_fake: Callable[[Project, str], Path], cli: Callable[..., Result]) -> None:
    lock_file = render_fake(project, "example")
    r = cli("textconv", str(lock_file))
    assert r.exit_code == 0 and r.stdout.startswith("acegit snapshot of track example")
    missing = cli("textconv", "nope.lock.toml")
    assert missing.exit_code == 1 and "nope.lock.toml: no such file" in missing.stderr


def test_git_diff_uses_the_textconv_driver(project: Project, render_fake: Callable[[Project, str], Path]) -> None:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=project.root, check=True, capture_output=True, text=True).stdout

    render_fake(project, "example")
    git("add", "-A")
    git("commit", "-qm", "v1")
    track = project.tracks_dir / "example.toml"
    track.write_text(track.read_text().replace("seed = ", "seed = 1"))
    render_fake(project, "example")
    git("config", "diff.acegit.textconv", f"{_acegit_command()} textconv")
    out = git("diff", "--", "tracks/example.lock.toml")
    assert "-input fingerprint  sha256:" in out and "+input fingerprint  sha256:" in out
    assert " acegit snapshot of track example (lock format 1)" in out  # context line: unchanged
    assert "data = " not in out  # no base64
    logp = git("log", "-p", "-1", "--", "tracks/example.lock.toml")  # the first version against nothing
    assert "+energy profile" in logp
