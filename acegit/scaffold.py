"""Creating things: a new project (`acegit new`) and a new track file (`acegit add`)."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from acegit import gitrepo
from acegit.engine.registry import check_available, distilled_steps
from acegit.errors import AcegitError
from acegit.fsutil import atomic_write_text
from acegit.project import PROJECT_FILE, Project, load_project
from acegit.tomlfields import toml_value
from acegit.track import MAX_SEED, TRACK_SUFFIX, Track, check_name, dumps_track, parse_track, track_files

GITIGNORE_LINES = (
    "# acegit: rendered audio and the local render cache are build artefacts",
    "/build/",
    "/.acegit/",
    "# half-written temp files of an interrupted write (acegit removes them on the next render)",
    ".*.tmp",
)
# Later lines win in .gitattributes, so the lock-file line comes after the track line it refines.
GITATTRIBUTES_LINES = (
    "# acegit: track and lock files merge (and lock files diff) through acegit; run `acegit install` once per clone",
    "tracks/*.toml merge=acegit",
    "*.lock.toml diff=acegit merge=acegit eol=lf",
)
EXAMPLE_TRACK = "example"
PRECOMMIT_CONFIG = ".pre-commit-config.yaml"  # hooks/pre-commit-config.yaml, the documented `repo: local` config
EXAMPLE_FIELDS: dict[str, Any] = {
    "prompt": "calm solo piano in A minor at 80 BPM",
    "seed": 1234,
    "duration": 15.0,
    "bpm": 80,
    "key": "A minor",
    "tags": ["example"],
}

PROJECT_TEMPLATE = """\
# acegit project file (format: docs/format.md in the acegit repository)

[project]
name = {name}

# Defaults for every track in tracks/; a track file may set any of these itself.
[defaults]
model = "tiny"
duration = 30.0
bpm = 120
key = "C major"
time_signature = "4/4"
steps = 20
guidance = 4.0
sampler = "euler"

[audio]
format = "wav"

[paths]
tracks = "tracks"
build = "build"
cache = ".acegit/cache"

# Local model checkpoints: folders holding model.safetensors, config.json and sha256.
# [models.mymodel]
# path = "models/mymodel"

# Export profiles ([export.NAME]) are read by `acegit export` (docs/export.md): `acegit export -p game` writes
# build/export/game/<track>.ogg, at 44.1 kHz, -16 LUFS, under a -1 dBTP true-peak ceiling.
[export.game]
format = "ogg"
sample_rate = 44100
loudness = -16.0
true_peak = -1.0
"""


@dataclass(frozen=True)
class NewProject:
    """What `acegit new` did."""

    root: Path
    name: str
    files: list[Path] = field(default_factory=list)  # files written or extended
    git_initialized: bool = False
    commit: str | None = None


def _merge_lines(path: Path, lines: tuple[str, ...]) -> bool:
    """Append the lines a file lacks (keeping what the user has); True when the file changed."""
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    have = set(old.splitlines())
    missing = [ln for ln in lines if ln not in have]
    if not missing:
        return False
    sep = "" if not old or old.endswith("\n") else "\n"
    atomic_write_text(path, old + sep + ("\n" if old else "") + "\n".join(missing) + "\n")
    return True


def new_project(directory: Path, name: str | None = None, commit: bool = False) -> NewProject:
    """Create a project in `directory`: acegit.toml, an example track, ignore/attributes files, git init if needed."""
    try:
        return _new_project(directory, name, commit)
    except OSError as e:
        where = e.filename or directory
        raise AcegitError(f"cannot create the project in {directory}: {where}: {e.strerror}") from None


def _new_project(directory: Path, name: str | None, commit: bool) -> NewProject:
    root = directory.absolute()
    if root.exists() and not root.is_dir():
        raise AcegitError(f"{directory} exists and is not a folder; choose another path")
    if (root / PROJECT_FILE).exists():
        raise AcegitError(
            f"{directory} is already an acegit project ({PROJECT_FILE} exists)",
            hint="cd into it and use `acegit add` / `acegit status`, or choose another folder.",
        )
    name = name if name is not None else root.name
    if not name.strip():
        raise AcegitError("the project name is empty; pass --name NAME")
    git_initialized = False
    if gitrepo.find_repo_root(root) is None:
        gitrepo.init_repo(root)
        git_initialized = True
    root.mkdir(parents=True, exist_ok=True)

    files: list[Path] = []
    atomic_write_text(root / PROJECT_FILE, PROJECT_TEMPLATE.format(name=json.dumps(name, ensure_ascii=False)))
    files.append(root / PROJECT_FILE)
    project = load_project(root)
    for fname, lines in ((".gitignore", GITIGNORE_LINES), (".gitattributes", GITATTRIBUTES_LINES)):
        if _merge_lines(root / fname, lines):
            files.append(root / fname)
    precommit = root / PRECOMMIT_CONFIG
    if git_initialized and not precommit.exists():  # only at a repository root we created: never into someone's repo
        from acegit.install import hook_template

        atomic_write_text(precommit, hook_template("pre-commit-config.yaml"))
        files.append(precommit)
    example = project.tracks_dir / f"{EXAMPLE_TRACK}{TRACK_SUFFIX}"
    if not track_files(project.tracks_dir):
        track = parse_track(EXAMPLE_FIELDS, EXAMPLE_TRACK, example, project)
        atomic_write_text(example, dumps_track(track))
        files.append(example)

    sha = None
    if commit:
        sha = gitrepo.GitRepo.discover(root).commit(f"Create acegit project {name}", files)
    return NewProject(root, name, files, git_initialized, sha)


def draw_seed() -> int:
    """A fresh seed from the OS's randomness, for tracks created without one."""
    return secrets.randbelow(MAX_SEED + 1)


def add_track(project: Project, name: str, fields: dict[str, Any]) -> Track:
    """Write `tracks/<name>.toml` canonically from `fields` (missing seed: drawn and written down)."""
    path = project.tracks_dir / f"{name}{TRACK_SUFFIX}"
    shown = project.display(path)
    check_name(name, shown)
    for existing in track_files(project.tracks_dir):
        if existing.name.lower() == path.name.lower():
            raise AcegitError(
                f"{project.display(existing)} already exists",
                hint="Edit that file, or pick another name.",
            )
    data = {k: v for k, v in fields.items() if v is not None}
    if "seed" not in data:
        data["seed"] = draw_seed()
    track = parse_track(data, name, path, project)
    try:
        check_available(track.model, project.models)
    except AcegitError as e:
        raise AcegitError(f"{shown}: model = {toml_value(track.model)}: {e.message}", hint=e.hint) from None
    fixed = distilled_steps(track.model, project.models)
    if fixed:  # a step-distilled model renders with its own steps and Euler: write them unless given
        track = parse_track({"steps": fixed, "sampler": "euler", **data}, name, path, project)
    try:
        atomic_write_text(path, dumps_track(track))
    except OSError as e:
        raise AcegitError(f"cannot write {shown}: {e.strerror}") from None
    return track
