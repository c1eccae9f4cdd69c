"""Which tracks are fresh, stale (and why) or invalid; reads only track files and the [input] of lock files."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from acegit.engine.registry import ModelRef, resolve_model
from acegit.errors import AcegitError
from acegit.fingerprint import RENDER_FORMAT_VERSION, input_fingerprint, source_fingerprint
from acegit.lockfile import lock_path, read_lock_head
from acegit.project import Project
from acegit.track import TRACK_SUFFIX, check_unique, load_track, track_files

FRESH, STALE, INVALID = "fresh", "stale", "invalid"
# Stale reasons, as documented in docs/cli.md (the `--json` schema lists exactly these strings).
NO_SNAPSHOT = "no snapshot"
SOURCE_CHANGED = "source changed"
MODEL_CHANGED = "model changed"
FORMAT_CHANGED = "render format changed"
STATUS_SCHEMA = 1


@dataclass(frozen=True)
class TrackStatus:
    """One track's state; `reasons` explain "stale", `message` explains "invalid"."""

    name: str
    path: str  # track file, relative to the project root
    state: str
    reasons: tuple[str, ...] = ()
    message: str | None = None
    lock: str | None = None  # lock file, relative to the project root, when it exists
    fingerprint: str | None = None  # the current input fingerprint, when it could be computed


@dataclass(frozen=True)
class ProjectStatus:
    project: str
    root: Path
    tracks: list[TrackStatus] = field(default_factory=list)

    def count(self, state: str) -> int:
        return sum(t.state == state for t in self.tracks)

    def to_json(self) -> dict[str, object]:
        """The documented `acegit status --json` object (schema 1, docs/cli.md)."""
        return {
            "schema": STATUS_SCHEMA,
            "project": self.project,
            "root": str(self.root),
            "summary": {s: self.count(s) for s in (FRESH, STALE, INVALID)},
            "tracks": [
                {
                    "name": t.name,
                    "path": t.path,
                    "state": t.state,
                    "reasons": list(t.reasons),
                    "message": t.message,
                    "lock": t.lock,
                    "fingerprint": t.fingerprint,
                }
                for t in self.tracks
            ],
        }


class _Models:
    """Resolves each model name once per status run (reading one small `sha256` file)."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.cache: dict[str, ModelRef | AcegitError] = {}

    def get(self, name: str) -> ModelRef:
        if name not in self.cache:
            try:
                self.cache[name] = resolve_model(name, self.project.models)
            except AcegitError as e:
                self.cache[name] = e
        found = self.cache[name]
        if isinstance(found, AcegitError):
            raise found
        return found


def track_status(path: Path, project: Project, models: _Models) -> TrackStatus:
    """The state of one track file."""
    shown = project.display(path)
    name = path.name[: -len(TRACK_SUFFIX)]
    lpath = lock_path(path)
    lshown = project.display(lpath)
    has_lock = lpath.is_file()
    lock = lshown if has_lock else None
    try:
        track = load_track(path, project)
        if not has_lock:
            return TrackStatus(name, shown, STALE, (NO_SNAPSHOT,), lock=lock)
        locked_track, locked = read_lock_head(lpath, lshown)
        if locked_track != name:
            raise AcegitError(
                f"{lshown}: snapshot belongs to track {locked_track!r}, not {name!r}",
                hint=f"Delete it and run `acegit render {name}`.",
            )
        model = models.get(track.model)
    except AcegitError as e:
        return TrackStatus(name, shown, INVALID, message=str(e), lock=lock)
    fingerprint = input_fingerprint(track, model)
    if fingerprint == locked.fingerprint:
        return TrackStatus(name, shown, FRESH, lock=lock, fingerprint=fingerprint)
    reasons = []
    if locked.render_format != RENDER_FORMAT_VERSION:
        reasons.append(FORMAT_CHANGED)
    if (locked.model, locked.weights) != (model.name, model.weights_hash):
        reasons.append(MODEL_CHANGED)
    if locked.source != source_fingerprint(track):
        reasons.insert(0, SOURCE_CHANGED)
    if not reasons:  # the fingerprint recipe itself changed without a format bump; be honest rather than silent
        reasons.append(SOURCE_CHANGED)
    return TrackStatus(name, shown, STALE, tuple(reasons), lock=lock, fingerprint=fingerprint)


def project_status(project: Project) -> ProjectStatus:
    """Every track's state, sorted by name."""
    paths = track_files(project.tracks_dir)
    check_unique(paths, project)
    models = _Models(project)
    return ProjectStatus(project.name, project.root, [track_status(p, project, models) for p in paths])
