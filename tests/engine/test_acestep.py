"""The ace-step backend: folder resolution and weights hash (no diffusers needed), and the engine on a tiny random
AceStepPipeline saved to a temporary folder (skipped when diffusers is not installed)."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from acegit.engine.registry import (
    ACE_STEP_COMPONENTS,
    ACE_STEP_PATH_ENV,
    LocalModels,
    ModelRef,
    resolve_model,
)
from acegit.engine.request import GenerationRequest
from acegit.errors import AcegitError

HAS_DIFFUSERS = importlib.util.find_spec("diffusers") is not None
needs_diffusers = pytest.mark.skipif(
    not HAS_DIFFUSERS, reason="diffusers not installed: pip install -e '.[ace-step]' to test the ace-step backend"
)


@pytest.fixture(autouse=True)
def _hash_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Weights hashes are cached per user; tests use their own cache and no inherited weights path."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
    monkeypatch.delenv(ACE_STEP_PATH_ENV, raising=False)


def fake_folder(folder: Path) -> Path:
    """The files an AceStepPipeline folder holds (arbitrary bytes), dated in the past so their hash gets cached."""
    (folder).mkdir(parents=True)
    index = {"_class_name": "AceStepPipeline", **{c: ["x", "y"] for c in ACE_STEP_COMPONENTS}}
    (folder / "model_index.json").write_text(json.dumps(index))
    for comp, (marker, weights, _) in ACE_STEP_COMPONENTS.items():
        (folder / comp).mkdir()
        (folder / comp / marker).write_text("{}")
        if weights:
            (folder / comp / "diffusion_pytorch_model.safetensors").write_bytes(comp.encode() * 100)
    (folder / ".cache").mkdir()
    (folder / ".cache" / "download.lock").write_text("hub metadata")
    past = time.time() - 60
    for p in folder.rglob("*"):
        os.utime(p, (past, past))
    return folder


def test_folder_resolves_to_ace_step_with_a_cached_hash(tmp_path: Path) -> None:
    folder = fake_folder(tmp_path / "ace")
    ref = resolve_model("ace", {"ace": folder})
    assert ref.backend == "ace-step" and ref.path == folder and ref.weights_hash.startswith("sha256:")
    # Same size and mtime, other bytes: the cached hash is used (status never re-reads gigabytes).
    weights = folder / "transformer" / "diffusion_pytorch_model.safetensors"
    st = weights.stat()
    weights.write_bytes(b"Z" * st.st_size)
    os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert resolve_model("ace", {"ace": folder}).weights_hash == ref.weights_hash
    # A real change (size or mtime) is noticed.
    weights.write_bytes(b"Z" * (st.st_size + 1))
    changed = resolve_model("ace", {"ace": folder}).weights_hash
    assert changed != ref.weights_hash
    # Hidden hub metadata is not part of the weights.
    (folder / ".cache" / "download.lock").write_text("other metadata")
    assert resolve_model("ace", {"ace": folder}).weights_hash == changed


def test_recently_modified_files_are_hashed_but_not_cached(tmp_path: Path) -> None:
    folder = fake_folder(tmp_path / "ace")
    (folder / "vae" / "config.json").write_text('{"fresh": 1}')  # mtime now: could repeat after another edit
    first = resolve_model("ace", {"ace": folder}).weights_hash
    cache = Path(os.environ["XDG_CACHE_HOME"]) / "acegit" / "weights"
    assert not cache.exists() or not any(cache.iterdir())
    assert resolve_model("ace", {"ace": folder}).weights_hash == first


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda f: (f / "model_index.json").unlink(), "has no model_index.json"),
        (lambda f: (f / "model_index.json").write_text('{"_class_name": "FluxPipeline"}'), "FluxPipeline pipeline"),
        (lambda f: (f / "transformer" / "config.json").unlink(), "missing transformer/config.json"),
        (lambda f: (f / "tokenizer" / "tokenizer_config.json").unlink(), "missing tokenizer/tokenizer_config.json"),
        (
            lambda f: (f / "vae" / "diffusion_pytorch_model.safetensors").unlink(),
            "has no vae/*.safetensors",
        ),
    ],
)
def test_missing_pieces_name_what_and_how_to_get_it(tmp_path: Path, damage: Any, message: str) -> None:
    folder = fake_folder(tmp_path / "ace")
    damage(folder)
    models = LocalModels({"ace": folder}, {"ace": "ace-step"})
    with pytest.raises(AcegitError) as info:
        resolve_model("ace", models)
    assert message in info.value.message and "hf download" in (info.value.hint or "")


def test_declared_folder_that_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(AcegitError) as info:
        resolve_model("ace", LocalModels({"ace": tmp_path / "nope"}, {"ace": "ace-step"}))
    assert "ACE-Step weights folder" in info.value.message and "does not exist" in info.value.message
    assert "never downloads" in (info.value.hint or "")


def test_path_from_environment_only_when_the_table_has_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from acegit.project import parse_project

    env_folder = fake_folder(tmp_path / "from-env")
    toml_folder = fake_folder(tmp_path / "from-toml")
    pathless = parse_project({"models": {"ace": {"backend": "ace-step"}}}, tmp_path)
    with pytest.raises(AcegitError, match=ACE_STEP_PATH_ENV):
        resolve_model("ace", pathless.models)
    monkeypatch.setenv(ACE_STEP_PATH_ENV, str(env_folder))
    assert resolve_model("ace", pathless.models).path == env_folder
    with_path = parse_project({"models": {"ace": {"backend": "ace-step", "path": str(toml_folder)}}}, tmp_path)
    assert resolve_model("ace", with_path.models).path == toml_folder  # acegit.toml's path wins


def test_project_validates_backend_tables(tmp_path: Path) -> None:
    from acegit.project import parse_project

    with pytest.raises(AcegitError, match='models.x.backend = "diffusers" is not one of "builtin", "ace-step"'):
        parse_project({"models": {"x": {"backend": "diffusers", "path": "w"}}}, tmp_path)
    with pytest.raises(AcegitError, match=r"\[models.x\] needs a `path`"):
        parse_project({"models": {"x": {"backend": "builtin"}}}, tmp_path)
    with pytest.raises(AcegitError, match="models.x.dtype is not a known key"):
        parse_project({"models": {"x": {"backend": "ace-step", "dtype": "bf16"}}}, tmp_path)
    p = parse_project({"models": {"x": {"backend": "ace-step", "path": "w"}, "y": {"path": "v"}}}, tmp_path)
    assert p.models == {"x": tmp_path / "w", "y": tmp_path / "v"}
    assert p.model_backends == {"x": "ace-step", "y": "builtin"}


def _track(tmp_path: Path, body: dict[str, Any], backend: str = "ace-step") -> Any:
    from acegit.project import parse_project
    from acegit.track import parse_track

    project = parse_project({"models": {"ace": {"backend": backend, "path": "w"}}}, tmp_path)
    data = {"prompt": "calm piano", "seed": 1, "model": "ace", **body}
    return parse_track(data, "t", tmp_path / "tracks" / "t.toml", project)


def test_track_fields_checked_against_the_backend(tmp_path: Path) -> None:
    from acegit.fingerprint import source_fingerprint

    plain = _track(tmp_path, {})
    assert "lyrics" not in plain.render_fields() and "shift" not in plain.render_fields()
    sung = _track(tmp_path, {"lyrics": "[verse]\nla la", "shift": 2.0})
    assert (sung.lyrics, sung.shift) == ("[verse]\nla la", 2.0)
    assert source_fingerprint(sung) != source_fingerprint(plain)
    with pytest.raises(AcegitError, match="lyrics are only sung by ace-step models"):
        _track(tmp_path, {"lyrics": "la"}, backend="builtin")
    assert _track(tmp_path, {"shift": 2.0}, backend="builtin").shift == 2.0  # the built-in model honours shift
    with pytest.raises(AcegitError, match="negative_prompt is not supported"):
        _track(tmp_path, {"negative_prompt": "noise"})
    with pytest.raises(AcegitError, match='sampler = "heun"'):
        _track(tmp_path, {"sampler": "heun"})
    with pytest.raises(AcegitError, match="shift = 0 is out of range"):
        _track(tmp_path, {"shift": 0})


# --- the engine on a tiny random pipeline -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def tiny_ace_step(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny randomly initialised AceStepPipeline, save_pretrained to a temporary folder once per session."""
    if not HAS_DIFFUSERS:
        pytest.skip("diffusers not installed: pip install -e '.[ace-step]' to test the ace-step backend")
    from acegit.engine.acestep import build_tiny

    return build_tiny(tmp_path_factory.mktemp("ace-step") / "tiny")


