"""The audio side of a diff: spectrogram distances, loudness, peak, tempo and key of two decoded snapshots."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from acegit.loudness import integrated_loudness

if TYPE_CHECKING:
    import numpy as np

# Audio estimates differ when the tempo differs by more than 4 % (the tolerance model/evaluate uses) or the key does.
TEMPO_TOLERANCE = 0.04
STFT_RESOLUTIONS = ((512, 128), (1024, 256), (2048, 512))  # (n_fft, hop) of the multi-resolution STFT distance


@dataclass(frozen=True)
class AudioDiff:
    """Spectrogram metrics of audio decoded from the two snapshots (over the seconds both have)."""

    lsd_db: float  # log-spectral distance, dB
    mrstft: float  # multi-resolution STFT distance (spectral convergence + log-magnitude L1, averaged)
    loudness_a: float | None  # integrated loudness, LUFS (ITU-R BS.1770-4); None for silence
    loudness_b: float | None
    peak_a_db: float  # sample peak, dBFS
    peak_b_db: float
    tempo_a: float  # estimated BPM
    tempo_b: float
    key_a: str  # estimated key
    key_b: str

    @property
    def loudness_delta(self) -> float | None:
        if self.loudness_a is None or self.loudness_b is None:
            return None
        return self.loudness_b - self.loudness_a

    @property
    def tempo_differs(self) -> bool:
        return abs(self.tempo_a - self.tempo_b) > TEMPO_TOLERANCE * max(self.tempo_a, self.tempo_b, 1e-9)

    @property
    def key_differs(self) -> bool:
        return self.key_a != self.key_b


def _frames(wave: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Hann-windowed, centred frames (frames, n_fft) of a mono wave."""
    import numpy as np

    x = np.pad(np.asarray(wave, np.float64), n_fft // 2, mode="constant")  # float64: numpy's fastest FFT path
    if len(x) < n_fft:
        x = np.pad(x, (0, n_fft - len(x)))
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop]
    return frames * np.hanning(n_fft + 1)[:-1]


def magnitude(wave: np.ndarray, n_fft: int = 1024, hop: int = 256) -> np.ndarray:
    """|STFT|, (frames, n_fft // 2 + 1)."""
    import numpy as np

    return np.abs(np.fft.rfft(_frames(wave, n_fft, hop), axis=-1))


def log_spectral_distance(mag_a: np.ndarray, mag_b: np.ndarray) -> float:
    """Mean over frames of the RMS over bins of the power ratio in dB."""
    import numpy as np

    eps = 1e-8
    r = 10 * np.log10((mag_a.astype(np.float64) ** 2 + eps) / (mag_b.astype(np.float64) ** 2 + eps))
    return float(np.mean(np.sqrt(np.mean(r * r, axis=-1))))


def mrstft_distance(a: np.ndarray, b: np.ndarray, known: dict[tuple[int, int], tuple[Any, Any]] | None = None) -> float:
    """Multi-resolution STFT distance (Yamamoto et al. 2020, Parallel WaveGAN): spectral convergence plus
    log-magnitude L1, averaged over three resolutions. `known` holds magnitudes already computed, by (n_fft, hop)."""
    import numpy as np

    total = 0.0
    for n_fft, hop in STFT_RESOLUTIONS:
        ma, mb = (known or {}).get((n_fft, hop)) or (magnitude(a, n_fft, hop), magnitude(b, n_fft, hop))
        sc = math.sqrt(float(np.sum((ma - mb) ** 2))) / max(math.sqrt(float(np.sum(mb * mb))), 1e-12)
        mag = np.mean(np.abs(np.log(ma + 1e-7) - np.log(mb + 1e-7)))
        total += float(sc + mag)
    return total / len(STFT_RESOLUTIONS)


def loudness_lufs(wave: np.ndarray, sample_rate: int) -> float | None:
    """Integrated loudness (ITU-R BS.1770-4, the meter export masters with), or None for silence."""
    lufs = integrated_loudness(wave, sample_rate)
    return lufs if math.isfinite(lufs) else None


