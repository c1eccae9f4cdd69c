from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

from acegit.errors import AcegitError
from acegit.gitrepo import find_repo_root
from acegit.project import Project, find_project
from acegit.track import dumps_track, load_track


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout


def test_done_when_scenario(tmp_path: Path, cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch) -> None:
    """acegit new demo && cd demo && acegit add boss --prompt "..." && acegit status"""
    monkeypatch.chdir(tmp_path)
    assert cli("new", "demo").exit_code == 0
    monkeypatch.chdir(tmp_path / "demo")
    added = cli("add", "boss", "--prompt", "epic orchestral boss battle")
    assert added.exit_code == 0, added.output
    status = cli("status")
    assert status.exit_code == 0, status.output
    lines = status.stdout.splitlines()
    assert any(ln.split()[:2] == ["stale", "boss"] and "(no snapshot)" in ln for ln in lines), status.stdout
    assert any(ln.split()[:2] == ["stale", "example"] for ln in lines)


def test_new_creates_a_repo_and_files(tmp_path: Path, cli: Callable[..., Result]) -> None:
    result = cli("new", str(tmp_path / "demo"))
    assert result.exit_code == 0, result.output
    root = tmp_path / "demo"
    assert find_repo_root(root) == root
    for f in ("acegit.toml", "tracks/example.toml", ".gitignore", ".gitattributes"):
        assert (root / f).is_file(), f
    assert "/build/" in (root / ".gitignore").read_text() and "/.acegit/" in (root / ".gitignore").read_text()
    attrs = (root / ".gitattributes").read_text().splitlines()
    assert "*.lock.toml diff=acegit merge=acegit eol=lf" in attrs and "tracks/*.toml merge=acegit" in attrs
    assert _git(root, "check-attr", "diff", "tracks/x.lock.toml").strip().endswith("diff: acegit")
    assert _git(root, "check-ignore", "build/x.wav").strip() == "build/x.wav"
    # No commit unless asked.
    assert subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True).returncode != 0
    project = find_project(root)
    track = load_track(root / "tracks" / "example.toml", project)
    assert track.model == "tiny" and track.key == "A minor" and track.bpm == 80.0
    assert (root / "tracks" / "example.toml").read_text() == dumps_track(track)


def test_new_commit_and_name(tmp_path: Path, cli: Callable[..., Result]) -> None:
    result = cli("new", str(tmp_path / "demo"), "--name", "My Game", "--commit")
    assert result.exit_code == 0, result.output
    root = tmp_path / "demo"
    assert find_project(root).name == "My Game"
    assert _git(root, "log", "--format=%s").strip() == "Create acegit project My Game"
    assert _git(root, "status", "--porcelain") == ""
    assert sorted(_git(root, "ls-files").split()) == [
        ".gitattributes",
        ".gitignore",
        ".pre-commit-config.yaml",
        "acegit.toml",
        "tracks/example.toml",
    ]


def test_new_inside_a_repo_keeps_user_files(tmp_path: Path, cli: Callable[..., Result]) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    music = tmp_path / "music"
    music.mkdir()
    (music / ".gitignore").write_text("*.tmp")  # no trailing newline
    result = cli("new", str(music))
    assert result.exit_code == 0, result.output
    assert not (music / ".git").exists()
    assert "Initialised" not in result.output
    assert (music / ".gitignore").read_text().startswith("*.tmp\n")
    assert "/build/" in (music / ".gitignore").read_text()
    again = cli("new", str(music))
    assert again.exit_code == 1 and "already an acegit project" in again.output


def test_add_writes_canonical_file(project: Project, cli: Callable[..., Result]) -> None:
    (project.root / "midi").mkdir()
    (project.root / "midi" / "theme.mid").write_bytes(b"MThd")
    args = ["add", "boss", "--prompt", "epic", "--seed", "42", "--bpm", "140", "--key", "F#m", "--duration", "45"]
    args += ["--tag", "battle", "--tag", "loop", "--loop", "--melody", "midi/theme.mid", "--sampler", "heun"]
    result = cli(*args)
    assert result.exit_code == 0, result.output
    text = (project.tracks_dir / "boss.toml").read_text()
    assert text == (
        'prompt = "epic"\nseed = 42\nduration = 45.0\nbpm = 140\nkey = "F# minor"\nsampler = "heun"\n'
        'melody = "midi/theme.mid"\nloop = true\ntags = [\n    "battle",\n    "loop",\n]\n'
    )
    assert dumps_track(load_track(project.tracks_dir / "boss.toml", project)) == text


