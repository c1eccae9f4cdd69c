"""A piece's melody line as its own MIDI file and as the engine's piano roll (the optional melody condition)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pretty_midi

from model.corpus.composer import Piece


def melody_midi(piece: Piece) -> pretty_midi.PrettyMIDI | None:
    """The melody part alone, as a user would hand it to `melody = "theme.mid"`; None when the piece has none."""
    part = piece.part("melody")
    if part is None or not part.notes:
        return None
    pm = pretty_midi.PrettyMIDI(initial_tempo=float(piece.labels.bpm))
    inst = pretty_midi.Instrument(program=part.program, name="melody")
    inst.notes = [pretty_midi.Note(n.velocity, n.pitch, n.start, n.end) for n in part.notes]
    pm.instruments.append(inst)
    return pm


def melody_roll(path: Path | None, frames: int, latent_rate: float) -> np.ndarray:
    """(128, frames) float32 roll at the latent frame rate, exactly as the engine reads a melody file; zeros if none."""
    if path is None:
        return np.zeros((128, frames), np.float32)
    from acegit.engine.conditioning import melody_roll as engine_roll  # the one definition; lazy: imports torch

    return engine_roll(path, frames, latent_rate).numpy()
