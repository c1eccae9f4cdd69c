"""The whole model: the autoencoder and the denoiser, built from one ModelConfig."""

from __future__ import annotations

import torch
from torch import nn

from acegit.engine.config import ModelConfig
from acegit.engine.dcae import DCAE
from acegit.engine.dit import DiT
from acegit.engine.vocos import Vocos


class MusicModel(nn.Module):
    """DCAE (log-mel <-> latent), DiT (latent velocity) and, when the config says so, the neural vocoder (mel -> audio).
    The text encoder is frozen and lives outside."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.dcae = DCAE(cfg.dcae)
        self.dit = DiT(cfg.dit, cfg.latent_rate)
        self.vocoder = Vocos(cfg.vocoder, cfg.audio) if cfg.vocoder.neural else None

    def normalize_latent(self, z: torch.Tensor) -> torch.Tensor:
        """DCAE latent -> the unit-scale space the DiT works in."""
        return (z - self.cfg.dcae.latent_mean) / self.cfg.dcae.latent_std

    def denormalize_latent(self, z: torch.Tensor) -> torch.Tensor:
        return z * self.cfg.dcae.latent_std + self.cfg.dcae.latent_mean
