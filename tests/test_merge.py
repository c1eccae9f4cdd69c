"""The merge driver (track files key by key, lock files never corrupted), as a function and through `git merge`."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

from acegit.install import install
from acegit.lockfile import read_lock
from acegit.merge import merge_files
from acegit.project import Project, load_project
from acegit.status import project_status

BASE = """\
# the boss fight
prompt = "epic orchestral boss battle"
seed = 7
duration = 3.0
bpm = 140
key = "D minor"
tags = [
    "boss",
]
"""


def _merge(tmp_path: Path, base: str, ours: str, theirs: str, path: str = "tracks/boss.toml") -> tuple[bool, str, str]:
    files = []
    for name, text in (("O", base), ("A", ours), ("B", theirs)):
        (tmp_path / name).write_text(text, encoding="utf-8")
        files.append(tmp_path / name)
    result = merge_files(files[0], files[1], files[2], path)
    return result.clean, files[1].read_text(encoding="utf-8"), "\n".join(result.messages)


def test_different_keys_merge_cleanly_keeping_comments(tmp_path: Path) -> None:
    ours = BASE.replace("seed = 7", "seed = 8  # better intro")
    theirs = BASE.replace("bpm = 140", "bpm = 150").replace("duration = 3.0\n", "duration = 3.0\nloop = true\n")
    clean, text, _ = _merge(tmp_path, BASE, ours, theirs)
    assert clean
    assert tomllib.loads(text) == {**tomllib.loads(ours), "bpm": 150, "loop": True}
    assert "# the boss fight" in text and "# better intro" in text


def test_adjacent_keys_still_merge_key_by_key(tmp_path: Path) -> None:
    """Git's line merge conflicts on neighbouring lines; key by key they are independent."""
    ours = BASE.replace("duration = 3.0", "duration = 2.0")
    theirs = BASE.replace("bpm = 140", "bpm = 100")
    clean, text, _ = _merge(tmp_path, BASE, ours, theirs)
    assert clean and "<<<<<<<" not in text
    assert tomllib.loads(text) == {**tomllib.loads(BASE), "duration": 2.0, "bpm": 100}


def test_same_key_conflicts_around_that_key_only(tmp_path: Path) -> None:
    ours = BASE.replace("bpm = 140", "bpm = 150").replace("seed = 7", "seed = 9")
    theirs = BASE.replace("bpm = 140", "bpm = 120").replace('key = "D minor"', 'key = "E minor"')
    clean, text, message = _merge(tmp_path, BASE, ours, theirs)
    assert not clean
    assert "both sides changed bpm" in message and "git add tracks/boss.toml" in message
    block = "<<<<<<< ours\nbpm = 150\n||||||| base\nbpm = 140\n=======\nbpm = 120\n>>>>>>> theirs\n"
    assert block in text
    # Everything else merged; keeping one side of the block gives a valid track.
    resolved = text.replace(block, "bpm = 120\n")
    assert tomllib.loads(resolved) == {**tomllib.loads(BASE), "seed": 9, "key": "E minor", "bpm": 120}


def test_delete_against_edit_conflicts_and_multiline_values_move_whole(tmp_path: Path) -> None:
    ours = BASE.replace("bpm = 140\n", "")
    theirs = BASE.replace("bpm = 140", "bpm = 120").replace('    "boss",\n', '    "boss",\n    "loop",\n')
    clean, text, _ = _merge(tmp_path, BASE, ours, theirs)
    assert not clean
    assert "<<<<<<< ours\n||||||| base\nbpm = 140\n=======\nbpm = 120\n>>>>>>> theirs\n" in text
    assert 'tags = [\n    "boss",\n    "loop",\n]\n' in text


def test_unparsable_track_falls_back_to_a_text_merge(tmp_path: Path) -> None:
    broken = BASE + "bpm = \n"
    clean, text, message = _merge(tmp_path, BASE, broken, BASE.replace("seed = 7", "seed = 1"))
    assert clean and "invalid TOML" not in message and "merged as text; no conflicts" in message
    assert text == broken.replace("seed = 7", "seed = 1")
    clean, text, message = _merge(tmp_path, BASE, broken, BASE + "bpm = 1\n")
    assert not clean and "1 conflict(s)" in message and "<<<<<<< ours\nbpm = \n" in text


def _git(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=check)


@pytest.fixture
def repo(project: Project, monkeypatch: pytest.MonkeyPatch) -> Project:
    """The project committed with one track, `acegit install`ed (config only); git finds this acegit on PATH."""
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    (project.tracks_dir / "example.toml").unlink()
    (project.tracks_dir / "boss.toml").write_text(BASE.replace("# the boss fight\n", ""), encoding="utf-8")
    install(project.root, hook=None)
    _git(project.root, "add", "-A")
    _git(project.root, "commit", "-qm", "base")
    return load_project(project.root)


