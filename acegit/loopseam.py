"""How audible a loop's seam is: spectral flux and level jump across the loop point, against the track's own variation.

The same statistic is taken at the seam (end of the loop joined to its start) and at every hop inside the loop: for a
boundary b, three windows — just before b, centred on b, just after b — and the larger of the two neighbouring
differences. The centred window catches a click exactly at b, where the outer windows' tapers are zero. A seam is
"within the track's normal frame-to-frame variation" when neither figure exceeds the 95th percentile of the track's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

FLOOR_DB = -80.0  # below the track's loudest bin/window: keeps near-silence from dominating log differences
PERCENTILE = 95.0
SLACK_DB = 0.1  # measurement slack: a seam equal to the track's typical transition must not fail on rounding


@dataclass(frozen=True)
class SeamReport:
    """Seam figures (dB) and the same statistic over the rest of the loop (median, 95th percentile)."""

    flux_db: float  # log-spectral distance across the seam (RMS over frequency bins)
    flux_median_db: float
    flux_p95_db: float
    level_jump_db: float  # |level change| across the seam
    level_median_db: float
    level_p95_db: float

    @property
    def flux_ratio(self) -> float:
        return self.flux_db / self.flux_median_db if self.flux_median_db > 0 else math.inf

    @property
    def level_ratio(self) -> float:
        return self.level_jump_db / self.level_median_db if self.level_median_db > 0 else math.inf

    @property
    def seamless(self) -> bool:
        return self.flux_db <= self.flux_p95_db + SLACK_DB and self.level_jump_db <= self.level_p95_db + SLACK_DB


def frame_size(sample_rate: int) -> int:
    """A power of two near 46 ms (1024 samples at 22,050 Hz, 2048 at 44.1/48 kHz)."""
    return int(2 ** round(math.log2(0.046 * sample_rate)))


def _boundary_stats(x: np.ndarray, bounds: np.ndarray, n: int, ref_spec: float, ref_rms: float) -> np.ndarray:
    """(len(bounds), 2): flux and level jump at each boundary of the 1-D signal `x` (needs n samples each side)."""
    import numpy as np

    win = np.hanning(n)
    offsets = np.array([-n, -n // 2, 0])  # before, centred, after
    starts = bounds[:, None] + offsets[None, :]  # (B, 3)
    frames = x[starts[..., None] + np.arange(n)] * win  # (B, 3, n)
    spec = np.abs(np.fft.rfft(frames, axis=-1))  # (B, 3, n/2+1)
    spec_db = 20 * np.log10(np.maximum(spec, ref_spec * 10 ** (FLOOR_DB / 20)))
    rms = np.sqrt(np.mean(frames**2, axis=-1) / np.mean(win**2))  # (B, 3)
    level_db = 20 * np.log10(np.maximum(rms, ref_rms * 10 ** (FLOOR_DB / 20)))
    flux = np.sqrt(np.mean(np.diff(spec_db, axis=1) ** 2, axis=-1)).max(axis=1)  # (B,)
    level = np.abs(np.diff(level_db, axis=1)).max(axis=1)
    return np.stack([flux, level], axis=1)


def seam_report(wave: np.ndarray, sample_rate: int, start: int = 0, end: int | None = None) -> SeamReport:
    """Measure the seam of the loop [start, end) of a mono (or (n, channels), averaged) waveform."""
    import numpy as np

    x = np.asarray(wave, dtype=np.float64)
    if x.ndim == 2:
        x = x.mean(axis=1)
    end = len(x) if end is None else end
    loop = x[start:end]
    n = frame_size(sample_rate)
    if len(loop) < 4 * n:
        raise ValueError(f"a loop of {len(loop)} samples is too short to measure (needs {4 * n})")
    # Reference levels for the floors: the loudest spectrum bin and window level of the loop.
    whole = loop[: len(loop) // n * n].reshape(-1, n) * np.hanning(n)
    ref_spec = float(np.abs(np.fft.rfft(whole, axis=-1)).max()) or 1.0
    ref_rms = float(np.sqrt(np.mean(whole**2, axis=-1)).max() / np.sqrt(np.mean(np.hanning(n) ** 2))) or 1.0

    hop = n // 2
    inside = _boundary_stats(loop, np.arange(n, len(loop) - n + 1, hop), n, ref_spec, ref_rms)
    joined = np.concatenate([loop[-n:], loop[:n]])  # the loop's end followed by its start
    seam = _boundary_stats(joined, np.array([n]), n, ref_spec, ref_rms)[0]
    med = np.median(inside, axis=0)
    p95 = np.percentile(inside, PERCENTILE, axis=0)
    return SeamReport(
        flux_db=float(seam[0]),
        flux_median_db=float(med[0]),
        flux_p95_db=float(p95[0]),
        level_jump_db=float(seam[1]),
        level_median_db=float(med[1]),
        level_p95_db=float(p95[1]),
    )