# Albrecht & Shanahan (2013) key profiles, tonic first (the ones model/evaluate/estimators.py measured best).
_MAJOR = (0.238, 0.006, 0.111, 0.006, 0.137, 0.094, 0.016, 0.214, 0.009, 0.080, 0.008, 0.081)
_MINOR = (0.220, 0.006, 0.104, 0.123, 0.019, 0.103, 0.012, 0.214, 0.062, 0.022, 0.061, 0.052)


def estimate_key(mag: np.ndarray, sample_rate: int, n_fft: int) -> str:
    """Key from the mean chroma of an STFT magnitude (frames, bins) against rotated key profiles."""
    import numpy as np

    from acegit.keys import Key

    freqs = np.arange(mag.shape[-1]) * sample_rate / n_fft
    ok = (freqs >= 55.0) & (freqs <= 4200.0)
    pitch = np.round(12 * np.log2(freqs[ok] / 440.0)).astype(np.int64) % 12  # 0 = A
    chroma = np.bincount((pitch + 9) % 12, weights=(mag[:, ok] ** 2).mean(axis=0), minlength=12)  # 0 = C
    if not np.any(chroma):
        return "none"
    best, best_score = 0, -2.0
    for mode, profile in enumerate((_MAJOR, _MINOR)):
        for tonic in range(12):
            s = float(np.corrcoef(chroma, np.roll(np.asarray(profile), tonic))[0, 1])
            if s > best_score:
                best, best_score = mode * 12 + tonic, s
    return Key(best % 12, "major" if best < 12 else "minor").name


def estimate_tempo(mag: np.ndarray, sample_rate: int, hop: int) -> float:
    """Tempo in BPM: autocorrelation of the spectral-flux onset envelope, weighted towards 120 BPM (log-normal, one
    octave wide) as librosa's tempo estimator is; 0.0 for silence."""
    import numpy as np

    logmag = np.log1p(100.0 * mag)
    flux = np.maximum(np.diff(logmag, axis=0), 0.0).mean(axis=1)
    flux = flux - flux.mean()
    if len(flux) < 8 or not np.any(flux):
        return 0.0
    fps = sample_rate / hop
    n = len(flux)
    ac = np.fft.irfft(np.abs(np.fft.rfft(flux, 2 * n)) ** 2)[:n]
    lags = np.arange(1, n)
    bpm = 60.0 * fps / lags
    keep = (bpm >= 40) & (bpm <= 240)
    if not np.any(keep):
        return 0.0
    weight = np.exp(-0.5 * np.log2(bpm[keep] / 120.0) ** 2)
    return float(bpm[keep][np.argmax(ac[1:][keep] * weight)])


def compare_audio(a: np.ndarray, b: np.ndarray, sample_rate: int) -> AudioDiff:
    """Spectrogram, loudness, peak, tempo and key of two decoded waves (the shorter length is compared)."""
    import numpy as np

    n = min(len(a), len(b))
    ma, mb = magnitude(a[:n]), magnitude(b[:n])

    def peak_db(w: np.ndarray) -> float:
        p = float(np.max(np.abs(w))) if len(w) else 0.0
        return 20 * math.log10(p) if p > 0 else -math.inf

    full_a, full_b = magnitude(a) if len(a) != n else ma, magnitude(b) if len(b) != n else mb
    return AudioDiff(
        lsd_db=log_spectral_distance(ma, mb),
        mrstft=mrstft_distance(a[:n], b[:n], {(1024, 256): (ma, mb)}),
        loudness_a=loudness_lufs(a, sample_rate),
        loudness_b=loudness_lufs(b, sample_rate),
        peak_a_db=peak_db(a),
        peak_b_db=peak_db(b),
        tempo_a=estimate_tempo(full_a, sample_rate, 256),
        tempo_b=estimate_tempo(full_b, sample_rate, 256),
        key_a=estimate_key(full_a, sample_rate, 1024),
        key_b=estimate_key(full_b, sample_rate, 1024),
    )
