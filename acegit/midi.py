"""Melody MIDI files read within limits: one pass over a Standard MIDI File's bytes, before any MIDI library sees it.

pretty_midi allocates by the file's last tick and by its length in seconds, and a file of a million notes takes it 25 s
and 1 GB; this scan counts tracks, notes, tempo events and ticks in a few milliseconds per 100 kB, so a file past a
limit (acegit/limits.py) is refused with an error that names it, before it is parsed.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from acegit import limits
from acegit.errors import InputError

if TYPE_CHECKING:
    import pretty_midi

_DEFAULT_TEMPO = 500_000  # microseconds per beat (120 BPM) until a tempo event says otherwise
_HINT = "Use a melody exported from a DAW or notation program as a standard MIDI file (docs/format.md, 'Limits')."


@dataclass(frozen=True)
class MidiSummary:
    """What the scan found; `seconds` is an upper bound (the last tick at the slowest tempo in the file)."""

    tracks: int
    notes: int
    tempos: int
    resolution: int  # ticks per beat, or per second for SMPTE time
    last_tick: int
    seconds: float


class _Bad(Exception):
    pass


def _varlen(data: bytes, i: int, end: int) -> tuple[int, int]:
    """A MIDI variable-length quantity (at most 4 bytes) at i -> (value, next index)."""
    value = 0
    for _ in range(4):
        if i >= end:
            raise _Bad("a track ends in the middle of an event")
        b = data[i]
        i += 1
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            return value, i
    raise _Bad("a variable-length number is longer than 4 bytes")


def _scan_track(data: bytes, i: int, end: int, counts: dict[str, int]) -> int:
    """Events of one MTrk chunk; updates note and tempo counts and the slowest tempo; returns the track's last tick."""
    tick, running = 0, 0
    while i < end:
        delta, i = _varlen(data, i, end)
        tick += delta
        if tick > limits.MAX_MIDI_TICKS:
            raise _Bad(f"an event lies past tick {limits.MAX_MIDI_TICKS:,}")
        if i >= end:
            raise _Bad("a track ends in the middle of an event")
        status = data[i]
        if status == 0xFF:  # meta event: type, length, data; cancels running status
            if i + 1 >= end:
                raise _Bad("a track ends in the middle of an event")
            kind = data[i + 1]
            length, i = _varlen(data, i + 2, end)
            if kind == 0x51 and length == 3 and i + 3 <= end:
                counts["tempos"] += 1
                if counts["tempos"] > limits.MAX_MIDI_TEMPOS:
                    raise _Bad(f"more than {limits.MAX_MIDI_TEMPOS:,} tempo events")
                tempo = int.from_bytes(data[i : i + 3], "big")
                counts["slowest"] = max(counts["slowest"], tempo)
            i += length
            running = 0
        elif status in (0xF0, 0xF7):  # system exclusive: length, data
            length, i = _varlen(data, i + 1, end)
            i += length
            running = 0
        else:
            if status & 0x80:
                if status >= 0xF0:
                    raise _Bad(f"an event with status byte 0x{status:02X}, which a MIDI file cannot hold")
                running, i = status, i + 1
            elif not running:
                raise _Bad("a data byte without a status byte")
            size = 1 if (running & 0xF0) in (0xC0, 0xD0) else 2
            if i + size > end:
                raise _Bad("a track ends in the middle of an event")
            if (running & 0xF0) == 0x90 and data[i + 1] > 0:  # note on with a velocity
                counts["notes"] += 1
                if counts["notes"] > limits.MAX_MIDI_NOTES:
                    raise _Bad(f"more than {limits.MAX_MIDI_NOTES:,} notes")
            i += size
    if i > end:
        raise _Bad("an event runs past the end of its track")
    return tick


def scan_midi(data: bytes) -> MidiSummary:
    """Check a Standard MIDI File against the limits; ValueError says what is wrong."""
    try:
        return _scan(data)
    except _Bad as e:
        raise ValueError(str(e)) from None


def _scan(data: bytes) -> MidiSummary:
    if len(data) > limits.MAX_MIDI_BYTES:
        raise _Bad(f"larger than {limits.MAX_MIDI_BYTES // 1024} KiB")
    if data[:4] != b"MThd" or len(data) < 14:
        raise _Bad("not a standard MIDI file (no MThd header)")
    header_len = struct.unpack(">I", data[4:8])[0]
    if header_len < 6 or 8 + header_len > len(data):
        raise _Bad("its header is damaged")
    _, _, division = struct.unpack(">HHH", data[8:14])
    smpte = bool(division & 0x8000)  # SMPTE time: frames per second x ticks per frame
    resolution = (256 - (division >> 8)) * (division & 0xFF) if smpte else division
    if not 0 < resolution <= limits.MAX_MIDI_RESOLUTION:
        raise _Bad(f"its time resolution of {resolution} ticks is outside 1–{limits.MAX_MIDI_RESOLUTION}")
    counts = {"notes": 0, "tempos": 0, "slowest": _DEFAULT_TEMPO}
    tracks, last_tick, i = 0, 0, 8 + header_len
    while i + 8 <= len(data):
        kind, length = data[i : i + 4], struct.unpack(">I", data[i + 4 : i + 8])[0]
        start, end = i + 8, i + 8 + length
        if end > len(data):
            raise _Bad("a chunk runs past the end of the file (truncated?)")
        if kind == b"MTrk":
            tracks += 1
            if tracks > limits.MAX_MIDI_TRACKS:
                raise _Bad(f"more than {limits.MAX_MIDI_TRACKS} tracks")
            last_tick = max(last_tick, _scan_track(data, start, end, counts))
        i = end
    beats_or_seconds = last_tick / resolution
    seconds = beats_or_seconds if smpte else beats_or_seconds * counts["slowest"] / 1e6
    if seconds > limits.MAX_MIDI_SECONDS:
        raise _Bad(f"it lasts up to {seconds:,.0f} s at its slowest tempo (limit {limits.MAX_MIDI_SECONDS:g} s)")
    return MidiSummary(tracks, counts["notes"], counts["tempos"], resolution, last_tick, seconds)


def _checked(data: bytes, shown: str | Path) -> bytes:
    try:
        scan_midi(data)
    except ValueError as e:
        raise InputError(shown, f"MIDI file refused: {e}", hint=_HINT) from None
    return data


def read_midi(path: Path, shown: str | Path | None = None) -> bytes:
    """A melody file's bytes, checked against the limits; InputError names the file and what is wrong."""
    return _checked(limits.read_capped(path, limits.MAX_MIDI_BYTES, shown, "MIDI file"), shown or path)


def parse_midi(data: bytes, shown: str | Path, *, checked: bool = False) -> pretty_midi.PrettyMIDI:
    """MIDI bytes (a file, a Git blob, a cache entry) read by pretty_midi, after the limits (unless `checked`:
    read_midi's bytes); InputError names the file and what is wrong."""
    import io

    import pretty_midi  # lazy: a second of imports

    if not checked:
        _checked(data, shown)
    try:
        return pretty_midi.PrettyMIDI(io.BytesIO(data))
    except Exception as e:  # pretty_midi raises many types for a bad file
        raise InputError(
            shown, f"cannot read MIDI file: {e}", hint="check that the melody is a standard MIDI file"
        ) from e