def _branch_edit(
    project: Project, branch: str, old: str, new: str, render: Callable[[Project, str], Path] | None
) -> None:
    track = project.tracks_dir / "boss.toml"
    _git(project.root, "checkout", "-q", "-b", branch, "main")
    track.write_text(track.read_text().replace(old, new))
    if render is not None:
        render(project, "boss")
    _git(project.root, "add", "-A")
    _git(project.root, "commit", "-qm", f"{branch}: {new}")


def _start(project: Project) -> None:
    _git(project.root, "branch", "-M", "main")


def test_git_merge_of_different_keys_is_clean(repo: Project) -> None:
    _start(repo)
    _branch_edit(repo, "tempo", "bpm = 140", "bpm = 150", None)
    _git(repo.root, "checkout", "-q", "main")
    _branch_edit(repo, "seed", "seed = 7", "seed = 8", None)
    merged = _git(repo.root, "merge", "-q", "--no-edit", "tempo", check=False)
    assert merged.returncode == 0, merged.stderr
    data = tomllib.loads((repo.tracks_dir / "boss.toml").read_text())
    assert data["bpm"] == 150 and data["seed"] == 8


def test_git_merge_of_the_same_key_conflicts_with_a_clear_marker(repo: Project) -> None:
    _start(repo)
    _branch_edit(repo, "fast", "bpm = 140", "bpm = 160", None)
    _git(repo.root, "checkout", "-q", "main")
    _branch_edit(repo, "slow", "bpm = 140", "bpm = 90", None)
    merged = _git(repo.root, "merge", "--no-edit", "fast", check=False)
    assert merged.returncode == 1
    assert "CONFLICT (content): Merge conflict in tracks/boss.toml" in merged.stdout
    assert "both sides changed bpm" in merged.stderr
    text = (repo.tracks_dir / "boss.toml").read_text()
    assert "<<<<<<< ours\nbpm = 90\n||||||| base\nbpm = 140\n=======\nbpm = 160\n>>>>>>> theirs\n" in text
    assert _git(repo.root, "status", "--porcelain").stdout.startswith("UU tracks/boss.toml")


def test_git_merge_of_two_rerenders_keeps_a_valid_lock_and_reads_stale(
    repo: Project, render_fake: Callable[[Project, str], Path]
) -> None:
    render_fake(repo, "boss")
    _git(repo.root, "add", "-A")
    _git(repo.root, "commit", "-qm", "render")
    _start(repo)
    _branch_edit(
        repo, "louder", 'prompt = "epic orchestral boss battle"', 'prompt = "loud epic boss battle"', render_fake
    )
    theirs_lock = (repo.tracks_dir / "boss.lock.toml").read_bytes()
    _git(repo.root, "checkout", "-q", "main")
    _branch_edit(repo, "faster", "bpm = 140", "bpm = 170", render_fake)
    ours_lock = (repo.tracks_dir / "boss.lock.toml").read_bytes()
    assert ours_lock != theirs_lock

    merged = _git(repo.root, "merge", "--no-edit", "louder", check=False)
    assert merged.returncode == 0, merged.stdout + merged.stderr
    assert "both sides re-rendered boss; kept our snapshot whole" in merged.stderr
    assert "acegit render boss" in merged.stderr
    lock_file = repo.tracks_dir / "boss.lock.toml"
    assert lock_file.read_bytes() == ours_lock  # one whole side, no markers, no spliced payload
    read_lock(lock_file)  # verifies payload hash, base64, zlib, size
    track = tomllib.loads((repo.tracks_dir / "boss.toml").read_text())
    assert track["prompt"] == "loud epic boss battle" and track["bpm"] == 170
    (st,) = project_status(repo, use_cache=False).tracks
    assert st.state == "stale" and st.reasons == ("source changed",)


def test_lock_driver_prefers_a_valid_side(tmp_path: Path, project: Project, render_fake: Callable) -> None:
    good = render_fake(project, "example").read_text()
    damaged = good.replace("format = 1", "format = 1\n[oops", 1)
    clean, text, message = _merge(tmp_path, good, damaged, good.replace("0.5", "0.25"), "tracks/example.lock.toml")
    assert clean and "our snapshot is damaged; kept theirs" in message
    assert text == good.replace("0.5", "0.25")
    clean, text, message = _merge(tmp_path, good, damaged, damaged + "x", "tracks/example.lock.toml")
    assert not clean and "neither side holds a valid snapshot" in message and text == damaged


def test_cli_reports_missing_files(tmp_path: Path, cli: Callable[..., Result]) -> None:
    result = cli("merge-driver", str(tmp_path / "O"), str(tmp_path / "A"), str(tmp_path / "B"), "tracks/boss.toml")
    assert result.exit_code == 1 and "cannot read or write" in result.output
