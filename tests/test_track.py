from __future__ import annotations

from pathlib import Path

import pytest

from acegit.errors import AcegitError, InputError
from acegit.project import Project
from acegit.track import dumps_track, load_track, load_tracks, parse_track


def _write(project: Project, name: str, text: str) -> Path:
    path = project.tracks_dir / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_fill_missing_fields(project: Project) -> None:
    track = load_track(_write(project, "boss", 'prompt = "epic"\nseed = 7\n'), project)
    assert track.name == "boss" and track.prompt == "epic" and track.seed == 7
    assert track.model == "test"  # from acegit.toml [defaults]
    assert (track.duration, track.bpm, track.key, track.time_signature) == (30.0, 120.0, "C major", "4/4")
    assert (track.steps, track.guidance, track.sampler, track.loop, track.melody, track.tags) == (
        20,
        4.0,
        "euler",
        False,
        None,
        (),
    )


def test_values_are_normalised(project: Project) -> None:
    text = 'prompt = "p"\nseed = 1\nbpm = 90\nduration = 12\nkey = "Bbm"\nguidance = 3\n'
    track = load_track(_write(project, "t", text), project)
    assert track.bpm == 90.0 and isinstance(track.bpm, float)
    assert track.duration == 12.0 and isinstance(track.duration, float)
    assert track.guidance == 3.0 and track.key == "Bb minor"


def test_canonical_dump_is_byte_stable(project: Project) -> None:
    text = (
        'tags = ["b", "a"]\nloop = true\nkey = "F#m"\nbpm = 140\nseed = 99\nprompt = "dark synth \\"arp\\""\n'
        'melody = "midi/theme.mid"\nguidance = 5.5\nsteps = 30\n'
    )
    (project.root / "midi").mkdir()
    (project.root / "midi" / "theme.mid").write_bytes(b"MThd")
    path = _write(project, "synth", text)
    once = dumps_track(load_track(path, project))
    path.write_text(once, encoding="utf-8")
    twice = dumps_track(load_track(path, project))
    assert once == twice
    # Fixed key order, canonical key spelling, and only the fields the file sets.
    assert once.splitlines()[:3] == ['prompt = "dark synth \\"arp\\""', "seed = 99", "bpm = 140"]
    assert 'key = "F# minor"' in once and "model" not in once and "duration" not in once


def test_melody_is_resolved_inside_the_project(project: Project) -> None:
    (project.root / "midi").mkdir()
    (project.root / "midi" / "a.mid").write_bytes(b"MThd")
    track = load_track(_write(project, "m", 'prompt = "p"\nseed = 1\nmelody = "midi/../midi/a.mid"\n'), project)
    assert track.melody_path == (project.root / "midi" / "a.mid").resolve()


def test_load_tracks_sorted_and_by_name(project: Project) -> None:
    _write(project, "b", 'prompt = "p"\nseed = 1\n')
    _write(project, "a", 'prompt = "p"\nseed = 1\n')
    assert [t.name for t in load_tracks(project)] == ["a", "b", "example"]
    assert [t.name for t in load_tracks(project, ["b"])] == ["b"]
    with pytest.raises(AcegitError, match="did you mean 'b'"):
        load_tracks(project, ["bb"])


def test_track_is_frozen_and_equal_by_value(project: Project) -> None:
    data = {"prompt": "p", "seed": 3}
    a = parse_track(data, "x", project.tracks_dir / "x.toml", project)
    b = parse_track(dict(data), "x", project.tracks_dir / "x.toml", project)
    assert a == b
    with pytest.raises(AttributeError):
        a.seed = 4  # type: ignore[misc]


def test_error_names_file_and_field(project: Project) -> None:
    with pytest.raises(InputError) as info:
        load_track(_write(project, "boss", 'prompt = "p"\nseed = 1\nbpm = 900\n'), project)
    assert str(info.value) == "tracks/boss.toml: bpm = 900 is out of range 20–300"
    assert info.value.field == "bpm" and info.value.path == "tracks/boss.toml"


def test_uneven_loop_names_the_tempo_it_renders_at_and_the_fix() -> None:
    from acegit.track import Track

    def note(duration: float, bpm: float = 120.0, ts: str = "4/4", loop: bool = True) -> str | None:
        return Track(
            "t", Path("t.toml"), "p", 1, duration=duration, bpm=bpm, time_signature=ts, loop=loop
        ).uneven_loop()

    assert note(8.0) is None and note(8.01) is None and note(9.0, loop=False) is None  # whole bars (within 1%)
    assert note(9.0) == (
        "loop = true but duration = 9 s holds 4.50 bars at 120 BPM in 4/4: the loop renders as 5 whole bars at "
        "133.3 BPM. For 120 BPM, set duration = 8 or 10."
    )
    assert "renders as 1 whole bar at 80.0 BPM" in (note(2.25, bpm=90.0, ts="3/4") or "")  # 1.125 bars of 3/4


def test_track_samplers_are_the_engines() -> None:
    """track.py cannot import the engine (torch); its list of sampler names must still be the engine's."""
    from acegit.engine.sampling import SAMPLERS as ENGINE_SAMPLERS
    from acegit.track import SAMPLERS

    assert set(SAMPLERS) == set(ENGINE_SAMPLERS)
