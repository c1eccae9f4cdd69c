"""`acegit show REV:TRACK`: a past version of a track, summarised from its snapshot and decoded when asked."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from acegit.diff.sides import Side, Version, open_repo
from acegit.errors import AcegitError, UsageError
from acegit.project import Project
from acegit.snapshots import Snapshots

if TYPE_CHECKING:
    import numpy as np

    from acegit.transcribe import Adherence


@dataclass(frozen=True)
class Shown:
    """What `acegit show` produced: the snapshot's summary and the files written."""

    version: Version
    summary: str
    written: list[str]
    adherence: Adherence | None = None  # with --midi, for a track with a melody input


def split_spec(spec: str) -> tuple[str, str]:
    """ "HEAD~2:boss" -> ("HEAD~2", "boss"); a bare track name means the working tree's version (rev "")."""
    rev, sep, name = spec.rpartition(":")
    if not sep:
        return "", spec
    if not name:
        raise UsageError(f"{spec!r} names no track: write REV:TRACK, e.g. HEAD~1:boss")
    return rev or "HEAD", name


def decode_version(
    project: Project,
    spec: str,
    output: Path | None = None,
    png: Path | None = None,
    *,
    midi: Path | None = None,
    device: str = "cpu",
) -> Shown:
    """Read a track's snapshot at REV (REV:TRACK); write its decoded audio, spectrogram and/or notes when asked."""
    from acegit.textconv import summarize

    rev, name = split_spec(spec)
    side = Side(project, open_repo(project) if rev else None, rev or None)
    v = side.version(name)
    where = f"at {rev}" if rev else "in the working tree"
    if v.lock is None:
        if v.problem:
            raise AcegitError(v.problem)
        what = "no snapshot" if v.params is not None else "no track"
        raise AcegitError(
            f"{what} named {name!r} {where}",
            hint="See a track's commits with `acegit log TRACK`; a snapshot exists once it is rendered and committed.",
        )
    written = []
    adherence = None
    if output is not None or png is not None or midi is not None:
        from acegit.fsutil import atomic_write_bytes
        from acegit.render import write_audio
        from acegit.report import spectrogram_png

        audio = Snapshots(project, device).audio(v.lock, v.label, loop=v.loop)
        wave, sr = audio.wave, audio.sample_rate
        if output is not None:
            write_audio(output, wave, sr)
            written.append(str(output))
        if png is not None:
            atomic_write_bytes(png, spectrogram_png(wave, sr))
            written.append(str(png))
        if midi is not None:
            adherence = _write_notes(project, side, v, wave, sr, midi)
            written.append(str(midi))
    return Shown(v, summarize(v.lock), written, adherence)


def _write_notes(project: Project, side: Side, v: Version, wave: np.ndarray, sr: int, out: Path) -> Adherence | None:
    """Write the snapshot's notes as a .mid; for a track with a melody input, score the melody against it."""
    from acegit.fsutil import atomic_write_bytes
    from acegit.transcribe import adherence, melody_notes_of, render_notes

    assert v.lock is not None
    params = v.params or {}
    notes = render_notes(project, v.lock, wave, sr, float(params.get("bpm", 120.0)))
    atomic_write_bytes(out, notes.midi)
    melody = params.get("melody")
    if not melody:
        return None
    data = side.read(melody)  # the melody file of that revision, read as the track was rendered with it
    if data is None:
        raise AcegitError(
            f"{out} was written, but {v.name}'s melody input {side.shown(melody)} does not exist: not compared",
            hint="Commit the melody file with the track, or compare at a revision that has it.",
        )
    duration = float(params.get("duration", len(wave) / sr))
    return adherence(notes.notes, melody_notes_of(data, duration, side.shown(melody)), melody)
