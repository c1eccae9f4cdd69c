"""Track files (`tracks/<name>.toml`): validation into a frozen `Track`, and canonical, byte-stable serialisation."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from acegit.edits import Edit, final_duration, parse_edits
from acegit.engine.request import VOCODERS
from acegit.errors import AcegitError, InputError
from acegit.keys import normalize_key
from acegit.tomlfields import (
    Validator,
    boolean,
    field_error,
    fmt_num,
    number,
    one_of,
    read_toml,
    reject_unknown,
    text,
    toml_value,
    whole,
)

if TYPE_CHECKING:
    from acegit.project import Project

TRACK_SUFFIX = ".toml"
LOCK_SUFFIX = ".lock.toml"
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
MAX_NAME_LEN = 64
MAX_SEED = 2**32 - 1
TIME_SIGNATURES = ("2/4", "3/4", "4/4", "6/8")
SAMPLERS = ("euler", "heun", "dpm++2m")  # acegit.engine.sampling.SAMPLERS (tests/test_track.py ties them)
MELODY_SUFFIXES = (".mid", ".midi")

# Canonical field order of a track file; everything except `tags` decides the rendered audio.
FIELD_ORDER = (
    "prompt",
    "negative_prompt",
    "lyrics",
    "seed",
    "duration",
    "bpm",
    "key",
    "time_signature",
    "model",
    "steps",
    "guidance",
    "shift",
    "sampler",
    "vocoder",
    "melody",
    "loop",
    "tags",
    "edits",
)
# Added after the first lock files: unset, they are left out of render_fields, so fingerprints of tracks written
# before these fields existed did not change. Only ace-step models sing lyrics (docs/backends.md).
LATER_FIELDS = ("lyrics", "shift", "edits", "vocoder")
RENDER_FIELDS = tuple(f for f in FIELD_ORDER if f != "tags")
AUDIO_TABLE = "audio"  # a track's [audio] table (midi = true), written after the fields; never a render field
# Fields acegit.toml's [defaults] may set; prompt, seed, melody and tags belong to one track only.
DEFAULTABLE_FIELDS = (
    "negative_prompt",
    "duration",
    "bpm",
    "key",
    "time_signature",
    "model",
    "steps",
    "guidance",
    "sampler",
    "vocoder",
    "loop",
)
# Used when acegit.toml has no [defaults] entry for a field.
BUILTIN_DEFAULTS: dict[str, Any] = {
    "negative_prompt": "",
    "duration": 30.0,
    "bpm": 120.0,
    "key": "C major",
    "time_signature": "4/4",
    "model": "tiny",
    "steps": 20,
    "guidance": 4.0,
    "sampler": "euler",
    "loop": False,
    "melody": None,
    "tags": (),
    "lyrics": None,
    "shift": None,
    "edits": (),
    "vocoder": None,
}


@dataclass(frozen=True)
class Track:
    """One track, fully resolved (project defaults filled in); `explicit` lists the fields its file sets."""

    name: str
    path: Path
    prompt: str
    seed: int
    negative_prompt: str = ""
    duration: float = 30.0
    bpm: float = 120.0
    key: str = "C major"
    time_signature: str = "4/4"
    model: str = "tiny"
    steps: int = 20
    guidance: float = 4.0
    sampler: str = "euler"
    melody: str | None = None  # posix path relative to the project root, as written
    loop: bool = False
    tags: tuple[str, ...] = ()
    lyrics: str | None = None  # ace-step only
    shift: float | None = None  # timestep schedule shift; None = the model's own default
    edits: tuple[Edit, ...] = ()  # applied in order after the base generation (acegit/edits.py)
    vocoder: str | None = None  # "griffin-lim" | "neural" (built-in models); None = the model's own default
    melody_path: Path | None = field(default=None, compare=False)  # absolute, resolved
    midi: bool | None = None  # [audio] midi: write build/<name>.mid too (None: acegit.toml decides); not a render field
    explicit: frozenset[str] = field(default=frozenset({"prompt", "seed"}), compare=False, repr=False)

    @property
    def beats_per_bar(self) -> int:
        """The time signature's numerator: a beat is one BPM tick, as the engine counts beats."""
        return int(self.time_signature.split("/")[0])

    @property
    def length(self) -> float:
        """Seconds of rendered audio: `duration`, lengthened by any extend edits."""
        return final_duration(self.duration, self.edits)

    @property
    def bar_seconds(self) -> float:
        return self.beats_per_bar * 60.0 / self.bpm

    def uneven_loop(self) -> str | None:
        """For a loop whose duration is not a whole number of bars: what the built-in engine makes of it, and the fix.

        The engine renders a loop as whole bars (so its beat and bar phase wrap), at the tempo that fits them into the
        duration; that tempo is not the track's unless the duration holds whole bars (within 1% of a bar).
        """
        if not self.loop:
            return None
        from acegit.engine.request import loop_bars

        bars = self.duration / self.bar_seconds
        whole = loop_bars(self.duration, self.bpm, self.beats_per_bar)
        if abs(bars - whole) <= 0.01:
            return None
        shorter, longer = max(1, math.floor(bars)), math.ceil(bars)
        return (
            f"loop = true but duration = {fmt_num(self.duration)} s holds {bars:.2f} bars at {fmt_num(self.bpm)} "
            f"BPM in {self.time_signature}: the loop renders as {whole} whole bar{'s' * (whole != 1)} at "
            f"{self.bpm * whole / bars:.1f} BPM. For {fmt_num(self.bpm)} BPM, set duration = "
            f"{fmt_num(round(shorter * self.bar_seconds, 3))} or {fmt_num(round(longer * self.bar_seconds, 3))}."
        )

    def render_fields(self) -> dict[str, Any]:
        """The fields that decide the rendered audio, in canonical order, as JSON values (edits as their tables)."""
        out = {
            f: getattr(self, f) for f in RENDER_FIELDS if f not in LATER_FIELDS or getattr(self, f) not in (None, ())
        }
        if "edits" in out:
            out["edits"] = [e.table() for e in self.edits]
        return out


