"""A render's notes: the transcriber's output as a MIDI file, and how closely it plays the melody it was given.

The transcriber (acegit/engine/transcriber.py) hears the published audio through the engine's own log-mel front end,
so the .mid of a render is the same whichever backend rendered it and whether the audio came from the cache or a
decode. `note_f1` is the note-level F1 of mir_eval.transcription (onset within ±50 ms, same MIDI pitch, optionally
offset within max(50 ms, 20% of the reference note)), matched as a maximum bipartite matching; it is written here so
acegit needs mir_eval only to check it (tests) and for the model card's evaluation.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from acegit.engine.registry import transcriber_ref
from acegit.errors import InputError
from acegit.midi import parse_midi, read_midi

if TYPE_CHECKING:
    import numpy as np
    import pretty_midi

    from acegit.cache import CacheEntry
    from acegit.engine.transcriber import Transcriber
    from acegit.lockfile import Lock
    from acegit.project import Project
    from acegit.track import Track

ROLE_PROGRAMS = {"melody": 0, "chords": 0, "bass": 33}  # General MIDI: acoustic grand, electric bass (finger)
ONSET_TOLERANCE = 0.05  # s, mir_eval's default
OFFSET_RATIO = 0.2  # of the reference note's length, mir_eval's default (with the same 50 ms floor)
_DECIMALS = 4  # mir_eval rounds time distances to 0.1 ms before comparing, so exactly 50 ms is a hit


@dataclass(frozen=True)
class NoteEvent:
    """A note as the comparison sees it: times in seconds, MIDI pitch."""

    start: float
    end: float
    pitch: int


@dataclass(frozen=True)
class NoteScore:
    precision: float
    recall: float
    f1: float
    matched: int
    reference: int
    estimated: int

    def to_json(self) -> dict[str, Any]:
        return {
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "matched": self.matched,
            "reference_notes": self.reference,
            "transcribed_notes": self.estimated,
        }


@dataclass(frozen=True)
class Adherence:
    """The transcription's melody against the track's melody input."""

    melody: str  # the track's melody path, as written in the track
    onset: NoteScore  # onsets within ±50 ms and the same pitch
    with_offsets: NoteScore  # and offsets within max(50 ms, 20%)

    def to_json(self) -> dict[str, Any]:
        return {
            "melody": self.melody,
            "note_f1": self.onset.to_json(),
            "note_f1_with_offsets": self.with_offsets.to_json(),
        }


def _max_matching(pairs: list[list[int]], n_est: int) -> int:
    """Size of a maximum bipartite matching; pairs[i] lists the estimated notes reference note i may match (Kuhn)."""
    owner = [-1] * n_est

    def augment(i: int, seen: list[bool]) -> bool:
        for j in pairs[i]:
            if not seen[j]:
                seen[j] = True
                if owner[j] < 0 or augment(owner[j], seen):
                    owner[j] = i
                    return True
        return False

    return sum(augment(i, [False] * n_est) for i in range(len(pairs)))


def note_f1(
    reference: Sequence[NoteEvent],
    estimated: Sequence[NoteEvent],
    *,
    offsets: bool = False,
    onset_tolerance: float = ONSET_TOLERANCE,
) -> NoteScore:
    """Note precision / recall / F1 as mir_eval.transcription.precision_recall_f1_overlap scores them."""
    by_pitch: dict[int, list[int]] = {}
    for j, e in enumerate(estimated):
        by_pitch.setdefault(e.pitch, []).append(j)
    pairs: list[list[int]] = []
    for r in reference:
        tol = max(onset_tolerance, OFFSET_RATIO * (r.end - r.start))
        pairs.append(
            [
                j
                for j in by_pitch.get(r.pitch, [])
                if round(abs(estimated[j].start - r.start), _DECIMALS) <= onset_tolerance
                and (not offsets or round(abs(estimated[j].end - r.end), _DECIMALS) <= tol)
            ]
        )
    matched = _max_matching(pairs, len(estimated))
    precision = matched / len(estimated) if estimated else 0.0
    recall = matched / len(reference) if reference else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return NoteScore(precision, recall, f1, matched, len(reference), len(estimated))


@functools.lru_cache(maxsize=1)
def builtin_transcriber() -> Transcriber:
    """The shipped transcriber, loaded and verified against its recorded hash once per process."""
    from acegit.engine.transcriber import load_transcriber

    ref = transcriber_ref()
    model, _ = load_transcriber(ref.path, ref.weights_hash)
    return model


def transcribe_audio(audio: np.ndarray, sample_rate: int) -> dict[str, list[NoteEvent]]:
    """A render's notes per role (melody, chords, bass), from its published mono audio."""
    from acegit.engine.transcriber import transcribe

    model = builtin_transcriber()
    if sample_rate != model.cfg.audio.sample_rate:
        import soxr

        audio = soxr.resample(audio, sample_rate, model.cfg.audio.sample_rate, quality="HQ").astype("float32")
        sample_rate = model.cfg.audio.sample_rate
    notes = transcribe(model, audio, sample_rate)
    return {role: [NoteEvent(n.start, n.end, n.pitch) for n in ns] for role, ns in notes.items()}


