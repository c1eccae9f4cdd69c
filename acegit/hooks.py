"""What the pre-commit hooks do: render the staged tracks (`acegit hook render --staged`) or check the snapshots fast.

Both read the working tree. Under the pre-commit framework that is exactly what is being committed (it stashes unstaged
changes first); the native hook refuses staged tracks that also have unstaged edits rather than render the wrong text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from acegit.errors import AcegitError, CheckFailed
from acegit.lockfile import lock_path
from acegit.project import Project
from acegit.status import FRESH, INVALID, TrackStatus, project_status
from acegit.track import LOCK_SUFFIX, TRACK_SUFFIX, track_named

if TYPE_CHECKING:
    from acegit.gitrepo import GitRepo
    from acegit.render import Outcome, RenderProgress

MELODY_SUFFIXES = (".mid", ".midi")


@dataclass(frozen=True)
class RenderHookResult:
    """The staged tracks, what rendering them did, and the lock files that now differ from the index."""

    tracks: list[str]
    outcomes: list[Outcome] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)  # repository-relative lock files to review and `git add`

    @property
    def rendered(self) -> list[str]:
        """Tracks whose snapshot was (re)written by this run."""
        return [o.name for o in self.outcomes if o.action != "fresh" and o.lock_changed]


def _repo_for(project: Project) -> GitRepo:
    from acegit.gitrepo import GitRepo

    return GitRepo.discover(project.root)


def _abs(repo: GitRepo, names: Sequence[str]) -> set[Path]:
    return {(repo.root / n).resolve() for n in names}


def staged_tracks(project: Project, repo: GitRepo, staged: Sequence[str]) -> list[str]:
    """Existing tracks whose track, lock or melody file is among `staged` (repository-relative or absolute paths)."""
    files = _abs(repo, staged)
    tracks_dir = project.tracks_dir.resolve()
    names = set()
    for f in files:
        if f.parent == tracks_dir and f.name.endswith(TRACK_SUFFIX):
            name = f.name.removesuffix(TRACK_SUFFIX).removesuffix(".lock")
            if (tracks_dir / f"{name}{TRACK_SUFFIX}").is_file():
                names.add(name)
    melodies = {f for f in files if f.suffix.lower() in MELODY_SUFFIXES}
    if melodies:
        for st in project_status(project).tracks:
            if st.state != INVALID and st.name not in names:
                melody = track_named(project, st.name).melody_path
                if melody is not None and melody.resolve() in melodies:
                    names.add(st.name)
    return sorted(names)


def _inputs(project: Project, names: Sequence[str]) -> list[Path]:
    """The files a render of these tracks reads: the track files and their melodies."""
    paths = [project.tracks_dir / f"{n}{TRACK_SUFFIX}" for n in names]
    for st in project_status(project).tracks:
        if st.name in names and st.state != INVALID:
            melody = track_named(project, st.name).melody_path
            if melody is not None:
                paths.append(melody)
    return paths


def render_staged(
    project: Project,
    *,
    files: Sequence[Path] | None = None,
    device: str = "auto",
    use_cache: bool = True,
    progress: RenderProgress | None = None,
) -> RenderHookResult:
    """Render the stale tracks among the staged ones (or those of `files`); report lock files unlike the index."""
    from acegit.render import render_tracks, select_tracks

    repo = _repo_for(project)
    # Absolute paths stay absolute under `repo.root / path`.
    changed = repo.staged_files() if files is None else [str(f.absolute()) for f in files]
    names = staged_tracks(project, repo, changed)
    if not names:
        return RenderHookResult([])
    dirty = repo.unstaged_files(_inputs(project, names))
    if dirty:
        raise AcegitError(
            f"staged tracks have unstaged edits too: {', '.join(dirty)}; the hook would render text you are not "
            "committing",
            hint="Stage them (`git add`) or stash the rest (`git stash --keep-index`), then commit again.",
        )
    statuses = select_tracks(project, names)
    outcomes = render_tracks(project, statuses, device=device, use_cache=use_cache, progress=progress)
    locks = [lock_path(project.tracks_dir / f"{n}{TRACK_SUFFIX}") for n in names]
    return RenderHookResult(names, outcomes, _not_in_index(repo, locks))


def _not_in_index(repo: GitRepo, paths: Sequence[Path]) -> list[str]:
    """Those of `paths` (existing files) that the index lacks or holds with other content, repository-relative."""
    existing = [p for p in paths if p.is_file()]
    if not existing:
        return []
    rel = {p.resolve().relative_to(repo.root.resolve()).as_posix() for p in existing}
    indexed = set(repo.indexed_files())
    return sorted((rel - indexed) | set(repo.unstaged_files(sorted(rel & indexed))))


@dataclass(frozen=True)
class CheckHookResult:
    """The tracks the check looked at (those in the index)."""

    checked: list[TrackStatus]


def check_snapshots(project: Project) -> CheckHookResult:
    """Every track in the index has a staged lock file whose input fingerprint matches it; no rendering, no torch.

    Raises CheckFailed naming each track that is stale, invalid or whose lock file is not staged.
    """
    repo = _repo_for(project)
    tracks_dir = project.tracks_dir.resolve()
    indexed = {
        p.name.removesuffix(TRACK_SUFFIX)
        for p in map(Path, sorted(_abs(repo, repo.indexed_files())))
        if p.parent == tracks_dir and p.name.endswith(TRACK_SUFFIX) and not p.name.endswith(LOCK_SUFFIX)
    }
    statuses = [st for st in project_status(project).tracks if st.name in indexed]
    problems: list[str] = []
    stale: list[str] = []
    bad = [st for st in statuses if st.state != FRESH]
    # The native hook sees unstaged edits too (pre-commit stashes them): say so rather than blame the commit.
    dirty = set(repo.unstaged_files([project.root / st.path for st in bad])) if bad else set()
    for st in bad:
        rel = (project.root / st.path).resolve().relative_to(repo.root.resolve()).as_posix()
        note = f" — {rel} has unstaged edits, which the check reads: stage or stash them" if rel in dirty else ""
        if st.state == INVALID:
            problems.append(f"{st.name}: invalid: {st.message}{note}")
        else:
            problems.append(f"{st.name}: stale ({', '.join(st.reasons)}){note}")
            stale.append(st.name)
    fresh_locks = [project.root / st.lock for st in statuses if st.state == FRESH and st.lock]
    for rel in _not_in_index(repo, fresh_locks):
        name = Path(rel).name.removesuffix(LOCK_SUFFIX)
        problems.append(f"{name}: {rel} is rendered but not staged")
    if problems:
        fixes = []
        if stale:
            fixes.append(f"run `acegit render {' '.join(stale)}`")
        fixes.append(f"`git add` the lock files in {project.display(project.tracks_dir)}/ and commit again")
        raise CheckFailed(
            f"{len(problems)} track(s) have no committed, up-to-date snapshot:\n"
            + "\n".join(f"  {p}" for p in problems),
            hint="Fix: " + ", then ".join(fixes) + " (or let the acegit-render hook do it).",
        )
    return CheckHookResult(statuses)
