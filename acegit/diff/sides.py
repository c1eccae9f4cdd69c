"""One side of a comparison: a project's files at a Git revision or in the working tree, and a track read there."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from acegit.errors import AcegitError, InputError
from acegit.lockfile import Lock, loads_lock
from acegit.project import PROJECT_FILE, Project, parse_project
from acegit.tomlfields import loads_toml
from acegit.track import FIELD_ORDER, LOCK_SUFFIX, TRACK_SUFFIX, parse_track

if TYPE_CHECKING:
    from acegit.gitrepo import GitRepo

WORKTREE = "working tree"


@dataclass(frozen=True)
class Version:
    """A track at one side: its resolved parameters and its snapshot (either may be missing or broken)."""

    name: str
    side: str  # a revision as the user wrote it, or WORKTREE
    track_path: str | None  # project-relative, when the track file exists
    params: dict[str, Any] | None
    lock: Lock | None
    problem: str | None = None  # why params or lock could not be read

    @property
    def label(self) -> str:
        return f"{self.side}:{self.name}" if self.side != WORKTREE else f"{self.name} (working tree)"

    @property
    def loop(self) -> bool:
        """Whether this version is a loop track (render decodes loops as one period of a periodic signal)."""
        return bool(self.params is not None and self.params.get("loop"))


def open_repo(project: Project) -> GitRepo:
    from acegit.gitrepo import GitRepo

    return GitRepo.discover(project.root)


class Side:
    """The files of a project at one revision, or in the working tree."""

    def __init__(self, project: Project, repo: GitRepo | None, rev: str | None) -> None:
        self.project, self.repo, self.rev = project, repo, rev
        self.label = rev if rev is not None else WORKTREE
        self.sha = repo.resolve(rev) if repo is not None and rev is not None else None
        tracks = project.tracks_dir.relative_to(project.root).as_posix()
        self.tracks_rel = tracks  # project-relative
        prefix = project.root.relative_to(repo.root).as_posix() if repo is not None else "."
        self.prefix = "" if prefix == "." else prefix + "/"
        self._project: Project | None = None
        self._files: dict[str, bytes | None] = {}  # each file is read once (diff reads a file to compare, then parse)

    def git_path(self, rel: str) -> str:
        """A project-relative path as a repository-relative one."""
        return self.prefix + rel

    def read(self, rel: str) -> bytes | None:
        """Bytes of a project-relative file at this side, or None when it does not exist there."""
        if rel not in self._files:
            if self.rev is None:
                try:
                    self._files[rel] = (self.project.root / rel).read_bytes()
                except FileNotFoundError:
                    self._files[rel] = None
            else:
                assert self.repo is not None and self.sha is not None
                path = self.git_path(rel)  # by sha: resolved once, not once per file
                self._files[rel] = self.repo.show(self.sha, path) if self.repo.exists(self.sha, path) else None
        return self._files[rel]

    def track_names(self) -> list[str]:
        """Tracks with a track file or a lock file at this side (only files directly in the tracks folder count)."""
        if self.rev is None:
            folder = self.project.tracks_dir
            files = [p.name for p in folder.iterdir() if p.is_file()] if folder.is_dir() else []
        else:
            assert self.repo is not None
            under = PurePosixPath(self.git_path(self.tracks_rel))
            listed = (PurePosixPath(f) for f in self.repo.list_files(self.rev, str(under)))
            files = [p.name for p in listed if p.parent == under]
        return sorted({f.removesuffix(TRACK_SUFFIX).removesuffix(".lock") for f in files if f.endswith(TRACK_SUFFIX)})

    def project_at(self) -> Project:
        """acegit.toml at this side (its defaults and models decide how a track reads); the working project's when
        the file is missing or broken there."""
        if self._project is None:
            self._project = self.project
            raw = self.read(PROJECT_FILE) if self.rev is not None else None
            if raw is not None:
                # A broken acegit.toml in history must not stop a diff: the current one applies then.
                with contextlib.suppress(AcegitError, ValueError):
                    self._project = parse_project(loads_toml(raw, self.shown(PROJECT_FILE)), self.project.root)
        return self._project

    def shown(self, rel: str) -> str:
        return rel if self.rev is None else f"{self.rev}:{rel}"

    def version(self, name: str) -> Version:
        """Read a track's file and snapshot at this side."""
        track_rel = f"{self.tracks_rel}/{name}{TRACK_SUFFIX}"
        lock_rel = f"{self.tracks_rel}/{name}{LOCK_SUFFIX}"
        problems = []
        params = None
        raw = self.read(track_rel)
        if raw is not None:
            try:
                params = self._params(raw, name, track_rel)
            except InputError as e:
                problems.append(str(e))
        lock = None
        lock_raw = self.read(lock_rel)
        if lock_raw is not None:
            try:
                lock = loads_lock(lock_raw, name, self.shown(lock_rel))
            except InputError as e:
                # A committed version cannot be restored in place: only the working tree's hint applies as written.
                problems.append(str(e) if self.rev is None or e.hint is None else e.message)
        return Version(
            name, self.label, track_rel if raw is not None else None, params, lock, "\n".join(problems) or None
        )

    def _params(self, raw: bytes, name: str, rel: str) -> dict[str, Any]:
        """A track file's fields, read by the one track parser with this side's defaults (its melody file is not
        looked up: at a past revision it may no longer exist)."""
        shown = self.shown(rel)
        project = self.project_at()
        data = loads_toml(raw, shown)
        track = parse_track(data, name, project.root / rel, project, shown=shown, resolve_melody=False)
        return {f: getattr(track, f) for f in FIELD_ORDER}
