"""The one loudness meter: ITU-R BS.1770-4 integrated loudness, for export's mastering and diff.

The meter pyloudnorm implements (its default "K-weighting" meter: the same two filters, the same 400 ms gating blocks
and gates), computed with numpy alone: pyloudnorm runs its filters through `scipy.signal`, whose import costs 1.3–2.7 s
of every process that measures loudness (docs/performance.md, "Fast path: cold diff"). The K filter is applied as
the convolution with its impulse response, which after one second is below 1e-100 of its peak, so the result is the
recursive filter's to rounding (within 1e-9 LU of pyloudnorm; tests/test_loudness.py).
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

BLOCK_SECONDS = 0.4  # BS.1770's gating block: shorter audio has no integrated loudness
OVERLAP = 0.75  # of consecutive gating blocks
ABSOLUTE_GATE = -70.0  # LUFS
RELATIVE_GATE = -10.0  # LU below the loudness of the blocks above the absolute gate
CHANNEL_GAINS = (1.0, 1.0, 1.0, 1.41, 1.41)  # L, R, C, Ls, Rs
_FFT = 1 << 18  # samples of one FFT of the block convolution (at least 4 impulse responses)


def _taps(rate: float) -> int:
    """Samples of the K filter's impulse response kept: 2^ceil(log2(rate)), one second or more."""
    return 1 << max(10, math.ceil(math.log2(rate)))


def _fft_size(rate: float) -> int:
    return max(_FFT, 4 * _taps(rate))


def _biquads(rate: float) -> list[tuple[tuple[float, float, float], tuple[float, float, float]]]:
    """The K filter's two stages at `rate`, (b, a) normalised to a0 = 1: the high shelf that models the head (+4 dB
    above ~1.5 kHz) and the RLB high pass (38 Hz), from the analogue prototypes by the bilinear transform (RBJ)."""
    out = []
    w0 = 2.0 * math.pi * 1500.0 / rate
    a, alpha, cos = 10 ** (4.0 / 40.0), math.sin(w0) / (2.0 / math.sqrt(2.0)), math.cos(w0)
    sq = 2 * math.sqrt(a) * alpha
    b = (a * ((a + 1) + (a - 1) * cos + sq), -2 * a * ((a - 1) + (a + 1) * cos), a * ((a + 1) + (a - 1) * cos - sq))
    den = ((a + 1) - (a - 1) * cos + sq, 2 * ((a - 1) - (a + 1) * cos), (a + 1) - (a - 1) * cos - sq)
    out.append((b, den))
    w0 = 2.0 * math.pi * 38.0 / rate
    alpha, cos = math.sin(w0) / (2.0 * 0.5), math.cos(w0)
    out.append((((1 + cos) / 2, -(1 + cos), (1 + cos) / 2), (1 + alpha, -2 * cos, 1 - alpha)))
    return [(tuple(x / d[0] for x in b), tuple(x / d[0] for x in d)) for b, d in out]  # type: ignore[misc]


@functools.cache
def _k_spectrum(rate: float) -> np.ndarray:
    """rfft (of `_fft_size` points) of the K filter's impulse response, its first `_taps` samples (one second or
    more: the tail beyond is below 1e-100 of the peak)."""
    import numpy as np

    taps = _taps(rate)
    m = 4 * taps  # the response sampled on m points: aliasing from beyond m samples is far below rounding
    z = np.exp(-2j * np.pi * np.arange(m // 2 + 1) / m)
    response = np.ones_like(z)
    for b, a in _biquads(rate):
        response *= (b[0] + b[1] * z + b[2] * z * z) / (a[0] + a[1] * z + a[2] * z * z)
    impulse = np.fft.irfft(response, m)[:taps]
    return np.fft.rfft(impulse, _fft_size(rate))


def k_weighted(x: np.ndarray, rate: float) -> np.ndarray:
    """One channel (float64) through the K filter, from rest: block convolution (overlap-add) with its response."""
    import numpy as np

    spectrum, size = _k_spectrum(rate), _fft_size(rate)
    step = size - _taps(rate)
    y = np.zeros(len(x) + size)
    for start in range(0, len(x), step):
        seg = x[start : start + step]
        y[start : start + size] += np.fft.irfft(np.fft.rfft(seg, size) * spectrum, size)
    return y[: len(x)]


def integrated_loudness(x: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness in LUFS of (n,) or (n, channels) audio (at most 5 channels, L R C Ls Rs); -inf for silence
    or audio shorter than a block."""
    import numpy as np

    y = np.asarray(x, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2 or y.shape[1] > len(CHANNEL_GAINS):
        raise ValueError(f"audio of shape {y.shape}: expected (samples,) or (samples, 1..5 channels)")
    n, rate = y.shape[0], float(sample_rate)
    if n < BLOCK_SECONDS * rate:
        return -math.inf
    step = 1.0 - OVERLAP
    blocks = int(np.round((n / rate - BLOCK_SECONDS) / (BLOCK_SECONDS * step))) + 1
    bounds = [
        (int(BLOCK_SECONDS * (j * step) * rate), int(BLOCK_SECONDS * (j * step + 1) * rate)) for j in range(blocks)
    ]
    power = np.zeros(blocks)  # channel-weighted mean square of each gating block
    for ch in range(y.shape[1]):
        sq = np.square(k_weighted(y[:, ch], rate))
        z = np.array([np.sum(sq[lo:hi]) for lo, hi in bounds]) / (BLOCK_SECONDS * rate)
        power += CHANNEL_GAINS[ch] * z
    with np.errstate(divide="ignore"):
        block_lufs = -0.691 + 10.0 * np.log10(power)
        above = block_lufs >= ABSOLUTE_GATE
        if not np.any(above):
            return -math.inf
        relative = -0.691 + 10.0 * math.log10(float(np.mean(power[above]))) + RELATIVE_GATE
        gated = (block_lufs > relative) & (block_lufs > ABSOLUTE_GATE)
        if not np.any(gated):
            return -math.inf
        return float(-0.691 + 10.0 * np.log10(np.mean(power[gated])))