def _key(path: str, name: str, v: Any) -> str:
    if not isinstance(v, str):
        raise field_error(path, name, f'= {toml_value(v)} must be a string (e.g. {name} = "A minor")')
    try:
        return normalize_key(v)
    except ValueError as e:
        raise field_error(path, name, f"= {toml_value(v)} is not a key: {e}") from None


def _tags(path: str, name: str, v: Any) -> tuple[str, ...]:
    if not isinstance(v, list) or not all(isinstance(t, str) for t in v):
        raise field_error(path, name, f'= {toml_value(v)} must be a list of strings (e.g. {name} = ["boss", "loop"])')
    return tuple(v)


def _melody(path: str, name: str, v: Any) -> str:
    if not isinstance(v, str) or not v:
        message = f'= {toml_value(v)} must be a path to a .mid file (e.g. {name} = "midi/theme.mid")'
        raise field_error(path, name, message)
    return v


VALIDATORS: dict[str, Validator] = {
    "prompt": text(True, "calm solo piano"),
    "negative_prompt": text(False, "noise, distortion"),
    "seed": whole(0, MAX_SEED, 1234),
    "duration": number(1.0, 600.0, 30.0),
    "bpm": number(20.0, 300.0, 120.0),
    "key": _key,
    "time_signature": one_of(TIME_SIGNATURES),
    "model": text(True, "tiny"),
    "steps": whole(1, 200, 20),
    "guidance": number(0.0, 20.0, 4.0),
    "sampler": one_of(SAMPLERS),
    "melody": _melody,
    "loop": boolean,
    "tags": _tags,
    "lyrics": text(False, "[verse]\nhello"),
    "shift": number(0.1, 10.0, 3.0),
    "vocoder": one_of(VOCODERS),
}


def _audio_midi(path: str, table: Any) -> bool | None:
    """A track's [audio] table: build artefacts beside its audio (docs/format.md); they never change the render."""
    if table is None:
        return None
    if not isinstance(table, dict):
        raise field_error(path, AUDIO_TABLE, f"= {toml_value(table)} must be a table: [audio] then midi = true")
    reject_unknown(path, table, ("midi",), "audio.")
    return boolean(path, "audio.midi", table["midi"]) if "midi" in table else None


def validate_field(path: str, name: str, value: Any, shown_name: str | None = None) -> Any:
    """Check and normalise one field value (also used for acegit.toml's [defaults], shown as "defaults.bpm")."""
    return VALIDATORS[name](path, shown_name or name, value)


