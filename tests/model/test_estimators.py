"""The evaluation's estimators on signals whose tempo and key are known by construction, and its scoring rules."""

from __future__ import annotations

import numpy as np

from model.evaluate.estimators import estimate_key, estimate_tempo, same_signature, score

SR = 22050


def _tone(freq: float, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return np.sin(2 * np.pi * freq * t) * np.exp(-3 * t)


def test_tempo_of_a_click_track() -> None:
    bpm = 100.0
    audio = np.zeros(int(12 * SR), np.float32)
    click = _tone(1000.0, 0.05).astype(np.float32)
    for k in range(int(12 * bpm / 60)):
        i = int(k * 60 / bpm * SR)
        audio[i : i + len(click)] += click[: len(audio) - i]
    assert abs(estimate_tempo(audio, SR) - bpm) <= 0.04 * bpm


def test_key_of_a_cadence() -> None:
    # I-IV-V-I in A minor (i-iv-V-i), each chord 1 s, root position with the bass an octave down.
    chords = [(57, 60, 64), (50, 62, 65), (52, 59, 68), (45, 60, 64)]
    audio = np.concatenate(
        [sum(_tone(440.0 * 2 ** ((p - 69) / 12), 1.0) for p in chord) for chord in chords * 3]
    ).astype(np.float32)
    assert same_signature(estimate_key(audio, SR), "A minor")


def test_scoring_rules() -> None:
    s = score(120, "A minor", 123, "C major")
    assert s.tempo_ok and not s.tempo_octave and not s.key_exact and s.key_signature
    s = score(120, "A minor", 60.5, "A minor")
    assert not s.tempo_ok and s.tempo_octave and s.key_exact
    s = score(120, "A minor", 90, "E major")
    assert not (s.tempo_ok or s.tempo_octave or s.key_exact or s.key_signature)


def test_quiet_share_counts_near_silent_windows() -> None:
    from model.evaluate.run import quiet_share

    t = np.arange(22050 * 2) / 22050
    tone = 0.3 * np.sin(2 * np.pi * 220.0 * t)
    assert quiet_share(tone) == 0.0
    gated = tone * (np.arange(len(t)) // 11025 % 2)  # half a second on, half a second off
    assert abs(quiet_share(gated) - 0.5) < 0.05
    assert quiet_share(tone * 10 ** (-20 / 20) + tone * (t > 1.0)) == 0.0  # 20 dB down is not "quiet"
