"""The whole model: the autoencoder and the denoiser, built from one ModelConfig."""

from __future__ import annotations

from typing import cast

import torch
from torch import nn

from acegit.engine.config import ModelConfig
from acegit.engine.dcae import DCAE
from acegit.engine.dit import DiT
from acegit.engine.vocos import Vocos
from acegit.errors import AcegitError


class DecodeOnly(nn.Module):
    """Stands in for the DiT of a model loaded to decode only (`load_checkpoint(decode_only=True)`): no weights."""

    def forward(self, *args: object, **kwargs: object) -> torch.Tensor:
        raise AcegitError("this engine was loaded to decode only; load it with decode_only=False to sample")


class MusicModel(nn.Module):
    """DCAE (log-mel <-> latent), DiT (latent velocity) and, when the config says so, the neural vocoder (mel -> audio).
    The text encoder is frozen and lives outside. `dit=False` builds a model that only decodes: no DiT weights."""

    def __init__(self, cfg: ModelConfig, dit: bool = True) -> None:
        super().__init__()
        self.cfg = cfg
        self.dcae = DCAE(cfg.dcae)
        self.dit: DiT = DiT(cfg.dit, cfg.latent_rate) if dit else cast(DiT, DecodeOnly())
        self.vocoder = Vocos(cfg.vocoder, cfg.audio) if cfg.vocoder.neural else None

    def normalize_latent(self, z: torch.Tensor) -> torch.Tensor:
        """DCAE latent -> the unit-scale space the DiT works in."""
        return (z - self.cfg.dcae.latent_mean) / self.cfg.dcae.latent_std

    def denormalize_latent(self, z: torch.Tensor) -> torch.Tensor:
        return z * self.cfg.dcae.latent_std + self.cfg.dcae.latent_mean
