"""The transcriber: audio to notes per role, an onsets-and-frames model on the engine's own log-mel front end.

Hawthorne et al. 2018 ("Onsets and Frames"), small: a 2-D convolutional front end over the normalised log-mel
(acegit/engine/audio.py, the mel the DCAE decodes to), dilated 1-D convolutions over time, and two heads per role
(melody, chords, bass): note onsets, and frames conditioned on the onsets. No recurrence and no statistic across the
batch or across time, so a clip is transcribed the same alone or beside others; a long clip is cut into fixed windows
with context on both sides, so memory stays bounded and the result does not depend on what else was asked.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load as load_safetensors
from torch import nn

from acegit.engine.audio import log_mel
from acegit.engine.checkpoint import read_verified, save_module, seeded
from acegit.engine.config import AudioConfig, _build
from acegit.engine.device import set_deterministic
from acegit.errors import AcegitError

ROLES = ("melody", "chords", "bass")  # the pitched parts of a corpus piece (its drums are not transcribed)


@dataclass(frozen=True)
class TranscriberConfig:
    name: str = "transcriber"
    audio: AudioConfig = field(default_factory=AudioConfig)  # the engine's front end, unchanged
    roles: tuple[str, ...] = ROLES
    min_pitch: int = 21  # A0: the lowest piano key
    pitches: int = 88  # A0..C8
    channels: tuple[int, int] = (8, 16)  # 2-D conv widths (the mel axis is pooled 4x)
    hidden: int = 160  # per-frame width of the temporal stack
    dilations: tuple[int, ...] = (1, 2, 4, 8, 16)  # temporal residual blocks (receptive field about ±0.4 s)
    window: int = 2048  # frames transcribed at once (23.8 s); longer audio is cut into windows
    context: int = 64  # frames of context on each side of a window (more than the receptive field)
    onset_threshold: float = 0.7  # chosen on validation clips (model/evaluate/transcription.py, docs/model-card.md)
    frame_threshold: float = 0.3
    min_frames: int = 2  # shortest note kept, in frames (23 ms)

    @property
    def frame_rate(self) -> float:
        return self.audio.sample_rate / self.audio.hop_length

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> TranscriberConfig:
        try:
            return _build(cls, json.loads(text))
        except (TypeError, ValueError) as e:
            raise AcegitError(f"transcriber config is not valid: {e}") from e


class TemporalBlock(nn.Module):
    """Pre-norm residual dilated conv over time; the norm is per frame (over channels), never across time."""

    def __init__(self, width: int, dilation: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.conv = nn.Conv1d(width, width, 3, padding=dilation, dilation=dilation)
        self.proj = nn.Conv1d(width, width, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, W, T)
        h = self.norm(x.transpose(1, 2)).transpose(1, 2)
        return x + self.proj(F.gelu(self.conv(h)))


class Transcriber(nn.Module):
    """Log-mel (B, n_mels, T) -> onset and frame logits, each (B, roles, pitches, T)."""

    def __init__(self, cfg: TranscriberConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c1, c2 = cfg.channels
        self.front = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1),
            nn.GELU(),
            nn.Conv2d(c1, c1, 3, padding=1),
            nn.GELU(),
            nn.MaxPool2d((2, 1)),
            nn.Conv2d(c1, c2, 3, padding=1),
            nn.GELU(),
            nn.MaxPool2d((2, 1)),
        )
        out = len(cfg.roles) * cfg.pitches
        self.embed = nn.Conv1d(c2 * (cfg.audio.n_mels // 4), cfg.hidden, 1)
        self.blocks = nn.ModuleList(TemporalBlock(cfg.hidden, d) for d in cfg.dilations)
        self.onset_head = nn.Conv1d(cfg.hidden, out, 1)
        self.frame_head = nn.Sequential(
            nn.Conv1d(cfg.hidden + out, cfg.hidden, 3, padding=1), nn.GELU(), nn.Conv1d(cfg.hidden, out, 1)
        )

    def forward(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, _, t = mel.shape
        h = self.front(mel.unsqueeze(1))  # (B, c2, n_mels/4, T)
        h = self.embed(h.reshape(b, -1, t))  # (B, hidden, T)
        for block in self.blocks:
            h = block(h)
        onset = self.onset_head(h)  # (B, roles*pitches, T)
        frame = self.frame_head(torch.cat([h, torch.sigmoid(onset).detach()], dim=1))
        shape = (b, len(self.cfg.roles), self.cfg.pitches, t)
        return onset.reshape(shape), frame.reshape(shape)


def build_transcriber(cfg: TranscriberConfig | None = None, seed: int = 0) -> Transcriber:
    """A randomly initialised transcriber; the seed makes the initial weights reproducible."""
    return seeded(seed, lambda: Transcriber(cfg or TranscriberConfig()))


def save_transcriber(model: Transcriber, folder: Path) -> str:
    """The model as acegit ships it (model.safetensors + config.json + sha256, written atomically); returns the hash."""
    return save_module(model, model.cfg.to_json(), folder)


def load_transcriber(folder: Path, expected_hash: str | None = None) -> tuple[Transcriber, str]:
    """Load and verify a transcriber weights folder; returns the model (eval mode, CPU) and its weights hash."""
    weights, config, digest = read_verified(Path(folder), expected_hash)
    model = Transcriber(TranscriberConfig.from_json(config.decode("utf-8")))
    try:
        model.load_state_dict(load_safetensors(weights), strict=True)
    except Exception as e:  # a malformed header (safetensors' own error) or tensors that do not fit the config
        raise AcegitError(f"transcriber checkpoint {folder} does not load: {e}") from e
    return model.eval(), digest


@dataclass(frozen=True)
class Note:
    start: float  # seconds
    end: float
    pitch: int  # MIDI note number
    velocity: int


def _windows(frames: int, window: int) -> list[tuple[int, int]]:
    return [(s, min(frames, s + window)) for s in range(0, max(frames, 1), window)]


@torch.inference_mode()
def activations(model: Transcriber, wave: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Onset and frame probabilities of a mono waveform at the model's rate: each (roles, pitches, frames), on the
    CPU (a fraction of a render's time), bit-identical for any thread count."""
    set_deterministic(torch.device("cpu"))  # oneDNN off, deterministic kernels, pinned numerics checked
    cfg = model.cfg
    mel = log_mel(torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32)), cfg.audio)  # (n_mels, T)
    frames = mel.shape[-1]
    silence = float(mel.new_tensor(cfg.audio.log_floor).log().sub(cfg.audio.log_mean).div(cfg.audio.log_std))
    padded = F.pad(mel, (cfg.context, cfg.context), value=silence)
    onsets, frame_probs = [], []
    for start, end in _windows(frames, cfg.window):
        # a window and its context on both sides (more than the receptive field): the same audio always meets the
        # same shapes, so the same bits; a short clip is one window of its own length
        chunk = padded[:, start : end + 2 * cfg.context]
        onset, frame = model(chunk.unsqueeze(0))
        core = slice(cfg.context, cfg.context + end - start)
        onsets.append(torch.sigmoid(onset[0, :, :, core]))
        frame_probs.append(torch.sigmoid(frame[0, :, :, core]))
    return torch.cat(onsets, -1).numpy(), torch.cat(frame_probs, -1).numpy()