@pytest.fixture(scope="module")
def engine(tiny_ace_step: Path) -> Iterator[Any]:
    from acegit.engine.acestep import AceStepEngine

    yield AceStepEngine.load(ModelRef("ace", tiny_ace_step, "sha256:" + "0" * 64, "ace-step"), device="cpu")


REQ = GenerationRequest(
    prompt="calm piano",
    negative_prompt="",
    seed=7,
    duration=2.0,
    bpm=120.0,
    key="A minor",
    time_signature="4/4",
    steps=2,
    guidance=4.0,
    sampler="euler",
)


@needs_diffusers
def test_latent_shape_and_determinism(engine: Any) -> None:
    a = engine.generate([REQ])[0]
    assert a.dtype == np.float32 and a.shape == (8, 50)  # 8 latent channels (64 in ACE-Step 1.5), 25 Hz × 2 s
    assert np.array_equal(a, engine.generate([REQ])[0])


@needs_diffusers
def test_thread_count_does_not_change_the_bits(engine: Any) -> None:
    import torch

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = engine.generate([REQ])[0]
        torch.set_num_threads(2)
        two = engine.generate([REQ])[0]
    finally:
        torch.set_num_threads(before)
    assert np.array_equal(one, two)


@needs_diffusers
def test_alone_equals_batched_with_other_prompts(engine: Any) -> None:
    other = dataclasses.replace(REQ, prompt="a much longer prompt: loud drums, distorted bass, choir", seed=3)
    alone = engine.generate([REQ])[0]
    batch = engine.generate([other, REQ, other, REQ])
    assert np.array_equal(batch[1], alone) and np.array_equal(batch[3], alone)
    assert not np.array_equal(batch[0], alone)


