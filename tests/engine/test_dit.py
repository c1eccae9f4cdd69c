from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from acegit.engine.conditioning import KEY_NULL, TIME_SIGNATURE_NULL, Conditions, beat_features
from acegit.engine.config import DiTConfig, preset
from acegit.engine.dit import DepthwiseConv, DiT, linear_attention


def count(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def conditions(batch: int, frames: int, cfg: DiTConfig, tokens: int = 5) -> Conditions:
    g = torch.Generator().manual_seed(0)
    mask = torch.zeros(batch, cfg.text_tokens, dtype=torch.bool)
    mask[:, :tokens] = True
    return Conditions(
        text=torch.randn(batch, cfg.text_tokens, cfg.text_dim, generator=g) * mask[..., None],
        text_mask=mask,
        bpm=torch.full((batch,), 120.0),
        key=torch.tensor([3, KEY_NULL][:batch] + [0] * max(0, batch - 2)),
        time_signature=torch.tensor([0, TIME_SIGNATURE_NULL][:batch] + [0] * max(0, batch - 2)),
        duration=torch.full((batch,), 5.0),
        melody=torch.rand(batch, cfg.melody_pitches, frames, generator=g),
        beats=beat_features(frames, 10.77, 120.0, 4, cfg.beat_harmonics)[None].expand(batch, -1, -1),
    )


@pytest.mark.parametrize(("name", "low", "high"), [("tiny", 6e6, 10e6), ("base", 20e6, 50e6)])
def test_parameter_counts(name: str, low: float, high: float) -> None:
    cfg = preset(name)
    assert low <= count(DiT(cfg.dit, cfg.latent_rate)) <= high


def test_linear_attention_equals_the_naive_quadratic_formula() -> None:
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 17, 8, generator=g, dtype=torch.float64) for _ in range(3))
    out = linear_attention(q, k, v)
    sim = F.relu(q) @ F.relu(k).transpose(-1, -2)  # (B, h, N, N): φ(q_i)·φ(k_j)
    naive = (sim @ v) / (sim.sum(-1, keepdim=True) + 1e-15)
    torch.testing.assert_close(out, naive, rtol=1e-6, atol=1e-6)
    assert out.dtype == torch.float64
    half = linear_attention(q.half(), k.half(), v.half())  # low-precision inputs: normaliser still in float32
    assert half.dtype == torch.float16 and torch.isfinite(half).all()


def test_depthwise_conv_equals_conv1d() -> None:
    conv = DepthwiseConv(6, 3)
    torch.nn.init.normal_(conv.bias)
    x = torch.randn(2, 11, 6)
    ref = F.conv1d(x.transpose(1, 2), conv.weight.T[:, None, :], conv.bias, padding=1, groups=6).transpose(1, 2)
    torch.testing.assert_close(conv(x), ref)


def test_forward_shapes_zero_init_output_and_softmax_flag() -> None:
    torch.manual_seed(0)
    cfg = DiTConfig(hidden=64, depth=2, heads=4)
    x, sigma, c = torch.randn(2, 8, 16, 12), torch.tensor([0.3, 0.9]), conditions(2, 12, cfg)
    model = DiT(cfg, 10.77)
    assert torch.all(model(x, sigma, c) == 0)  # zero-initialised output: training starts from v = 0
    torch.nn.init.normal_(model.x_out.weight, std=0.02)
    for softmax in (False, True):
        m = DiT(dataclasses.replace(cfg, softmax_self_attention=softmax), 10.77)
        torch.nn.init.normal_(m.x_out.weight, std=0.02)
        v = m(x, sigma, c)
        assert v.shape == x.shape and torch.isfinite(v).all() and v.abs().max() > 0


def test_batch_items_do_not_interact_and_the_null_prompt_works() -> None:
    torch.manual_seed(0)
    cfg = DiTConfig(hidden=64, depth=2, heads=4)
    model = DiT(cfg, 10.77).eval()
    torch.nn.init.normal_(model.x_out.weight, std=0.02)
    for blk in model.blocks:
        torch.nn.init.normal_(blk.cross.proj.weight, std=0.02)
    x, sigma, c = torch.randn(2, 8, 16, 12), torch.tensor([0.3, 0.9]), conditions(2, 12, cfg)
    with torch.no_grad():
        both = model(x, sigma, c)
        first = model(x[:1], sigma[:1], Conditions(**{k: v[:1] for k, v in vars(c).items()}))
        null = model(x, sigma, c.without_text())
    torch.testing.assert_close(both[:1], first, rtol=1e-5, atol=1e-6)
    assert torch.isfinite(null).all() and not torch.allclose(null, both)


def test_a_guidance_distilled_dit_takes_the_scale_and_starts_as_the_conditional_branch() -> None:
    cfg = DiTConfig(hidden=64, depth=2, heads=4)
    teacher = DiT(cfg, 10.77).eval()
    torch.nn.init.normal_(teacher.x_out.weight, std=0.02)
    student = DiT(dataclasses.replace(cfg, guidance_embed=True), 10.77).eval()
    missing, unexpected = student.load_state_dict(teacher.state_dict(), strict=False)
    assert not unexpected and missing and all(k.startswith("g_embed.") for k in missing)
    x, sigma, c = torch.randn(2, 8, 16, 12), torch.tensor([0.3, 0.9]), conditions(2, 12, cfg)
    with torch.no_grad():
        v = teacher(x, sigma, c)
        torch.testing.assert_close(student(x, sigma, c, guidance=torch.tensor([4.0, 1.0])), v, rtol=0, atol=0)
        torch.nn.init.normal_(student.g_embed.mlp[-1].weight, std=0.02)  # trained: the scale changes the velocity
        assert not torch.allclose(student(x, sigma, c, guidance=torch.tensor([4.0, 4.0])), v)
    with pytest.raises(ValueError, match="guidance-distilled"):
        teacher(x, sigma, c, guidance=torch.tensor([4.0, 4.0]))
    with pytest.raises(ValueError, match="guidance-distilled"):
        student(x, sigma, c)
