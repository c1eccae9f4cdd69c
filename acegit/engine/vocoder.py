"""Vocoders: magnitude mel -> waveform. Griffin-Lim now, behind a small interface a neural vocoder can implement."""

from __future__ import annotations

from typing import Protocol

import torch
import torch.nn.functional as F

from acegit.engine import audio
from acegit.engine.config import AudioConfig
from acegit.engine.request import GRIFFIN_LIM


class Vocoder(Protocol):
    """Turns a magnitude mel spectrogram (n_mels, frames) into a mono waveform of num_samples samples."""

    sample_rate: int

    def __call__(self, mel: torch.Tensor, num_samples: int) -> torch.Tensor: ...


def mel_to_magnitude(
    mel: torch.Tensor, basis: torch.Tensor, iterations: int, start: torch.Tensor | None = None
) -> torch.Tensor:
    """Non-negative least-squares inversion of the mel filterbank: min ||basis @ S - mel|| over S >= 0.

    Multiplicative updates (Lee & Seung 2001) from the back-projection basis.T @ mel; every iterate stays non-negative,
    which beats the clipped pseudo-inverse as Griffin-Lim's starting magnitude. (n_mels, T) -> (bins, T). From a given
    start (bins, T) instead, iterations + 1 updates pull its mel towards `mel` and keep its detail within each band
    (a bin the start has at zero stays zero): how the neural vocoder matches its output to the mel it was given.
    """
    bt = basis.T
    target = bt @ mel  # (bins, T)
    s = target if start is None else start
    for _ in range(iterations + 1):
        s = s * target / (bt @ (basis @ s) + 1e-10)  # the filterbank is thin: two products, not (bt @ basis) @ s
    return s


def magnitude(spec: torch.Tensor) -> torch.Tensor:
    """|z| of a (..., 2) real view as (..., 1): a multiply, an add and a square root, the same bits at any thread count
    (complex abs is not: ATen's scalar tail code rounds differently from its vector code)."""
    squares = spec * spec
    return (squares[..., :1] + squares[..., 1:]).sqrt_()


CHUNK_FRAMES = 256  # STFT frames per block of work: a block's spectra (256 x 513 x 2 floats, 1 MB) stay in cache


