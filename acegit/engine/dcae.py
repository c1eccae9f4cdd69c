"""Deep-compression autoencoder on normalised log-mel: 8x time × 8x frequency, 8 latent channels (DC-AE, ACE-Step)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from acegit.engine import conv
from acegit.engine.config import DCAEConfig


class ChannelRMSNorm(nn.Module):
    """RMS norm over channels at each (freq, time) position: local, no statistic across time or batch."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels, 1, 1))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(1, keepdim=True) + self.eps) * self.weight


class ResBlock(nn.Module):
    """Pre-norm conv3x3-SiLU-conv1x1 with an identity shortcut (the 1x1 halves the cost of a second 3x3)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = ChannelRMSNorm(channels)
        self.conv1 = conv.Conv3x3(channels, channels)
        self.conv2 = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.silu(self.conv1(self.norm(x))))


class Down(nn.Module):
    """2x down in both axes: conv then space-to-channel, plus a space-to-channel + channel-average shortcut (DC-AE)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        assert (4 * c_in) % c_out == 0
        self.conv = nn.Conv2d(c_in, c_out // 4, 3, padding=1)
        self.group = 4 * c_in // c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = F.pixel_unshuffle(x, 2)  # (B, 4*c_in, H/2, W/2)
        s = s.unflatten(1, (-1, self.group)).mean(2)  # (B, c_out, H/2, W/2)
        return F.pixel_unshuffle(self.conv(x), 2) + s


class Up(nn.Module):
    """2x up in both axes: channel-to-space then conv, plus a channel-duplicate + channel-to-space shortcut (DC-AE).

    Shuffling before the conv costs a quarter of DC-AE's conv-then-shuffle, which matters on a CPU.
    """

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        assert (4 * c_out) % c_in == 0 and c_in % 4 == 0
        self.conv = conv.Conv3x3(c_in // 4, c_out)
        self.repeat = 4 * c_out // c_in

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = F.pixel_shuffle(x.repeat_interleave(self.repeat, dim=1), 2)  # (B, c_out, 2H, 2W)
        return self.conv(F.pixel_shuffle(x, 2)) + s  # (B, c_in/4 -> c_out, 2H, 2W)


class Encoder(nn.Module):
    """Normalised log-mel (B, 1, n_mels, frames) -> latent (B, C, n_mels/8, frames/8)."""

    def __init__(self, cfg: DCAEConfig) -> None:
        super().__init__()
        w = cfg.widths
        self.conv_in = nn.Conv2d(4, w[0], 3, padding=1)  # on the space-to-channel mel: nothing runs at full size
        layers: list[nn.Module] = []
        for i, c in enumerate(w):
            layers += [ResBlock(c) for _ in range(cfg.blocks[i])]
            if i + 1 < len(w):
                layers.append(Down(c, w[i + 1]))
        self.body = nn.Sequential(*layers)
        self.norm_out = ChannelRMSNorm(w[-1])
        self.conv_out = nn.Conv2d(w[-1], cfg.latent_channels, 3, padding=1)
        self.group = w[-1] // cfg.latent_channels

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        h = self.body(self.conv_in(F.pixel_unshuffle(mel, 2)))  # (B, 4, n_mels/2, frames/2) -> (B, w0, ...)
        shortcut = h.unflatten(1, (-1, self.group)).mean(2)  # (B, latent_channels, H/8, W/8)
        return self.conv_out(F.silu(self.norm_out(h))) + shortcut


class Decoder(nn.Module):
    """Latent (B, C, n_mels/8, frames/8) -> normalised log-mel (B, 1, n_mels, frames)."""

    def __init__(self, cfg: DCAEConfig) -> None:
        super().__init__()
        w = cfg.widths[::-1]
        blocks = cfg.blocks[::-1]
        self.conv_in = conv.Conv3x3(cfg.latent_channels, w[0])
        self.repeat = w[0] // cfg.latent_channels
        layers: list[nn.Module] = []
        for i, c in enumerate(w):
            layers += [ResBlock(c) for _ in range(blocks[i])]
            if i + 1 < len(w):
                layers.append(Up(c, w[i + 1]))
        self.body = nn.Sequential(*layers)
        self.norm_out = ChannelRMSNorm(w[-1])
        self.conv_out = conv.Conv3x3(w[-1], 4)  # then channel-to-space: nothing runs at full size

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        with conv.workspace(self.unfolded_floats(z.shape[-2], z.shape[-1])):
            h = self.conv_in(z) + z.repeat_interleave(self.repeat, dim=1)
            return F.pixel_shuffle(self.conv_out(F.silu(self.norm_out(self.body(h)))), 2)  # (B, 1, n_mels, frames)

    def unfolded_floats(self, height: int, width: int) -> int:
        """The largest unfolded input of this decoder's 3x3 convs for a latent of (height, width): the workspace."""
        sizes = [conv.unfolded_size(self.conv_in.in_channels, height, width)]
        for layer in self.body:
            if isinstance(layer, Up):
                height, width = 2 * height, 2 * width
                sizes.append(conv.unfolded_size(layer.conv.in_channels, height, width))
            elif isinstance(layer, ResBlock):
                sizes.append(conv.unfolded_size(layer.conv1.in_channels, height, width))
        return max([*sizes, conv.unfolded_size(self.conv_out.in_channels, height, width)])


class DCAE(nn.Module):
    """The autoencoder: encode / decode between normalised log-mel and the latent."""

    def __init__(self, cfg: DCAEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)

    def encode(self, mel: torch.Tensor) -> torch.Tensor:
        """(B, n_mels, frames) with frames a multiple of 8 -> (B, C, n_mels/8, frames/8)."""
        assert mel.shape[-1] % self.cfg.downsample == 0, "pad mel frames to a multiple of the downsampling factor"
        return self.encoder(mel.unsqueeze(1))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(B, C, n_mels/8, frames/8) -> (B, n_mels, frames)."""
        return self.decoder(z).squeeze(1)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(mel))
