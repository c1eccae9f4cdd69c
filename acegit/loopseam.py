"""How audible a loop's seam is: spectral flux and level jump across the loop point, against the track's own variation.

The same statistic is taken at the seam (end of the loop joined to its start) and at reference boundaries inside the
loop: for a boundary b, three windows — just before b, centred on b, just after b — and the larger of the two
neighbouring differences. The centred window catches a click exactly at b, where the outer windows' tapers are zero.

A seam is "within the track's normal frame-to-frame variation" when neither figure exceeds the 95th percentile of the
track's at one of two reference sets:
- every hop inside the loop: the track's ordinary moment-to-moment change (hundreds of boundaries);
- given the beat length, every beat boundary inside the loop. A loop of whole bars has its seam on a bar line, where
  music puts note onsets; against every hop (most of which fall between notes) a downbeat onset reads as a jump,
  although every bar line inside the loop has one too. Against the beats, like is compared with like. It is the
  stricter of the musical references (bar lines alone hold the strongest onsets, and only one to three per loop).
A click, a level jump or a spectral break that neither the track's ordinary moments nor its beats show still fails.
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
class Reference:
    """The seam statistic at a set of boundaries inside the loop (dB): median, 95th percentile, and how many."""

    flux_median_db: float
    flux_p95_db: float
    level_median_db: float
    level_p95_db: float
    count: int

    def admits(self, flux_db: float, level_jump_db: float) -> bool:
        return flux_db <= self.flux_p95_db + SLACK_DB and level_jump_db <= self.level_p95_db + SLACK_DB


@dataclass(frozen=True)
class SeamReport:
    """Seam figures (dB) and the same statistic at every hop and (given the beat length) every beat inside the loop."""

    flux_db: float  # log-spectral distance across the seam (RMS over frequency bins)
    level_jump_db: float  # |level change| across the seam
    hops: Reference
    beats: Reference | None = None

    @property
    def flux_ratio(self) -> float:
        """Seam flux over the median hop's."""
        return self.flux_db / self.hops.flux_median_db if self.hops.flux_median_db > 0 else math.inf

    @property
    def reference(self) -> str | None:
        """Which reference admits the seam ("hops" first, then "beats"); None when the seam stands out from both."""
        if self.hops.admits(self.flux_db, self.level_jump_db):
            return "hops"
        if self.beats is not None and self.beats.admits(self.flux_db, self.level_jump_db):
            return "beats"
        return None

    @property
    def seamless(self) -> bool:
        return self.reference is not None


def frame_size(sample_rate: int) -> int:
    """A power of two near 46 ms (1024 samples at 22,050 Hz, 2048 at 44.1/48 kHz)."""
    return int(2 ** round(math.log2(0.046 * sample_rate)))


CHUNK = 256  # boundaries (or windows) per FFT batch: bounded memory for loops of any length


def _boundary_stats(x: np.ndarray, bounds: np.ndarray, n: int, ref_spec: float, ref_rms: float) -> np.ndarray:
    """(len(bounds), 2): flux and level jump at each boundary of the 1-D signal `x` (needs n samples each side)."""
    import numpy as np

    win = np.hanning(n)
    offsets = np.array([-n, -n // 2, 0])  # before, centred, after
    out = np.empty((len(bounds), 2))
    for i in range(0, len(bounds), CHUNK):
        starts = bounds[i : i + CHUNK, None] + offsets[None, :]  # (B, 3)
        frames = x[starts[..., None] + np.arange(n)] * win  # (B, 3, n)
        spec = np.abs(np.fft.rfft(frames, axis=-1))  # (B, 3, n/2+1)
        spec_db = 20 * np.log10(np.maximum(spec, ref_spec * 10 ** (FLOOR_DB / 20)))
        rms = np.sqrt(np.mean(frames**2, axis=-1) / np.mean(win**2))  # (B, 3)
        level_db = 20 * np.log10(np.maximum(rms, ref_rms * 10 ** (FLOOR_DB / 20)))
        out[i : i + CHUNK, 0] = np.sqrt(np.mean(np.diff(spec_db, axis=1) ** 2, axis=-1)).max(axis=1)  # flux
        out[i : i + CHUNK, 1] = np.abs(np.diff(level_db, axis=1)).max(axis=1)  # level jump
    return out


def _reference(stats: np.ndarray) -> Reference:
    import numpy as np

    med, p95 = np.median(stats, axis=0), np.percentile(stats, PERCENTILE, axis=0)
    return Reference(float(med[0]), float(p95[0]), float(med[1]), float(p95[1]), len(stats))


def seam_report(
    wave: np.ndarray, sample_rate: int, start: int = 0, end: int | None = None, beat: float | None = None
) -> SeamReport:
    """Measure the seam of the loop [start, end) of a mono (or (n, channels), averaged) waveform.

    beat: the beat length in samples (60 / BPM × sample_rate). Given, and the loop holds at least 4 beats (round(length
    / beat), the beat length adjusted to fit exactly), the seam is also judged against every beat boundary inside it.
    """
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
    whole = loop[: len(loop) // n * n].reshape(-1, n)  # a view: windowed chunk by chunk below
    win = np.hanning(n)
    peaks = [
        (float(np.abs(np.fft.rfft(c * win, axis=-1)).max()), float(np.sqrt(np.mean((c * win) ** 2, axis=-1)).max()))
        for c in (whole[i : i + CHUNK] for i in range(0, len(whole), CHUNK))
    ]
    ref_spec = max(p[0] for p in peaks) or 1.0
    ref_rms = max(p[1] for p in peaks) / float(np.sqrt(np.mean(win**2))) or 1.0

    hops = _boundary_stats(loop, np.arange(n, len(loop) - n + 1, n // 2), n, ref_spec, ref_rms)
    beats = None
    count = round(len(loop) / beat) if beat else 0
    if count >= 4 and len(loop) / count >= 2 * n:
        tiled = np.concatenate([loop[-n:], loop, loop[:n]])  # the loop plays on: boundaries near its ends see the wrap
        bounds = n + np.round(np.arange(1, count) * len(loop) / count).astype(np.int64)
        beats = _reference(_boundary_stats(tiled, bounds, n, ref_spec, ref_rms))
    joined = np.concatenate([loop[-n:], loop[:n]])  # the loop's end followed by its start
    seam = _boundary_stats(joined, np.array([n]), n, ref_spec, ref_rms)[0]
    return SeamReport(flux_db=float(seam[0]), level_jump_db=float(seam[1]), hops=_reference(hops), beats=beats)
