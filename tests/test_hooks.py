"""`acegit hook render --staged` and `acegit hook check` in real temporary git repos."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

from acegit.errors import AcegitError, CheckFailed
from acegit.gitrepo import GitRepo
from acegit.hooks import check_snapshots, render_staged, staged_tracks
from acegit.project import PROJECT_FILE, Project, load_project

RENDER_MESSAGE = "lock files updated — review and `git add` them"


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


def _commit_all(project: Project, message: str = "commit") -> None:
    _git(project.root, "add", "-A")
    _git(project.root, "commit", "-qm", message, "--no-verify")


@pytest.fixture
def fresh(project: Project, render_fake: Callable[[Project, str], Path]) -> Project:
    """The example track with a fresh (fake) snapshot, all committed."""
    render_fake(project, "example")
    _commit_all(project)
    return project


def _edit(project: Project, old: str = "seed = 1234", new: str = "seed = 99", name: str = "example") -> Path:
    track = project.tracks_dir / f"{name}.toml"
    track.write_text(track.read_text().replace(old, new))
    return track


def test_check_passes_without_importing_torch(fresh: Project) -> None:
    code = (
        "import sys\n"
        "from acegit.hooks import check_snapshots\n"
        "from acegit.project import find_project\n"
        "r = check_snapshots(find_project())\n"
        "assert [t.name for t in r.checked] == ['example'], r\n"
        "assert 'torch' not in sys.modules and 'numpy' not in sys.modules\n"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=fresh.root, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_check_names_stale_tracks_and_the_fix(fresh: Project, cli: Callable[..., Result]) -> None:
    _edit(fresh)
    _git(fresh.root, "add", "-A")
    with pytest.raises(CheckFailed) as e:
        check_snapshots(fresh)
    assert "example: stale (source changed)" in str(e.value)
    assert "acegit render example" in str(e.value) and "git add" in str(e.value)
    result = cli("hook", "check")
    assert result.exit_code == 1 and "example: stale" in result.output


def test_check_wants_the_lock_file_staged(project: Project, render_fake: Callable[[Project, str], Path]) -> None:
    _git(project.root, "add", "tracks/example.toml")
    render_fake(project, "example")  # fresh on disk, but the commit would not carry it
    with pytest.raises(CheckFailed, match=r"example: tracks/example.lock.toml is rendered but not staged"):
        check_snapshots(project)
    _git(project.root, "add", "tracks/example.lock.toml")
    check_snapshots(project)


def test_check_ignores_tracks_outside_the_index_and_reports_invalid_ones(fresh: Project) -> None:
    (fresh.tracks_dir / "wip.toml").write_text('prompt = "sketch"\nseed = 1\n')  # untracked: not being committed
    assert [t.name for t in check_snapshots(fresh).checked] == ["example"]
    _edit(fresh, "seed = 1234", "seed = -1")
    with pytest.raises(CheckFailed, match=r"example: invalid: tracks/example.toml: seed = -1 is out of range"):
        check_snapshots(fresh)


def test_staged_tracks_from_track_lock_and_melody_files(project: Project) -> None:
    (project.root / "midi").mkdir()
    (project.root / "midi" / "theme.mid").write_bytes(b"MThd")
    (project.tracks_dir / "boss.toml").write_text('prompt = "boss"\nseed = 1\nmelody = "midi/theme.mid"\n')
    repo = GitRepo(project.root)
    assert staged_tracks(project, repo, ["midi/theme.mid"]) == ["boss"]
    assert staged_tracks(project, repo, ["tracks/example.lock.toml", "README.md"]) == ["example"]
    assert staged_tracks(project, repo, ["tracks/gone.toml", "acegit.toml"]) == []


def test_render_hook_with_nothing_staged_is_a_no_op(fresh: Project, cli: Callable[..., Result]) -> None:
    assert render_staged(fresh).tracks == []
    result = cli("hook", "render", "--staged")
    assert result.exit_code == 0 and result.output == ""
    _edit(fresh)
    _git(fresh.root, "add", "-A")
    _edit(fresh, "seed = 99", "seed = 98")
    with pytest.raises(AcegitError, match="unstaged edits too: tracks/example.toml"):
        render_staged(fresh)


def test_render_hook_usage(fresh: Project, cli: Callable[..., Result]) -> None:
    assert cli("hook", "render").exit_code == 2
    assert cli("hook", "render", "--staged", "tracks/example.toml").exit_code == 2


@pytest.fixture
def tiny(project: Project, tiny_checkpoint: Path) -> Project:
    """The project's "test" model pointed at a real (randomly initialised) tiny checkpoint; no example track."""
    text = (project.root / PROJECT_FILE).read_text()
    (project.root / PROJECT_FILE).write_text(text.replace('path = "weights/test"', f'path = "{tiny_checkpoint}"'))
    (project.tracks_dir / "example.toml").unlink()
    _commit_all(project, "project")
    return load_project(project.root)


def test_render_hook_renders_staged_tracks_then_passes(tiny: Project, cli: Callable[..., Result]) -> None:
    _ok = cli("add", "boss", "--prompt", "dark synth", "--seed", "3", "--duration", "2", "--steps", "2")
    assert _ok.exit_code == 0, _ok.output
    cli("add", "intro", "--prompt", "calm piano", "--seed", "4", "--duration", "2", "--steps", "2")
    _git(tiny.root, "add", "tracks/boss.toml")  # intro is not staged: not rendered
    first = cli("hook", "render", "--staged")
    assert first.exit_code == 1, first.output
    assert f"rendered 1 track; {RENDER_MESSAGE}" in first.stderr and "tracks/boss.lock.toml" in first.stderr
    assert (tiny.tracks_dir / "boss.lock.toml").is_file() and not (tiny.tracks_dir / "intro.lock.toml").exists()

    _git(tiny.root, "add", "tracks/boss.lock.toml")
    again = cli("hook", "render", "--staged")
    assert again.exit_code == 0, again.output
    check_snapshots(tiny)  # intro is not in the index: not checked

    # A fresh snapshot the index lacks: nothing to render, still told to `git add` it (files as pre-commit passes them).
    _git(tiny.root, "rm", "-q", "--cached", "tracks/boss.lock.toml")
    late = cli("hook", "render", "tracks/boss.toml")
    assert late.exit_code == 1 and f"rendered 0 tracks; {RENDER_MESSAGE}" in late.stderr


def test_render_hook_passes_on_render_warnings(tiny: Project, cli: Callable[..., Result]) -> None:
    args = ("--prompt", "loop", "--seed", "1", "--duration", "3", "--bpm", "120", "--loop", "--steps", "2")
    made = cli("add", "odd", *args)
    assert made.exit_code == 0, made.output
    _git(tiny.root, "add", "tracks/odd.toml")
    result = cli("hook", "render", "--staged")
    assert result.exit_code == 1 and "warning: tracks/odd.toml: loop = true but duration = 3 s holds 1.50 bars" in (
        " ".join(result.stderr.split())
    )


def test_check_points_at_unstaged_edits(fresh: Project) -> None:
    """The native hook reads the working tree: a staged, fresh track with unstaged edits is named as such."""
    _edit(fresh)
    with pytest.raises(CheckFailed, match="tracks/example.toml has unstaged edits, which the check reads"):
        check_snapshots(fresh)
