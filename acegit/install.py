"""`acegit install`: this clone's git config for the diff and merge drivers, and the native pre-commit hook."""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

from acegit.errors import AcegitError, UsageError
from acegit.fsutil import atomic_write_text
from acegit.gitrepo import GitRepo
from acegit.project import PROJECT_FILE, find_project_root

HOOK_ID = "# acegit-hook-id: acegit-pre-commit"  # marks a hook file as ours: safe to rewrite or remove
HOOK_NAME = "pre-commit"
LEGACY_SUFFIX = ".legacy"  # a foreign hook moved aside by --force; our hook runs it first, uninstall restores it
HOOK_COMMANDS = {"render": "hook render --staged", "check": "hook check"}  # what the hook runs, per --hook mode
HOOK_MODES = tuple(HOOK_COMMANDS)
# Per-clone settings that .gitattributes cannot carry (Git never runs commands named by a checked-out file).
CONFIG = {
    "diff.acegit.textconv": "acegit textconv",
    "merge.acegit.name": "acegit: track files key by key, lock files never corrupted",
    "merge.acegit.driver": "acegit merge-driver %O %A %B %P",
}


@dataclass(frozen=True)
class InstallResult:
    """What `install` / `uninstall` changed; `notes` explain what was left alone and why."""

    hook: Path
    changed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def hook_template(name: str = HOOK_NAME) -> str:
    """A file of hooks/ (the native hook's shell template, the pre-commit config): inside the installed package,
    else the source checkout's hooks/."""
    import acegit

    pkg = Path(acegit.__file__).resolve().parent
    candidates = (pkg / "_hooks" / name, pkg.parent / "hooks" / name)
    for c in candidates:
        if c.is_file():
            return c.read_text(encoding="utf-8")
    raise AcegitError(
        f"the hook template is not installed (looked in {candidates[0]} and {candidates[1]})",
        hint="Reinstall acegit (`pip install --force-reinstall acegit`).",
    )


def hook_script(mode: str = "render", python: str | None = None, project: str | None = None) -> str:
    """The hook file's text: the template bound to this Python (so the hook finds this acegit), a mode and a project.

    `project` is the project folder relative to the repository root, when it is not the root itself.
    """
    if mode not in HOOK_MODES:
        raise UsageError(f"--hook {mode!r} must be one of {', '.join(HOOK_MODES)} (or none)")
    text = hook_template()
    assert HOOK_ID in text, "hooks/pre-commit lost its id line"
    command = HOOK_COMMANDS[mode] + (f" --project {shlex.quote(project)}" if project else "")
    return text.replace("{python}", shlex.quote(python or sys.executable)).replace("{command}", command)


def is_ours(path: Path) -> bool:
    """Whether a hook file was written by `acegit install` (it carries the id line)."""
    try:
        return HOOK_ID in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def _write_hook(path: Path, text: str) -> None:
    atomic_write_text(path, text)
    os.chmod(path, 0o755)


def install(start: Path, *, hook: str | None = "render", force: bool = False) -> InstallResult:
    """Set the drivers' git config and write the pre-commit hook (`hook=None`: config only); idempotent."""
    if hook is not None:
        hook_script(hook)  # a bad mode fails before anything changes
    repo = GitRepo.discover(start)
    path = repo.git_path(f"hooks/{HOOK_NAME}")
    result = InstallResult(path)
    for key, value in CONFIG.items():
        if repo.config_get(key) != value:
            repo.config_set(key, value)
            result.changed.append(f"git config {key} = {value!r}")
    if hook is None:
        return result
    text = hook_script(hook, project=_project_folder(repo, start, result))
    shown = _shown(repo, path)
    if path.exists() and not is_ours(path):
        legacy = path.with_name(HOOK_NAME + LEGACY_SUFFIX)
        if not force:
            raise AcegitError(
                f"{shown} exists and was not written by acegit; leaving it alone",
                hint="Run `acegit install --force` to move it to "
                f"{legacy.name} (acegit's hook then runs it first), or `acegit install --no-hook` to set only the "
                "git config; with the pre-commit framework, use its hooks instead (docs/workflow.md).",
            )
        if legacy.exists():
            raise AcegitError(
                f"{_shown(repo, legacy)} already exists, so {shown} cannot be moved aside",
                hint="Merge or delete one of the two hooks, then run `acegit install --force` again.",
            )
        path.rename(legacy)
        result.changed.append(f"moved the existing hook to {_shown(repo, legacy)} (it still runs first)")
    if not path.exists() or path.read_text(encoding="utf-8") != text or not os.access(path, os.X_OK):
        _write_hook(path, text)
        result.changed.append(f"wrote {shown}")
    return result


def uninstall(start: Path) -> InstallResult:
    """Undo `install`: our hook removed (a hook it moved aside restored) and our git config unset."""
    repo = GitRepo.discover(start)
    path = repo.git_path(f"hooks/{HOOK_NAME}")
    result = InstallResult(path)
    shown = _shown(repo, path)
    legacy = path.with_name(HOOK_NAME + LEGACY_SUFFIX)
    if is_ours(path):
        path.unlink()
        result.changed.append(f"removed {shown}")
        if legacy.exists():
            legacy.rename(path)
            result.changed.append(f"restored {shown} from {legacy.name}")
    elif path.exists():
        result.notes.append(f"{shown} was not written by acegit; left alone")
    for key, value in CONFIG.items():
        now = repo.config_get(key)
        if now == value:
            repo.config_unset(key)
            result.changed.append(f"unset git config {key}")
        elif now is not None:
            result.notes.append(f"git config {key} = {now!r} was not set by acegit; left alone")
    return result


def _project_folder(repo: GitRepo, start: Path, result: InstallResult) -> str | None:
    """The project's folder relative to the repository root for the hook's --project (None: the root itself)."""
    root = find_project_root(start)
    if root is None or not root.resolve().is_relative_to(repo.root.resolve()):
        result.notes.append(f"no {PROJECT_FILE} here: the hook will look for it at the repository root when it runs")
        return None
    rel = root.resolve().relative_to(repo.root.resolve()).as_posix()
    return None if rel == "." else rel


def _shown(repo: GitRepo, path: Path) -> str:
    try:
        return path.relative_to(repo.root).as_posix()
    except ValueError:
        return str(path)
