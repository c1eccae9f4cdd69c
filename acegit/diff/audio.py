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


@dataclass(frozen=True)
class _WaveFeatures:
    spectra: dict[tuple[int, int], Any]  # |STFT| of the compared part at each of STFT_RESOLUTIONS
    loudness: float | None
    peak_db: float
    tempo: float
    key: str


def _features(wave: np.ndarray, n: int, sample_rate: int) -> _WaveFeatures:
    """What compare_audio measures of one wave: spectra of its first n samples; loudness, peak, tempo, key of all."""
    import numpy as np

    spectra = {(n_fft, hop): magnitude(wave[:n], n_fft, hop) for n_fft, hop in STFT_RESOLUTIONS}
    full = magnitude(wave) if len(wave) != n else spectra[(1024, 256)]
    peak = float(np.max(np.abs(wave))) if len(wave) else 0.0
    return _WaveFeatures(
        spectra=spectra,
        loudness=loudness_lufs(wave, sample_rate),
        peak_db=20 * math.log10(peak) if peak > 0 else -math.inf,
        tempo=estimate_tempo(full, sample_rate, 256),
        key=estimate_key(full, sample_rate, 1024),
    )


def compare_audio(a: np.ndarray, b: np.ndarray, sample_rate: int) -> AudioDiff:
    """Spectrogram, loudness, peak, tempo and key of two decoded waves (the shorter length is compared).

    The two waves are measured on two threads: numpy's FFTs and array passes release the GIL (0.20 -> 0.13 s for two
    30-s waves on the 2-core development machine; docs/performance.md)."""
    from concurrent.futures import ThreadPoolExecutor

    n = min(len(a), len(b))
    with ThreadPoolExecutor(2, thread_name_prefix="acegit-diff") as pool:
        fa, fb = pool.map(lambda w: _features(w, n, sample_rate), (a, b))
    key = (1024, 256)
    return AudioDiff(
        lsd_db=log_spectral_distance(fa.spectra[key], fb.spectra[key]),
        mrstft=mrstft_distance(a[:n], b[:n], {k: (fa.spectra[k], fb.spectra[k]) for k in STFT_RESOLUTIONS}),
        loudness_a=fa.loudness,
        loudness_b=fb.loudness,
        peak_a_db=fa.peak_db,
        peak_b_db=fb.peak_db,
        tempo_a=fa.tempo,
        tempo_b=fb.tempo,
        key_a=fa.key,
        key_b=fb.key,
    )