def check_name(name: str, shown: str) -> None:
    """Track names become file names everywhere (locks, audio, exports), so keep them portable."""
    if len(name) > MAX_NAME_LEN or not NAME_RE.match(name):
        safe = re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-_")[:MAX_NAME_LEN] or "track"
        raise InputError(
            shown,
            f"track name {name!r} is not a safe file name: use lowercase letters, digits, '-' and '_', "
            f"starting with a letter or digit, at most {MAX_NAME_LEN} characters (e.g. {safe!r})",
        )


def _resolve_melody(project: Project, shown: str, melody: str) -> Path:
    rel = Path(melody)
    if rel.is_absolute():
        raise field_error(
            shown, "melody", f"= {toml_value(melody)} must be relative to the project root (e.g. midi/theme.mid)"
        )
    root = project.root.resolve()
    target = (root / rel).resolve()
    if not target.is_relative_to(root):
        outside = f"= {toml_value(melody)} points outside the project; keep MIDI files inside it"
        raise field_error(shown, "melody", outside)
    if target.suffix.lower() not in MELODY_SUFFIXES:
        raise field_error(shown, "melody", f"= {toml_value(melody)} is not a MIDI file (.mid or .midi)")
    if not target.is_file():
        raise field_error(shown, "melody", f"= {toml_value(melody)} does not exist (looked for {target})")
    return target


def _check_backend_fields(shown: str, values: Mapping[str, Any], backend: str) -> None:
    """Fields one backend reads and the other cannot honour are errors, never silently ignored."""
    model = toml_value(values["model"])
    if backend != "ace-step":
        if values["lyrics"] is not None:
            hint = 'Remove it, or use a model whose [models.NAME] table has backend = "ace-step".'
            raise field_error(shown, "lyrics", f"are only sung by ace-step models; model = {model} has no voice", hint)
        return
    why = f"model = {model} (ace-step backend)"
    if values["negative_prompt"]:
        hint = "ACE-Step guides against its learned null condition; remove negative_prompt from this track."
        raise field_error(shown, "negative_prompt", f"is not supported by {why}", hint)
    if values["sampler"] != "euler":
        sampler = toml_value(values["sampler"])
        raise field_error(shown, "sampler", f"= {sampler}: {why} samples with Euler only", 'Use sampler = "euler".')
    if values["melody"] is not None:
        raise field_error(shown, "melody", f"is not supported by {why}", "Remove melody from this track.")
    if values["edits"]:
        hint = "Edits render on the built-in models only (docs/edits.md); remove the [[edits]] sections."
        raise field_error(shown, "edits", f"are not supported by {why}", hint)
    if values["vocoder"] is not None:
        hint = "ACE-Step decodes with its own VAE; remove vocoder from this track (or from [defaults])."
        raise field_error(shown, "vocoder", f"is not supported by {why}", hint)


def parse_track(
    data: Mapping[str, Any],
    name: str,
    path: Path,
    project: Project,
    *,
    shown: str | None = None,
    resolve_melody: bool = True,
) -> Track:
    """Validate a track's raw TOML table, filling defaults from the project. `shown` names the file in messages
    (default: its path in the project); a track read from a past revision leaves its melody file unresolved."""
    shown = shown or project.display(path)
    check_name(name, shown)
    reject_unknown(shown, data, (*FIELD_ORDER, AUDIO_TABLE))
    for required, example in (("prompt", '"calm solo piano in A minor"'), ("seed", "1234")):
        if required not in data:
            raise field_error(shown, required, f"is missing: add `{required} = {example}`")
    values: dict[str, Any] = dict(BUILTIN_DEFAULTS)
    values.update(project.defaults)
    for k, v in data.items():
        if k not in ("edits", AUDIO_TABLE):
            values[k] = validate_field(shown, k, v)
    if "edits" in data:  # checked against the track as it stands at each edit: after the fields they edit
        values["edits"] = parse_edits(shown, data["edits"], values["duration"], values["loop"])
    values["midi"] = _audio_midi(shown, data.get(AUDIO_TABLE))
    _check_backend_fields(shown, values, project.model_backends.get(values["model"], "builtin"))
    melody_path = None
    if values["melody"] is not None and resolve_melody:
        melody_path = _resolve_melody(project, shown, values["melody"])
        values["melody"] = Path(values["melody"]).as_posix()
    return Track(name=name, path=path, melody_path=melody_path, explicit=frozenset(data), **values)


