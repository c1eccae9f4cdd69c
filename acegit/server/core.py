"""Every call the server makes into acegit's core, in one module, so the routers stay thin and re-pointing them
after a core refactor touches one file. Functions here return JSON-ready data; they never touch HTTP.

Nothing here writes to Git; the only files written are those the CLI writes (track TOML, lock, audio, render cache)
and the server's own scratch under `.acegit/` (sketches, decoded audio, received melodies).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import json
import re
import secrets
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from acegit.engine.registry import ModelRef
from acegit.errors import AcegitError, InputError
from acegit.fsutil import atomic_write_bytes, atomic_write_text
from acegit.lockfile import lock_path
from acegit.midi import scan_midi
from acegit.project import Project
from acegit.render import RenderProgress, render_json, render_tracks, sample_track, select_tracks
from acegit.server.limits import MAX_MELODY, MAX_NAMES, MAX_SKETCH
from acegit.server.wire import environment_to_json, pack_array
from acegit.snapshots import Models, Snapshots
from acegit.status import project_status
from acegit.tomlfields import loads_toml, read_toml
from acegit.track import (
    BUILTIN_DEFAULTS,
    FIELD_ORDER,
    LATER_FIELDS,
    MAX_SEED,
    TRACK_SUFFIX,
    check_name,
    dumps_track,
    load_track,
    parse_track,
    track_files,
)

if TYPE_CHECKING:
    from acegit.engine.backend import Backend

SCRATCH = Path(".acegit") / "serve"  # decoded audio, received melodies: removed when the server starts
SKETCHES = Path(".acegit") / "sketch"  # sketch candidates, kept until the next sketch of the same track
INLINE_TRACK = "remote"  # the name an inline render's track is validated under


class NotFound(AcegitError):
    """No such track, revision, job or sketch (HTTP 404)."""


class Conflict(AcegitError):
    """The request is valid but cannot apply now: other weights, a track edited since its sketch (HTTP 409)."""


class WarmEngines(Models):
    """The server's models: each loaded once per (name, weights hash) and kept for the life of the process.

    Model names are resolved again for every job (`refresh`), so replaced weights are noticed, never served stale.
    """

    def __init__(self, project: Project, device: str) -> None:
        super().__init__(project, device)
        self.loaded: dict[tuple[str, str], Backend] = {}

    def refresh(self) -> None:
        self._refs.clear()

    def engine(self, name: str) -> Backend:
        from acegit.engine.backend import load_engine

        ref = self.ref(name)
        key = (ref.name, ref.weights_hash)
        if key not in self.loaded:
            self.loaded[key] = load_engine(ref, self.device)
        return self.loaded[key]

    def decoding_engine(self, name: str) -> Backend:
        return self.engine(name)  # the warm engines decode too: one engine per model in the server


def make_snapshots(project: Project, engines: WarmEngines) -> Snapshots:
    """The audio of snapshots (audio, diff), decoded with the render worker's loaded models."""
    return Snapshots(project, engines.device, models=engines)


def clean_scratch(project: Project) -> None:
    shutil.rmtree(project.root / SCRATCH, ignore_errors=True)


def _field_error(err: InputError, name: str) -> InputError:
    if err.field is None:
        err.field = name
    return err


def track_file(project: Project, name: str, *, must_exist: bool = True) -> Path:
    """`tracks/<name>.toml`, the name checked as the CLI checks it (so no name can leave the tracks folder)."""
    path = project.tracks_dir / f"{name}{TRACK_SUFFIX}"
    try:
        check_name(name, project.display(path))
    except InputError as e:
        raise _field_error(e, "name") from None
    if must_exist and not path.is_file():
        raise NotFound(f"no track named {name!r} in {project.display(project.tracks_dir)}/")
    return path


# --- project and tracks ----------------------------------------------------------------------------------------


def status_json(project: Project) -> dict[str, Any]:
    """What `acegit status --json` prints."""
    return project_status(project).to_json()


