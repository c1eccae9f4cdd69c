"""Edits of a track (`[[edits]]` in its file): repaint a time range, extend, vary — validated, canonical, described.

A track's audio is its base generation followed by its edits, applied in order to the latent (the engine's side is
`acegit/engine/editing.py`). Each edit is checked against the track as it stands at that edit: a repaint's range must
lie inside the duration the edits before it leave, an extend must lengthen it. Times are seconds from the start.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from acegit.limits import MAX_DURATION, MAX_EDITS
from acegit.tomlfields import field_error, fmt_num, number, reject_unknown, text, toml_value, whole

REPAINT, EXTEND, VARY = "repaint", "extend", "vary"
KINDS = (REPAINT, EXTEND, VARY)
# Canonical key order of one [[edits]] table.
KEY_ORDER = ("kind", "start", "end", "to", "seconds", "amount", "strength", "seed", "prompt")
KEYS = {
    REPAINT: ("kind", "start", "end", "strength", "seed", "prompt"),
    EXTEND: ("kind", "to", "seconds", "seed", "prompt"),
    VARY: ("kind", "amount", "seed"),
}
MIN_REPAINT = 0.5  # seconds: five latent frames (built-in), room for the blend at both ends and new music between
MAX_SEED = 2**32 - 1
EXAMPLES = {
    REPAINT: 'kind = "repaint", start = 10.0, end = 15.0, seed = 7',
    EXTEND: 'kind = "extend", to = 40.0, seed = 7',
    VARY: 'kind = "vary", amount = 0.3, seed = 7',
}


@dataclass(frozen=True)
class Edit:
    """One edit as its table sets it (None: not set); `start`/`end`/`to`/`seconds` in seconds."""

    kind: str
    seed: int
    start: float | None = None
    end: float | None = None
    to: float | None = None
    seconds: float | None = None
    amount: float | None = None
    strength: float | None = None
    prompt: str | None = None

    def duration_after(self, duration: float) -> float:
        """The track's length once this edit is applied to a track of `duration` seconds."""
        if self.kind != EXTEND:
            return duration
        return self.to if self.to is not None else duration + (self.seconds or 0.0)

    def table(self) -> dict[str, Any]:
        """The canonical TOML table: set keys only, in KEY_ORDER."""
        return {k: getattr(self, k) for k in KEY_ORDER if getattr(self, k) is not None}

    def describe(self) -> str:
        """In words, as `acegit edit list`, diff and log name it: "repaint 10–15 s (seed 7)"."""
        if self.kind == REPAINT:
            what = f"repaint {fmt_num(self.start or 0.0)}–{fmt_num(self.end or 0.0)} s"
            if self.strength is not None:
                what += f", strength {fmt_num(self.strength)}"
        elif self.kind == EXTEND:
            what = (
                f"extend to {fmt_num(self.to)} s"
                if self.to is not None
                else f"extend by {fmt_num(self.seconds or 0)} s"
            )
        else:
            what = f"vary {fmt_num(self.amount or 0.0)}"
        if self.prompt is not None:
            what += f", prompt {toml_value(self.prompt)}"
        return f"{what} (seed {self.seed})"


def final_duration(duration: float, edits: Sequence[Edit]) -> float:
    """The rendered audio's length in seconds: the base duration, lengthened by any extends."""
    for e in edits:
        duration = e.duration_after(duration)
    return duration


def _bound(shown: str, name: str, value: float, lo: float, hi: float, what: str) -> None:
    if not lo <= value <= hi:
        raise field_error(
            shown, name, f"= {fmt_num(value)} is outside {what} ({fmt_num(lo)}–{fmt_num(round(hi, 3))} s)"
        )


