"""The latent side of a diff: how far two snapshots' latents are apart, overall and per second, and the verdict.

Thresholds: docs/diff.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from acegit.errors import AcegitError
from acegit.lockfile import Lock

if TYPE_CHECKING:
    import numpy as np

IDENTICAL, DRIFT, CHANGED, DIFFERENT = "identical", "tiny numerical drift", "changed", "entirely different"
OTHER_MODEL = "another model"  # latents of different shapes (the track moved between models): only audio compares

# A second counts as changed when its relative latent change (docs/diff.md) exceeds this: ≈ the 20 dB SNR that
# `render --check` tolerates across device classes, since 10**(-20/20) / sqrt(2) = 0.0707.
SECOND_CHANGED = 0.07
# "Entirely different": most seconds changed and, overall, about as far apart as two unrelated latents (≈ 1.0).
DIFFERENT_CHANGE = 0.5
DIFFERENT_SECONDS = 0.8


@dataclass(frozen=True)
class LatentDiff:
    """How far apart two latents are, overall and per second; `change` is 0 (same) … ≈ 1 (unrelated)."""

    identical: bool
    shape_a: tuple[int, ...]
    shape_b: tuple[int, ...]
    l2: float  # ‖A − B‖₂ over the frames both have
    cosine: float  # of the flattened latents over the frames both have
    change: float  # ‖A − B‖ / √(‖A‖² + ‖B‖²), rows centred; frames only one side has count as fully changed
    per_second: tuple[float, ...]  # the same ratio for each second
    frame_rate: float  # latent frames per second

    @property
    def changed_seconds(self) -> list[tuple[int, int]]:
        """Runs of changed seconds as [start, end) in seconds."""
        return runs([c > SECOND_CHANGED for c in self.per_second])


def runs(flags: Sequence[bool]) -> list[tuple[int, int]]:
    """[start, end) runs of True values."""
    out, start = [], None
    for i, f in enumerate([*flags, False]):
        if f and start is None:
            start = i
        elif not f and start is not None:
            out.append((start, i))
            start = None
    return out


def compare_latents(a: np.ndarray, b: np.ndarray, frame_rate: float, identical: bool = False) -> LatentDiff:
    """Compare two latents (C, F, T); T may differ (a changed duration)."""
    import numpy as np

    ta, tb = a.shape[-1], b.shape[-1]
    t = min(ta, tb)
    a64 = np.asarray(a, np.float64).reshape(-1, ta)  # (C·F, Ta): one row per channel × mel row
    b64 = np.asarray(b, np.float64).reshape(-1, tb)
    if a64.shape[0] != b64.shape[0]:
        raise AcegitError(f"latents of different models cannot be compared: shapes {a.shape} and {b.shape}")
    d = a64[:, :t] - b64[:, :t]
    l2 = float(np.sqrt(np.sum(d * d)))
    na, nb = np.linalg.norm(a64[:, :t]), np.linalg.norm(b64[:, :t])
    cosine = float(np.sum(a64[:, :t] * b64[:, :t]) / (na * nb)) if na > 0 and nb > 0 else float(l2 == 0)
    # Centre each row on both latents' joint mean, so a constant offset of the latent space does not dilute changes.
    mean = (a64.sum(axis=1) + b64.sum(axis=1))[:, None] / (ta + tb)
    ea, eb = np.sum((a64 - mean) ** 2, axis=0), np.sum((b64 - mean) ** 2, axis=0)  # (Ta,), (Tb,) frame energy
    diff_e = np.concatenate([np.sum(d * d, axis=0), ea[t:], eb[t:]])  # unmatched frames: all of them is change
    base_e = np.concatenate([ea[:t] + eb[:t], ea[t:], eb[t:]])
    frame_sec = np.concatenate([np.arange(t), np.arange(t, ta), np.arange(t, tb)]) / frame_rate
    seconds = int((max(ta, tb) - 1) / frame_rate) + 1  # up to the second holding the last frame
    sec = np.minimum(frame_sec.astype(np.int64), seconds - 1)
    num = np.bincount(sec, weights=diff_e, minlength=seconds)
    den = np.bincount(sec, weights=base_e, minlength=seconds)
    per_second = np.where(den > 0, np.sqrt(num / np.maximum(den, 1e-30)), (num > 0).astype(np.float64))
    total = math.sqrt(diff_e.sum() / base_e.sum()) if base_e.sum() > 0 else float(diff_e.sum() > 0)
    return LatentDiff(
        identical=identical,
        shape_a=tuple(a.shape),
        shape_b=tuple(b.shape),
        l2=l2,
        cosine=cosine,
        change=0.0 if identical else total,
        per_second=tuple(0.0 if identical else float(x) for x in per_second),
        frame_rate=frame_rate,
    )


def frame_rate_of(lock: Lock) -> float:
    """Latent frames per second estimated from the snapshot's shape and duration: frames = samples // hop + 1, so
    duration · rate lies in [T − 1, T) and (T − ½) / duration is within half a frame per duration of the truth."""
    frames = lock.latent.shape[-1]
    return (frames - 0.5) / lock.audio.duration if lock.audio.duration > 0 else 1.0


def verdict(latent: LatentDiff) -> str:
    """identical / tiny numerical drift / changed seconds a–b, … / entirely different (docs/diff.md)."""
    if latent.identical:
        return IDENTICAL
    changed = latent.changed_seconds
    n_changed = sum(e - s for s, e in changed)
    if not changed:
        return DRIFT
    if latent.change >= DIFFERENT_CHANGE and n_changed >= DIFFERENT_SECONDS * len(latent.per_second):
        return DIFFERENT
    return f"{CHANGED} seconds " + ", ".join(f"{s}–{e}" for s, e in changed)
