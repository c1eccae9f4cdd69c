"""Reading TOML files and validating their fields: the one place acegit.toml, track files and export profiles are
read, and the checks and messages they share ("tracks/boss.toml: bpm = 900 is out of range 20–300")."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from acegit import limits
from acegit.errors import InputError

Validator = Callable[[str, str, Any], Any]  # (file as shown, field as shown, value) -> the normalised value


def toml_value(value: Any) -> str:
    """A value as TOML would show it, for error messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "{...}"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return repr(value)


def fmt_num(x: float) -> str:
    """A number as a person writes it: 120, not 120.0."""
    return str(int(x)) if float(x).is_integer() else repr(x)


def field_error(path: str, name: str, message: str, hint: str | None = None) -> InputError:
    """An InputError whose text reads "tracks/boss.toml: bpm = 900 is out of range 20–300"."""
    return InputError(path, f"{name} {message}", field=name, hint=hint)


def loads_toml(raw: bytes, shown: str) -> dict[str, Any]:
    """Parse TOML bytes (a file, or a Git blob) within the untrusted-content limits (acegit/limits.py); a syntax
    error names the file, the line and the column."""
    if len(raw) > limits.MAX_TRACK_BYTES:
        raise InputError(
            shown,
            f"is larger than acegit's limit of {limits.MAX_TRACK_BYTES // 1024} KiB for a track or project file",
            hint="A file this large is not one acegit wrote; check where it came from (docs/format.md, 'Limits').",
        )
    try:
        return limits.loads_toml(raw)
    except ValueError as e:
        syntax = str(e).startswith("invalid TOML")
        raise InputError(shown, str(e), hint="Fix the syntax at that line and column." if syntax else None) from None


def read_toml(path: Path, shown: str, what: str = "file") -> dict[str, Any]:
    """Read and parse a TOML file (refused unread past the size limit)."""
    if not path.exists():
        raise InputError(shown, f"{what} not found")
    return loads_toml(limits.read_capped(path, limits.MAX_TRACK_BYTES, shown, what), shown)


def table(shown: str, data: Mapping[str, Any], key: str) -> dict[str, Any]:
    """A `[key]` section (empty when absent); anything else under that key is an error."""
    v = data.get(key, {})
    if not isinstance(v, dict):
        raise InputError(shown, f"[{key}] must be a table (write it as a `[{key}]` section)", field=key)
    return v


# Words people reach for that spelling similarity would not find ("tempo" is closer to "steps" than to "bpm").
SYNONYMS = {
    "tempo": "bpm",
    "length": "duration",
    "seconds": "duration",
    "scale": "key",
    "meter": "time_signature",
    "time": "time_signature",
    "cfg": "guidance",
    "negative": "negative_prompt",
    "midi": "melody",
    "looping": "loop",
    "text": "prompt",
    "description": "prompt",
}


def reject_unknown(path: str, data: Mapping[str, Any], allowed: Iterable[str], where: str = "") -> None:
    """Raise for the first key not in `allowed`, suggesting the closest allowed one (or its synonym)."""
    allowed = list(allowed)
    for k in data:
        if k not in allowed:
            import difflib  # only on the error path: keeps `acegit status` startup lean

            alias = SYNONYMS.get(k.lower())
            close = [alias] if alias in allowed else difflib.get_close_matches(k, allowed, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else f"allowed keys: {', '.join(allowed)}"
            raise field_error(path, f"{where}{k}", f"is not a known key: {hint}")


# --- validators: (path, name, value) -> value ------------------------------------------------------------------


def whole(lo: int, hi: int, example: int) -> Validator:
    def check(path: str, name: str, v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise field_error(path, name, f"= {toml_value(v)} must be a whole number (e.g. {name} = {example})")
        if not lo <= v <= hi:
            raise field_error(path, name, f"= {v} is out of range {lo}–{hi}")
        return v

    return check


def number(lo: float, hi: float, example: float) -> Validator:
    def check(path: str, name: str, v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise field_error(path, name, f"= {toml_value(v)} must be a number (e.g. {name} = {fmt_num(example)})")
        if not math.isfinite(v) or not lo <= v <= hi:
            raise field_error(path, name, f"= {fmt_num(v)} is out of range {fmt_num(lo)}–{fmt_num(hi)}")
        return float(v)

    return check


def text(nonempty: bool, example: str) -> Validator:
    def check(path: str, name: str, v: Any) -> str:
        if not isinstance(v, str):
            raise field_error(path, name, f"= {toml_value(v)} must be a string (e.g. {name} = {json.dumps(example)})")
        if nonempty and not v.strip():
            what = f"write what the music should sound like (e.g. {name} = {json.dumps(example)})"
            raise field_error(path, name, f"is empty: {what}")
        return v

    return check


def one_of(options: tuple[str, ...]) -> Validator:
    def check(path: str, name: str, v: Any) -> str:
        allowed = ", ".join(json.dumps(o) for o in options)
        if not isinstance(v, str) or v not in options:
            raise field_error(path, name, f"= {toml_value(v)} is not one of {allowed}")
        return v

    return check


def boolean(path: str, name: str, v: Any) -> bool:
    if not isinstance(v, bool):
        raise field_error(path, name, f"= {toml_value(v)} must be true or false")
    return v
