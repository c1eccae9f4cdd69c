"""The neural vocoder: a Vocos-style ConvNeXt over mel frames predicting STFT magnitude and phase, one inverse STFT.

Vocos (Siuzdenko 2023) keeps the network at the frame rate and lets an inverse STFT make the samples, which is cheap on
a CPU. The inference path is built from ops whose bits cannot depend on the thread count: matrix products go through
the pinned MKL (numerics.py), the depthwise conv is shifted multiplies and adds (one IEEE op per kernel, as in
Griffin-Lim), and the activation is made of those and tanh/exp/cos/sin (MKL VML: the same bits on contiguous and
strided input). ATen's own SiLU, GELU and sigmoid are not: its scalar code, which runs the tail of a thread's share,
rounds differently from its vector code (measured on strided vs contiguous input: 4% of SiLU results differ), so a
share ending off the vector width could change the audio.
"""

from __future__ import annotations

import torch
from torch import nn

from acegit.engine import audio
from acegit.engine.config import AudioConfig, VocoderConfig
from acegit.engine.request import NEURAL
from acegit.engine.vocoder import FrameSTFT, GriffinLim, magnitude, mel_to_magnitude

MAX_LOG_MAGNITUDE = 4.6  # ln(100): Vocos clips the predicted magnitude there too; the corpus peaks near ln(40)
MIN_ROWS = 4  # the fewest rows MKL multiplies with its general kernels on every CPU measured (see Linear)


class Linear(nn.Linear):
    """nn.Linear whose output rows have the same bits however many rows it is given and however they are laid out.

    One product of a contiguous (rows, in) matrix with at least MIN_ROWS rows, always: MKL multiplies 1-3 rows with
    other kernels on an AMD CPU (measured on an EPYC: those rows differ from the same rows inside a product of 4 to 6000
    rows; on Intel's AVX2 branch they agree), and torch computes a 3-D or a 2-D input differently (a product then the
    bias, or both in one call), so a frame's output would depend on its batch."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.numel() // max(1, x.shape[-1])
        flat = x.reshape(rows, x.shape[-1]).contiguous()
        if rows < MIN_ROWS:
            flat = nn.functional.pad(flat, (0, 0, 0, MIN_ROWS - rows))
        return super().forward(flat)[:rows].reshape(*x.shape[:-1], self.out_features)


def silu(x: torch.Tensor) -> torch.Tensor:
    """x * sigmoid(x) as x * (0.5 + 0.5 tanh(x / 2)): one IEEE op per kernel and MKL's tanh, thread-count exact."""
    return x * (torch.tanh(x * 0.5) * 0.5 + 0.5)


