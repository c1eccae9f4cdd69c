"""MIDI out through the CLI: `[audio] midi = true` renders build/NAME.mid (cached with the render), `acegit show
--midi` with the melody-adherence figure, export profiles with `midi = true`, and the errors for a bad [audio] table."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import mido
import pretty_midi
import pytest
from typer.testing import Result

from acegit.engine.registry import transcriber_ref
from acegit.project import PROJECT_FILE, Project, load_project

TRACK = (
    'prompt = "calm solo piano in A minor"\nseed = 5\nduration = 3.0\nbpm = 96\nkey = "A minor"\nsteps = 3\n'
    'melody = "midi/theme.mid"\n'
)


@pytest.fixture(scope="module")
def random_tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from acegit.engine.checkpoint import build_model, save_checkpoint

    folder = tmp_path_factory.mktemp("weights") / "tiny-random"
    save_checkpoint(build_model("tiny", seed=0), folder)
    return folder


@pytest.fixture
def mproject(project: Project, random_tiny: Path) -> Project:
    """The shared project with a real (random) tiny model, `[audio] midi = true`, a melody file and one track."""
    shutil.rmtree(project.root / "weights" / "test")
    shutil.copytree(random_tiny, project.root / "weights" / "test")
    (project.root / "tracks" / "example.toml").unlink()
    toml = project.root / PROJECT_FILE
    toml.write_text(toml.read_text().replace('format = "wav"\n', 'format = "wav"\nmidi = true\n'))
    pm = pretty_midi.PrettyMIDI(initial_tempo=96)
    inst = pretty_midi.Instrument(0, name="theme")
    inst.notes = [pretty_midi.Note(100, 69 + (i % 3), 0.25 + 0.5 * i, 0.7 + 0.5 * i) for i in range(5)]
    pm.instruments.append(inst)
    (project.root / "midi").mkdir()
    pm.write(str(project.root / "midi" / "theme.mid"))
    (project.root / "tracks" / "boss.toml").write_text(TRACK)
    return load_project(project.root)


def _ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


def _read(path: Path) -> pretty_midi.PrettyMIDI:
    return pretty_midi.PrettyMIDI(io.BytesIO(path.read_bytes()))


def test_render_writes_the_mid_and_caches_it(mproject: Project, cli: Callable[..., Result]) -> None:
    out = json.loads(_ok(cli("render", "--json")).stdout)
    assert out["tracks"][0]["result"] == "rendered"
    mid = mproject.root / "build" / "boss.mid"
    pm = _read(mid)  # a valid Standard MIDI File
    assert pm.get_tempo_changes()[1][0] == pytest.approx(96.0)
    assert {i.name for i in pm.instruments} <= {"melody", "chords", "bass"}  # pretty_midi reads roles that have notes
    names = [t.name for t in mido.MidiFile(file=io.BytesIO(mid.read_bytes())).tracks]
    assert names[-3:] == ["melody", "chords", "bass"]  # every role is a named track, even with no notes
    assert "build/" in (mproject.root / ".gitignore").read_text()  # a build artefact, never committed
    notes = f"notes-{transcriber_ref().weights_hash.removeprefix('sha256:')[:16]}.mid"
    cached = list(mproject.cache_dir.glob(f"*/*/{notes}"))
    assert len(cached) == 1 and cached[0].read_bytes() == mid.read_bytes()

    # Lost, then restored from the render cache (the cached .mid, not a new transcription).
    original = mid.read_bytes()
    mid.unlink()
    cached[0].write_bytes(original + b"")  # unchanged; the restore must copy exactly these bytes
    out = json.loads(_ok(cli("render", "--force", "--json")).stdout)
    assert out["tracks"][0]["result"] == "cached"
    assert mid.read_bytes() == original

    # A track's own [audio] midi = false wins over acegit.toml's true.
    (mproject.root / "tracks" / "quiet.toml").write_text(
        TRACK.replace("seed = 5", "seed = 6") + "\n[audio]\nmidi = false\n"
    )
    _ok(cli("render", "quiet"))
    assert (mproject.root / "build" / "quiet.wav").is_file() and not (mproject.root / "build" / "quiet.mid").exists()


def test_show_midi_and_melody_adherence(mproject: Project, cli: Callable[..., Result], tmp_path: Path) -> None:
    _ok(cli("render"))
    _git(mproject.root, "add", "-A")
    _git(mproject.root, "commit", "-qm", "boss")
    for spec, out in (("boss", tmp_path / "work.mid"), ("HEAD:boss", tmp_path / "head.mid")):
        shown = _ok(cli("show", spec, "--midi", str(out)))
        assert "melody adherence vs midi/theme.mid: note F1 " in shown.stdout
        assert "of 5 melody notes" in shown.stdout
        assert out.read_bytes() == (mproject.root / "build" / "boss.mid").read_bytes()
        assert _read(out).get_tempo_changes()[1][0] == pytest.approx(96.0)


def test_export_profile_with_midi(mproject: Project, cli: Callable[..., Result]) -> None:
    toml = mproject.root / PROJECT_FILE
    toml.write_text(toml.read_text() + '\n[export.game]\nformat = "ogg"\nmidi = true\n')
    out = json.loads(_ok(cli("export", "--json")).stdout)
    (entry,) = out["files"] if "files" in out else out["exports"]
    assert entry["midi"] == "build/export/game/boss.mid"
    exported = mproject.root / "build" / "export" / "game" / "boss.mid"
    assert exported.read_bytes() == (mproject.root / "build" / "boss.mid").read_bytes()
    assert _read(exported).get_tempo_changes()[1][0] == pytest.approx(96.0)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('[audio]\nmidi = "yes"\n', 'tracks/boss.toml: audio.midi = "yes" must be true or false'),
        ("[audio]\nmdi = true\n", "audio.mdi is not a known key"),
        ('audio = "midi"\n', 'audio = "midi" must be a table'),
    ],
)
def test_bad_audio_table(mproject: Project, cli: Callable[..., Result], table: str, message: str) -> None:
    text = TRACK if table.startswith("[") else table + TRACK
    (mproject.root / "tracks" / "boss.toml").write_text(text + (table if table.startswith("[") else ""))
    result = cli("render")
    assert result.exit_code == 1
    assert message in result.output


def test_bad_project_midi(mproject: Project, cli: Callable[..., Result]) -> None:
    toml = mproject.root / PROJECT_FILE
    toml.write_text(toml.read_text().replace("midi = true", "midi = 1"))
    result = cli("status")
    assert result.exit_code == 1 and "audio.midi = 1 must be true or false" in result.output


def test_track_audio_table_round_trips(mproject: Project) -> None:
    from acegit.track import dumps_track, load_track

    path = mproject.root / "tracks" / "boss.toml"
    path.write_text(TRACK + "\n[audio]\nmidi = true\n")
    track = load_track(path, mproject)
    assert track.midi is True and "audio" not in track.render_fields()
    assert dumps_track(track).endswith("[audio]\nmidi = true\n")
    no_table = load_track(path, mproject)
    path.write_text(TRACK)
    assert load_track(path, mproject).render_fields() == no_table.render_fields()  # never changes the render
