"""Tempo and key of audio (librosa beat tracking; chroma against Krumhansl-Kessler key profiles) and their scoring."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from acegit.keys import Key, parse_key

# Krumhansl & Kessler (1982) probe-tone ratings, tonic first.
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
TEMPO_TOLERANCE = 0.04  # ±4%


def estimate_tempo(audio: np.ndarray, sample_rate: int) -> float:
    """Global tempo in BPM from librosa's dynamic-programming beat tracker (0.0 for silence)."""
    import librosa  # lazy: heavy

    if not np.any(audio):
        return 0.0
    tempo, _ = librosa.beat.beat_track(y=audio.astype(np.float32), sr=sample_rate)
    return float(np.atleast_1d(tempo)[0])


def key_scores(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Correlation of the clip's mean chroma with the 24 rotated key profiles, in acegit key-index order (24,)."""
    import librosa

    chroma = librosa.feature.chroma_cqt(y=audio.astype(np.float32), sr=sample_rate).mean(axis=1)  # (12,)
    scores = np.zeros(24)
    for tonic in range(12):
        scores[tonic] = np.corrcoef(chroma, np.roll(MAJOR_PROFILE, tonic))[0, 1]
        scores[12 + tonic] = np.corrcoef(chroma, np.roll(MINOR_PROFILE, tonic))[0, 1]
    return np.nan_to_num(scores, nan=-1.0)


def estimate_key(audio: np.ndarray, sample_rate: int) -> str:
    """The best-correlated key as a canonical name, e.g. "A minor"."""
    best = int(np.argmax(key_scores(audio, sample_rate)))
    return Key(best % 12, "major" if best < 12 else "minor").name


def same_signature(a: str, b: str) -> bool:
    """Whether two keys share a key signature (equal, or relative major / minor: C major ~ A minor)."""
    ka, kb = parse_key(a), parse_key(b)
    return _signature(ka) == _signature(kb)


def _signature(k: Key) -> int:
    return k.pitch_class if k.mode == "major" else (k.pitch_class + 3) % 12  # minor -> its relative major


@dataclass(frozen=True)
class Score:
    tempo_ok: bool  # within ±4% of the target
    tempo_octave: bool  # within ±4% of double or half the target (not counted in tempo_ok)
    key_exact: bool
    key_signature: bool  # same key signature (exact counts too)


def score(target_bpm: float, target_key: str, est_bpm: float, est_key: str) -> Score:
    def near(x: float, y: float) -> bool:
        return abs(x - y) <= TEMPO_TOLERANCE * y

    ok = near(est_bpm, target_bpm)
    octave = not ok and (near(est_bpm, 2 * target_bpm) or near(est_bpm, target_bpm / 2))
    return Score(ok, octave, parse_key(est_key) == parse_key(target_key), same_signature(est_key, target_key))
