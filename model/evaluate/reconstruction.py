"""Reconstruction metrics: the DCAE (mel -> latent -> mel) and the vocoder (mel -> audio) on held-out clips."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from acegit.engine.audio import denormalize_log_mel, log_mel, pad_frames, silence_level, stft
from acegit.engine.model import MusicModel


@dataclass(frozen=True)
class Reconstruction:
    log_mel_l1: float  # mean |Δ| of the normalised log-mel (1.0 = one log_std, i.e. e^3 in magnitude)
    spectral_convergence: float  # ||S - Ŝ||_F / ||S||_F on magnitudes (0 is perfect)
    snr_db: float  # 10 log10(signal power / error power)


def _metrics(
    ref_logmel: torch.Tensor,
    est_logmel: torch.Tensor,
    ref_mag: torch.Tensor,
    est_mag: torch.Tensor,
    ref_sig: torch.Tensor,
    est_sig: torch.Tensor,
) -> Reconstruction:
    l1 = float((ref_logmel - est_logmel).abs().mean())
    sc = float(torch.linalg.norm(ref_mag - est_mag) / torch.linalg.norm(ref_mag).clamp_min(1e-12))
    snr = float(10 * torch.log10(ref_sig.pow(2).sum() / (ref_sig - est_sig).pow(2).sum().clamp_min(1e-12)))
    return Reconstruction(l1, sc, snr)


@torch.no_grad()
def dcae_reconstruction(model: MusicModel, audio: np.ndarray) -> Reconstruction:
    """DCAE round trip on the normalised log-mel; spectral convergence on mel magnitudes, SNR on the log-mel."""
    cfg = model.cfg
    mel = log_mel(torch.from_numpy(audio)[None], cfg.audio)  # (1, n_mels, frames)
    frames = mel.shape[-1]
    padded = pad_frames(mel, cfg.latent_frames(len(audio)) * cfg.dcae.downsample, silence_level(cfg.audio))
    recon = model.dcae.decode(model.dcae.encode(padded))[..., :frames]
    centred = mel - mel.mean()  # SNR of the log-mel around its mean: how much of its variation survives
    return _metrics(
        mel,
        recon,
        denormalize_log_mel(mel, cfg.audio),
        denormalize_log_mel(recon, cfg.audio),
        centred,
        recon - mel.mean(),
    )


@torch.no_grad()
def vocoder_reconstruction(model: MusicModel, vocoder: object, audio: np.ndarray) -> Reconstruction:
    """The vocoder alone on the true mel: log-mel of the re-analysed audio, STFT magnitudes, waveform SNR.

    Waveform SNR compares phase too, which Griffin-Lim does not recover, so it sits near 0 dB or below by design.
    """
    cfg = model.cfg
    wave = torch.from_numpy(audio)
    mel = log_mel(wave[None], cfg.audio)
    out = vocoder(denormalize_log_mel(mel, cfg.audio)[0], len(audio))  # type: ignore[operator]
    out = out.reshape(-1)[: len(audio)]
    return _metrics(
        mel, log_mel(out[None], cfg.audio), stft(wave, cfg.audio).abs(), stft(out, cfg.audio).abs(), wave, out
    )