def notes_from_activations(onset: np.ndarray, frame: np.ndarray, cfg: TranscriberConfig) -> dict[str, list[Note]]:
    """Onsets-and-frames decoding: a note starts at an onset peak and lasts while its frame stays on."""
    out: dict[str, list[Note]] = {}
    _, pitches, t = onset.shape
    idx = np.arange(t)
    for r, role in enumerate(cfg.roles):
        notes: list[Note] = []
        for p in range(pitches):
            on, fr = onset[r, p], frame[r, p]
            prev = np.concatenate([[0.0], on[:-1]])
            nxt = np.concatenate([on[1:], [0.0]])
            starts = np.flatnonzero((on >= cfg.onset_threshold) & (on > prev) & (on >= nxt))
            if starts.size == 0:
                continue
            # the first frame at or after each t whose frame probability is below threshold
            off = np.where(fr < cfg.frame_threshold, idx, t)
            next_off = np.minimum.accumulate(off[::-1])[::-1]
            for i, s in enumerate(starts):
                limit = starts[i + 1] if i + 1 < starts.size else t
                end = min(int(next_off[min(s + 1, t - 1)]) if s + 1 < t else t, int(limit))
                if end - s < cfg.min_frames:
                    continue
                velocity = int(np.clip(round(40 + 87 * float(on[s])), 1, 127))
                notes.append(
                    Note(round(s / cfg.frame_rate, 4), round(end / cfg.frame_rate, 4), cfg.min_pitch + p, velocity)
                )
        out[role] = sorted(notes, key=lambda n: (n.start, n.pitch))
    return out


def transcribe(model: Transcriber, wave: np.ndarray, sample_rate: int) -> dict[str, list[Note]]:
    """A mono waveform's notes per role. The waveform must be at the model's sample rate."""
    if sample_rate != model.cfg.audio.sample_rate:
        raise AcegitError(
            f"the transcriber expects audio at {model.cfg.audio.sample_rate} Hz, got {sample_rate} Hz",
            hint="resample the audio to the engine's rate first",
        )
    onset, frame = activations(model, wave)
    return notes_from_activations(onset, frame, model.cfg)


def transcribe_batch(model: Transcriber, waves: Sequence[np.ndarray], sample_rate: int) -> list[dict[str, list[Note]]]:
    """Several clips, each transcribed alone (the same result as one at a time)."""
    return [transcribe(model, w, sample_rate) for w in waves]


def describe(model: Transcriber) -> dict[str, Any]:
    return {"parameters": sum(p.numel() for p in model.parameters()), "roles": list(model.cfg.roles)}
