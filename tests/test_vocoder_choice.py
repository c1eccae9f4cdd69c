"""A track's `vocoder` field: validated like every field, fingerprinted, written into its snapshot, refused off the
built-in backend; a snapshot's recorded vocoder is checked when read (it is untrusted content)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from acegit.engine.registry import resolve_model
from acegit.errors import InputError
from acegit.fingerprint import source_fingerprint
from acegit.lockfile import AudioStats, LockEnvironment, build_lock, dumps_lock, read_lock, write_lock
from acegit.project import Project, load_project
from acegit.track import dumps_track, load_track


def _track(project: Project, extra: str = "", name: str = "t"):  # type: ignore[no-untyped-def]
    path = project.tracks_dir / f"{name}.toml"
    path.write_text(f'prompt = "calm piano"\nseed = 1\n{extra}', encoding="utf-8")
    return load_track(path, project)


def test_vocoder_field_is_optional_validated_and_changes_the_source(project: Project) -> None:
    plain, gl = _track(project), _track(project, 'vocoder = "griffin-lim"\n')
    assert plain.vocoder is None and "vocoder" not in plain.render_fields()  # old fingerprints stay as they were
    assert gl.vocoder == "griffin-lim" and source_fingerprint(gl) != source_fingerprint(plain)
    assert dumps_track(gl).count('vocoder = "griffin-lim"') == 1
    with pytest.raises(InputError, match=r'tracks/t\.toml: vocoder = "hifigan" is not one of "griffin-lim", "neural"'):
        _track(project, 'vocoder = "hifigan"\n')


def test_project_defaults_may_choose_the_vocoder(project: Project) -> None:
    (project.root / "acegit.toml").write_text(
        (project.root / "acegit.toml").read_text().replace("[defaults]\n", '[defaults]\nvocoder = "griffin-lim"\n')
    )
    assert _track(load_project(project.root)).vocoder == "griffin-lim"


def test_ace_step_models_refuse_a_vocoder(project: Project) -> None:
    text = (project.root / "acegit.toml").read_text() + '\n[models.big]\nbackend = "ace-step"\npath = "big"\n'
    (project.root / "acegit.toml").write_text(text)
    with pytest.raises(InputError, match="vocoder.*ace-step") as e:
        _track(load_project(project.root), 'model = "big"\nvocoder = "neural"\n')
    assert "own VAE" in (e.value.hint or "")


def _lock(project: Project, vocoder: str | None):  # type: ignore[no-untyped-def]
    track = _track(project, f'vocoder = "{vocoder}"\n' if vocoder else "")
    latent = np.zeros((8, 16, 4), np.float32)
    env = LockEnvironment.make("cpu:x86-64-avx2", "2.13.0", "float32", True)
    wave = np.full(1000, 0.1, np.float32)
    stats = AudioStats.of(wave, 22050, vocoder)
    return build_lock(track, resolve_model(track.model, project.models), latent, env, stats)


def test_snapshot_records_the_tracks_vocoder_and_reads_it_back(project: Project, tmp_path: Path) -> None:
    assert "vocoder" not in dumps_lock(_lock(project, None))  # a track naming none: the lock is as before
    lock = _lock(project, "griffin-lim")
    write_lock(tmp_path / "t.lock.toml", lock)
    assert 'vocoder = "griffin-lim"' in (tmp_path / "t.lock.toml").read_text()
    assert read_lock(tmp_path / "t.lock.toml") == lock


def test_a_snapshot_naming_an_unknown_vocoder_is_damaged(project: Project, tmp_path: Path) -> None:
    lock = _lock(project, "neural")
    bad = dataclasses.replace(lock, audio=dataclasses.replace(lock.audio, vocoder="wavenet"))
    (tmp_path / "t.lock.toml").write_text(dumps_lock(bad))
    with pytest.raises(InputError, match="snapshot is damaged: audio.vocoder = 'wavenet' is not one of"):
        read_lock(tmp_path / "t.lock.toml")


def test_each_snapshot_decodes_with_its_tracks_vocoder_as_rendered(tmp_path: Path) -> None:
    """Render two tracks on weights with a neural vocoder (the default) — one asking for Griffin-Lim — then decode
    both snapshots without the render cache: each is its rendered audio sample for sample."""
    import shutil

    import torch

    from acegit.engine.checkpoint import save_checkpoint
    from acegit.engine.config import VocoderConfig, tiny
    from acegit.engine.model import MusicModel
    from acegit.lockfile import lock_path
    from acegit.project import PROJECT_FILE
    from acegit.render import render_tracks, select_tracks
    from acegit.scaffold import add_track, new_project
    from acegit.snapshots import CACHE, SNAPSHOT, Snapshots

    torch.manual_seed(0)
    small = VocoderConfig(default="neural", neural=True, dim=32, depth=2)
    model = MusicModel(dataclasses.replace(tiny(), vocoder=small))
    root = tmp_path / "music"
    new_project(root)
    save_checkpoint(model, root / "weights" / "voc")
    text = (root / PROJECT_FILE).read_text() + '\n[models.voc]\npath = "weights/voc"\n'
    (root / PROJECT_FILE).write_text(text)
    project = load_project(root)
    base = {"prompt": "a calm tune", "seed": 3, "duration": 1.5, "steps": 1, "model": "voc"}
    add_track(project, "a", base)
    add_track(project, "b", {**base, "vocoder": "griffin-lim"})
    done = render_tracks(project, select_tracks(project, ["a", "b"]), device="cpu")
    assert [d.action for d in done] == ["rendered", "rendered"]
    locks = {n: read_lock(lock_path(project.tracks_dir / f"{n}.toml")) for n in "ab"}
    assert locks["a"].audio.vocoder is None and locks["b"].audio.vocoder == "griffin-lim"
    assert locks["a"].latent.sha256 == locks["b"].latent.sha256  # the vocoder decodes; it never changes the latent
    cached = {n: Snapshots(project, "cpu").audio(lock, n) for n, lock in locks.items()}
    shutil.rmtree(project.cache_dir)
    decoded = {n: Snapshots(project, "cpu").audio(lock, n) for n, lock in locks.items()}
    for n in "ab":
        assert (cached[n].source, decoded[n].source) == (CACHE, SNAPSHOT)
        assert cached[n].wave.tobytes() == decoded[n].wave.tobytes()
    assert decoded["a"].wave.tobytes() != decoded["b"].wave.tobytes()
