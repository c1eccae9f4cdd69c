"""acegit/transcribe.py without the model: note F1 against mir_eval's, the MIDI files it writes, melody inputs."""

from __future__ import annotations

import io

import numpy as np
import pretty_midi
import pytest

from acegit.errors import InputError
from acegit.transcribe import NoteEvent, melody_notes_of, midi_bytes, note_f1, notes_of_midi

mir_eval = pytest.importorskip("mir_eval", reason="mir_eval is in the train extra")


def _random_notes(rng: np.random.Generator, n: int) -> list[NoteEvent]:
    starts = np.sort(rng.uniform(0.2, 10, n))
    return [NoteEvent(float(s), float(s + rng.uniform(0.05, 1.0)), int(rng.integers(55, 62))) for s in starts]


def _jitter(rng: np.random.Generator, notes: list[NoteEvent]) -> list[NoteEvent]:
    out = []
    for n in notes:
        if rng.random() < 0.15:
            continue  # a missed note
        d = rng.normal(0, 0.04)
        out.append(NoteEvent(n.start + d, n.end + rng.normal(0, 0.15), n.pitch + int(rng.random() < 0.1)))
    return out + _random_notes(rng, 3)  # and a few false ones


def _mir(ref: list[NoteEvent], est: list[NoteEvent], offsets: bool) -> tuple[float, float, float]:
    def arrays(ns: list[NoteEvent]) -> tuple[np.ndarray, np.ndarray]:
        iv = np.array([(n.start, max(n.end, n.start + 1e-3)) for n in ns]).reshape(-1, 2)
        return iv, pretty_midi.note_number_to_hz(np.array([n.pitch for n in ns], float))

    p, r, f, _ = mir_eval.transcription.precision_recall_f1_overlap(
        *arrays(ref), *arrays(est), onset_tolerance=0.05, offset_ratio=0.2 if offsets else None
    )
    return p, r, f


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("offsets", [False, True])
def test_note_f1_is_mir_evals(seed: int, offsets: bool) -> None:
    rng = np.random.default_rng(seed)
    ref = _random_notes(rng, 40)
    est = [NoteEvent(n.start, max(n.end, n.start + 1e-3), n.pitch) for n in _jitter(rng, ref)]
    ref = [NoteEvent(n.start, max(n.end, n.start + 1e-3), n.pitch) for n in ref]
    ours = note_f1(ref, est, offsets=offsets)
    p, r, f = _mir(ref, est, offsets)
    assert (ours.precision, ours.recall, ours.f1) == pytest.approx((p, r, f), abs=1e-9)


def test_note_f1_edges() -> None:
    a = [NoteEvent(1.0, 2.0, 60)]
    assert note_f1(a, a).f1 == 1.0
    assert note_f1(a, []).f1 == 0.0 and note_f1([], a).f1 == 0.0
    assert note_f1(a, [NoteEvent(1.049, 2.0, 60)]).f1 == 1.0
    assert note_f1(a, [NoteEvent(1.06, 2.0, 60)]).f1 == 0.0
    assert note_f1(a, [NoteEvent(1.0, 2.0, 61)]).f1 == 0.0
    # one reference note matches one estimate only
    assert note_f1(a, [NoteEvent(1.0, 2.0, 60), NoteEvent(1.01, 2.0, 60)]).matched == 1


def test_written_midi_reads_back_with_tempo_and_roles() -> None:
    notes = {
        "melody": [NoteEvent(0.5, 1.0, 72), NoteEvent(1.0, 1.5, 74)],
        "chords": [NoteEvent(0.5, 2.0, 60), NoteEvent(0.5, 2.0, 64)],
        "bass": [NoteEvent(0.5, 2.0, 36)],
    }
    data = midi_bytes(notes, 96.0)
    pm = pretty_midi.PrettyMIDI(io.BytesIO(data))
    assert pm.get_tempo_changes()[1][0] == pytest.approx(96.0)
    assert [(i.name, i.program, i.is_drum) for i in pm.instruments] == [
        ("melody", 0, False),
        ("chords", 0, False),
        ("bass", 33, False),
    ]
    back = notes_of_midi(data, "x.mid")
    for role, ns in notes.items():
        assert [(n.pitch, round(n.start, 3), round(n.end, 3)) for n in back[role]] == [
            (n.pitch, n.start, n.end) for n in ns
        ]


def test_melody_input_is_cut_at_the_duration_and_checked() -> None:
    pm = pretty_midi.PrettyMIDI(initial_tempo=120)
    inst = pretty_midi.Instrument(0)
    inst.notes = [pretty_midi.Note(100, 60, 0.5, 1.0), pretty_midi.Note(100, 62, 2.5, 3.5)]
    drums = pretty_midi.Instrument(0, is_drum=True)
    drums.notes = [pretty_midi.Note(100, 36, 0.0, 0.1)]
    pm.instruments = [inst, drums]
    buf = io.BytesIO()
    pm.write(buf)
    got = melody_notes_of(buf.getvalue(), 3.0, "midi/theme.mid")
    assert [(n.pitch, n.start, n.end) for n in got] == [(60, 0.5, 1.0), (62, 2.5, 3.0)]
    with pytest.raises(InputError, match="theme.mid.*not a standard MIDI file"):
        melody_notes_of(b"RIFF....", 3.0, "midi/theme.mid")