@needs_diffusers
@pytest.mark.parametrize(
    "change",
    [
        {"prompt": "dark synth"},
        {"seed": 8},
        {"bpm": 90.0},
        {"key": "C major"},
        {"time_signature": "3/4"},
        {"steps": 3},
        {"guidance": 1.0},
        {"lyrics": "[verse]\nhello"},
        {"shift": 1.0},
    ],
)
def test_every_track_parameter_reaches_the_pipeline(engine: Any, change: dict[str, Any]) -> None:
    base = engine.generate([REQ])[0]
    assert not np.array_equal(engine.generate([dataclasses.replace(REQ, **change)])[0], base)


@needs_diffusers
def test_duration_sets_the_latent_length(engine: Any) -> None:
    assert engine.generate([dataclasses.replace(REQ, duration=1.3)])[0].shape == (8, 33)  # ceil(1.3 × 25)


@needs_diffusers
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"negative_prompt": "noise"}, "no negative prompt"),
        ({"sampler": "heun"}, "Euler only"),
        ({"time_signature": "5/4"}, "time signature"),
        ({"melody": Path("x.mid")}, "no melody"),
    ],
)
def test_what_the_pipeline_cannot_honour_is_refused(engine: Any, change: dict[str, Any], message: str) -> None:
    with pytest.raises(AcegitError, match=message):
        engine.generate([dataclasses.replace(REQ, **change)])


@needs_diffusers
def test_decode_is_mono_peak_normalised_and_sized(engine: Any) -> None:
    latent = engine.generate([REQ])[0]
    wave = engine.decode(latent, num_samples=2 * engine.sample_rate)
    assert wave.dtype == np.float32 and wave.shape == (2 * engine.sample_rate,)
    assert 0 < np.abs(wave).max() <= 10 ** (-1 / 20) + 1e-6
    assert np.array_equal(wave, engine.decode(latent, num_samples=2 * engine.sample_rate))
    assert engine.decode(latent, num_samples=10).shape == (10,)
    assert np.array_equal(engine.decode(latent, 10, loop=True), engine.decode(latent, 10))  # export makes the seam
    with pytest.raises(AcegitError, match="expected"):
        engine.decode(np.zeros((8, 16, 4), np.float32))


@needs_diffusers
def test_progress_counts_every_request(engine: Any) -> None:
    seen: list[tuple[int, int]] = []
    a, b = engine.generate([REQ, REQ], progress=lambda done, total: seen.append((done, total)))
    total = 2 * REQ.steps
    assert seen == [(i, total) for i in range(1, total + 1)]  # each request is sampled, alone
    assert np.array_equal(a, b)


@needs_diffusers
def test_without_diffusers_a_clear_install_hint(tiny_ace_step: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from acegit.engine.acestep import load_pipeline

    monkeypatch.setitem(sys.modules, "diffusers", None)  # what an environment without the extra sees
    with pytest.raises(AcegitError) as info:
        load_pipeline(tiny_ace_step, __import__("torch").device("cpu"))
    assert "needs diffusers" in info.value.message and "acegit[ace-step]" in (info.value.hint or "")


@needs_diffusers
def test_corrupt_weights_are_a_clear_error(tiny_ace_step: Path, tmp_path: Path) -> None:
    import shutil

    import torch

    from acegit.engine.acestep import load_pipeline

    broken = tmp_path / "broken"
    shutil.copytree(tiny_ace_step, broken)
    (broken / "transformer" / "diffusion_pytorch_model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(AcegitError, match="cannot load the ACE-Step pipeline"):
        load_pipeline(broken, torch.device("cpu"))


@needs_diffusers
def test_stochastic_scheduler_is_refused(tiny_ace_step: Path, tmp_path: Path) -> None:
    import shutil

    import torch

    from acegit.engine.acestep import load_pipeline

    folder = tmp_path / "stochastic"
    shutil.copytree(tiny_ace_step, folder)
    cfg_file = folder / "scheduler" / "scheduler_config.json"
    cfg = json.loads(cfg_file.read_text())
    cfg_file.write_text(json.dumps({**cfg, "stochastic_sampling": True}))
    with pytest.raises(AcegitError, match="stochastic_sampling"):
        load_pipeline(folder, torch.device("cpu"))