def test_add_draws_and_writes_a_seed(project: Project, cli: Callable[..., Result]) -> None:
    seeds = set()
    for name in ("a", "b", "c"):
        assert cli("add", name, "--prompt", "x").exit_code == 0
        track = load_track(project.tracks_dir / f"{name}.toml", project)
        assert f"seed = {track.seed}\n" in track.path.read_text()
        seeds.add(track.seed)
    assert len(seeds) == 3  # 3 draws from 2**32 collide with probability ~1e-9


def test_add_warns_about_a_loop_of_uneven_bars(project: Project, cli: Callable[..., Result]) -> None:
    odd = cli("add", "odd", "--prompt", "p", "--seed", "1", "--duration", "9", "--bpm", "120", "--loop")
    assert odd.exit_code == 0 and (project.tracks_dir / "odd.toml").is_file()  # written all the same
    assert (
        "warning: tracks/odd.toml: loop = true but duration = 9 s holds 4.50 bars at 120 BPM in 4/4: the loop renders"
        in (" ".join(odd.stderr.split()))
    )
    assert "set duration = 8 or 10" in odd.stderr
    for name, extra in (("even", ("--duration", "8", "--loop")), ("plain", ("--duration", "9"))):
        quiet = cli("add", name, "--prompt", "p", "--seed", "1", "--bpm", "120", *extra)
        assert quiet.exit_code == 0 and "warning" not in quiet.stderr


def test_add_refuses_a_model_without_weights(project: Project, cli: Callable[..., Result]) -> None:
    """No `base` weights ship: `add --model base` says so at once, names the models there are and the way to use a
    checkpoint of one's own, and writes nothing (render would otherwise fail later, telling the user to reinstall)."""
    from acegit.engine.registry import builtin_weights_dir

    with pytest.raises(AcegitError):
        builtin_weights_dir("base")  # the premise: this installation has no base weights
    result = cli("add", "boss", "--prompt", "epic", "--model", "base")
    assert result.exit_code == 1, result.output
    message = " ".join(result.stderr.split())
    assert "tracks/boss.toml: model = \"base\": model 'base' is a built-in preset whose weights are not installed" in (
        message
    )
    assert "the models here are: test, tiny" in message and '[models.base] path = "path/to/weights"' in message
    assert not (project.tracks_dir / "boss.toml").exists()
    unknown = cli("add", "boss", "--prompt", "epic", "--model", "bsae")
    assert unknown.exit_code == 1 and "unknown model 'bsae'; the models here are: test, tiny" in unknown.stderr
    assert cli("add", "boss", "--prompt", "epic", "--model", "tiny").exit_code == 0


def test_new_project_exports_with_its_game_profile(tmp_path: Path, cli: Callable[..., Result]) -> None:
    from acegit.export import load_profiles
    from acegit.project import load_project

    assert cli("new", str(tmp_path / "g")).exit_code == 0
    (game,) = load_profiles(load_project(tmp_path / "g"), "game")
    assert (game.format, game.sample_rate, game.loudness, game.folder) == ("ogg", 44100, -16.0, "build/export/game")


def test_status_json(project: Project, cli: Callable[..., Result], render_fake: Callable[..., Path]) -> None:
    render_fake(project, "example")
    (project.tracks_dir / "new.toml").write_text('prompt = "x"\nseed = 1\n')
    result = cli("status", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["schema"] == 1 and doc["summary"] == {"fresh": 1, "stale": 1, "invalid": 0}
    assert [(t["name"], t["state"], t["reasons"]) for t in doc["tracks"]] == [
        ("example", "fresh", []),
        ("new", "stale", ["no snapshot"]),
    ]
    (project.tracks_dir / "bad.toml").write_text('prompt = "x"\nseed = 1\nbpm = 900\n')
    result = cli("status", "--json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    bad = doc["tracks"][0]
    assert bad["state"] == "invalid" and bad["message"] == "tracks/bad.toml: bpm = 900 is out of range 20–300"


def test_status_from_a_subfolder(project: Project, cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project.tracks_dir)
    result = cli("status")
    assert result.exit_code == 0 and "example" in result.stdout


def test_usage_errors_exit_2(project: Project, cli: Callable[..., Result]) -> None:
    assert cli("status", "--bogus").exit_code == 2
    assert cli("add", "x").exit_code == 2  # --prompt is required
    assert cli("add", "x", "--prompt", "p", "--bpm", "fast").exit_code == 2
