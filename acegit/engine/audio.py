"""Audio front end: magnitude mel spectrogram, normalised log-mel and back, as pure torch functions."""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F

from acegit.engine.config import AudioConfig


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """Slaney's auditory mel scale (librosa's default): linear below 1 kHz, logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    safe = np.maximum(hz, min_log_hz)
    return np.where(hz >= min_log_hz, min_log_mel + np.log(safe / min_log_hz) / logstep, hz / f_sp)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(mel >= min_log_mel, min_log_hz * np.exp(logstep * (mel - min_log_mel)), f_sp * mel)


@functools.lru_cache(maxsize=8)
def _mel_basis_np(sr: int, n_fft: int, n_mels: int, f_min: float, f_max: float) -> np.ndarray:
    """Triangular filters on the Slaney mel scale with Slaney area normalisation: librosa.filters.mel's defaults.

    Written out (and checked against librosa in the tests) because importing librosa costs ~2 s per process.
    """
    fft_freqs = np.linspace(0.0, sr / 2, n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))  # (n_mels + 2,)
    widths = np.diff(edges)  # (n_mels + 1,)
    ramps = edges[:, None] - fft_freqs[None, :]  # (n_mels + 2, bins)
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))  # (n_mels, bins)
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]  # equal area per filter
    return weights.astype(np.float32)


def mel_basis(cfg: AudioConfig) -> torch.Tensor:
    """Slaney-normalised mel filterbank, (n_mels, n_fft // 2 + 1)."""
    return torch.from_numpy(_mel_basis_np(cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.f_min, cfg.f_max).copy())


def stft(wave: torch.Tensor, cfg: AudioConfig) -> torch.Tensor:
    """Centred Hann STFT of (..., samples) -> complex (..., n_fft // 2 + 1, frames)."""
    window = torch.hann_window(cfg.n_fft, dtype=wave.dtype, device=wave.device)
    return torch.stft(wave, cfg.n_fft, cfg.hop_length, window=window, center=True, return_complex=True)


def istft(spec: torch.Tensor, cfg: AudioConfig, num_samples: int) -> torch.Tensor:
    """Inverse of stft, trimmed or zero-extended to num_samples."""
    window = torch.hann_window(cfg.n_fft, dtype=spec.real.dtype, device=spec.device)
    return torch.istft(spec, cfg.n_fft, cfg.hop_length, window=window, center=True, length=num_samples)


def mel_spectrogram(wave: torch.Tensor, cfg: AudioConfig) -> torch.Tensor:
    """Magnitude mel spectrogram of (..., samples) -> (..., n_mels, frames), frames = samples // hop + 1."""
    mag = stft(wave, cfg).abs()
    return mel_basis(cfg).to(mag) @ mag


def normalize_log_mel(mel: torch.Tensor, cfg: AudioConfig) -> torch.Tensor:
    """Magnitude mel -> normalised log-mel, roughly in [-1, 1]."""
    return (torch.log(mel.clamp_min(cfg.log_floor)) - cfg.log_mean) / cfg.log_std


def denormalize_log_mel(x: torch.Tensor, cfg: AudioConfig) -> torch.Tensor:
    """Normalised log-mel -> magnitude mel (inverse of normalize_log_mel above the floor)."""
    return torch.exp(x * cfg.log_std + cfg.log_mean)


def log_mel(wave: torch.Tensor, cfg: AudioConfig) -> torch.Tensor:
    """Waveform -> normalised log-mel (..., n_mels, frames)."""
    return normalize_log_mel(mel_spectrogram(wave, cfg), cfg)


def silence_level(cfg: AudioConfig) -> float:
    """The normalised log-mel value of silence (the floor)."""
    return (float(np.log(cfg.log_floor)) - cfg.log_mean) / cfg.log_std


def pad_frames(x: torch.Tensor, frames: int, value: float) -> torch.Tensor:
    """Pad (or crop) the last (time) axis to exactly `frames` frames, padding with `value`."""
    extra = frames - x.shape[-1]
    return F.pad(x, (0, extra), value=value) if extra > 0 else x[..., :frames]
