"""The parameter side of a diff: which track fields changed, and a word-level diff of the prompts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from acegit.track import FIELD_ORDER


@dataclass(frozen=True)
class ParamChange:
    """One field, old → new; `words` is the word-level diff of text fields: (op, text) with op in ' ', '-', '+'."""

    field: str
    old: Any
    new: Any
    words: tuple[tuple[str, str], ...] = ()


def word_diff(old: str, new: str) -> tuple[tuple[str, str], ...]:
    """Word-level diff: runs of kept (' '), removed ('-') and added ('+') words."""
    import difflib

    a, b = old.split(), new.split()
    out: list[tuple[str, str]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag == "equal":
            out.append((" ", " ".join(a[i1:i2])))
            continue
        if i2 > i1:
            out.append(("-", " ".join(a[i1:i2])))
        if j2 > j1:
            out.append(("+", " ".join(b[j1:j2])))
    return tuple(out)


def list_diff(old: list[str], new: list[str]) -> tuple[tuple[str, str], ...]:
    """Item-level diff of two lists (an edit chain): kept (' '), removed ('-') and added ('+') items."""
    import difflib

    out: list[tuple[str, str]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if tag == "equal":
            out.extend((" ", x) for x in old[i1:i2])
            continue
        out.extend(("-", x) for x in old[i1:i2])
        out.extend(("+", x) for x in new[j1:j2])
    return tuple(out)


def param_changes(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[ParamChange]:
    """Fields that differ, in the canonical field order (all fields of an added or removed track); edits are named
    in words ("repaint 10–15 s (seed 7)"), added and dropped ones marked."""
    changes = []
    for f in FIELD_ORDER:
        a = None if old is None else old.get(f)
        b = None if new is None else new.get(f)
        if a == b:
            continue
        if f == "edits":
            a_words, b_words = [e.describe() for e in a or ()], [e.describe() for e in b or ()]
            changes.append(ParamChange(f, a_words, b_words, list_diff(a_words, b_words) if old and new else ()))
            continue
        words = word_diff(a or "", b or "") if f in ("prompt", "negative_prompt") and old and new else ()
        changes.append(ParamChange(f, a, b, words))
    return changes
