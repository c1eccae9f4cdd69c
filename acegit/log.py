"""`acegit log`: the commits that changed a track (following renames), what changed and how far its latent moved."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from acegit.diff.compare import ADDED, REMOVED, TrackDiff, compare_versions
from acegit.diff.params import ParamChange
from acegit.diff.sides import Side, Version, open_repo
from acegit.errors import AcegitError, UsageError
from acegit.project import Project
from acegit.snapshots import Models
from acegit.track import LOCK_SUFFIX, TRACK_SUFFIX


@dataclass(frozen=True)
class LogEntry:
    """One commit that changed the track, compared with the track's previous version."""

    commit: dict[str, str]  # sha, short, author, date, subject
    name: str  # the track's name in that commit
    status: str  # added / modified / renamed / removed
    changes: list[str]  # what changed, in words: "prompt", "seed", "model", "snapshot", "renamed from intro", …
    params: list[ParamChange] = field(default_factory=list)
    latent_change: float | None = None  # relative latent change to the previous version (docs/diff.md)
    verdict: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            **self.commit,
            "name": self.name,
            "status": self.status,
            "changes": self.changes,
            "params": [{"field": p.field, "old": p.old, "new": p.new} for p in self.params],
            "latent_change": None if self.latent_change is None else round(self.latent_change, 6),
            "verdict": self.verdict,
        }


def _name_of(path: str) -> str:
    return PurePosixPath(path).name.removesuffix(TRACK_SUFFIX).removesuffix(".lock")


def _what_changed(d: TrackDiff) -> list[str]:
    if d.status in (ADDED, REMOVED):
        return ["new track" if d.status == ADDED else "track removed"]
    words = [p.field for p in d.params if p.field not in ("tags", "edits")]
    for p in d.params:
        if p.field == "edits":  # named: "edit +repaint 10–15 s (seed 7)", "edit -vary 0.3 (seed 5)"
            named = [f"edit {op}{text}" for op, text in p.words if op != " "]
            words.extend(named or ["edits"])
    if any(p.field == "tags" for p in d.params):
        words.append("tags")
    if d.source_only:
        words.append("melody notes")
    la = d.a.lock if d.a else None
    lb = d.b.lock if d.b else None
    if la and lb and "model" not in words and la.input.weights != lb.input.weights:
        words.append("model weights")
    if la and lb and la.latent.sha256 != lb.latent.sha256 and not words:
        words.append("snapshot only")
    if la is None and lb is not None and d.a is not None:
        words.append("first snapshot")
    if d.old_name:
        words.insert(0, f"renamed from {d.old_name}")
    return words


@dataclass(frozen=True)
class TrackLog:
    """`acegit log TRACK`: the track's commits, newest first."""

    track: str
    entries: list[LogEntry]

    def to_json(self) -> dict[str, Any]:
        """The documented `acegit log --json` object (docs/diff.md)."""
        return {"schema": 1, "command": "log", "track": self.track, "commits": [e.to_json() for e in self.entries]}


def track_log(project: Project, name: str, rev: str = "HEAD", limit: int | None = None) -> TrackLog:
    """Commits reachable from `rev` that changed the track's file or snapshot, newest first."""
    repo = open_repo(project)
    tracks = project.tracks_dir.relative_to(project.root).as_posix()
    probe = Side(project, repo, rev)
    paths = [probe.git_path(f"{tracks}/{name}{suffix}") for suffix in (TRACK_SUFFIX, LOCK_SUFFIX)]
    rows: dict[str, tuple[str, str]] = {}  # sha -> (status, path), track file first
    for path in paths:
        for sha, status, p in repo.file_log(path, rev):
            rows.setdefault(sha, (status, p))
    if not rows:
        raise AcegitError(
            f"no commit reachable from {rev} changed a track named {name!r}",
            hint="List the tracks with `acegit status`; a track must be committed to have a history.",
        )
    # Git's own order (topological), over every path the track ever had: commit dates can tie or go backwards.
    order = repo.rev_list(rev, sorted({p for _, p in rows.values()}))
    infos = [repo.commit_info(sha) for sha in order if sha in rows]
    if limit is not None:
        if limit < 1:
            raise UsageError("--limit must be at least 1")
        infos = infos[: limit + 1]  # one more: the oldest shown entry is compared with it
    versions: list[Version | None] = []
    for info in infos:
        status, path = rows[info["sha"]]
        v = Side(project, repo, info["sha"]).version(_name_of(path))
        versions.append(None if status == "D" or (v.params is None and v.lock is None) else v)
    models = Models(project)  # only for each model's latent frame rate: the log decodes no audio
    entries = []
    for i, info in enumerate(infos[: limit if limit is not None else len(infos)]):
        cur, prev = versions[i], versions[i + 1] if i + 1 < len(versions) else None
        name_now = _name_of(rows[info["sha"]][1])
        if cur is None and prev is None:
            continue
        old = prev.name if prev is not None and cur is not None and prev.name != cur.name else None
        d = compare_versions(name_now, prev, cur, old, models=models)
        latent = d.latent.change if d.latent is not None else None
        entries.append(LogEntry(info, name_now, d.status, _what_changed(d), d.params, latent, d.verdict))
    return TrackLog(name, entries)
