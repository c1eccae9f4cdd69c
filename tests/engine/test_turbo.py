"""The shipped step-distilled model `tiny-turbo` (docs/model-card.md, "Sampler"): tiny's decoder, its own 5 Euler
steps, and the settings `acegit add` writes for it. Its determinism is in test_determinism.py's matrix."""

from __future__ import annotations

import tomllib
from collections.abc import Callable

import numpy as np
import torch
from typer.testing import Result

from acegit.engine.inference import Engine
from acegit.engine.registry import builtin_weights_dir, distilled_steps
from acegit.engine.request import GenerationRequest
from acegit.project import Project


def test_turbo_is_tinys_decoder_with_a_distilled_dit(turbo_engine: Engine) -> None:
    from acegit.engine.checkpoint import load_checkpoint

    cfg = turbo_engine.cfg
    assert cfg.sampling.steps == 5 and cfg.dit.guidance_embed
    tiny, _ = load_checkpoint(builtin_weights_dir("tiny"))
    turbo = turbo_engine.model.state_dict()
    for k, v in tiny.state_dict().items():
        if k.startswith("dit."):
            continue
        assert torch.equal(turbo[k], v), k  # DCAE and vocoder: tiny's, so a turbo latent decodes as tiny's would
    assert any(not torch.equal(turbo[k], v) for k, v in tiny.state_dict().items() if k.startswith("dit."))
    assert distilled_steps("tiny-turbo", {}) == 5 and distilled_steps("tiny", {}) == 0


def test_add_writes_the_turbos_own_settings_unless_given(project: Project, cli: Callable[..., Result]) -> None:
    assert cli("add", "fast", "--prompt", "chiptune boss", "--model", "tiny-turbo").exit_code == 0
    fast = tomllib.loads((project.tracks_dir / "fast.toml").read_text(encoding="utf-8"))
    assert (fast["model"], fast["steps"], fast["sampler"]) == ("tiny-turbo", 5, "euler")
    assert cli("add", "given", "--prompt", "x", "--model", "tiny-turbo", "--steps", "20").exit_code == 0
    given = tomllib.loads((project.tracks_dir / "given.toml").read_text(encoding="utf-8"))
    assert given["steps"] == 20  # what the user asked for is kept; render then says why it cannot be (test_bad_input)
    assert cli("add", "plain", "--prompt", "x").exit_code == 0
    assert "steps" not in tomllib.loads((project.tracks_dir / "plain.toml").read_text(encoding="utf-8"))


def test_a_turbo_render_is_decoded_by_tinys_vocoder(turbo_engine: Engine) -> None:
    """End to end at 5 steps: a real latent and audio; decoding it with tiny's engine gives the same samples."""
    r = GenerationRequest(prompt="calm solo piano", negative_prompt="", seed=7, duration=2.0, bpm=80.0,
                          key="A minor", time_signature="4/4", steps=5, guidance=4.0, sampler="euler")  # fmt: skip
    latent = turbo_engine.generate([r])[0]
    wave = turbo_engine.decode(latent)
    assert np.abs(latent).max() > 0.1 and np.isfinite(wave).all() and np.abs(wave).max() > 1e-3
    tiny = Engine.load(builtin_weights_dir("tiny"), device="cpu", decode_only=True)
    assert tiny.decode(latent).tobytes() == wave.tobytes()