class DepthwiseConv(nn.Module):
    """A 'same' depthwise conv over time on (B, T, C), zero padded, as kernel shifted multiplies and adds."""

    def __init__(self, channels: int, kernel: int) -> None:
        super().__init__()
        assert kernel % 2 == 1
        self.weight = nn.Parameter(torch.randn(kernel, channels) / kernel**0.5)  # (kernel, C)
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k, frames = self.weight.shape[0], x.shape[1]
        padded = nn.functional.pad(x, (0, 0, k // 2, k // 2))  # (B, T + k - 1, C)
        out = padded[:, :frames] * self.weight[0]
        for i in range(1, k):
            out = out + padded[:, i : i + frames] * self.weight[i]  # separate mul and add: no fused rounding
        return out + self.bias


class ConvNeXtBlock(nn.Module):
    """Depthwise conv, LayerNorm, pointwise MLP, layer scale, residual (ConvNeXt; Vocos's backbone block)."""

    def __init__(self, dim: int, mlp_ratio: int, kernel: int, scale: float) -> None:
        super().__init__()
        self.dwconv = DepthwiseConv(dim, kernel)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.fc1 = Linear(dim, mlp_ratio * dim)
        self.fc2 = Linear(mlp_ratio * dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.fc2(silu(self.fc1(self.norm(self.dwconv(x)))))  # (B, T, dim)
        return x + h * self.gamma


class Vocos(nn.Module):
    """Normalised log-mel (B, n_mels, T) -> complex STFT (B, T, n_fft // 2 + 1) on the engine's STFT grid."""

    def __init__(self, cfg: VocoderConfig, audio_cfg: AudioConfig) -> None:
        super().__init__()
        self.cfg, self.audio_cfg = cfg, audio_cfg
        self.bins = audio_cfg.n_fft // 2 + 1
        self.embed = Linear(audio_cfg.n_mels, cfg.dim)
        self.embed_conv = DepthwiseConv(cfg.dim, cfg.kernel)
        self.blocks = nn.ModuleList(
            ConvNeXtBlock(cfg.dim, cfg.mlp_ratio, cfg.kernel, 1.0 / cfg.depth) for _ in range(cfg.depth)
        )
        self.norm = nn.LayerNorm(cfg.dim, eps=1e-6)
        self.head = Linear(cfg.dim, 2 * self.bins)  # log-magnitude and phase per bin

    def forward(self, log_mel: torch.Tensor) -> torch.Tensor:
        x = self.embed_conv(self.embed(log_mel.transpose(1, 2)))  # (B, T, dim)
        for block in self.blocks:
            x = block(x)
        out = self.head(self.norm(x))  # (B, T, 2 * bins)
        log_mag, phase = out[..., : self.bins], out[..., self.bins :]
        mag = torch.exp(log_mag.clamp(max=MAX_LOG_MAGNITUDE))
        return torch.complex(mag * torch.cos(phase), mag * torch.sin(phase))  # (B, T, bins)

    def waveform(self, log_mel: torch.Tensor) -> torch.Tensor:
        """(B, n_mels, T) -> (B, (T - 1) * hop) through torch.istft: batched and differentiable, for training."""
        spec = self.forward(log_mel).transpose(1, 2)  # (B, bins, T)
        return audio.istft(spec, self.audio_cfg, (log_mel.shape[-1] - 1) * self.audio_cfg.hop_length)


class NeuralVocoder:
    """The Vocoder protocol over a trained Vocos: magnitude mel (n_mels, frames) -> waveform (num_samples,).

    With refine_iterations > 0 (VocoderConfig; a caller may override it) the network's output is a starting point:
    its spectrum as a waveform really has it (an inverse STFT, then the STFT), its magnitude pulled towards the given
    mel by NNLS multiplicative updates that start from it (the partials and onsets the network drew stay, the band
    levels become the mel's), then Griffin-Lim round trips from its phase onto that magnitude. The network alone,
    after its inverse STFT, misses the mel by more than Griffin-Lim from zero phase does (model card, "Vocoder").
    """

    def __init__(self, net: Vocos, refine_iterations: int | None = None, refine_nnls: int | None = None) -> None:
        self.net = net.eval()
        self.cfg = net.audio_cfg
        self.sample_rate = self.cfg.sample_rate
        iterations = net.cfg.refine_iterations if refine_iterations is None else refine_iterations
        self.refine_nnls = net.cfg.refine_nnls if refine_nnls is None else refine_nnls
        self.griffin_lim = GriffinLim(self.cfg, iterations=iterations) if iterations else None
        self.name = f"{NEURAL}+gl{iterations}" if iterations else NEURAL  # what benches and evaluations call it

    @torch.no_grad()
    def __call__(self, mel: torch.Tensor, num_samples: int) -> torch.Tensor:
        spec = self.net(audio.normalize_log_mel(mel, self.cfg)[None])[0]  # (frames, bins)
        frames = spec.shape[0]
        stft = FrameSTFT(self.cfg, frames, spec.real.dtype, spec.device)
        if self.griffin_lim is None:
            return stft.inverse(spec, num_samples)  # one frame-major overlap-add, trimmed or zero-extended
        length = (frames - 1) * self.cfg.hop_length  # the length whose STFT has exactly these frames
        rebuilt = torch.view_as_real(stft.forward(stft.inverse(spec, length)))  # (frames, bins, 2)
        drawn = magnitude(rebuilt)  # (frames, bins, 1)
        basis = audio.mel_basis(self.cfg).to(mel)
        start = drawn[..., 0].T.contiguous()  # (bins, frames)
        mag = mel_to_magnitude(mel, basis, self.refine_nnls - 1, start).T.contiguous()[..., None]
        return self.griffin_lim.refine(mag, rebuilt * torch.where(drawn > 0, mag / drawn, 0.0), num_samples)
