"""The seam metric tells seamless loops from clicks, phase jumps and level jumps."""

from __future__ import annotations

import numpy as np
import pytest

from acegit.loopseam import frame_size, seam_report

RATE = 22050


def _t(seconds: float) -> np.ndarray:
    return np.arange(round(seconds * RATE)) / RATE


def test_whole_periods_are_seamless_a_phase_jump_is_not() -> None:
    t = _t(4.0)
    whole = seam_report(np.sin(2 * np.pi * 441.0 * t), RATE)  # 1764 whole periods: the loop point is invisible
    assert whole.seamless
    broken = seam_report(np.sin(2 * np.pi * 440.3 * t), RATE)  # ends mid-period: a click at every repeat
    assert not broken.seamless
    assert broken.flux_db > 10 * broken.flux_p95_db and broken.flux_ratio > 50


def test_noise_is_its_own_seam() -> None:
    wave = 0.1 * np.random.default_rng(0).standard_normal(RATE * 4)
    r = seam_report(wave, RATE)
    assert r.seamless and 0.5 < r.flux_ratio < 2.0


def test_level_jump_is_caught() -> None:
    rng = np.random.default_rng(1)
    wave = 0.1 * rng.standard_normal(RATE * 4) * np.linspace(1.0, 0.05, RATE * 4)  # fades out, loops back loud
    r = seam_report(wave, RATE)
    assert not r.seamless
    assert r.level_jump_db > 20 and r.level_jump_db > 10 * r.level_median_db


def test_loop_region_and_stereo() -> None:
    t = _t(5.0)
    tone = np.sin(2 * np.pi * 441.0 * t)
    tone[: RATE // 2] = 0.0  # silence before the loop region must not matter
    stereo = np.stack([tone, tone], axis=1)
    assert seam_report(stereo, RATE, start=RATE, end=RATE * 5).seamless
    assert frame_size(22050) == 1024 and frame_size(44100) == 2048 and frame_size(48000) == 2048
    with pytest.raises(ValueError, match="too short"):
        seam_report(tone[:2000], RATE)
