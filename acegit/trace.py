"""`acegit trace FILE`: which commit and track made an exported file, and whether the track still renders the same."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from acegit.errors import AcegitError, InputError
from acegit.project import Project
from acegit.tags import FileTags, read_tags

CURRENT, OUTDATED, NO_TRACK, INVALID, UNKNOWN = "current", "outdated", "no track", "invalid", "unknown"


@dataclass(frozen=True)
class Trace:
    """A file's provenance, and how it compares with the project it is traced in."""

    path: Path
    tags: FileTags
    state: str  # CURRENT, OUTDATED, NO_TRACK, INVALID or UNKNOWN (not traced inside a project)
    detail: str
    current_fingerprint: str | None = None
    commit_subject: str | None = None  # None when the commit is not in this repository (or no repository)
    commit_in_history: bool | None = None  # whether the commit is an ancestor of HEAD

    def to_json(self) -> dict[str, object]:
        """The documented `acegit trace --json` object (schema 1, docs/export.md)."""
        p = self.tags.provenance
        assert p is not None
        return {
            "schema": 1,
            "command": "trace",
            "file": str(self.path),
            "format": self.tags.format,
            "track": p.track,
            "commit": p.commit,
            "commit_subject": self.commit_subject,
            "commit_in_history": self.commit_in_history,
            "dirty": p.dirty,
            "fingerprint": p.fingerprint,
            "seed": p.seed,
            "acegit": p.acegit,
            "profile": p.profile,
            "project": p.project,
            "loop": None
            if self.tags.loop is None
            else {"start": self.tags.loop.start, "length": self.tags.loop.length},
            "state": self.state,
            "detail": self.detail,
            "current_fingerprint": self.current_fingerprint,
        }


def _commit_facts(project: Project, sha: str | None) -> tuple[str | None, bool | None]:
    if sha is None:
        return None, None
    from acegit.errors import GitError
    from acegit.gitrepo import GitRepo, find_repo_root

    if find_repo_root(project.root) is None:
        return None, None
    try:
        repo = GitRepo.discover(project.root)
        subject = repo.commit_subject(sha)
        return subject, (repo.is_ancestor(sha) if subject is not None else None)
    except GitError:
        return None, None


def trace_file(path: Path, project: Project | None) -> Trace:
    """Read a file's provenance tags; with a project, compare its input fingerprint with the track's current one."""
    from acegit.engine.registry import resolve_model
    from acegit.fingerprint import input_fingerprint
    from acegit.track import load_track

    tags = read_tags(path)
    prov = tags.provenance
    if prov is None:
        raise AcegitError(
            f"{path}: has no acegit provenance tags",
            hint="Only files written by `acegit export` carry them (a converter may have stripped them).",
        )
    if project is None:
        return Trace(path, tags, UNKNOWN, "not inside an acegit project: cannot tell whether the track changed")
    subject, in_history = _commit_facts(project, prov.commit)
    if project.name != prov.project and prov.project is not None:
        detail = f"made by project {prov.project!r}, traced in {project.name!r}"
        return Trace(path, tags, UNKNOWN, detail, commit_subject=subject, commit_in_history=in_history)
    track_file = project.tracks_dir / f"{prov.track}.toml"
    if not track_file.is_file():
        detail = f"the project has no track {prov.track!r} any more ({project.display(track_file)})"
        return Trace(path, tags, NO_TRACK, detail, commit_subject=subject, commit_in_history=in_history)
    try:
        track = load_track(track_file, project)
        current = input_fingerprint(track, resolve_model(track.model, project.models))
    except (InputError, AcegitError) as e:
        return Trace(path, tags, INVALID, str(e), commit_subject=subject, commit_in_history=in_history)
    if current == prov.fingerprint:
        state, detail = CURRENT, "the track's input fingerprint is unchanged: rendering it now gives the same audio"
    else:
        state = OUTDATED
        detail = f"{project.display(track_file)} (or its model) changed since: run `acegit export` again"
    return Trace(path, tags, state, detail, current, subject, in_history)
