"""Edits on a latent by flow matching: in-painting (repaint), out-painting (extend) and partial re-noising (vary).

All three are one operation: a mask over latent frames says what is regenerated (1), what is kept (0) and where the
two blend; the latent is re-noised to a starting noise level and denoised with the track's sampler, while the kept
frames are put back on their own noise path at every model call — the re-noised original `(1 − σ)·x0 + σ·ε` as the
model's input and the path's velocity `ε − x0` as its output — as RePaint (Lugmayr et al. 2022) and ACE-Step's repaint
do. At σ = 0 the kept frames are the original's bits exactly (the result takes them, not the sampled approximation).

Only IEEE single operations (no fused multiply-add, lerp or add-with-alpha), so the result is the same bits at any
thread count, like the rest of the engine.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from acegit.engine.sampling import Model, flow_sigmas

BLEND_FRAMES = 2  # latent frames at each end of a repainted range that blend into the old music (0.19 s built-in)


def range_frames(start: float, end: float, frames: int, rate: float) -> tuple[int, int]:
    """[first, last) latent frames whose time f / rate lies in [start, end) seconds, at least one frame."""
    first = min(max(0, math.ceil(start * rate - 1e-9)), frames - 1)
    last = min(frames, max(first + 1, math.ceil(end * rate - 1e-9)))
    return first, last


def range_mask(frames: int, first: int, last: int, *, blend: int = BLEND_FRAMES) -> torch.Tensor:
    """(frames,) float32: 0 outside [first, last); inside, rising linearly from the range's ends over `blend` frames
    to 1, so the new music blends into the old without a single frame outside the range changing."""
    t = torch.arange(frames, dtype=torch.float64)
    ramp = torch.minimum(t - first + 1, last - t) / (blend + 1)
    inside = (t >= first) & (t < last)
    return torch.where(inside, torch.clamp(ramp, max=1.0), torch.zeros_like(t)).float()


def schedule(steps: int, shift: float, start: float) -> torch.Tensor:
    """The sampler's noise levels below `start`, with `start` first: the tail of the track's own schedule."""
    full = flow_sigmas(steps, shift)
    return torch.cat([torch.tensor([start], dtype=torch.float32), full[full < start]])


def renoise(x0: torch.Tensor, noise: torch.Tensor, sigma: float) -> torch.Tensor:
    """`(1 − σ)·x0 + σ·ε`, the flow's path from the data to the noise (σ = 1 is the noise itself)."""
    if sigma == 1.0:
        return noise.clone()
    return (1.0 - sigma) * x0 + sigma * noise


def inpaint(model: Model, x0: torch.Tensor, noise: torch.Tensor, mask: torch.Tensor) -> Model:
    """`model` with the kept frames (mask 0) held on their noise path and the masked frames (mask 1) free."""
    keep = 1.0 - mask
    velocity = noise - x0

    def denoise(x: torch.Tensor, sigma: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        s = sigma.reshape(-1, *([1] * (x.dim() - 1))).to(x)
        known = (1.0 - s) * x0 + s * noise
        v = model(mask * x + keep * known, sigma, **kwargs)
        return mask * v + keep * velocity

    return denoise


def compose(x: torch.Tensor, x0: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The edited latent: sampled where the mask is above 0, the original's bits everywhere else."""
    return torch.where(mask > 0, x, x0)