class FrameSTFT:
    """Centred Hann STFT / inverse in frame-major layout (frames, bins), the same maths as audio.stft / audio.istft.

    Griffin-Lim runs 32 round trips; frame-major rfft and a 4-way overlap-add (hop = n_fft / 4) avoid the transposes
    and the generic fold of torch.istft. The work runs in blocks of CHUNK_FRAMES frames so that the element-wise
    passes read and write the CPU's cache, not memory (whole-signal passes made Griffin-Lim memory-bound); each
    frame's FFT and each sample's sum are the same operations in the same order as over the whole signal (measured:
    the FFTs of a block equal those of the whole batch bit for bit), so blocking does not change a sample.
    """

    def __init__(self, cfg: AudioConfig, frames: int, dtype: torch.dtype, device: torch.device) -> None:
        self.n_fft, self.hop = cfg.n_fft, cfg.hop_length
        assert self.n_fft % self.hop == 0
        self.overlap = self.n_fft // self.hop
        self.frames = frames
        self.window = torch.hann_window(self.n_fft, dtype=dtype, device=device)
        self.window_parts = self.window.view(self.overlap, self.hop)  # (overlap, hop)
        env = torch.zeros(frames + self.overlap - 1, self.hop, dtype=dtype, device=device)
        win_sq = self.window_parts**2
        for k in range(self.overlap):
            env[k : k + frames] += win_sq[k]
        self.inv_envelope = 1.0 / env.clamp_min(1e-11)  # (frames + overlap - 1, hop)

    def blocks(self) -> range:
        return range(0, self.frames, CHUNK_FRAMES)

    def pad(self, wave: torch.Tensor) -> torch.Tensor:
        """The centring pad (reflect, n_fft / 2 each side) that forward() frames."""
        half = self.n_fft // 2  # torch's reflect pad, as two flipped copies (its kernel was 6% of Griffin-Lim)
        return torch.cat([wave[1 : half + 1].flip(0), wave, wave[-half - 1 : -1].flip(0)])

    def forward_frames(self, padded: torch.Tensor, start: int, stop: int) -> torch.Tensor:
        """Complex spectra (stop - start, bins) of frames start..stop of a padded signal."""
        chunk = padded[start * self.hop : (stop - 1) * self.hop + self.n_fft]
        return torch.fft.rfft(chunk.unfold(0, self.n_fft, self.hop) * self.window, dim=-1)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """(samples,) -> complex (frames, bins)."""
        padded = self.pad(wave)
        frames = (padded.shape[0] - self.n_fft) // self.hop + 1
        return torch.cat(
            [self.forward_frames(padded, a, min(a + CHUNK_FRAMES, frames)) for a in range(0, frames, CHUNK_FRAMES)]
        )

    def inverse(self, spec: torch.Tensor, num_samples: int) -> torch.Tensor:
        """complex (frames, bins) -> (num_samples,), windowed overlap-add normalised by the window envelope.

        Output row j (hop samples) sums frames j, j-1, .., j-overlap+1 in that order, starting from zero, block by
        block of rows: a block recomputes the inverse FFT of the overlap - 1 frames before it."""
        frames, lag = spec.shape[0], self.overlap - 1
        rows = frames + lag
        out = torch.empty_like(self.inv_envelope)  # (frames + overlap - 1, hop)
        for a in range(0, rows, CHUNK_FRAMES):
            b = min(a + CHUNK_FRAMES, rows)
            first = max(0, a - lag)  # the earliest frame that reaches row a
            blocks = torch.fft.irfft(spec[first : min(b, frames)], n=self.n_fft, dim=-1).view(
                -1, self.overlap, self.hop
            )
            blocks.mul_(self.window_parts)  # window each block (a multiply, then separate adds: no fused multiply-add)
            acc = out[a:b].zero_()
            for k in range(self.overlap):
                lo, hi = max(a, k), min(b, frames + k)  # rows that frame row - k exists for
                if lo < hi:
                    acc[lo - a : hi - a] += blocks[lo - k - first : hi - k - first, k]
            acc.mul_(self.inv_envelope[a:b])
        wave = out.view(-1)[self.n_fft // 2 :]  # drop the centring pad
        return F.pad(wave, (0, max(0, num_samples - wave.shape[0])))[:num_samples]


class GriffinLim:
    """Griffin-Lim phase reconstruction (Griffin & Lim 1984) from an NNLS magnitude. The initial phase is zero, so it
    is deterministic and draws no random numbers."""

    name = GRIFFIN_LIM

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
        mag = mel_to_magnitude(mel, basis, self.nnls_iterations).T.contiguous()[..., None]  # (frames, bins, 1)
        return self.refine(mag, torch.cat([mag, torch.zeros_like(mag)], dim=-1), num_samples)  # from zero phase

    def refine(self, mag: torch.Tensor, spec: torch.Tensor, num_samples: int) -> torch.Tensor:
        """The phase loop: `iterations` round trips from the spectrum spec (frames, bins, 2, a real view), each keeping
        the magnitude mag (frames, bins, 1) and the phase of the spectrum the last waveform really has."""
        frames = mag.shape[0]
        stft = FrameSTFT(self.cfg, frames, mag.dtype, mag.device)
        # The phase loop runs on (frames, bins, 2) real views with one IEEE operation per kernel (mul, add, sqrt,
        # div): ATen computes the tail of each thread's share with scalar code, and complex sgn, or a multiply-add
        # with alpha, round differently there, so the thread count changed the audio (measured).
        spec = spec.clone(memory_format=torch.contiguous_format)  # written in place below: never the caller's tensor
        length = (frames - 1) * self.cfg.hop_length  # the length whose STFT has exactly these frames
        previous = torch.zeros_like(spec)
        keep = self.momentum / (1 + self.momentum)
        for _ in range(self.iterations):
            padded = stft.pad(stft.inverse(torch.view_as_complex(spec), length))
            for a in stft.blocks():
                b = min(a + CHUNK_FRAMES, frames)
                rebuilt = torch.view_as_real(stft.forward_frames(padded, a, b))
                if self.momentum:
                    accelerated = rebuilt - previous[a:b] * keep
                    previous[a:b] = rebuilt
                    rebuilt = accelerated
                norm = magnitude(rebuilt)
                # keep the target magnitude, take the consistent phase (zero where the rebuilt spectrum is zero); the
                # ratio is doubled out to both parts of each bin: a (…, 2) by (…, 1) broadcast runs 1.5x slower
                ratio = torch.where(norm > 0, mag[a:b] / norm, 0.0)
                torch.mul(rebuilt, torch.cat([ratio, ratio], dim=-1), out=spec[a:b])
        return stft.inverse(torch.view_as_complex(spec), num_samples)  # trimmed, or zero-extended
