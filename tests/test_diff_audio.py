"""The audio side of a diff (acegit/diff/audio.py): known answers; measured on two threads as on one."""

from __future__ import annotations

import math

import numpy as np
import pytest

from acegit.diff import audio
from acegit.diff.audio import compare_audio

SR = 22050


def _tone(freq: float, seconds: float, amp: float) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_identical_waves_have_no_distance() -> None:
    a = _tone(440.0, 4.0, 0.3)
    d = compare_audio(a, a.copy(), SR)
    assert d.lsd_db == 0.0 and d.mrstft == 0.0
    assert d.loudness_delta == 0.0 and d.peak_a_db == d.peak_b_db
    assert not d.tempo_differs and not d.key_differs


def test_half_the_amplitude_is_six_db_everywhere() -> None:
    noise = np.random.default_rng(1).normal(0, 0.05, int(4.0 * SR))  # every bin well above the distance's floor
    a = (_tone(440.0, 4.0, 0.3) + noise).astype(np.float32)
    d = compare_audio(a, a * 0.5, SR)
    six = 20 * math.log10(2)
    assert d.loudness_delta == pytest.approx(-six, abs=0.01)
    assert d.peak_b_db - d.peak_a_db == pytest.approx(-six, abs=1e-4)
    assert d.lsd_db == pytest.approx(six, abs=0.01)  # every bin's power ratio is 4
    assert d.key_a == d.key_b


def test_two_threads_measure_what_one_does_and_the_shorter_length_is_compared() -> None:
    rng = np.random.default_rng(3)
    a = (_tone(220.0, 6.0, 0.3) + rng.normal(0, 0.01, int(6.0 * SR))).astype(np.float32)
    b = (_tone(233.1, 5.0, 0.2) + rng.normal(0, 0.02, int(5.0 * SR))).astype(np.float32)
    n = len(b)
    fa, fb = audio._features(a, n, SR), audio._features(b, n, SR)  # one after the other, on this thread
    key = (1024, 256)
    d = compare_audio(a, b, SR)
    assert d == compare_audio(a, b, SR)  # twice: the same
    assert d.lsd_db == audio.log_spectral_distance(fa.spectra[key], fb.spectra[key])
    assert d.mrstft == audio.mrstft_distance(a[:n], b[:n])  # from scratch, not from the threads' spectra
    assert (d.loudness_a, d.loudness_b, d.peak_a_db, d.peak_b_db) == (fa.loudness, fb.loudness, fa.peak_db, fb.peak_db)
    assert (d.tempo_a, d.tempo_b, d.key_a, d.key_b) == (fa.tempo, fb.tempo, fa.key, fb.key)
    assert d.loudness_a == audio.loudness_lufs(a, SR)  # the whole of the longer wave, not its first n samples
