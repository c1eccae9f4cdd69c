"""Conditions: BPM, key, time signature, duration, melody piano-roll, beat-aware positions, and their embedders."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import torch
from torch import nn

from acegit.errors import AcegitError
from acegit.midi import parse_midi, read_midi

# Time signatures with their own embedding; anything else shares OTHER, and NULL means "not given" (guidance, dropout).
METRE_VOCABULARY = ("4/4", "3/4", "2/4", "6/8", "5/4", "7/8", "12/8")
TIME_SIGNATURE_OTHER = len(METRE_VOCABULARY)
TIME_SIGNATURE_NULL = len(METRE_VOCABULARY) + 1
KEY_NULL = 24  # keys are 0-11 major, 12-23 minor (acegit.keys.Key.index)


def parse_time_signature(text: str) -> tuple[int, int]:
    """'6/8' -> (6, 8); beats per bar and the note value of one beat."""
    try:
        num, den = (int(p) for p in text.split("/"))
    except ValueError:
        raise AcegitError(f"time signature {text!r} is not of the form N/D (e.g. 4/4, 6/8)") from None
    if num < 1 or den not in (1, 2, 4, 8, 16):
        raise AcegitError(f"time signature {text!r} is not valid (N >= 1, D one of 1, 2, 4, 8, 16)")
    return num, den


def time_signature_index(text: str) -> int:
    if not text:
        return TIME_SIGNATURE_NULL
    parse_time_signature(text)
    return METRE_VOCABULARY.index(text) if text in METRE_VOCABULARY else TIME_SIGNATURE_OTHER


def key_index(key: str) -> int:
    """Canonical key name -> 0..23; empty -> KEY_NULL."""
    if not key:
        return KEY_NULL
    from acegit.keys import parse_key

    try:
        return parse_key(key).index
    except ValueError as e:
        raise AcegitError(str(e)) from None


def beat_features(
    frames: int, latent_rate: float, bpm: float, beats_per_bar: int, harmonics: int, offset: float = 0.0
) -> torch.Tensor:
    """Beat-aware positions: sin/cos of beat and bar phase at harmonics 1..H for each latent frame -> (frames, 4H).

    Frame k is centred at offset + k / latent_rate seconds (offset: where a training crop starts; the downbeat is at
    0 s); a beat is one BPM tick (the time signature's note value) and a bar is beats_per_bar beats. Computed in
    float64 so the phase stays exact for long tracks, then rounded to float32. With no BPM (<= 0) the features are zero.
    """
    if bpm <= 0:
        return torch.zeros(frames, 4 * harmonics)
    seconds = offset + np.arange(frames, dtype=np.float64) / latent_rate  # (frames,)
    beats = seconds * (bpm / 60.0)  # (frames,) in beats
    phases = np.stack([beats, beats / beats_per_bar])  # (2, frames): beat phase, bar phase (in turns)
    h = np.arange(1, harmonics + 1, dtype=np.float64)[None, :, None]  # (1, H, 1)
    angle = 2 * math.pi * np.mod(phases[:, None, :] * h, 1.0)  # (2, H, frames)
    feats = np.concatenate([np.sin(angle), np.cos(angle)]).reshape(4 * harmonics, frames)  # (4H, frames)
    return torch.from_numpy(feats.T.astype(np.float32).copy())


def melody_roll(path: Path, frames: int, latent_rate: float) -> torch.Tensor:
    """Piano roll of a MIDI file at the latent frame rate, velocity / 127, drums left out -> (128, frames)."""
    midi = parse_midi(read_midi(path), path, checked=True)  # the limits before pretty_midi allocates anything
    times = np.arange(frames, dtype=np.float64) / latent_rate
    roll = np.zeros((128, frames), dtype=np.float32)
    for inst in midi.instruments:
        if not inst.is_drum and inst.notes:
            roll = np.maximum(roll, inst.get_piano_roll(times=times).astype(np.float32))
    return torch.from_numpy(np.clip(roll / 127.0, 0.0, 1.0))


@dataclass
class Conditions:
    """Batched conditions for the DiT. Text is padded to a fixed token count; an all-False mask is the null prompt."""

    text: torch.Tensor  # (B, L, text_dim) frozen text-encoder token embeddings
    text_mask: torch.Tensor  # (B, L) bool, True for real tokens
    bpm: torch.Tensor  # (B,) float, <= 0 means not given
    key: torch.Tensor  # (B,) long, KEY_NULL means not given
    time_signature: torch.Tensor  # (B,) long, TIME_SIGNATURE_NULL means not given
    duration: torch.Tensor  # (B,) float seconds, <= 0 means not given
    melody: torch.Tensor  # (B, 128, T) piano roll at the latent frame rate, zeros when none
    beats: torch.Tensor  # (B, T, 4H) beat-aware position features

    def to(self, device: torch.device | str) -> Conditions:
        return Conditions(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})

    @staticmethod
    def cat(items: list[Conditions]) -> Conditions:
        return Conditions(**{f.name: torch.cat([getattr(c, f.name) for c in items]) for f in fields(Conditions)})

    def without_text(self) -> Conditions:
        """The same conditions with the null prompt: what classifier-free guidance contrasts against."""
        out = Conditions(**{f.name: getattr(self, f.name) for f in fields(self)})
        out.text_mask = torch.zeros_like(self.text_mask)
        return out


def single_conditions(
    text: torch.Tensor,
    text_mask: torch.Tensor,
    *,
    bpm: float,
    key: str,
    time_signature: str,
    duration: float,
    frames: int,
    latent_rate: float,
    harmonics: int,
    melody: torch.Tensor | None = None,
    offset: float = 0.0,
) -> Conditions:
    """Conditions of one item (batch of one) from plain values; training crops pass their start time as offset.

    text (L, text_dim) and text_mask (L,) come from TextEncoder.encode; melody is a (128, frames) roll or None.
    """
    beats_per_bar = parse_time_signature(time_signature)[0] if time_signature else 4
    return Conditions(
        text=text[None],
        text_mask=text_mask[None],
        bpm=torch.tensor([float(bpm)]),
        key=torch.tensor([key_index(key)]),
        time_signature=torch.tensor([time_signature_index(time_signature)]),
        duration=torch.tensor([float(duration)]),
        melody=(melody if melody is not None else torch.zeros(128, frames))[None],
        beats=beat_features(frames, latent_rate, bpm, beats_per_bar, harmonics, offset)[None],
    )


class ScalarEmbedder(nn.Module):
    """A scalar (timestep, BPM, seconds) -> sinusoidal features -> MLP (DiT's TimestepEmbedder)."""

    def __init__(self, hidden: int, freq_dim: int = 256, max_period: float = 10000.0) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(freq_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        self.freq_dim = freq_dim
        self.max_period = max_period

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        half = self.freq_dim // 2
        freqs = torch.exp(-math.log(self.max_period) * torch.arange(half, device=s.device) / half)  # (half,)
        args = s.float()[:, None] * freqs[None]  # (B, half)
        return self.mlp(torch.cat([torch.cos(args), torch.sin(args)], dim=-1))


class GlobalConditioner(nn.Module):
    """BPM, key, time signature and duration -> one (B, hidden) vector added to the timestep embedding."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.bpm = ScalarEmbedder(hidden)
        self.duration = ScalarEmbedder(hidden)
        self.key = nn.Embedding(KEY_NULL + 1, hidden)
        self.time_signature = nn.Embedding(TIME_SIGNATURE_NULL + 1, hidden)

    def forward(self, c: Conditions) -> torch.Tensor:
        bpm = self.bpm(c.bpm) * (c.bpm > 0)[:, None]  # (B, hidden); zero when not given
        duration = self.duration(c.duration) * (c.duration > 0)[:, None]
        return bpm + duration + self.key(c.key) + self.time_signature(c.time_signature)
