"""Which tracks are fresh, stale (and why) or invalid; reads only track files and the [input] of lock files."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from acegit import __version__
from acegit.engine.registry import BUILTIN_MODELS, ModelRef
from acegit.errors import AcegitError
from acegit.fingerprint import RENDER_FORMAT_VERSION, input_fingerprint_of, source_fingerprint
from acegit.fsutil import atomic_write_text
from acegit.lockfile import LockInput, read_lock_head
from acegit.project import Project
from acegit.snapshots import Models
from acegit.tomlfields import toml_value
from acegit.track import LOCK_SUFFIX, TRACK_SUFFIX, check_unique, load_track, track_files

FRESH, STALE, INVALID = "fresh", "stale", "invalid"
# Stale reasons, as documented in docs/cli.md (the `--json` schema lists exactly these strings).
NO_SNAPSHOT = "no snapshot"
SOURCE_CHANGED = "source changed"
MODEL_CHANGED = "model changed"
FORMAT_CHANGED = "render format changed"
STATUS_SCHEMA = 1
# git-index-style cache of parsed track files and lock heads (ignored by Git via /.acegit/ in .gitignore).
STAT_CACHE = Path(".acegit") / "status-cache.json"
RACY_NS = 2_000_000_000  # files touched this recently may change again within one timestamp tick: never cache them


@dataclass(frozen=True)
class TrackStatus:
    """One track's state; `reasons` explain "stale", `message` explains "invalid"."""

    name: str
    path: str  # track file, relative to the project root
    state: str
    reasons: tuple[str, ...] = ()
    message: str | None = None
    lock: str | None = None  # lock file, relative to the project root, when it exists
    fingerprint: str | None = None  # the current input fingerprint, when a snapshot exists to compare with


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


def _sig(path: Path | str) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino]


class _StatCache:
    """Parsed track files and lock heads keyed by (path, stat); any change to a file or its dependencies misses.

    The header pins the acegit version and acegit.toml's stat, so new defaults or code invalidate everything.
    """

    def __init__(self, project: Project, enabled: bool) -> None:
        self.path = project.root / STAT_CACHE
        self.enabled = enabled
        self.now = time.time_ns()
        self.project_sig = _sig(project.path)
        self.header = {
            "acegit": __version__,
            "render_format": RENDER_FORMAT_VERSION,
            "root": str(project.root),
            "project": self.project_sig,
        }
        self.old: dict[str, Any] = {}
        self.new: dict[str, Any] = {}
        if enabled:
            try:
                doc = json.loads(self.path.read_text(encoding="utf-8"))
                if isinstance(doc, dict) and doc.get("header") == self.header and isinstance(doc.get("entries"), dict):
                    self.old = doc["entries"]
            except (OSError, ValueError):
                pass

    def _racy(self, sig: list[int] | None) -> bool:
        return sig is not None and max(sig[0], sig[1]) > self.now - RACY_NS

    def get(self, key: str, sig: list[int] | None) -> Any:
        """The value cached under `key` (a root-relative path) if the file's stat is still `sig`."""
        entry = self.old.get(key)
        if entry is None or entry["sig"] != sig:
            return None
        if any(_sig(p) != s for p, s in entry["deps"]):
            return None
        self.new[key] = entry
        return entry["value"]

    def put(self, key: str, sig: list[int] | None, value: Any, deps: tuple[Path, ...] = ()) -> None:
        sigs = [sig, *(_sig(d) for d in deps)]
        if self.enabled and not any(self._racy(s) for s in sigs):
            self.new[key] = {
                "sig": sigs[0],
                "deps": [[str(d), s] for d, s in zip(deps, sigs[1:], strict=True)],
                "value": value,
            }

    def save(self) -> None:
        if not self.enabled or self.new == self.old or self._racy(self.project_sig):
            return
        with contextlib.suppress(OSError):  # a read-only checkout still gets a correct (slower) status
            atomic_write_text(self.path, json.dumps({"header": self.header, "entries": self.new}, sort_keys=True))


