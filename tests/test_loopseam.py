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
    assert broken.flux_db > 10 * broken.hops.flux_p95_db and broken.flux_ratio > 50


def test_noise_is_its_own_seam() -> None:
    wave = 0.1 * np.random.default_rng(0).standard_normal(RATE * 4)
    r = seam_report(wave, RATE)
    assert r.seamless and 0.5 < r.flux_ratio < 2.0


def test_level_jump_is_caught() -> None:
    rng = np.random.default_rng(1)
    wave = 0.1 * rng.standard_normal(RATE * 4) * np.linspace(1.0, 0.05, RATE * 4)  # fades out, loops back loud
    r = seam_report(wave, RATE)
    assert not r.seamless
    assert r.level_jump_db > 20 and r.level_jump_db > 10 * r.hops.level_median_db


def test_loop_region_and_stereo() -> None:
    t = _t(5.0)
    tone = np.sin(2 * np.pi * 441.0 * t)
    tone[: RATE // 2] = 0.0  # silence before the loop region must not matter
    stereo = np.stack([tone, tone], axis=1)
    assert seam_report(stereo, RATE, start=RATE, end=RATE * 5).seamless
    assert frame_size(22050) == 1024 and frame_size(44100) == 2048 and frame_size(48000) == 2048
    with pytest.raises(ValueError, match="too short"):
        seam_report(tone[:2000], RATE)


def _notes(beats: int, beat: int, accent: float = 4.0, seed: int = 2) -> np.ndarray:
    """A decaying note on every beat, accented on each bar's downbeat (4/4): one bar of random pitches, repeated."""
    pitches = 220.0 * 2 ** (np.random.default_rng(seed).integers(0, 12, size=4) / 12)
    t = np.arange(beat) / RATE
    out = []
    for k in range(beats):
        pitch = pitches[k % 4]
        gain = accent if k % 4 == 0 else 1.0
        out.append(0.05 * gain * np.sin(2 * np.pi * pitch * t) * np.exp(-t / 0.3))
    return np.concatenate(out)


def test_a_downbeat_onset_at_the_seam_is_music_measured_against_beats() -> None:
    beat = RATE // 2  # 120 BPM
    loop = _notes(16, beat)  # 4 bars: the seam is a bar line with an accented note, like the three inside
    by_hop, by_beat = seam_report(loop, RATE), seam_report(loop, RATE, beat=beat)
    assert not by_hop.seamless and by_hop.beats is None  # most hops fall between notes: the downbeat reads as a jump
    assert by_beat.seamless and by_beat.reference == "beats"
    assert by_beat.beats is not None and by_beat.beats.count == 15 and by_beat.hops.count > 100
    # The loop is taken to hold whole beats: a beat length slightly off is fitted to the loop.
    off = seam_report(loop, RATE, beat=beat * 1.01).beats
    assert off is not None and off.count == 15


def test_beats_still_catch_level_jumps_and_clicks() -> None:
    beat = RATE // 2
    fading = _notes(16, beat, accent=1.0) * np.linspace(1.0, 0.02, 16 * beat)  # fades out, loops back loud
    r = seam_report(fading, RATE, beat=beat)
    assert not r.seamless and r.reference is None
    assert r.beats is not None and r.level_jump_db > 2 * r.beats.level_p95_db
    t = _t(4.0)
    click = seam_report(np.sin(2 * np.pi * 440.3 * t), RATE, beat=beat)  # a steady tone that ends mid-period
    assert not click.seamless
    steady = seam_report(np.sin(2 * np.pi * 441.0 * t), RATE, beat=beat)  # stationary: its hops admit the seam
    assert steady.seamless and steady.reference == "hops"


def test_too_few_beats_leaves_the_hops() -> None:
    r = seam_report(_notes(3, RATE // 2), RATE, beat=RATE // 2)
    assert r.beats is None and r.hops.count > 0
