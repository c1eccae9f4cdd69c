"""Engine fixtures: a randomly initialised tiny checkpoint (shared by other test packages) and an engine on it."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_random_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with model.safetensors, config.json and sha256 of a seeded, randomly initialised tiny model."""
    from acegit.engine.checkpoint import build_model, save_checkpoint

    folder = tmp_path_factory.mktemp("tiny-random")
    model = build_model("tiny", seed=0)
    _perturb_zero_init(model)
    save_checkpoint(model, folder)
    return folder


@pytest.fixture(scope="session")
def tiny_random_student_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same, for a guidance-distilled student: its DiT takes the guidance scale (model/train_student.py)."""
    import dataclasses

    from acegit.engine.checkpoint import save_checkpoint, seeded
    from acegit.engine.config import preset
    from acegit.engine.model import MusicModel

    cfg = preset("tiny")
    cfg = dataclasses.replace(cfg, dit=dataclasses.replace(cfg.dit, guidance_embed=True))
    folder = tmp_path_factory.mktemp("tiny-random-student")
    model = seeded(0, lambda: MusicModel(cfg))
    _perturb_zero_init(model)
    save_checkpoint(model, folder)
    return folder


def _perturb_zero_init(model) -> None:  # type: ignore[no-untyped-def]
    """Zero-initialised output layers make an untrained model a constant; give them small seeded values so the
    determinism tests exercise every layer."""
    import torch

    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            if torch.all(p == 0) and p.ndim >= 1:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.02)


@pytest.fixture(scope="session")
def tiny_engine(tiny_random_checkpoint: Path):  # type: ignore[no-untyped-def]
    from acegit.engine.inference import Engine

    return Engine.load(tiny_random_checkpoint, device="cpu")


@pytest.fixture(autouse=True)
def _one_thread():  # type: ignore[no-untyped-def]
    """Test shapes are tiny: one thread is as fast, and it does not stall when other jobs share the cores."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def student_engine(tiny_random_student_checkpoint: Path):  # type: ignore[no-untyped-def]
    from acegit.engine.inference import Engine

    return Engine.load(tiny_random_student_checkpoint, device="cpu")


@pytest.fixture(scope="session")
def turbo_checkpoint() -> Path:
    """The shipped step-distilled model (docs/model-card.md, "Sampler")."""
    from acegit.engine.registry import builtin_weights_dir

    return builtin_weights_dir("tiny-turbo")


@pytest.fixture(scope="session")
def turbo_engine(turbo_checkpoint: Path):  # type: ignore[no-untyped-def]
    from acegit.engine.inference import Engine

    return Engine.load(turbo_checkpoint, device="cpu")
