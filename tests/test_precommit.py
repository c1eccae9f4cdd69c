"""The real pre-commit framework running acegit's hooks in a temporary repo: render, re-stage, check, no downloads."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from acegit.lockfile import read_lock
from acegit.project import PROJECT_FILE, Project, load_project
from acegit.status import project_status

CHECKOUT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RESTAGE = "rendered 1 track; lock files updated — review and `git add` them"


def _precommit() -> Path:
    exe = BIN / "pre-commit"
    assert exe.is_file(), "pre-commit is missing: it is in the test extra, `pip install -e '.[test]'`"
    return exe


def documented_config() -> str:
    """The `repo: local` .pre-commit-config.yaml of docs/workflow.md (the first yaml block naming `repo: local`)."""
    text = (CHECKOUT / "docs" / "workflow.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", text, re.S) if "repo: local" in b]
    assert blocks, "docs/workflow.md lost its `repo: local` pre-commit config"
    return blocks[0]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """This venv's acegit and pre-commit on PATH, a private pre-commit cache, and any package download made to fail."""
    monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("PRE_COMMIT_HOME", str(tmp_path / "pre-commit-home"))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/nothing")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("SKIP", raising=False)
    return dict(os.environ)


def _run(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    run = subprocess.run(list(args), cwd=root, capture_output=True, text=True)
    if check and run.returncode != 0:
        raise AssertionError(f"{args} failed ({run.returncode}):\n{run.stdout}\n{run.stderr}")
    return run


def _no_environments_built(home: Path) -> None:
    """`language: unsupported` installs nothing: no virtualenv, no site-packages, no torch under pre-commit's cache."""
    if home.exists():
        built = [p for p in home.rglob("*") if p.name in ("site-packages", "pyvenv.cfg") or p.name.startswith("torch")]
        assert built == [], built


def test_documented_config_matches_the_manifest() -> None:
    manifest = {h["id"]: h for h in yaml.safe_load((CHECKOUT / ".pre-commit-hooks.yaml").read_text())}
    config = yaml.safe_load(documented_config())
    (local,) = config["repos"]
    for hook in local["hooks"]:
        shipped = manifest[hook["id"]]
        for key, value in hook.items():
            assert shipped[key] == value, (hook["id"], key)
        assert shipped["language"] == "unsupported" and shipped["pass_filenames"] is False
    assert set(manifest) == {h["id"] for h in local["hooks"]}
    assert manifest["acegit-render-check"]["stages"] == ["manual"]
    assert all(h["require_serial"] for h in manifest.values())


def test_manifest_validates_with_the_installed_pre_commit(env: dict[str, str]) -> None:
    run = _run(CHECKOUT, str(_precommit()), "validate-manifest", ".pre-commit-hooks.yaml", check=False)
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.fixture
def repo(project: Project, tiny_checkpoint: Path, render_fake: Callable[[Project, str], Path]) -> Project:
    """A project whose model is a real (random) tiny checkpoint, with one 2 s track and a fresh snapshot committed."""
    text = (project.root / PROJECT_FILE).read_text()
    (project.root / PROJECT_FILE).write_text(text.replace('path = "weights/test"', f'path = "{tiny_checkpoint}"'))
    (project.tracks_dir / "example.toml").unlink()
    (project.tracks_dir / "boss.toml").write_text('prompt = "dark synth boss"\nseed = 3\nduration = 2.0\nsteps = 2\n')
    project = load_project(project.root)
    render_fake(project, "boss")
    _run(project.root, "git", "add", "-A")
    _run(project.root, "git", "commit", "-qm", "boss", "--no-verify")
    return project


def _edit(project: Project, old: str, new: str) -> None:
    track = project.tracks_dir / "boss.toml"
    track.write_text(track.read_text().replace(old, new))


def test_render_hook_fails_then_commit_succeeds_and_check_blocks_stale(repo: Project, env: dict[str, str]) -> None:
    root = repo.root
    (root / ".pre-commit-config.yaml").write_text(documented_config())
    _run(root, "git", "add", ".pre-commit-config.yaml")
    _run(root, str(_precommit()), "install")
    lock_file = repo.tracks_dir / "boss.lock.toml"
    committed_lock = lock_file.read_bytes()

    # 1. An edited track: the hook renders it, rewrites the lock file and fails the commit.
    _edit(repo, "seed = 3", "seed = 4")
    _run(root, "git", "add", "tracks/boss.toml")
    first = _run(root, "git", "commit", "-m", "boss: new seed", check=False)
    out = first.stdout + first.stderr
    assert first.returncode == 1, out
    assert RESTAGE in out and "tracks/boss.lock.toml" in out
    assert "files were modified by this hook" in out
    assert lock_file.read_bytes() != committed_lock
    assert _run(root, "git", "diff", "--name-only").stdout.split() == ["tracks/boss.lock.toml"]
    assert read_lock(lock_file).input.fingerprint == project_status(repo, use_cache=False).tracks[0].fingerprint
    assert project_status(repo, use_cache=False).tracks[0].state == "fresh"

    # 2. Staged, the same commit goes through.
    _run(root, "git", "add", "tracks/boss.lock.toml")
    second = _run(root, "git", "commit", "-m", "boss: new seed", check=False)
    assert second.returncode == 0, second.stdout + second.stderr
    assert _run(root, "git", "log", "-1", "--format=%s").stdout.strip() == "boss: new seed"
    assert _run(root, "git", "show", "--name-only", "--format=", "HEAD").stdout.split() == [
        ".pre-commit-config.yaml",
        "tracks/boss.lock.toml",
        "tracks/boss.toml",
    ]

    # 3. A changed track with a stale lock, the render hook skipped: acegit-check blocks it.
    _edit(repo, "seed = 4", "seed = 5")
    _run(root, "git", "add", "tracks/boss.toml")
    third = subprocess.run(
        ["git", "commit", "-m", "stale"], cwd=root, capture_output=True, text=True, env={**env, "SKIP": "acegit-render"}
    )
    out = third.stdout + third.stderr
    assert third.returncode == 1, out
    assert re.search(r"acegit check \(snapshots up to date\)\.+Failed", out), out
    assert "boss: stale (source changed)" in out and "acegit render boss" in out
    assert _run(root, "git", "log", "-1", "--format=%s").stdout.strip() == "boss: new seed"

    _no_environments_built(Path(env["PRE_COMMIT_HOME"]))


def test_hooks_from_the_shipped_manifest(repo: Project, env: dict[str, str], tmp_path: Path) -> None:
    """`repo:` pointing at a repository holding acegit's .pre-commit-hooks.yaml, as users consume it (check only)."""
    hooks_repo = tmp_path / "acegit-hooks"
    hooks_repo.mkdir()
    shutil.copy(CHECKOUT / ".pre-commit-hooks.yaml", hooks_repo)
    _run(hooks_repo, "git", "init", "-q")
    _run(hooks_repo, "git", "add", "-A")
    _run(hooks_repo, "git", "commit", "-qm", "hooks")
    rev = _run(hooks_repo, "git", "rev-parse", "HEAD").stdout.strip()
    config = {"repos": [{"repo": str(hooks_repo), "rev": rev, "hooks": [{"id": "acegit-check"}]}]}
    root = repo.root
    (root / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))
    _run(root, "git", "add", ".pre-commit-config.yaml")

    ok = _run(root, str(_precommit()), "run", "--all-files", check=False)
    assert ok.returncode == 0 and re.search(r"acegit check \(snapshots up to date\)\.+Passed", ok.stdout), ok.stdout
    _edit(repo, "seed = 3", "seed = 6")
    _run(root, "git", "add", "tracks/boss.toml")
    bad = _run(root, str(_precommit()), "run", check=False)
    assert bad.returncode == 1 and "boss: stale (source changed)" in bad.stdout, bad.stdout
    _no_environments_built(Path(env["PRE_COMMIT_HOME"]))


def test_new_project_ships_the_documented_config(tmp_path: Path) -> None:
    from acegit.scaffold import new_project

    shipped = (CHECKOUT / "hooks" / "pre-commit-config.yaml").read_text(encoding="utf-8")
    assert shipped.split("\n", 1)[1] == documented_config()  # the doc and the shipped file cannot drift apart
    made = new_project(tmp_path / "fresh")
    assert (made.root / ".pre-commit-config.yaml").read_text(encoding="utf-8") == shipped
    # Inside an existing repository acegit never writes the repository's own config.
    inner = new_project(made.root / "sub")
    assert not (inner.root / ".pre-commit-config.yaml").exists()