def models_json(project: Project) -> dict[str, Any]:
    """The models a track can name here (installed built-ins and acegit.toml's [models.*]), each with the steps and
    sampler a step-distilled one renders with (null: any), and the project's default model. Loads nothing."""
    from acegit.engine.registry import DISTILLED_SAMPLER, distilled_steps, installed_models

    models = []
    for name in installed_models(project.models):
        steps = distilled_steps(name, project.models)
        models.append({"name": name, "steps": steps or None, "sampler": DISTILLED_SAMPLER if steps else None})
    default = project.defaults.get("model", BUILTIN_DEFAULTS["model"])
    return {"default": default, "models": models}


def track_json(project: Project, name: str) -> dict[str, Any]:
    """A track: the fields its file sets, as written, and every render field resolved with the project defaults."""
    path = track_file(project, name)
    track = load_track(path, project)
    shown = project.display(path)
    resolved = {f: getattr(track, f) for f in FIELD_ORDER}
    resolved["tags"] = list(track.tags)
    resolved["edits"] = [{**e.table(), "description": e.describe()} for e in track.edits]
    resolved["length"] = track.length
    lock = lock_path(path)
    return {
        "name": name,
        "path": shown,
        "fields": read_toml(path, shown, "track file"),
        "resolved": resolved,
        "lock": project.display(lock) if lock.is_file() else None,
        "toml": path.read_text(encoding="utf-8"),
    }


def add_edit(project: Project, name: str, kind: str, options: dict[str, Any]) -> dict[str, Any]:
    """Append an edit to the track's chain (validated as the track file will be read); the track and the edit."""
    from acegit.edits import KEYS, KINDS
    from acegit.trackedits import add_edit as append

    track_file(project, name)
    if kind not in KINDS:
        raise InputError("request", f"kind {kind!r} is not one of {', '.join(KINDS)}", field="kind")
    extra = sorted(k for k, v in options.items() if v is not None and k not in KEYS[kind])
    if extra:
        raise InputError("request", f"a {kind} edit takes no {', '.join(extra)}", field=extra[0])
    change = append(project, name, kind, options)
    return {"track": track_json(project, name), "number": change.number, "edit": change.edit.table()}


def drop_edit(project: Project, name: str, number: int) -> dict[str, Any]:
    """Remove edit `number` (1-based) from the track's chain; the track and the edit removed."""
    from acegit.trackedits import drop_edit as drop

    track_file(project, name)
    change = drop(project, name, number)
    return {"track": track_json(project, name), "number": number, "edit": change.edit.table()}


