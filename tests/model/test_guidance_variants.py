"""model/evaluate/guidance.py patches the engine's guidance branch the way the model card's table describes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from acegit.engine import inference, sampling
from acegit.engine.conditioning import KEY_NULL, key_index
from acegit.engine.request import GenerationRequest

REQ = GenerationRequest(
    prompt="calm piano",
    negative_prompt="",
    seed=1,
    duration=2.0,
    bpm=90.0,
    key="E major",
    time_signature="4/4",
    steps=2,
    guidance=3.0,
    sampler="euler",
)


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> inference.Engine:
    from acegit.engine.checkpoint import build_model, save_checkpoint

    # pytest puts these back after the test, whatever the patch does to them.
    monkeypatch.setattr(inference.Engine, "conditions", inference.Engine.conditions)
    monkeypatch.setattr(sampling, "guided", sampling.guided)
    save_checkpoint(build_model("tiny", seed=0), tmp_path / "w")
    return inference.Engine.load(tmp_path / "w", device="cpu")


@pytest.mark.parametrize(
    ("branch", "key", "bpm"),
    [("key", KEY_NULL, 90.0), ("text", key_index("E major"), 90.0), ("all", KEY_NULL, 0.0)],
)
def test_branches(engine: inference.Engine, branch: str, key: int, bpm: float) -> None:
    from model.evaluate.guidance import patch

    patch(branch)
    cond, uncond = engine.conditions(REQ)
    assert not bool(uncond.text_mask.any()) and int(cond.key[0]) == key_index("E major")
    assert (int(uncond.key[0]), float(uncond.bpm[0])) == (key, bpm)


def test_early_switches_branch_by_sigma(engine: inference.Engine) -> None:
    from model.evaluate.guidance import EARLY_SIGMA, patch

    patch("early")
    cond, uncond = engine.conditions(REQ)
    seen: list[float] = []

    def model(x: torch.Tensor, sigma: torch.Tensor, cond: object) -> torch.Tensor:
        seen.append(float(cond.bpm[1]))  # type: ignore[attr-defined]  # the guidance half of the batch
        return torch.zeros_like(x)

    denoise = sampling.guided(model, 3.0, cat=None)
    x = torch.zeros(1, 8, 16, 4)
    for s in (EARLY_SIGMA + 0.1, EARLY_SIGMA - 0.1):
        denoise(x, torch.tensor([s]), cond=cond, uncond=uncond)
    assert seen == [0.0, 90.0]  # BPM guided (absent from the guidance branch) only while sigma is high