def load_track(path: Path, project: Project) -> Track:
    """Read and validate `tracks/<name>.toml`."""
    shown = project.display(path)
    name = path.name[: -len(TRACK_SUFFIX)]
    check_name(name, shown)
    return parse_track(read_toml(path, shown, "track file"), name, path, project)


def dumps_track(track: Track) -> str:
    """Canonical TOML: the fields the file sets, in FIELD_ORDER, normalised; load → dump gives the same bytes."""
    import tomli_w

    out: dict[str, Any] = {}
    for f in FIELD_ORDER:
        if f not in track.explicit:
            continue
        v = getattr(track, f)
        if f == "bpm" and float(v).is_integer():
            v = int(v)  # "bpm = 120" reads better than "bpm = 120.0" and means the same
        elif f == "tags":
            v = list(v)
        elif f == "edits":
            continue  # written last, one inline table per line (below)
        if v is None:
            continue
        out[f] = v
    text = tomli_w.dumps(out)
    if "edits" in track.explicit:
        text += edits_toml(track.edits)
    if track.midi is not None:  # a table: after every key, the edits included
        text += "\n" + tomli_w.dumps({AUDIO_TABLE: {"midi": track.midi}})
    return text


def edits_toml(edits: Iterable[Edit]) -> str:
    """The `edits = [...]` statement, one `{ ... }` line per edit ("" for none).

    Always inline tables (tomli_w would switch to [[edits]] sections for long ones): appending an edit adds one line,
    and the merge driver merges the chain as one key, conflicting when both sides change it differently.
    """
    rows = "".join(f"    {{ {', '.join(f'{k} = {_literal(v)}' for k, v in e.table().items())} }},\n" for e in edits)
    return f"edits = [\n{rows}]\n" if rows else ""


def _literal(value: Any) -> str:
    """One TOML value as tomli_w writes it (strings escaped onto one line)."""
    import tomli_w

    return tomli_w.dumps({"v": value})[len("v = ") : -1]


def track_files(tracks_dir: Path) -> list[Path]:
    """Track files in a folder, sorted by name (lock files excluded)."""
    if not tracks_dir.is_dir():
        return []
    paths = [p for p in tracks_dir.iterdir() if p.name.endswith(TRACK_SUFFIX) and not p.name.endswith(LOCK_SUFFIX)]
    return sorted(paths, key=lambda p: p.name)


def check_unique(paths: Iterable[Path], project: Project) -> None:
    """Two files whose names differ only in case are one track on macOS/Windows checkouts: refuse them."""
    seen: dict[str, Path] = {}
    for p in paths:
        folded = p.name.lower()
        if folded in seen:
            first, second = project.display(seen[folded]), project.display(p)
            raise AcegitError(
                f"{first} and {second}: two tracks with the same name "
                f"{folded[: -len(TRACK_SUFFIX)]!r} (names ignore case); rename or delete one"
            )
        seen[folded] = p


def load_tracks(project: Project, names: Iterable[str] | None = None) -> list[Track]:
    """All tracks of a project (or the named ones), sorted by name; the first invalid one raises."""
    paths = track_files(project.tracks_dir)
    check_unique(paths, project)
    by_name = {p.name[: -len(TRACK_SUFFIX)]: p for p in paths}
    if names is None:
        return [load_track(p, project) for p in paths]
    out = []
    for n in names:
        if n not in by_name:
            import difflib

            close = difflib.get_close_matches(n, list(by_name), n=1)
            hint = f"did you mean {close[0]!r}?" if close else "run `acegit status` to list the tracks"
            raise AcegitError(f"no track named {n!r} in {project.display(project.tracks_dir)}/", hint=hint)
        out.append(load_track(by_name[n], project))
    return out


def track_named(project: Project, name: str) -> Track:
    """One track by name: only its own file is read (the folder is listed only to say what else there is)."""
    path = project.tracks_dir / f"{name}{TRACK_SUFFIX}"
    if not NAME_RE.match(name) or not path.is_file():
        return load_tracks(project, [name])[0]  # says "no track named …" with the closest name
    return load_track(path, project)