def write_track(project: Project, name: str, fields: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Validate `fields` exactly as a track file is validated, write it as canonical TOML; (track, created)."""
    path = track_file(project, name, must_exist=False)
    for existing in track_files(project.tracks_dir):  # names are lowercase; this catches a stray Boss.toml
        if existing.name.lower() == path.name.lower() and existing.name != path.name:
            raise Conflict(f"{project.display(existing)} already exists under another case")
    track = parse_track(fields, name, path, project)
    created = not path.exists()
    atomic_write_text(path, dumps_track(track))
    return track_json(project, name), created


# --- rendering -------------------------------------------------------------------------------------------------


def check_render_names(project: Project, names: Sequence[str]) -> None:
    """Reject bad names before a job is queued: each a valid, existing track."""
    if len(names) > MAX_NAMES:
        raise InputError("request", f"names {len(names)} tracks; at most {MAX_NAMES} per job", field="tracks")
    for n in names:
        track_file(project, n)


def render_named(
    project: Project, engines: WarmEngines, names: Sequence[str], force: bool, use_cache: bool, progress: RenderProgress
) -> dict[str, Any]:
    """`acegit render [NAMES] [--force] [--no-cache] --json`, in the server's project, with its warm models."""
    engines.refresh()
    start = time.perf_counter()
    statuses = select_tracks(project, names)
    outcomes = render_tracks(project, statuses, force=force, use_cache=use_cache, models=engines, progress=progress)
    return render_json(outcomes, time.perf_counter() - start)


def model_json(engines: WarmEngines, name: str, weights: str | None) -> dict[str, Any]:
    """A model this server renders with: weights hash, sample rate and the environment its locks record.

    With `weights`, a server without exactly those weights refuses (Conflict naming the model and both hashes).
    """
    engines.refresh()
    try:
        ref = engines.ref(name)
    except AcegitError as e:
        raise NotFound(f"model {name!r} is not available on this server: {e.message}") from None
    _same_weights(ref, weights)
    engine = engines.engine(name)
    return {
        "name": ref.name,
        "backend": ref.backend,
        "weights": ref.weights_hash,
        "sample_rate": engine.sample_rate,
        "device": engine.device.type,
        "environment": environment_to_json(engines.environment(name)),
    }


def _same_weights(ref: ModelRef, weights: str | None) -> None:
    if weights is not None and weights != ref.weights_hash:
        raise Conflict(
            f"model {ref.name!r}: this server has weights {ref.weights_hash}, the request was made for {weights}",
            hint="Render with the same weights on both machines (the lock pins them), or render locally.",
        )


# The GenerationRequest fields an inline render sends (acegit/engine/request.py), and the track fields they are.
INLINE_FIELDS = tuple(f for f in FIELD_ORDER if f not in ("model", "melody", "tags"))


def inline_track(project: Project, engines: WarmEngines, body: dict[str, Any]) -> Any:
    """An inline render's inputs as a Track of this server's project, validated exactly as a track file is."""
    engines.refresh()
    model, weights, fields = body["model"], body["weights"], dict(body["request"])
    try:
        ref = engines.ref(model)
    except AcegitError as e:
        raise NotFound(f"model {model!r} is not available on this server: {e.message}") from None
    _same_weights(ref, weights)
    for f in LATER_FIELDS:  # unset on the client: leave them unset here too
        if fields.get(f) in (None, "", []):
            fields.pop(f, None)
    fields["model"] = model
    melody = body.get("melody")
    if melody is not None:
        try:
            data = base64.b64decode(melody, validate=True)
        except (binascii.Error, ValueError):
            raise InputError("request", "is not valid base64", field="melody") from None
        if len(data) > MAX_MELODY:
            raise InputError("request", f"is {len(data)} bytes; at most {MAX_MELODY}", field="melody")
        try:
            scan_midi(data)  # the same limits as a melody file in the project, before it is stored
        except ValueError as e:
            raise InputError("request", f"is refused as a MIDI file: {e}", field="melody") from None
        rel = SCRATCH / "melody" / f"{hashlib.sha256(data).hexdigest()}.mid"
        atomic_write_bytes(project.root / rel, data)
        fields["melody"] = rel.as_posix()
    path = project.root / SCRATCH / "inline" / f"{INLINE_TRACK}{TRACK_SUFFIX}"
    return parse_track(fields, INLINE_TRACK, path, project)


def render_inline(engines: WarmEngines, track: Any, progress: RenderProgress) -> dict[str, Any]:
    """Sample and decode one validated inline track: the final latent, the audio and the environment."""
    start = time.perf_counter()
    engine = engines.engine(track.model)
    latent, wave = sample_track(engines, track, progress)
    return {
        "latent": pack_array(latent),
        "audio": {**pack_array(wave), "sample_rate": engine.sample_rate},
        "environment": environment_to_json(engines.environment(track.model)),
        "seconds": round(time.perf_counter() - start, 3),
    }


# --- sketch and keep -------------------------------------------------------------------------------------------

_SKETCH_ID = re.compile(r"^[0-9a-f]{12}$")


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _candidate(project: Project, folder: Path) -> Project:
    """The project as seen by one candidate: its own tracks and build folders in the scratch area, the rest shared
    (root, melody files, models, render cache, render lock)."""
    return dataclasses.replace(project, tracks_dir=folder / "tracks", build_dir=folder / "build")


def start_sketch(project: Project, name: str, count: int, seeds: Sequence[int] | None) -> dict[str, Any]:
    """Check a sketch request and choose its seeds (different from the track's own and from each other)."""
    path = track_file(project, name)
    track = load_track(path, project)
    if seeds:
        chosen = list(dict.fromkeys(seeds))
    else:
        from acegit.scaffold import draw_seed

        chosen = []
        while len(chosen) < count:
            s = draw_seed()
            if s != track.seed and s not in chosen:
                chosen.append(s)
    if not 1 <= len(chosen) <= MAX_SKETCH:
        raise InputError("request", f"asks for {len(chosen)} candidates; 1 to {MAX_SKETCH}", field="count")
    for s in chosen:
        if isinstance(s, bool) or not 0 <= s <= MAX_SEED:
            raise InputError("request", f"seed {s} is out of range 0–{MAX_SEED}", field="seeds")
    return {"track": name, "id": secrets.token_hex(6), "seeds": chosen, "source_sha256": _digest(path.read_bytes())}


def render_sketch(
    project: Project, engines: WarmEngines, plan: dict[str, Any], progress: RenderProgress
) -> dict[str, Any]:
    """Render each candidate as `acegit render` would render the track with that seed, into the scratch area."""
    engines.refresh()
    name = plan["track"]
    source = track_file(project, name).read_bytes()
    if _digest(source) != plan["source_sha256"]:
        raise Conflict(f"{name} changed since the sketch was asked for; ask again")
    top = project.root / SKETCHES / name
    shutil.rmtree(top, ignore_errors=True)  # one sketch per track at a time: the scratch area stays bounded
    folder = top / plan["id"]
    candidates = []
    for seed in plan["seeds"]:
        scratch = _candidate(project, folder / str(seed))
        data = loads_toml(source, project.display(track_file(project, name)))
        data["seed"] = seed
        path = scratch.tracks_dir / f"{name}{TRACK_SUFFIX}"
        atomic_write_text(path, dumps_track(parse_track(data, name, path, scratch)))
        outcome = render_tracks(
            scratch, project_status(scratch, use_cache=False).tracks, force=True, models=engines, progress=progress
        )[0]
        candidates.append(
            {
                "seed": seed,
                "result": outcome.action,
                "audio": outcome.audio,
                "lock": outcome.lock,
                "fingerprint": outcome.fingerprint,
            }
        )
    atomic_write_text(folder / "sketch.json", json.dumps(plan, indent=2))
    return {"track": name, "sketch": plan["id"], "candidates": candidates}


def keep_candidate(project: Project, name: str, sketch_id: str, seed: int) -> dict[str, Any]:
    """Make a candidate the track: its track file, audio and lock, the bytes the scratch render wrote.

    The track file goes first and the lock last, so an interrupted keep leaves a stale track, never a falsely
    fresh one. Refused when the track was edited after the sketch (it would undo the edit).
    """
    from acegit.render import _project_lock, audio_path  # the CLI's render lock: a concurrent render must wait

    path = track_file(project, name)
    if not _SKETCH_ID.match(sketch_id):
        raise InputError("request", f"{sketch_id!r} is not a sketch id", field="sketch")
    folder = project.root / SKETCHES / name / sketch_id
    try:
        plan = json.loads((folder / "sketch.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise NotFound(f"no sketch {sketch_id} of track {name!r} (only the latest sketch of a track is kept)") from None
    if seed not in plan["seeds"]:
        raise InputError("request", f"seed {seed} is not a candidate of sketch {sketch_id}", field="seed")
    scratch = _candidate(project, folder / str(seed))
    files = [
        (scratch.tracks_dir / f"{name}{TRACK_SUFFIX}", path),
        (audio_path(scratch, name), audio_path(project, name)),
        (lock_path(scratch.tracks_dir / f"{name}{TRACK_SUFFIX}"), lock_path(path)),
    ]
    flock = _project_lock(project)
    try:
        if _digest(path.read_bytes()) != plan["source_sha256"]:
            raise Conflict(
                f"{project.display(path)} changed since sketch {sketch_id}; keeping a candidate would undo it"
            )
        for src, dst in files:
            atomic_write_bytes(dst, src.read_bytes())
    finally:
        flock.release()
    return {"track": name, "seed": seed, "files": [project.display(dst) for _, dst in files]}


# --- history, diff, audio --------------------------------------------------------------------------------------


def log_json(project: Project, name: str, rev: str, limit: int | None) -> dict[str, Any]:
    """What `acegit log TRACK --json` prints."""
    from acegit.log import track_log

    track_file(project, name, must_exist=False)
    return track_log(project, name, rev, limit).to_json()


def diff_json(
    project: Project, snapshots: Snapshots, a: str | None, b: str | None, names: Sequence[str], audio: bool
) -> dict[str, Any]:
    """What `acegit diff [A [B]] [NAMES] --json` prints (`audio=False`: as with --no-audio)."""
    from acegit.diff import diff_tracks

    for n in names:
        track_file(project, n, must_exist=False)
    return diff_tracks(project, a, b, names, audio=audio, snapshots=snapshots).to_json()


def snapshot_of(project: Project, name: str, rev: str | None) -> Any:
    """The snapshot (Version) of a track in the working tree (rev None) or at a revision, as `acegit show` reads it."""
    from acegit.diff.sides import Side, open_repo

    track_file(project, name, must_exist=False)
    v = Side(project, open_repo(project) if rev else None, rev or None).version(name)
    if v.lock is None:
        where = f"at {rev}" if rev else "in the working tree"
        raise NotFound(v.problem or f"no snapshot of a track named {name!r} {where}")
    return v


def decode_snapshot(snapshots: Snapshots, version: Any) -> tuple[Any, int]:
    """The audio of a snapshot (render cache, else decoded); runs on the render worker."""
    audio = snapshots.audio(version.lock, version.label, version.loop)
    return audio.wave, audio.sample_rate


def audio_file(project: Project, version: Any, wave: Any, sample_rate: int, fmt: str) -> Path:
    """The snapshot's audio as a file in the scratch area (so the HTTP layer can serve byte ranges of it)."""
    from acegit.render import audio_bytes

    key = _digest(f"{version.lock.latent.sha256}:{version.lock.input.weights}:{version.label}:{fmt}".encode())
    path = project.root / SCRATCH / "audio" / f"{key}.{fmt}"
    if not path.is_file():
        atomic_write_bytes(path, audio_bytes(wave, sample_rate, fmt))
    return path


def midi_file(project: Project, version: Any, wave: Any, sample_rate: int) -> bytes:
    """The snapshot's notes as a .mid (what `acegit show --midi` writes): the render cache's copy, else transcribed."""
    from acegit.transcribe import render_notes

    bpm = float((version.params or {}).get("bpm", 120.0))
    return render_notes(project, version.lock, wave, sample_rate, bpm).midi


def spectrogram(wave: Any, sample_rate: int) -> bytes:
    from acegit.report import spectrogram_png

    return spectrogram_png(wave, sample_rate)


def peaks(wave: Any, sample_rate: int, bins: int) -> dict[str, Any]:
    """The waveform a player draws: the lowest and highest sample of each of `bins` equal slices of the audio."""
    import numpy as np

    data = np.asarray(wave, dtype=np.float32).reshape(-1)
    bins = max(1, min(bins, len(data)))
    edges = np.linspace(0, len(data), bins + 1).astype(np.int64)
    lo = np.minimum.reduceat(data, edges[:-1]) if len(data) else np.zeros(0, np.float32)
    hi = np.maximum.reduceat(data, edges[:-1]) if len(data) else np.zeros(0, np.float32)
    return {
        "sample_rate": sample_rate,
        "duration": round(len(data) / sample_rate, 6),
        "min": [round(float(x), 4) for x in lo],
        "max": [round(float(x), 4) for x in hi],
    }


def candidate_audio(project: Project, name: str, sketch_id: str, seed: int) -> Path:
    """The rendered audio of one sketch candidate (to audition before keeping it)."""
    from acegit.render import audio_path

    track_file(project, name)
    if not _SKETCH_ID.match(sketch_id):
        raise InputError("request", f"{sketch_id!r} is not a sketch id", field="sketch")
    folder = project.root / SKETCHES / name / sketch_id
    path = audio_path(_candidate(project, folder / str(seed)), name)
    if not (folder / "sketch.json").is_file() or not path.is_file():
        raise NotFound(f"no candidate with seed {seed} in sketch {sketch_id} of track {name!r}")
    return path
