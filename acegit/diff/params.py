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


def param_changes(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[ParamChange]:
    """Fields that differ, in the canonical field order (all fields of an added or removed track)."""
    changes = []
    for f in FIELD_ORDER:
        a = None if old is None else old.get(f)
        b = None if new is None else new.get(f)
        if a == b:
            continue
        words = word_diff(a or "", b or "") if f in ("prompt", "negative_prompt") and old and new else ()
        changes.append(ParamChange(f, a, b, words))
    return changes
