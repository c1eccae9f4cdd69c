"""The Git merge driver for track and lock files (`merge.acegit.driver = acegit merge-driver %O %A %B %P`).

Track files merge key by key: a conflict only where both sides changed the same key, marked around that key's lines.
Lock files never merge line by line (that would splice two base64 payloads into a corrupt snapshot): one whole, valid
side is kept, and since its input fingerprint is the old one, `acegit status` shows the merged track as stale.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from acegit.errors import AcegitError, GitError, InputError
from acegit.fsutil import atomic_write_bytes
from acegit.limits import MAX_LOCK_BYTES, MAX_TRACK_BYTES, loads_toml
from acegit.track import LOCK_SUFFIX

if TYPE_CHECKING:
    from acegit.lockfile import Lock

LABELS = ("ours", "base", "theirs")
MARKER = 7  # git's default conflict-marker-size
_ABSENT = object()
_STATEMENT_LINES = 64  # the most lines one `key = value` of a track file may span for a key-by-key merge


@dataclass
class MergeResult:
    """Whether the merge is clean (exit 0) and what to tell the user (stderr)."""

    clean: bool
    messages: list[str] = field(default_factory=list)


def merge_files(base: Path, ours: Path, theirs: Path, path: str) -> MergeResult:
    """Merge `theirs` into `ours` (the driver writes its result into the %A file) for the file at `path`."""
    try:
        if path.endswith(LOCK_SUFFIX):
            return merge_lock(base, ours, theirs, path)
        if path.endswith(".toml"):
            return merge_track(base, ours, theirs, path)
        return _text_merge(base, ours, theirs, path, "not a track or lock file: merged as text")
    except OSError as e:
        raise AcegitError(
            f"merge-driver {path}: cannot read or write {e.filename}: {e.strerror}",
            hint="Git calls this as `acegit merge-driver %O %A %B %P` with three existing files.",
        ) from None


# --- track files -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Statement:
    """One `key = value` of a flat TOML file, with the comment and blank lines above it."""

    key: str
    trivia: str
    body: str


def split_statements(text: str) -> tuple[list[Statement], str]:
    """Top-level statements and the trailing trivia; ValueError for anything but a flat table of keys."""
    lines = text.splitlines(keepends=True)
    stmts: list[Statement] = []
    trivia: list[str] = []
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if not stripped or stripped.startswith("#"):
            trivia.append(lines[i])
            i += 1
            continue
        # The shortest run of lines that parses is one statement (multi-line arrays and strings included); at most
        # _STATEMENT_LINES, so a hostile file costs linear time, not quadratic.
        for j in range(i + 1, min(i + _STATEMENT_LINES, len(lines)) + 1):
            body = "".join(lines[i:j])
            try:
                doc = tomllib.loads(body)
            except (tomllib.TOMLDecodeError, RecursionError):
                continue
            break
        else:
            raise ValueError(f"line {i + 1} does not parse")
        if len(doc) != 1 or isinstance(next(iter(doc.values())), dict):
            raise ValueError(f"line {i + 1} is not a plain `key = value`")
        if not body.endswith("\n"):
            body += "\n"
        stmts.append(Statement(next(iter(doc)), "".join(trivia), body))
        trivia = []
        i = j
    return stmts, "".join(trivia)


def _parse(path: Path) -> tuple[str, dict[str, Any], dict[str, Statement], list[Statement], str]:
    if path.stat().st_size > MAX_TRACK_BYTES:
        raise ValueError(f"larger than {MAX_TRACK_BYTES // 1024} KiB")
    text = path.read_bytes().decode("utf-8")
    stmts, tail = split_statements(text)
    values = loads_toml(text.encode("utf-8"))
    return text, values, {s.key: s for s in stmts}, stmts, tail


def _decide(base: Any, ours: Any, theirs: Any) -> str:
    """Which side a key takes: "ours", "theirs" or "conflict" (both changed it, differently)."""
    if ours == theirs or theirs == base:
        return "ours"
    if ours == base:
        return "theirs"
    return "conflict"


def _conflict_block(ours: Statement | None, base: Statement | None, theirs: Statement | None) -> str:
    def body(s: Statement | None) -> str:
        return s.body if s is not None else ""

    return (
        f"{'<' * MARKER} {LABELS[0]}\n{body(ours)}"
        f"{'|' * MARKER} {LABELS[1]}\n{body(base)}"
        f"{'=' * MARKER}\n{body(theirs)}"
        f"{'>' * MARKER} {LABELS[2]}\n"
    )


def merge_track(base: Path, ours: Path, theirs: Path, shown: str) -> MergeResult:
    """Key-by-key merge of a track file: ours' layout and comments, theirs' lines for the keys only they changed."""
    try:
        o_text, o_vals, o_by, o_stmts, o_tail = _parse(ours)
        _, b_vals, b_by, _, _ = _parse(base)
        _, t_vals, t_by, t_stmts, _ = _parse(theirs)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, ValueError) as e:
        return _text_merge(base, ours, theirs, shown, f"not a flat TOML table ({e}): merged as text")

    keys = list(dict.fromkeys([*o_vals, *t_vals, *b_vals]))
    decision = {k: _decide(b_vals.get(k, _ABSENT), o_vals.get(k, _ABSENT), t_vals.get(k, _ABSENT)) for k in keys}
    conflicts = [k for k in keys if decision[k] == "conflict"]
    merged = {k: (o_vals if decision[k] == "ours" else t_vals).get(k, _ABSENT) for k in keys if k not in conflicts}
    merged = {k: v for k, v in merged.items() if v is not _ABSENT}

    if not conflicts:
        if merged == o_vals:
            return MergeResult(True)  # ours already holds every change (theirs only touched comments, or nothing)
        # Git's line merge keeps both sides' comments; use it whenever it means exactly the key-by-key result.
        text, n = _git_merge(base, ours, theirs)
        if n == 0:
            try:
                if tomllib.loads(text.decode("utf-8")) == merged:
                    atomic_write_bytes(ours, text)
                    return MergeResult(True)
            except (UnicodeDecodeError, tomllib.TOMLDecodeError):
                pass

    pieces: list[tuple[str | None, str]] = []  # (key, text) in ours' order
    for s in o_stmts:
        d = decision[s.key]
        if d == "ours":
            pieces.append((s.key, s.trivia + s.body))
        elif d == "theirs":
            pieces.append((s.key, s.trivia + (t_by[s.key].body if s.key in t_by else "")))
        else:
            pieces.append((s.key, s.trivia + _conflict_block(s, b_by.get(s.key), t_by.get(s.key))))
    # Keys ours lacks but the result needs: after the key that precedes them in theirs' file.
    for idx, s in enumerate(t_stmts):
        if s.key in o_by or decision[s.key] == "ours":
            continue
        text_of = s.trivia + (s.body if decision[s.key] == "theirs" else _conflict_block(None, b_by.get(s.key), s))
        before = [p.key for p in t_stmts[:idx]]
        at = 0
        for n, (key, _) in enumerate(pieces):
            if key in before:
                at = n + 1
        pieces.insert(at, (s.key, text_of))
    atomic_write_bytes(ours, ("".join(t for _, t in pieces) + o_tail).encode("utf-8"))
    if not conflicts:
        return MergeResult(True)
    names = ", ".join(conflicts)
    messages = [
        f"{shown}: both sides changed {names}; kept every other change and marked "
        f"{'this key' if len(conflicts) == 1 else 'these keys'} with <<<<<<< / >>>>>>>.",
        f"Edit {shown} to keep one value, then `git add {shown}`; render the track and commit its lock file.",
    ]
    if "edits" in conflicts:
        messages.insert(1, _edits_conflict(b_vals.get("edits", []), o_vals.get("edits", []), t_vals.get("edits", [])))
    return MergeResult(False, messages)


def _edits_conflict(base: Any, ours: Any, theirs: Any) -> str:
    """Why two edit chains do not merge by themselves: each edit applies to the music the ones before it made."""

    def added(chain: Any) -> int:
        same = isinstance(chain, list) and isinstance(base, list) and chain[: len(base)] == base
        return len(chain) - len(base) if same else -1

    a, b = added(ours), added(theirs)
    both = a > 0 and b > 0
    what = f"ours added {a} edit(s) and theirs {b} to the same chain" if both else "the two chains differ"
    return (
        f"edits: {what}. Each edit applies to the music the edits before it made, so keep one chain (or put one "
        "side's edits after the other's, on purpose) and listen to the render."
    )


# --- lock files ------------------------------------------------------------------------------------------------


def merge_lock(base: Path, ours: Path, theirs: Path, shown: str) -> MergeResult:
    """Keep one whole, valid snapshot (ours unless only theirs is valid); never splice two."""
    from acegit.lockfile import read_lock

    sizes = ours.stat().st_size, theirs.stat().st_size
    if sizes[0] == sizes[1] and sizes[0] <= MAX_LOCK_BYTES and ours.read_bytes() == theirs.read_bytes():
        return MergeResult(True)
    track = Path(shown).name.removesuffix(LOCK_SUFFIX)
    locks: dict[str, Lock | None] = {}
    for side, p in (("ours", ours), ("theirs", theirs)):
        try:
            locks[side] = read_lock(p, f"{shown} ({side})")
        except InputError:
            locks[side] = None
    todo = f"Run `acegit status` after the merge: if {track} is stale, `acegit render {track}` and commit {shown}."
    if locks["ours"] is None and locks["theirs"] is None:
        return MergeResult(
            False,
            [
                f"{shown}: neither side holds a valid snapshot; kept ours as it was.",
                f"Run `acegit render {track} --force` and `git add {shown}`.",
            ],
        )
    if locks["ours"] is None:
        atomic_write_bytes(ours, theirs.read_bytes())  # a valid lock: within MAX_LOCK_BYTES
        return MergeResult(True, [f"{shown}: our snapshot is damaged; kept theirs (valid).", todo])
    same_input = locks["theirs"] is not None and locks["theirs"].input == locks["ours"].input
    if same_input:
        return MergeResult(True)  # the same inputs rendered elsewhere (another device class): either side is right
    return MergeResult(
        True,
        [
            f"{shown}: both sides re-rendered {track}; kept our snapshot whole (lock files never merge line by line).",
            todo,
        ],
    )


# --- anything else ---------------------------------------------------------------------------------------------


def _git_merge(base: Path, ours: Path, theirs: Path) -> tuple[bytes, int]:
    from acegit.gitrepo import merge_file

    return merge_file(base, ours, theirs, LABELS)


def _text_merge(base: Path, ours: Path, theirs: Path, shown: str, why: str) -> MergeResult:
    try:
        text, conflicts = _git_merge(base, ours, theirs)
    except GitError as e:  # e.g. a side that is binary: nothing to merge as text, ours stays as it was
        return MergeResult(False, [f"{shown}: {why}, but git cannot merge it ({e.message}); kept ours as it was."])
    atomic_write_bytes(ours, text)
    if conflicts:
        return MergeResult(False, [f"{shown}: {why}; {conflicts} conflict(s) marked with <<<<<<< / >>>>>>>."])
    return MergeResult(True, [f"{shown}: {why}; no conflicts."])
