"""Flow-matching samplers (k-diffusion style): pure functions of (model, x, sigmas); the model is any callable.

Convention: x_sigma = (1 - sigma) * x0 + sigma * noise, sigma from 1 (noise) to 0 (data); the model returns the velocity
v = noise - x0 = dx/dsigma. No step takes a statistic across the batch, so batch neighbours never change each other.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from acegit.errors import AcegitError

Model = Callable[..., torch.Tensor]
Callback = Callable[[dict[str, Any]], None]


def shift_sigmas(sigmas: torch.Tensor, shift: float) -> torch.Tensor:
    """Timestep shift sigma' = s*sigma / (1 + (s-1)*sigma): more steps at high noise (SD3, Esser et al. 2024)."""
    return shift * sigmas / (1 + (shift - 1) * sigmas)


def flow_sigmas(steps: int, shift: float = 1.0) -> torch.Tensor:
    """steps + 1 noise levels from 1 to 0, evenly spaced then shifted; float64 arithmetic, float32 result."""
    if steps < 1:
        raise AcegitError(f"steps must be at least 1, got {steps}")
    return shift_sigmas(torch.linspace(1.0, 0.0, steps + 1, dtype=torch.float64), shift).float()


def _velocity(model: Model, x: torch.Tensor, sigma: torch.Tensor, extra_args: dict[str, Any]) -> torch.Tensor:
    return model(x, sigma.to(x.device).expand(x.shape[0]), **extra_args)


@torch.no_grad()
def euler(
    model: Model,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    *,
    extra_args: dict[str, Any] | None = None,
    callback: Callback | None = None,
) -> torch.Tensor:
    """Euler steps of the flow ODE dx/dsigma = v(x, sigma) (Lipman et al. 2023, flow matching)."""
    extra_args = extra_args or {}
    for i in range(len(sigmas) - 1):
        v = _velocity(model, x, sigmas[i], extra_args)
        x = x + (sigmas[i + 1] - sigmas[i]).to(x) * v
        if callback is not None:
            callback({"i": i, "x": x, "sigma": sigmas[i], "sigma_next": sigmas[i + 1], "velocity": v})
    return x


@torch.no_grad()
def heun(
    model: Model,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    *,
    extra_args: dict[str, Any] | None = None,
    callback: Callback | None = None,
) -> torch.Tensor:
    """Heun's second-order steps (Karras et al. 2022, Algorithm 1); the last step to sigma = 0 is an Euler step."""
    extra_args = extra_args or {}
    for i in range(len(sigmas) - 1):
        dt = (sigmas[i + 1] - sigmas[i]).to(x)
        v = _velocity(model, x, sigmas[i], extra_args)
        x_euler = x + dt * v
        if sigmas[i + 1] == 0:
            x = x_euler
        else:
            v2 = _velocity(model, x_euler, sigmas[i + 1], extra_args)
            x = x + dt * (v + v2) / 2
        if callback is not None:
            callback({"i": i, "x": x, "sigma": sigmas[i], "sigma_next": sigmas[i + 1], "velocity": v})
    return x


