from __future__ import annotations

import math

import pytest
import torch

from acegit.engine.sampling import euler, flow_sigmas, guided, heun, shift_sigmas
from acegit.errors import AcegitError


def test_sigmas_run_from_one_to_zero_and_shift_toward_noise() -> None:
    s = flow_sigmas(10, shift=3.0)
    assert s.shape == (11,) and s[0] == 1.0 and s[-1] == 0.0
    assert torch.all(s[1:] < s[:-1])
    assert torch.all(s[1:-1] > flow_sigmas(10)[1:-1])  # shifted spends more of the schedule at high noise
    assert shift_sigmas(torch.tensor([0.5]), 1.0).item() == 0.5
    with pytest.raises(AcegitError):
        flow_sigmas(0)


@pytest.mark.parametrize("sampler", [euler, heun])
def test_straight_flow_reaches_the_known_endpoint(sampler) -> None:
    """The exact velocity of the straight path to x0 is (x - x0) / sigma; any step sizes land on x0."""
    x0 = torch.randn(3, 8, 4, 5)

    def model(x, sigma):
        return (x - x0) / sigma[:, None, None, None]

    out = sampler(model, torch.randn(3, 8, 4, 5), flow_sigmas(7, shift=3.0))
    torch.testing.assert_close(out, x0, rtol=0, atol=1e-5)


def test_heun_is_second_order_on_a_curved_flow() -> None:
    """dx/dsigma = x from sigma=1 to 0 ends at x1 / e; Heun's error shrinks ~4x per halving of the step, Euler's ~2x."""
    x1 = torch.ones(1, 1, dtype=torch.float64)

    def model(x, sigma):
        return x

    def err(sampler, n):
        sig = torch.linspace(1, 0, n + 1, dtype=torch.float64)
        return abs(sampler(model, x1, sig).item() - math.exp(-1))

    assert err(euler, 20) / err(euler, 40) == pytest.approx(2.0, rel=0.1)
    assert err(heun, 20) / err(heun, 40) == pytest.approx(4.0, rel=0.15)
    assert err(heun, 20) < err(euler, 20) / 10


def test_callback_sees_every_step() -> None:
    seen = []
    euler(lambda x, s: torch.zeros_like(x), torch.zeros(1, 2), flow_sigmas(4), callback=lambda d: seen.append(d["i"]))
    assert seen == [0, 1, 2, 3]


def test_guidance_combines_branches_within_its_interval_only() -> None:
    calls = []

    def model(x, sigma, *, cond):
        calls.append(cond)
        return torch.full_like(x, float(cond))

    g = guided(model, scale=3.0, interval=(0.2, 0.8))
    x = torch.zeros(2, 3)
    assert torch.all(g(x, torch.full((2,), 0.5), cond=1.0, uncond=0.0) == 3.0)  # 0 + 3 * (1 - 0)
    assert torch.all(g(x, torch.full((2,), 0.9), cond=1.0, uncond=0.0) == 1.0)  # outside: conditional only
    assert calls == [1.0, 0.0, 1.0]


def test_batched_guidance_equals_separate_branches() -> None:
    def model(x, sigma, *, cond):
        return x * cond[:, None] + sigma[:, None]

    x, sigma = torch.randn(1, 4), torch.full((1,), 0.5)
    cond, uncond = torch.tensor([2.0]), torch.tensor([0.5])
    separate = guided(model, 4.0)(x, sigma, cond=cond, uncond=uncond)
    batched = guided(model, 4.0, cat=torch.cat)(x, sigma, cond=cond, uncond=uncond)
    torch.testing.assert_close(batched, separate)
