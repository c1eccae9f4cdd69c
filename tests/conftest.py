"""Shared fixtures: a git identity for temporary repos, fake model weights, a ready project, a CLI runner."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from acegit.project import PROJECT_FILE, Project, load_project


@pytest.fixture(autouse=True)
def _git_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    """Temporary repos commit without touching (or needing) the user's git config."""
    for var in ("GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME"):
        monkeypatch.setenv(var, "acegit tests")
    for var in ("GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL"):
        monkeypatch.setenv(var, "tests@acegit.invalid")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


def make_weights(folder: Path, payload: bytes = b"not really safetensors") -> str:
    """A fake weights folder (any bytes + a matching sha256 file); returns its weights hash."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.safetensors").write_bytes(payload)
    (folder / "config.json").write_text('{"preset": "test"}', encoding="utf-8")
    digest = hashlib.sha256(payload + b'{"preset": "test"}').hexdigest()
    (folder / "sha256").write_text(digest + "\n", encoding="utf-8")
    return "sha256:" + digest


@pytest.fixture
def fake_weights() -> Callable[..., str]:
    """`fake_weights(folder, payload=b"...")` makes a fake weights folder and returns its weights hash."""
    return make_weights


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A fresh `acegit new` project in a real git repo, its default model a fake local one ("test"), no export profile;
    cwd is its root."""
    from acegit.scaffold import new_project

    root = tmp_path / "proj"
    new_project(root)
    make_weights(root / "weights" / "test")
    text = (root / PROJECT_FILE).read_text(encoding="utf-8")
    text = text[: text.index("[export.game]")]  # tests add the export profiles they use
    text = text.replace('model = "tiny"', 'model = "test"') + '\n[models.test]\npath = "weights/test"\n'
    (root / PROJECT_FILE).write_text(text, encoding="utf-8")
    monkeypatch.chdir(root)
    return load_project(root)


def render_fake(project: Project, name: str) -> Path:
    """Write the lock `acegit render` would write for a track (fresh), with a made-up latent."""
    import numpy as np

    from acegit.engine.registry import resolve_model
    from acegit.lockfile import AudioStats, LockEnvironment, build_lock, lock_path, write_lock
    from acegit.track import load_track

    track = load_track(project.tracks_dir / f"{name}.toml", project)
    model = resolve_model(track.model, project.models)
    env = LockEnvironment.make("cpu-x86_64", "2.13.0", "float32", True)
    lock = build_lock(track, model, np.zeros((8, 16, 4), np.float32), env, AudioStats(1.0, 44100, 0.5, 0.1))
    path = lock_path(track.path)
    write_lock(path, lock)
    return path


@pytest.fixture(name="render_fake")
def _render_fake() -> Callable[[Project, str], Path]:
    """`render_fake(project, name)` writes a fresh lock for a track without rendering."""
    return render_fake


@pytest.fixture
def cli() -> Callable[..., Result]:
    """Run `acegit ARGS...` in-process; a wide terminal so rich does not wrap messages."""
    from acegit.cli import app

    runner = CliRunner(env={"COLUMNS": "300", "NO_COLOR": "1"})

    def invoke(*args: str) -> Result:
        return runner.invoke(app, list(args))

    return invoke


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised tiny checkpoint folder, built once per test session (issue 6: diff, show, log)."""
    from acegit.engine.checkpoint import build_model, save_checkpoint

    folder = tmp_path_factory.mktemp("tiny-ckpt") / "tiny-random"
    save_checkpoint(build_model("tiny", seed=0), folder)
    return folder


def music_like(seconds: float, sample_rate: int = 22050, seed: int = 0) -> Any:
    """A deterministic stand-in for a render: a few decaying plucked notes over soft noise (float32, mono)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    wave = 0.01 * rng.standard_normal(len(t))
    for onset in np.arange(0.0, seconds, 0.25):
        f0 = 110.0 * 2 ** (rng.integers(0, 24) / 12)
        env = np.where(t >= onset, np.exp(-(t - onset) * 6.0), 0.0)
        wave += 0.2 * env * sum(np.sin(2 * np.pi * f0 * k * t) / k for k in (1, 2, 3))
    return wave.astype(np.float32)


def cache_render(project: Project, name: str, wave: Any = None, sample_rate: int = 22050) -> Path:
    """Make a track fresh without a model: its lock (made-up latent) plus a render-cache entry holding `wave`."""
    import io

    import numpy as np
    import soundfile as sf

    from acegit.cache import RenderCache, cache_key
    from acegit.engine.registry import resolve_model
    from acegit.lockfile import AudioStats, LockEnvironment, build_lock, dumps_lock, lock_path, write_lock
    from acegit.track import load_track

    track = load_track(project.tracks_dir / f"{name}.toml", project)
    wave = music_like(track.duration, sample_rate, track.seed) if wave is None else wave
    model = resolve_model(track.model, project.models)
    env = LockEnvironment.make("cpu", "2.13.0", "float32", True)
    lock = build_lock(track, model, np.zeros((8, 16, 4), np.float32), env, AudioStats.of(wave, sample_rate))
    buf = io.BytesIO()
    sf.write(buf, wave, sample_rate, format="WAV", subtype="FLOAT")
    cache, key = RenderCache(project.cache_dir), cache_key(lock.input.fingerprint, env.fingerprint)
    if (old := cache.get(key)) is not None:  # an existing entry wins a put: replace it, so `wave` is what is cached
        shutil.rmtree(old.path)
    cache.put(key, dumps_lock(lock).encode(), buf.getvalue())
    path = lock_path(track.path)
    write_lock(path, lock)
    return path


@pytest.fixture(name="music_like")
def _music_like() -> Callable[..., Any]:
    """`music_like(seconds, sample_rate=22050, seed=0)`: deterministic plucked notes over soft noise."""
    return music_like


@pytest.fixture(name="cache_render")
def _cache_render() -> Callable[..., Path]:
    """`cache_render(project, name, wave=None, sample_rate=22050)`: a fresh track whose audio is in the render cache."""
    return cache_render
