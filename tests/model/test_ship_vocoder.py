"""Shipping a vocoder run into a weights folder: only onto the model it was trained in, the vocoder made default."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from acegit.errors import AcegitError


def _folders(tmp_path: Path) -> tuple[Path, Path]:
    from acegit.engine.checkpoint import build_model, save_checkpoint
    from acegit.engine.config import VocoderConfig
    from model.train_vocoder import with_vocoder

    base = build_model("tiny", seed=0)
    save_checkpoint(base, tmp_path / "shipped")
    save_checkpoint(with_vocoder(base, VocoderConfig(dim=32, depth=2), seed=1), tmp_path / "run")
    return tmp_path / "run", tmp_path / "shipped"


def test_ship_makes_the_trained_vocoder_the_default_and_changes_the_hash(tmp_path: Path) -> None:
    from acegit.engine.checkpoint import load_checkpoint
    from acegit.engine.inference import Engine
    from model.ship_vocoder import ship

    run, shipped = _folders(tmp_path)
    _, before = load_checkpoint(shipped)
    digest = ship(run, shipped, refine=3)
    model, after = load_checkpoint(shipped)  # verifies the new sha256 file
    assert after == digest != before
    assert model.cfg.vocoder.default == "neural" and model.cfg.vocoder.refine_iterations == 3
    trained, _ = load_checkpoint(run)
    assert all(torch.equal(v, trained.state_dict()[k]) for k, v in model.state_dict().items())
    engine = Engine(model, "sha256:" + digest, torch.device("cpu"))
    assert engine.vocoder is engine.vocoders["neural"] and engine.vocoder.name == "neural+gl3"


def test_ship_refuses_a_run_trained_on_other_weights(tmp_path: Path) -> None:
    from acegit.engine.checkpoint import build_model, load_checkpoint, save_checkpoint
    from model.ship_vocoder import ship

    run, shipped = _folders(tmp_path)
    save_checkpoint(build_model("tiny", seed=7), shipped)  # the shipped DCAE and DiT moved on since the run
    _, before = load_checkpoint(shipped)
    with pytest.raises(AcegitError, match="not trained on the model"):
        ship(run, shipped, refine=3)
    assert load_checkpoint(shipped)[1] == before  # nothing written