def _model(models: Models, name: str, shown: str) -> ModelRef:
    """The model, or an error naming the track file that asked for it."""
    try:
        return models.ref(name)
    except AcegitError as e:
        raise AcegitError(f"{shown}: model = {toml_value(name)}: {e.message}", hint=e.hint) from None


def _track_facts(path: Path, shown: str, project: Project, cache: _StatCache) -> dict[str, Any]:
    """What status needs from a track file: its source fingerprint and model name."""
    sig = _sig(path)
    facts = cache.get(shown, sig)
    if facts is None:
        track = load_track(path, project)
        facts = {"source": source_fingerprint(track), "model": track.model}
        cache.put(shown, sig, facts, (track.melody_path,) if track.melody_path else ())
    return facts


def _lock_facts(path: Path, shown: str, sig: list[int] | None, cache: _StatCache) -> tuple[str, LockInput]:
    facts = cache.get(shown, sig)
    if facts is None:
        name, head = read_lock_head(path, shown)
        facts = {"track": name, "input": dataclasses.asdict(head)}
        cache.put(shown, sig, facts)
    return facts["track"], LockInput(**facts["input"])


def track_status(path: Path, project: Project, models: Models, cache: _StatCache, folder: str = "") -> TrackStatus:
    """The state of one track file; `folder` is the tracks folder as shown (root-relative), computed once per run."""
    folder = folder or project.display(path.parent)
    name = path.name[: -len(TRACK_SUFFIX)]
    shown = f"{folder}/{path.name}"
    lshown = f"{folder}/{name}{LOCK_SUFFIX}"
    lpath = path.parent / f"{name}{LOCK_SUFFIX}"
    lsig = _sig(lpath)  # None: no lock file
    lock = lshown if lsig is not None else None
    try:
        facts = _track_facts(path, shown, project, cache)
        if lsig is None:
            if facts["model"] not in BUILTIN_MODELS and facts["model"] not in project.models:
                _model(models, facts["model"], shown)  # a misspelt model name: say so now, not at render time
            return TrackStatus(name, shown, STALE, (NO_SNAPSHOT,), lock=lock)
        locked_track, locked = _lock_facts(lpath, lshown, lsig, cache)
        if locked_track != name:
            raise AcegitError(
                f"{lshown}: snapshot belongs to track {locked_track!r}, not {name!r}",
                hint=f"Delete it and run `acegit render {name}`.",
            )
        model = _model(models, facts["model"], shown)
    except AcegitError as e:
        return TrackStatus(name, shown, INVALID, message=str(e), lock=lock)
    fingerprint = input_fingerprint_of(facts["source"], model)
    if fingerprint == locked.fingerprint:
        return TrackStatus(name, shown, FRESH, lock=lock, fingerprint=fingerprint)
    reasons = []
    if locked.source != facts["source"]:
        reasons.append(SOURCE_CHANGED)
    if (locked.model, locked.weights) != (model.name, model.weights_hash):
        reasons.append(MODEL_CHANGED)
    if locked.render_format != RENDER_FORMAT_VERSION:
        reasons.append(FORMAT_CHANGED)
    if not reasons:  # the fingerprint recipe changed without a format bump; say so rather than call it fresh
        reasons.append(SOURCE_CHANGED)
    return TrackStatus(name, shown, STALE, tuple(reasons), lock=lock, fingerprint=fingerprint)


def project_status(project: Project, use_cache: bool = True) -> ProjectStatus:
    """Every track's state, sorted by name; `use_cache` keeps parsed files in .acegit/ keyed by their stat."""
    paths = track_files(project.tracks_dir)
    check_unique(paths, project)
    models = Models(project)
    cache = _StatCache(project, use_cache)
    folder = project.display(project.tracks_dir)
    result = ProjectStatus(project.name, project.root, [track_status(p, project, models, cache, folder) for p in paths])
    cache.save()
    return result