def to_midi(notes: dict[str, list[NoteEvent]], bpm: float) -> pretty_midi.PrettyMIDI:
    """A MIDI file with one named track per role (written even when empty, so a DAW always shows all three), at the
    track's tempo."""
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(initial_tempo=float(bpm))
    for role, events in notes.items():
        inst = pretty_midi.Instrument(program=ROLE_PROGRAMS.get(role, 0), name=role)
        inst.notes = [pretty_midi.Note(velocity=96, pitch=n.pitch, start=n.start, end=n.end) for n in events]
        pm.instruments.append(inst)
    return pm


def midi_bytes(notes: dict[str, list[NoteEvent]], bpm: float) -> bytes:
    """The Standard MIDI File of to_midi, as bytes (written atomically by the caller)."""
    buf = io.BytesIO()
    to_midi(notes, bpm).write(buf)
    return buf.getvalue()


def melody_notes(path: Path, duration: float, shown: str | Path | None = None) -> list[NoteEvent]:
    """A track's melody input as notes (drums left out), cut at the render's duration, as the engine reads it."""
    return _melody(parse_midi(read_midi(path, shown), shown or path, checked=True), duration)


def melody_notes_of(data: bytes, duration: float, shown: str | Path) -> list[NoteEvent]:
    """melody_notes of a MIDI file's bytes (e.g. a Git blob), checked against the limits before pretty_midi reads it."""
    return _melody(parse_midi(data, shown), duration)


def _melody(pm: pretty_midi.PrettyMIDI, duration: float) -> list[NoteEvent]:
    notes = [
        NoteEvent(float(n.start), float(min(n.end, duration)), int(n.pitch))
        for inst in pm.instruments
        if not inst.is_drum
        for n in inst.notes
        if n.start < duration
    ]
    return sorted(notes, key=lambda n: (n.start, n.pitch))


def adherence(transcribed: dict[str, list[NoteEvent]], melody: list[NoteEvent], shown: str) -> Adherence:
    """The transcribed melody against the given melody: note F1 with onsets, and with offsets too."""
    est = transcribed.get("melody", [])
    return Adherence(shown, note_f1(melody, est), note_f1(melody, est, offsets=True))


# --- a render's .mid: render, show, export and the server all come here ----------------------------------------


@dataclass(frozen=True)
class RenderNotes:
    """A render's transcription: its notes per role and the .mid file's bytes."""

    notes: dict[str, list[NoteEvent]]
    midi: bytes


def notes_of_midi(data: bytes, shown: str) -> dict[str, list[NoteEvent]]:
    """A .mid that to_midi wrote (e.g. from the render cache) read back: notes per instrument name."""
    pm = parse_midi(data, shown)  # a damaged cache file raises InputError: the caller transcribes again
    return {
        inst.name: sorted((NoteEvent(float(n.start), float(n.end), int(n.pitch)) for n in inst.notes), key=_order)
        for inst in pm.instruments
    }


def _order(n: NoteEvent) -> tuple[float, int]:
    return (n.start, n.pitch)


def _cache_entry(project: Project, lock: Lock) -> CacheEntry | None:
    from acegit.cache import RenderCache, cache_key

    return RenderCache(project.cache_dir).get(cache_key(lock.input.fingerprint, lock.environment.fingerprint))


def cached_midi(project: Project, lock: Lock) -> bytes | None:
    """The .mid this transcriber wrote for a snapshot's render, from the render cache (no torch), or None."""
    entry = _cache_entry(project, lock)
    if entry is None:
        return None
    try:
        return entry.midi(transcriber_ref().weights_hash).read_bytes()
    except OSError:
        return None


def render_notes(project: Project, lock: Lock, wave: np.ndarray, sample_rate: int, bpm: float) -> RenderNotes:
    """The notes of a snapshot's audio: the render cache's .mid for this transcriber when it holds one, else
    transcribed now and added to the cache entry (when there is one), so a render is transcribed once."""
    import contextlib

    data = cached_midi(project, lock)
    if data is not None:
        with contextlib.suppress(InputError):  # a damaged cache file: transcribed again below
            return RenderNotes(notes_of_midi(data, "the render cache's .mid"), data)
    notes = transcribe_audio(wave, sample_rate)
    data = midi_bytes(notes, bpm)
    entry = _cache_entry(project, lock)
    if entry is not None:
        with contextlib.suppress(OSError):  # a read-only cache: the .mid is still written where it was asked for
            entry.add_midi(transcriber_ref().weights_hash, data)
    return RenderNotes(notes, data)


def midi_path(project: Project, name: str) -> Path:
    """Where `acegit render` writes a track's notes: build/<name>.mid, beside its audio."""
    return project.build_dir / f"{name}.mid"


def wants_midi(project: Project, track: Track) -> bool:
    """A track's [audio] midi, else acegit.toml's [audio] midi."""
    return project.midi if track.midi is None else track.midi


def publish_midi(project: Project, track: Track, lock: Lock, wave: np.ndarray, sample_rate: int) -> Path | None:
    """render's hook: write build/<name>.mid when the track asks for it (skipped when the bytes are already there)."""
    if not wants_midi(project, track):
        return None
    from acegit.fsutil import atomic_write_bytes

    data = cached_midi(project, lock) or render_notes(project, lock, wave, sample_rate, track.bpm).midi
    out = midi_path(project, track.name)
    try:
        same = out.read_bytes() == data
    except OSError:
        same = False
    if not same:
        atomic_write_bytes(out, data)
    return out