def parse_edit(shown: str, index: int, raw: Any, duration: float, loop: bool) -> Edit:
    """Validate one [[edits]] table (index 1-based, as `acegit edit list` numbers them) for a track of `duration`
    seconds at that edit; raises an InputError naming `edits[N].field`."""
    where = f"edits[{index}]"
    if not isinstance(raw, dict):
        raise field_error(shown, where, f"= {toml_value(raw)} must be a table (e.g. {{ {EXAMPLES[REPAINT]} }})")
    kind = raw.get("kind")
    if kind not in KINDS:
        allowed = ", ".join(f'"{k}"' for k in KINDS)
        raise field_error(shown, f"{where}.kind", f"= {toml_value(kind)} must be one of {allowed}")
    reject_unknown(shown, raw, KEYS[kind], where=f"{where}.")
    if "seed" not in raw:
        raise field_error(shown, f"{where}.seed", f"is missing: add `seed = 1234` (e.g. {{ {EXAMPLES[kind]} }})")
    values: dict[str, Any] = {"kind": kind, "seed": whole(0, MAX_SEED, 1234)(shown, f"{where}.seed", raw["seed"])}
    if "prompt" in raw:
        values["prompt"] = text(True, "solo cello")(shown, f"{where}.prompt", raw["prompt"])
    seconds = number(0.0, MAX_DURATION, 10.0)
    if kind == REPAINT:
        for k in ("start", "end"):
            if k not in raw:
                raise field_error(shown, f"{where}.{k}", f"is missing (e.g. {{ {EXAMPLES[REPAINT]} }})")
            values[k] = seconds(shown, f"{where}.{k}", raw[k])
        _bound(shown, f"{where}.end", values["end"], 0.0, duration, "the track as it stands at this edit")
        if values["end"] - values["start"] < MIN_REPAINT:
            message = f"= {fmt_num(values['end'])} must be at least {MIN_REPAINT:g} s after start = "
            raise field_error(shown, f"{where}.end", message + fmt_num(values["start"]))
        if "strength" in raw:
            values["strength"] = number(0.0, 1.0, 0.7)(shown, f"{where}.strength", raw["strength"])
            if values["strength"] == 0.0:
                raise field_error(shown, f"{where}.strength", "= 0 repaints nothing: use a strength in (0, 1]")
    elif kind == EXTEND:
        if loop:
            hint = "A loop has no end to extend: set loop = false, or repaint bars of the loop instead."
            raise field_error(shown, f"{where}.kind", '= "extend" does not apply to a loop (loop = true)', hint)
        if ("to" in raw) == ("seconds" in raw):
            raise field_error(shown, where, "must set exactly one of `to` (new length) or `seconds` (added length)")
        if "to" in raw:
            values["to"] = seconds(shown, f"{where}.to", raw["to"])
            if values["to"] <= duration:
                message = (
                    f"= {fmt_num(values['to'])} must be longer than the track at this edit ({fmt_num(duration)} s)"
                )
                raise field_error(shown, f"{where}.to", message)
        else:
            values["seconds"] = seconds(shown, f"{where}.seconds", raw["seconds"])
            if values["seconds"] <= 0:
                raise field_error(shown, f"{where}.seconds", "= 0 adds nothing: give the seconds to add")
        after = Edit(**values).duration_after(duration)
        if after > MAX_DURATION:
            field = "to" if "to" in raw else "seconds"
            raise field_error(shown, f"{where}.{field}", f"makes the track {fmt_num(after)} s, over {MAX_DURATION:g} s")
    else:
        if "amount" not in raw:
            raise field_error(shown, f"{where}.amount", f"is missing (e.g. {{ {EXAMPLES[VARY]} }})")
        values["amount"] = number(0.0, 1.0, 0.3)(shown, f"{where}.amount", raw["amount"])
    return Edit(**values)


def parse_edits(shown: str, raw: Any, duration: float, loop: bool) -> tuple[Edit, ...]:
    """The `edits` array of a track file, each edit checked against the track as the edits before it leave it."""
    if not isinstance(raw, list):
        raise field_error(shown, "edits", "must be an array of tables: write each edit as an `[[edits]]` section")
    if len(raw) > MAX_EDITS:
        hint = "Each edit samples again when the track renders; drop some with `acegit edit drop TRACK N`."
        raise field_error(shown, "edits", f"has {len(raw)} edits; at most {MAX_EDITS}", hint)
    out = []
    for i, item in enumerate(raw, start=1):
        edit = parse_edit(shown, i, item, duration, loop)
        duration = edit.duration_after(duration)
        out.append(edit)
    return tuple(out)


def edit_from_options(kind: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """An [[edits]] table from command-line or API options (None: not given), ready for validation."""
    table = {"kind": kind}
    table.update({k: v for k, v in options.items() if k in KEYS.get(kind, ()) and v is not None})
    return table
