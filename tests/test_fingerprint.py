from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from acegit.engine.registry import ModelRef, resolve_model
from acegit.fingerprint import environment_fingerprint, input_fingerprint, source_fingerprint
from acegit.project import Project
from acegit.track import Track, load_track

BASE = 'prompt = "calm piano"\nseed = 5\nbpm = 80\nkey = "Am"\ntags = ["menu"]\n'


def _fp(project: Project, text: str, model: ModelRef | None = None) -> str:
    path = project.tracks_dir / "t.toml"
    path.write_text(text, encoding="utf-8")
    track = load_track(path, project)
    return input_fingerprint(track, model or resolve_model(track.model, project.models))


def test_format(project: Project) -> None:
    fp = _fp(project, BASE)
    assert fp.startswith("sha256:") and len(fp) == 7 + 64


@pytest.mark.parametrize(
    "change",
    [
        ('prompt = "calm piano"', 'prompt = "calm piano "'),
        ("seed = 5", "seed = 6"),
        ("bpm = 80", "bpm = 81"),
        ('key = "Am"', 'key = "A major"'),
        ("tags", 'negative_prompt = "drums"\ntags'),
        ("tags", "duration = 31\ntags"),
        ("tags", 'time_signature = "3/4"\ntags'),
        ("tags", "steps = 21\ntags"),
        ("tags", "guidance = 4.5\ntags"),
        ("tags", 'sampler = "heun"\ntags'),
        ("tags", "loop = true\ntags"),
    ],
)
def test_changes_with_render_fields(project: Project, change: tuple[str, str]) -> None:
    assert _fp(project, BASE) != _fp(project, BASE.replace(*change, 1))


@pytest.mark.parametrize(
    "change",
    [
        ('tags = ["menu"]', 'tags = ["menu", "calm"]'),
        ('tags = ["menu"]\n', ""),
        ("seed = 5\n", "seed = 5  # the take we liked\n# a comment line\n"),
        ('key = "Am"', 'key = "A minor"'),  # same key, other spelling
        ("bpm = 80", "bpm = 80.0"),
        ("bpm = 80\n", "bpm = 80\nsteps = 20\n"),  # explicit value equal to the default
    ],
)
def test_stable_under_non_render_changes(project: Project, change: tuple[str, str]) -> None:
    assert _fp(project, BASE) == _fp(project, BASE.replace(*change, 1))


def test_melody_bytes_count_not_its_path(project: Project) -> None:
    midi = project.root / "midi"
    midi.mkdir()
    (midi / "a.mid").write_bytes(b"MThd-one")
    (midi / "b.mid").write_bytes(b"MThd-one")
    with_a = _fp(project, BASE + 'melody = "midi/a.mid"\n')
    assert with_a != _fp(project, BASE)
    assert with_a == _fp(project, BASE + 'melody = "midi/b.mid"\n')
    (midi / "a.mid").write_bytes(b"MThd-two")
    assert with_a != _fp(project, BASE + 'melody = "midi/a.mid"\n')


def test_model_name_and_weights(project: Project) -> None:
    model = resolve_model("test", project.models)
    assert _fp(project, BASE, model) != _fp(
        project, BASE, dataclasses.replace(model, weights_hash="sha256:" + "0" * 64)
    )
    assert _fp(project, BASE, model) != _fp(project, BASE, dataclasses.replace(model, name="other"))
    # The weights folder's location is not part of the identity.
    assert _fp(project, BASE, model) == _fp(project, BASE, dataclasses.replace(model, path=Path("/elsewhere")))


def test_source_fingerprint_ignores_model(project: Project) -> None:
    path = project.tracks_dir / "t.toml"
    path.write_text(BASE, encoding="utf-8")
    a: Track = load_track(path, project)
    assert source_fingerprint(a) == source_fingerprint(dataclasses.replace(a, tags=("x",)))
    assert source_fingerprint(a) != source_fingerprint(dataclasses.replace(a, seed=6))


def test_environment_fingerprint() -> None:
    a = environment_fingerprint("cpu-x86_64", "2.13.0", "float32", True)
    assert a == environment_fingerprint("cpu-x86_64", "2.13.0", "float32", True)
    assert a != environment_fingerprint("cuda-sm90", "2.13.0", "float32", True)
    assert a != environment_fingerprint("cpu-x86_64", "2.13.0", "float32", False)
    # A backend's own libraries (ace-step: diffusers) count when named; an empty name leaves built-in fingerprints be.
    assert a == environment_fingerprint("cpu-x86_64", "2.13.0", "float32", True, "")
    assert a != environment_fingerprint(
        "cpu-x86_64", "2.13.0", "float32", True, "diffusers 0.42.1, transformers 5.24.0"
    )
