from __future__ import annotations

import math

import pytest
import torch

from acegit.engine.sampling import (
    SAMPLERS,
    distilled,
    dpmpp_2m,
    euler,
    flow_sigmas,
    guided,
    heun,
    shift_sigmas,
)
from acegit.errors import AcegitError


def test_sigmas_run_from_one_to_zero_and_shift_toward_noise() -> None:
    s = flow_sigmas(10, shift=3.0)
    assert s.shape == (11,) and s[0] == 1.0 and s[-1] == 0.0
    assert torch.all(s[1:] < s[:-1])
    assert torch.all(s[1:-1] > flow_sigmas(10)[1:-1])  # shifted spends more of the schedule at high noise
    assert shift_sigmas(torch.tensor([0.5]), 1.0).item() == 0.5
    with pytest.raises(AcegitError):
        flow_sigmas(0)


@pytest.mark.parametrize("sampler", [euler, heun, dpmpp_2m])
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


def test_dpmpp_2m_is_second_order_from_one_call_per_step() -> None:
    """dx/dsigma = x from sigma 0.9 to 0.1 ends at x(0.9) e^-0.8: DPM-Solver++(2M)'s error shrinks ~4x per halving of
    the step (second order, like Heun) from one model call per step (Euler's cost); over the whole 1 -> 0 schedule it
    stays far below Euler's, whose first and last steps it shares."""
    x1 = torch.ones(1, 1, dtype=torch.float64)
    calls = []

    def model(x, sigma):
        calls.append(1)
        return x

    def err(sampler, sig, exact):
        calls.clear()
        out = sampler(model, x1, sig).item()
        assert len(calls) == len(sig) - 1 or sampler is not dpmpp_2m
        return abs(out - exact)

    inner = [err(dpmpp_2m, torch.linspace(0.9, 0.1, n + 1, dtype=torch.float64), math.exp(-0.8)) for n in (20, 40)]
    assert inner[0] / inner[1] == pytest.approx(4.0, rel=0.25)
    for n in (10, 20, 40):
        sig = flow_sigmas(n, shift=3.0).double()
        assert err(dpmpp_2m, sig, math.exp(-1)) < err(euler, sig, math.exp(-1)) / 2.5


def test_dpmpp_2m_first_step_is_an_euler_step() -> None:
    """From sigma = 1 there is no history: the first step is an Euler step (up to rounding: other arithmetic)."""
    x, sig = torch.randn(2, 3), torch.tensor([1.0, 0.6, 0.0])

    def model(x, sigma):
        return x * 0.5 + 1.0

    torch.testing.assert_close(dpmpp_2m(model, x, sig[:2]), euler(model, x, sig[:2]), rtol=1e-6, atol=1e-6)
    assert "dpm++2m" in SAMPLERS


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


def test_a_distilled_model_gets_the_scale_within_the_interval_and_one_outside() -> None:
    calls = []

    def model(x, sigma, *, cond, guidance):
        calls.append((cond, guidance.tolist()))
        return torch.full_like(x, float(guidance[0]))

    d = distilled(model, scale=3.0, interval=(0.2, 0.8))
    x = torch.zeros(2, 3)
    assert torch.all(d(x, torch.full((2,), 0.5), cond=1.0, uncond=0.0) == 3.0)
    assert torch.all(d(x, torch.full((2,), 0.9), cond=1.0, uncond=0.0) == 1.0)  # outside: the conditional branch
    assert calls == [(1.0, [3.0, 3.0]), (1.0, [1.0, 1.0])]  # one evaluation each, never of uncond
