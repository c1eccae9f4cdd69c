"""Changing a track file's chain of edits (`acegit edit`, the server's edit endpoints): append one, drop one.

The new chain is validated exactly as the file will be read, then written atomically. A flat, hand-written file keeps
its comments and layout (only its `edits` statement is rewritten); anything else is written canonically.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from typing import Any

from acegit.edits import Edit, edit_from_options
from acegit.errors import AcegitError, InputError
from acegit.fsutil import atomic_write_text
from acegit.limits import MAX_TRACK_BYTES, read_capped
from acegit.project import Project
from acegit.tomlfields import loads_toml
from acegit.track import Track, dumps_track, edits_toml, parse_track, track_named


@dataclass(frozen=True)
class EditChange:
    """The track after the change, and the edit added or dropped (numbered from 1, as `acegit edit list` shows)."""

    track: Track
    edit: Edit
    number: int


def _rewrite(text: str, track: Track) -> str:
    """`text` with its `edits` statement replaced by the track's chain, or the canonical file when that is unsafe."""
    from acegit.merge import split_statements

    try:
        stmts, tail = split_statements(text)
    except ValueError:  # [[edits]] sections or other tables: not a flat file of `key = value` lines
        return dumps_track(track)
    chain = edits_toml(track.edits)
    pieces = [s.trivia + (chain if s.key == "edits" else s.body) for s in stmts]
    if all(s.key != "edits" for s in stmts):
        pieces.append(chain)
    out = "".join(pieces) + tail
    try:
        same = tomllib.loads(out).get("edits", []) == [e.table() for e in track.edits]
    except tomllib.TOMLDecodeError:
        same = False
    return out if same else dumps_track(track)


def _write(project: Project, track: Track, data: dict[str, Any], text: str) -> Track:
    if data.get("edits") == []:
        del data["edits"]
    new = parse_track(data, track.name, track.path, project)  # the whole chain, against the track at each edit
    try:
        atomic_write_text(track.path, _rewrite(text, new))
    except OSError as e:
        raise AcegitError(f"cannot write {project.display(track.path)}: {e.strerror}") from None
    return new


def _read(project: Project, name: str) -> tuple[Track, dict[str, Any], str]:
    track = track_named(project, name)  # the file as it stands must be valid first
    shown = project.display(track.path)
    raw = read_capped(track.path, MAX_TRACK_BYTES, shown, "track file")
    return track, loads_toml(raw, shown), raw.decode("utf-8")


def add_edit(project: Project, name: str, kind: str, options: dict[str, Any]) -> EditChange:
    """Append an edit (`options`: its fields, None for not given; a missing seed is drawn and written down)."""
    from acegit.scaffold import draw_seed

    track, data, text = _read(project, name)
    table = edit_from_options(kind, options)
    if table.get("seed") is None:
        table["seed"] = draw_seed()
    data["edits"] = [*data.get("edits", []), table]
    new = _write(project, track, data, text)
    return EditChange(new, new.edits[-1], len(new.edits))


def drop_edit(project: Project, name: str, number: int) -> EditChange:
    """Remove edit `number` (1-based); the edits after it must still fit the track without it."""
    track, data, text = _read(project, name)
    shown = project.display(track.path)
    if not track.edits:
        raise InputError(shown, "has no edits to drop", field="edits")
    if not 1 <= number <= len(track.edits):
        raise InputError(shown, f"has {len(track.edits)} edit(s): N must be 1–{len(track.edits)}, not {number}")
    data["edits"] = [e.table() for i, e in enumerate(track.edits, start=1) if i != number]
    try:
        new = _write(project, track, data, text)
    except InputError as e:
        raise InputError(
            shown, f"dropping edit {number} would leave the chain invalid: {e.message}", hint=e.hint
        ) from None
    return EditChange(new, track.edits[number - 1], number)
