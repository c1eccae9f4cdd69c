from __future__ import annotations

import numpy as np
import pytest
import torch

from acegit.engine import audio
from acegit.engine.config import AudioConfig, ModelConfig

CFG = AudioConfig()


def test_frame_rates_and_latent_length() -> None:
    m = ModelConfig()
    assert CFG.sample_rate / CFG.hop_length == pytest.approx(86.13, abs=0.01)
    assert m.latent_rate == pytest.approx(10.77, abs=0.01)
    n = 30 * CFG.sample_rate
    mel_frames = n // CFG.hop_length + 1
    assert mel_frames == 2584 and m.latent_frames(n) == 323  # 2584 is already a multiple of 8
    for samples in (1, 2047, 2048, 2049, 5 * CFG.sample_rate + 17):  # 8 latent frames always cover the mel frames
        frames = samples // CFG.hop_length + 1
        assert 0 <= 8 * m.latent_frames(samples) - frames < 8


def test_mel_filterbank_matches_librosa() -> None:
    librosa = pytest.importorskip("librosa")
    ref = librosa.filters.mel(sr=CFG.sample_rate, n_fft=CFG.n_fft, n_mels=CFG.n_mels, fmin=CFG.f_min, fmax=CFG.f_max)
    np.testing.assert_allclose(audio.mel_basis(CFG).numpy(), ref, rtol=1e-5, atol=1e-8)
    other = librosa.filters.mel(sr=16000, n_fft=512, n_mels=40, fmin=50.0, fmax=7000.0)
    np.testing.assert_allclose(
        audio.mel_basis(AudioConfig(16000, 512, 128, 40, 50.0, 7000.0)).numpy(), other, rtol=1e-5, atol=1e-8
    )


def test_mel_matches_librosa() -> None:
    librosa = pytest.importorskip("librosa")
    rng = np.random.default_rng(0)
    wave = rng.standard_normal(CFG.sample_rate // 2).astype(np.float32) * 0.1
    ours = audio.mel_spectrogram(torch.from_numpy(wave), CFG).numpy()
    ref = librosa.feature.melspectrogram(
        y=wave,
        sr=CFG.sample_rate,
        n_fft=CFG.n_fft,
        hop_length=CFG.hop_length,
        n_mels=CFG.n_mels,
        power=1.0,
        pad_mode="reflect",
    )
    assert ours.shape == ref.shape == (128, len(wave) // CFG.hop_length + 1)
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-5)


def test_log_mel_normalisation_round_trips_and_is_roughly_unit_scale() -> None:
    t = torch.arange(CFG.sample_rate) / CFG.sample_rate
    wave = 0.5 * torch.sin(2 * torch.pi * 440 * t)
    mel = audio.mel_spectrogram(wave, CFG)
    x = audio.normalize_log_mel(mel, CFG)
    torch.testing.assert_close(audio.denormalize_log_mel(x, CFG), mel.clamp_min(CFG.log_floor), rtol=1e-4, atol=1e-6)
    assert x.min() > -2.5 and x.max() < 2.5
    assert audio.silence_level(CFG) == pytest.approx(x.min().item(), abs=1e-4)


def test_stft_round_trip_and_frame_padding() -> None:
    wave = torch.randn(10_000)
    back = audio.istft(audio.stft(wave, CFG), CFG, len(wave))
    torch.testing.assert_close(back, wave, rtol=0, atol=1e-5)
    x = torch.zeros(2, 128, 13)
    assert audio.pad_frames(x, 16, -2.0).shape == (2, 128, 16)
    assert audio.pad_frames(x, 16, -2.0)[..., 13:].eq(-2.0).all()
    assert audio.pad_frames(x, 8, 0.0).shape[-1] == 8
