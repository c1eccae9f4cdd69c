"""`acegit install`: the git config for the drivers and the native pre-commit hook, in real temporary repos."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

from acegit.errors import AcegitError, UsageError
from acegit.install import CONFIG, HOOK_ID, hook_script, hook_template, install, is_ours, uninstall
from acegit.project import Project

FOREIGN = "#!/bin/sh\necho 'my own lint'\n"


def _config(root: Path) -> dict[str, str]:
    out = subprocess.run(["git", "config", "--local", "-l"], cwd=root, capture_output=True, text=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if line.startswith(("diff.acegit", "merge.acegit")))


def _hook(root: Path) -> Path:
    return root / ".git" / "hooks" / "pre-commit"


def test_install_is_idempotent_and_uninstall_restores(project: Project, cli: Callable[..., Result]) -> None:
    root = project.root
    before = _config(root)
    first = cli("install")
    assert first.exit_code == 0, first.output
    assert _config(root) == CONFIG
    hook = _hook(root)
    text = hook.read_bytes()
    assert HOOK_ID.encode() in text and os.access(hook, os.X_OK)
    assert b"hook render --staged" in text and sys.executable.encode() in text

    again = cli("install")
    assert again.exit_code == 0 and "already installed" in again.stdout
    assert hook.read_bytes() == text and _config(root) == CONFIG

    gone = cli("install", "--uninstall")
    assert gone.exit_code == 0, gone.output
    assert not hook.exists()
    assert _config(root) == before == {}


def test_refuses_foreign_hook_without_force_then_chains_and_restores_it(project: Project) -> None:
    hook = _hook(project.root)
    hook.parent.mkdir(parents=True, exist_ok=True)
    hook.write_text(FOREIGN)
    hook.chmod(0o755)
    with pytest.raises(AcegitError, match="not written by acegit") as e:
        install(project.root)
    assert "--force" in str(e.value)
    assert hook.read_text() == FOREIGN  # untouched

    install(project.root, force=True)
    legacy = hook.with_name("pre-commit.legacy")
    assert legacy.read_text() == FOREIGN and is_ours(hook)
    install(project.root, force=True)  # again: ours is replaced in place, the legacy hook stays
    assert legacy.read_text() == FOREIGN

    uninstall(project.root)
    assert hook.read_text() == FOREIGN and not legacy.exists()
    assert _config(project.root) == {}


def test_uninstall_leaves_foreign_hook_and_foreign_config(project: Project) -> None:
    hook = _hook(project.root)
    hook.parent.mkdir(parents=True, exist_ok=True)
    hook.write_text(FOREIGN)
    subprocess.run(["git", "config", "--local", "merge.acegit.driver", "my-driver %A"], cwd=project.root, check=True)
    result = uninstall(project.root)
    assert hook.read_text() == FOREIGN
    assert _config(project.root) == {"merge.acegit.driver": "my-driver %A"}
    assert any("not written by acegit" in n for n in result.notes)
    assert any("merge.acegit.driver" in n for n in result.notes)


def test_no_hook_sets_only_config_and_bad_mode_changes_nothing(project: Project, cli: Callable[..., Result]) -> None:
    bad = cli("install", "--hook", "deploy")
    assert bad.exit_code == 2 and "render, check" in bad.output
    assert _config(project.root) == {} and not _hook(project.root).exists()
    ok = cli("install", "--no-hook")
    assert ok.exit_code == 0, ok.output
    assert _config(project.root) == CONFIG and not _hook(project.root).exists()


def test_check_mode_hook(project: Project) -> None:
    install(project.root, hook="check")
    text = _hook(project.root).read_text()
    assert "hook check --staged" not in text and "-m acegit hook check" in text
    with pytest.raises(UsageError):
        hook_script("deploy")


def test_installed_hook_runs_and_blocks_a_stale_commit(project: Project) -> None:
    """The written shell script really runs acegit (the check mode: no rendering needed)."""
    install(project.root, hook="check")
    subprocess.run(["git", "add", "-A"], cwd=project.root, check=True)
    run = subprocess.run(["git", "commit", "-qm", "x"], cwd=project.root, capture_output=True, text=True)
    assert run.returncode == 1
    assert "example: stale (no snapshot)" in run.stderr and "acegit render example" in run.stderr


def test_outside_a_repository_is_a_clear_error(
    tmp_path: Path, cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli("install")
    assert result.exit_code == 1 and "not inside a Git repository" in result.output


def test_template_is_found_in_the_checkout_and_wheel_mapping_exists() -> None:
    import tomllib

    assert HOOK_ID in hook_template()
    root = Path(__file__).resolve().parents[1]
    pyproject = tomllib.loads((root / "pyproject.toml").read_text())
    assert pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]["hooks"] == "acegit/_hooks"


def test_git_diff_uses_the_textconv_driver_after_install(
    project: Project, render_fake: Callable[[Project, str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    textconv = subprocess.run([sys.executable, "-m", "acegit", "textconv", "--help"], capture_output=True, text=True)
    assert textconv.returncode == 0, f"`acegit textconv --help` fails: {textconv.stderr}"
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    lock = render_fake(project, "example")
    subprocess.run(["git", "add", "-A"], cwd=project.root, check=True)
    subprocess.run(["git", "commit", "-qm", "render"], cwd=project.root, check=True)
    track = project.tracks_dir / "example.toml"
    track.write_text(track.read_text().replace("seed = 1234", "seed = 99"))
    render_fake(project, "example")
    raw = subprocess.run(["git", "diff", "--no-textconv", "--", str(lock)], cwd=project.root, capture_output=True)
    assert raw.returncode == 0 and b"fingerprint" in raw.stdout

    before = subprocess.run(["git", "diff", "--", str(lock)], cwd=project.root, capture_output=True)
    install(project.root, hook=None)
    after = subprocess.run(["git", "diff", "--", str(lock)], cwd=project.root, capture_output=True)
    assert after.returncode == 0, after.stderr
    assert before.stdout == raw.stdout  # without the driver config Git diffs the raw text
    assert after.stdout and after.stdout != raw.stdout  # with it, Git ran `acegit textconv` on both sides
    assert b"\n [input]\n" in raw.stdout and b"[input]" not in after.stdout  # a summary, not the TOML


def test_project_in_a_subfolder_of_the_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Git runs hooks at the repository root; the hook names the project folder with --project."""
    from acegit.gitrepo import init_repo
    from acegit.scaffold import new_project

    repo = init_repo(tmp_path / "game")
    (repo.root / "README").write_text("game\n")
    new_project(repo.root / "music")
    monkeypatch.chdir(repo.root / "music")
    install(Path.cwd(), hook="check")
    assert "hook check --project music" in _hook(repo.root).read_text()

    subprocess.run(["git", "add", "-A"], cwd=repo.root, check=True)
    blocked = subprocess.run(["git", "commit", "-qm", "x"], cwd=repo.root, capture_output=True, text=True)
    assert blocked.returncode == 1 and "example: stale (no snapshot)" in blocked.stderr
    subprocess.run(["git", "rm", "-q", "--cached", "music/tracks/example.toml"], cwd=repo.root, check=True)
    passed = subprocess.run(["git", "commit", "-qm", "x"], cwd=repo.root, capture_output=True, text=True)
    assert passed.returncode == 0, passed.stderr


def test_a_hook_moved_aside_still_runs_first(project: Project) -> None:
    hook = _hook(project.root)
    hook.parent.mkdir(parents=True, exist_ok=True)
    hook.write_text("#!/bin/sh\necho 'legacy says no' >&2\nexit 1\n")
    hook.chmod(0o755)
    install(project.root, hook="check", force=True)
    subprocess.run(["git", "add", "-A"], cwd=project.root, check=True)
    run = subprocess.run(["git", "commit", "-qm", "x"], cwd=project.root, capture_output=True, text=True)
    assert run.returncode == 1 and "legacy says no" in run.stderr and "example" not in run.stderr

    hook.with_name("pre-commit.legacy").write_text("#!/bin/sh\ntouch legacy-ran\n")
    run = subprocess.run(["git", "commit", "-qm", "x"], cwd=project.root, capture_output=True, text=True)
    assert (project.root / "legacy-ran").exists()
    assert run.returncode == 1 and "example: stale (no snapshot)" in run.stderr  # then acegit's check ran
