"""`acegit export` and `acegit trace` through the CLI: output, --json, exit codes, and bad input that writes nothing."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

from acegit.project import PROJECT_FILE, Project, load_project

GAME = '\n[export.game]\nformat = "ogg"\nsample_rate = 44100\nchannels = 2\nloudness = -16.0\n'


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout.strip()


def _ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def gproject(project: Project, cli: Callable[..., Result], cache_render: Callable[..., Path]) -> Project:
    """One plain and one looped track, fresh (audio in the render cache), committed; an [export.game] profile."""
    (project.tracks_dir / "example.toml").unlink()
    (project.root / PROJECT_FILE).write_text((project.root / PROJECT_FILE).read_text() + GAME)
    _ok(cli("add", "boss", "--prompt", "dark synth", "--seed", "3", "--duration", "3"))
    _ok(cli("add", "loopy", "--prompt", "calm loop", "--seed", "5", "--duration", "4", "--loop"))
    p = load_project(project.root)
    for name in ("boss", "loopy"):
        cache_render(p, name)
    _git(p.root, "add", "-A")
    _git(p.root, "commit", "-qm", "tracks")
    return p


def _files(root: Path) -> list[Path]:
    build = root / "build"
    return sorted(build.rglob("*")) if build.exists() else []


def test_export_json_then_trace(gproject: Project, cli: Callable[..., Result]) -> None:
    out = json.loads(_ok(cli("export", "--json")).stdout)
    assert out["schema"] == 1 and out["command"] == "export"
    head = _git(gproject.root, "rev-parse", "HEAD")
    by_track = {f["track"]: f for f in out["files"]}
    assert set(by_track) == {"boss", "loopy"}
    loopy = by_track["loopy"]
    assert loopy["path"] == "build/export/game/loopy.ogg" and loopy["format"] == "ogg"
    assert (loopy["sample_rate"], loopy["channels"], loopy["frames"]) == (44100, 2, 4 * 44100)
    assert loopy["loop"] == {"start": 0, "length": 4 * 44100} and by_track["boss"]["loop"] is None
    assert abs(loopy["loudness"] + 16.0) <= 0.5 and loopy["true_peak"] <= -1.0
    assert loopy["commit"] == head and loopy["dirty"] is False and loopy["source"] == "cache"
    seam = loopy["seam"]
    assert isinstance(seam["seamless"], bool) and by_track["boss"]["seam"] is None
    admitted = [
        seam["flux_db"] <= ref["flux_p95_db"] + 0.1 and seam["level_jump_db"] <= ref["level_p95_db"] + 0.1
        for ref in (seam["hops"], seam["beats"])  # 4 s at 120 BPM: 8 beats
    ]
    assert seam["seamless"] == any(admitted)

    shown = _ok(cli("trace", "build/export/game/loopy.ogg")).stdout
    assert head[:12] in shown and '"tracks"' in shown and "loopy (seed 5)" in shown and "current" in shown
    assert "samples 0–176400" in shown
    traced = json.loads(_ok(cli("trace", "build/export/game/boss.ogg", "--json")).stdout)
    assert (traced["track"], traced["commit"], traced["state"]) == ("boss", head, "current")
    assert traced["fingerprint"] == by_track["boss"]["fingerprint"]

    track = gproject.tracks_dir / "boss.toml"
    track.write_text(track.read_text().replace("seed = 3", "seed = 9"))
    assert _ok(cli("trace", "build/export/game/boss.ogg")).stdout.count("outdated") == 1
    stale = cli("trace", "build/export/game/boss.ogg", "--check")
    assert stale.exit_code == 1 and "outdated" in stale.stdout


def test_table_output_and_named_tracks(gproject: Project, cli: Callable[..., Result]) -> None:
    result = _ok(cli("export", "loopy", "--profile", "game"))
    assert "build/export/game/loopy.ogg" in result.stdout and "0–176400" in result.stdout
    assert "exported  build/export/game/loopy.ogg" in result.stderr  # plain progress lines off a terminal
    assert [p.name for p in _files(gproject.root) if p.is_file()] == ["loopy.ogg"]


def test_a_loop_whose_seam_stands_out_is_named(
    gproject: Project, cli: Callable[..., Result], cache_render: Callable[..., Path]
) -> None:
    import numpy as np

    t = np.arange(4 * 22050) / 22050
    fading = 0.3 * np.sin(2 * np.pi * 250.0 * t) * np.linspace(1.0, 0.01, len(t))  # loops back from quiet to loud
    cache_render(gproject, "loopy", fading.astype(np.float32))
    result = _ok(cli("export", "loopy"))  # the file is written: a warning, not an error
    assert "seam stands out" in result.stdout
    assert "warning: build/export/game/loopy.ogg: the loop seam stands out" in result.stderr
    assert "set loop_crossfade (e.g. 0.05) in [export.game]" in " ".join(result.stderr.split())
    # Two bars of a one-bar figure, a note on each beat (120 BPM): the seam is a bar line like the one inside.
    beat = np.arange(22050 // 2) / 22050
    notes = [0.3 * np.sin(2 * np.pi * f * beat) * np.exp(-beat / 0.3) for f in (220.0, 277.2, 329.6, 440.0) * 2]
    cache_render(gproject, "loopy", np.concatenate(notes).astype(np.float32))
    result = _ok(cli("export", "loopy"))
    assert "seamless" in result.stdout and "warning" not in result.stderr


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (('format = "ogg"', 'format = "mp3"'), 'export.game.format = "mp3" is not supported'),
        (("sample_rate = 44100", "sample_rate = 12345"), "export.game.sample_rate = 12345 is not supported"),
        (("loudness = -16.0", "loudness = -75.0"), "export.game.loudness = -75 is out of range -70…0"),
        (("loudness = -16.0", "loudness = 2.0"), "export.game.loudness = 2 is out of range -70…0"),
        (("channels = 2", 'channels = 2\nfolder = "../outside"'), 'export.game.folder = "../outside" is outside'),
    ],
)
def test_bad_profiles_exit_1_and_write_nothing(
    gproject: Project, cli: Callable[..., Result], edit: tuple[str, str], message: str
) -> None:
    path = gproject.root / PROJECT_FILE
    path.write_text(path.read_text().replace(*edit))
    result = cli("export")
    assert result.exit_code == 1, result.output
    assert message in result.stderr and "acegit.toml" in result.stderr
    assert "Traceback" not in result.output
    assert _files(gproject.root) == []


def test_other_bad_input(gproject: Project, cli: Callable[..., Result], tmp_path: Path) -> None:
    unknown = cli("export", "--profile", "gmae")
    assert unknown.exit_code == 1 and "has no export profile 'gmae'" in unknown.stderr
    assert "Did you mean 'game'" in unknown.stderr
    missing = cli("export", "nosuchtrack")
    assert missing.exit_code == 1 and "nosuchtrack" in missing.stderr

    loopy = gproject.tracks_dir / "loopy.toml"
    text = loopy.read_text()
    loopy.write_text(text.replace("duration = 4.0", "duration = 1.5"))
    short = cli("export")
    assert short.exit_code == 1
    assert "tracks/loopy.toml: loop = true but duration = 1.5 s is shorter than one bar" in short.stderr
    loopy.write_text(text)

    (gproject.root / "build" / "export").mkdir(parents=True)
    (gproject.root / "build" / "export" / "game").write_text("not a folder")
    blocked = cli("export")
    assert blocked.exit_code == 1 and "is a file" in blocked.stderr
    assert [p.name for p in _files(gproject.root)] == ["export", "game"]

    # --out writes anywhere, also where the profile's folder could not.
    elsewhere = tmp_path / "game-assets"
    _ok(cli("export", "--out", str(elsewhere)))
    assert sorted(p.name for p in elsewhere.iterdir()) == ["boss.ogg", "loopy.ogg"]


def test_no_profiles_and_untagged_files(project: Project, cli: Callable[..., Result], tmp_path: Path) -> None:
    none = cli("export")
    assert none.exit_code == 1 and "has no export profile" in none.stderr and "[export.game]" in none.stderr
    plain = tmp_path / "plain.wav"
    plain.write_bytes(b"RIFF\x04\x00\x00\x00WAVE")
    untagged = cli("trace", str(plain))
    assert untagged.exit_code == 1 and "no acegit provenance tags" in untagged.stderr


def test_shards_export_each_track_once(gproject: Project, cli: Callable[..., Result]) -> None:
    bad = cli("export", "--shard", "4/3")
    assert bad.exit_code == 2 and "--shard 4/3" in bad.stderr and _files(gproject.root) == []
    written = []
    for k in (1, 2, 3):
        out = json.loads(_ok(cli("export", "--shard", f"{k}/3", "--json")).stdout)
        written += [f["track"] for f in out["files"]]
    assert sorted(written) == ["boss", "loopy"]