@torch.no_grad()
def dpmpp_2m(
    model: Model,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    *,
    extra_args: dict[str, Any] | None = None,
    callback: Callback | None = None,
) -> torch.Tensor:
    """DPM-Solver++(2M) (Lu et al. 2022) on the flow path: second order from one model call per step.

    With alpha = 1 - sigma and the data prediction x0 = x - sigma * v, each step is the exact solution of the ODE for
    a data prediction that is linear in lambda = log(alpha / sigma), extrapolated from this step's and the previous
    step's x0. The first two steps (lambda is -inf at sigma = 1) and the last (+inf at sigma = 0) are first order, which
    on this path is exactly an Euler step. The step coefficients are computed in float64 on the CPU, then every update
    is a chain of single multiplies and adds (no fused multiply-add), so a result does not depend on the thread count.
    """
    extra_args = extra_args or {}
    s = sigmas.double().cpu()
    lam = torch.log((1 - s) / s)  # +inf at sigma = 0
    previous: torch.Tensor | None = None  # the previous step's data prediction
    for i in range(len(s) - 1):
        v = _velocity(model, x, sigmas[i], extra_args)
        x0 = x - sigmas[i].to(x) * v
        ratio, alpha_next = (s[i + 1] / s[i]).item(), (1 - s[i + 1]).item()
        d = x0  # first order: the first step, the one after it (lambda was -inf), and the last (to sigma = 0)
        if previous is not None and s[i + 1] > 0:
            r = ((lam[i] - lam[i - 1]) / (lam[i + 1] - lam[i])).item()  # h_{i-1} / h_i
            if math.isfinite(r):
                d = x0 * (1 + 1 / (2 * r)) - previous * (1 / (2 * r))
        # x_{i+1} = (sigma_{i+1} / sigma_i) x_i + alpha_{i+1} (1 - e^{-h}) d, with e^{-h} = the sigma-ratio times
        # alpha_i / alpha_{i+1}; the coefficient of d reduces to alpha_{i+1} - ratio * alpha_i.
        x = x * ratio + d * (alpha_next - ratio * (1 - s[i]).item())
        previous = x0
        if callback is not None:
            callback({"i": i, "x": x, "sigma": sigmas[i], "sigma_next": sigmas[i + 1], "velocity": v})
    return x


SAMPLERS: dict[str, Callable[..., torch.Tensor]] = {"euler": euler, "heun": heun, "dpm++2m": dpmpp_2m}


def get_sampler(name: str) -> Callable[..., torch.Tensor]:
    if name not in SAMPLERS:
        raise AcegitError(f"unknown sampler {name!r}", hint=f"choose one of: {', '.join(SAMPLERS)}")
    return SAMPLERS[name]


def guided(
    model: Model,
    scale: float,
    interval: tuple[float, float] = (0.0, 1.0),
    cat: Callable[[list[Any]], Any] | None = None,
) -> Model:
    """Classifier-free guidance (Ho & Salimans 2022): v_u + scale * (v_c - v_u) while sigma is within interval.

    The returned model takes keyword arguments `cond` and `uncond` and passes each on as `cond` to `model`; outside
    the interval, or with scale 1, only the conditional branch runs. With `cat` (how to concatenate two conditions
    along the batch), both branches run as one batch [cond; uncond], which is faster on a CPU; the model must then
    treat batch items independently (ours does). Either way a result depends only on its own request.
    """
    lo, hi = interval

    def denoise(x: torch.Tensor, sigma: torch.Tensor, *, cond: Any, uncond: Any) -> torch.Tensor:
        s = float(sigma[0])
        if scale == 1.0 or not lo <= s <= hi:
            return model(x, sigma, cond=cond)
        if cat is None:
            v_c, v_u = model(x, sigma, cond=cond), model(x, sigma, cond=uncond)
        else:
            v_c, v_u = model(torch.cat([x, x]), torch.cat([sigma, sigma]), cond=cat([cond, uncond])).chunk(2)
        return v_u + scale * (v_c - v_u)

    return denoise


def distilled(model: Model, scale: float, interval: tuple[float, float] = (0.0, 1.0)) -> Model:
    """Guidance by a guidance-distilled model (Meng et al. 2023): one evaluation per step, the scale as its input.

    The same signature and interval as `guided`, so samplers and edits take either; `uncond` is accepted and
    unused: the student learned its teacher's guidance against the null prompt without the key, which is what
    `uncond` is for a request without a negative prompt (the engine refuses one).
    """
    lo, hi = interval

    def denoise(x: torch.Tensor, sigma: torch.Tensor, *, cond: Any, uncond: Any) -> torch.Tensor:
        s = float(sigma[0])
        w = scale if lo <= s <= hi else 1.0
        return model(x, sigma, cond=cond, guidance=torch.full_like(sigma, w))

    return denoise
