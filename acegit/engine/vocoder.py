"""Vocoders: magnitude mel -> waveform. Griffin-Lim now, behind a small interface a neural vocoder can implement."""

from __future__ import annotations

from typing import Protocol

import torch
import torch.nn.functional as F

from acegit.engine import audio
from acegit.engine.config import AudioConfig


class Vocoder(Protocol):
    """Turns a magnitude mel spectrogram (n_mels, frames) into a mono waveform of num_samples samples."""

    sample_rate: int

    def __call__(self, mel: torch.Tensor, num_samples: int) -> torch.Tensor: ...


def mel_to_magnitude(mel: torch.Tensor, basis: torch.Tensor, iterations: int) -> torch.Tensor:
    """Non-negative least-squares inversion of the mel filterbank: min ||basis @ S - mel|| over S >= 0.

    Multiplicative updates (Lee & Seung 2001) from the back-projection basis.T @ mel; every iterate stays non-negative,
    which beats the clipped pseudo-inverse as Griffin-Lim's starting magnitude. (n_mels, T) -> (bins, T).
    """
    bt = basis.T
    target = bt @ mel  # (bins, T)
    s = target
    for _ in range(iterations + 1):
        s = s * target / (bt @ (basis @ s) + 1e-10)  # the filterbank is thin: two products, not (bt @ basis) @ s
    return s


class FrameSTFT:
    """Centred Hann STFT / inverse in frame-major layout (frames, bins), the same maths as audio.stft / audio.istft.

    Griffin-Lim runs 32 round trips; frame-major rfft and a 4-way overlap-add (hop = n_fft / 4) avoid the transposes
    and the generic fold of torch.istft.
    """

    def __init__(self, cfg: AudioConfig, frames: int, dtype: torch.dtype, device: torch.device) -> None:
        self.n_fft, self.hop = cfg.n_fft, cfg.hop_length
        assert self.n_fft % self.hop == 0
        self.overlap = self.n_fft // self.hop
        self.window = torch.hann_window(self.n_fft, dtype=dtype, device=device)
        self.window_parts = self.window.view(self.overlap, self.hop)  # (overlap, hop)
        env = torch.zeros(frames + self.overlap - 1, self.hop, dtype=dtype, device=device)
        win_sq = self.window_parts**2
        for k in range(self.overlap):
            env[k : k + frames] += win_sq[k]
        self.inv_envelope = 1.0 / env.clamp_min(1e-11)  # (frames + overlap - 1, hop)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """(samples,) -> complex (frames, bins)."""
        padded = F.pad(wave[None, None], (self.n_fft // 2, self.n_fft // 2), mode="reflect")[0, 0]
        return torch.fft.rfft(padded.unfold(0, self.n_fft, self.hop) * self.window, dim=-1)  # (frames, n_fft) -> bins

    def inverse(self, spec: torch.Tensor, num_samples: int) -> torch.Tensor:
        """complex (frames, bins) -> (num_samples,), windowed overlap-add normalised by the window envelope."""
        frames = spec.shape[0]
        blocks = torch.fft.irfft(spec, n=self.n_fft, dim=-1).view(frames, self.overlap, self.hop)
        out = torch.zeros_like(self.inv_envelope)  # (frames + overlap - 1, hop)
        for k in range(self.overlap):
            out[k : k + frames] += blocks[:, k] * self.window_parts[k]  # window, overlap-add (no fused multiply-add)
        wave = (out * self.inv_envelope).reshape(-1)[self.n_fft // 2 :]  # drop the centring pad
        return F.pad(wave, (0, max(0, num_samples - wave.shape[0])))[:num_samples]


class GriffinLim:
    """Griffin-Lim phase reconstruction (Griffin & Lim 1984) from an NNLS magnitude. The initial phase is zero, so it
    is deterministic and draws no random numbers."""

    def __init__(
        self, cfg: AudioConfig, iterations: int = 32, nnls_iterations: int = 10, momentum: float = 0.99
    ) -> None:
        self.cfg = cfg
        self.sample_rate = cfg.sample_rate
        self.iterations = iterations  # phase-reconstruction round trips
        self.nnls_iterations = nnls_iterations  # multiplicative updates of the magnitude inversion
        self.momentum = momentum  # "fast Griffin-Lim" (Perraudin et al. 2013) when > 0; plain GL at 0

    @torch.no_grad()
    def __call__(self, mel: torch.Tensor, num_samples: int) -> torch.Tensor:
        basis = audio.mel_basis(self.cfg).to(mel)
        mag = mel_to_magnitude(mel, basis, self.nnls_iterations).T.contiguous()  # (frames, bins)
        stft = FrameSTFT(self.cfg, mag.shape[0], mag.dtype, mag.device)
        # The phase loop runs on (frames, bins, 2) real views with one IEEE operation per kernel (mul, add, sqrt,
        # div): ATen computes the tail of each thread's share with scalar code, and complex sgn, or a multiply-add
        # with alpha, round differently there, so the thread count changed the audio (measured).
        mag = mag[..., None]  # (frames, bins, 1)
        spec = torch.cat([mag, torch.zeros_like(mag)], dim=-1)  # zero phase
        length = (mag.shape[0] - 1) * self.cfg.hop_length  # the length whose STFT has exactly these frames
        previous = torch.zeros_like(spec)
        keep = self.momentum / (1 + self.momentum)
        for _ in range(self.iterations):
            rebuilt = torch.view_as_real(stft.forward(stft.inverse(torch.view_as_complex(spec), length)))
            if self.momentum:
                rebuilt, previous = rebuilt - previous * keep, rebuilt
            norm = (rebuilt[..., :1] * rebuilt[..., :1] + rebuilt[..., 1:] * rebuilt[..., 1:]).sqrt()
            # keep the target magnitude, take the consistent phase (zero where the rebuilt spectrum is zero)
            spec = rebuilt * torch.where(norm > 0, mag / norm, 0.0)
        return stft.inverse(torch.view_as_complex(spec.contiguous()), num_samples)  # trimmed, or zero-extended
