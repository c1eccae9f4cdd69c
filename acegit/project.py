"""The project file `acegit.toml`: name, track defaults, audio format, folders, local models, export profiles."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from acegit.cachesettings import CacheSettings, parse_cache_settings
from acegit.engine.registry import LocalModels
from acegit.errors import AcegitError, InputError
from acegit.tomlfields import boolean, read_toml, reject_unknown, table, toml_value
from acegit.track import DEFAULTABLE_FIELDS, validate_field

PROJECT_FILE = "acegit.toml"
AUDIO_FORMATS = ("wav", "flac", "ogg")
SECTIONS = ("project", "defaults", "audio", "paths", "models", "export", "remote", "cache")
PATH_KEYS = {"tracks": "tracks", "build": "build", "cache": ".acegit/cache"}
MODEL_BACKENDS = ("builtin", "ace-step")  # acegit's own checkpoints; diffusers' AceStepPipeline


@dataclass(frozen=True)
class Project:
    """A loaded acegit.toml; every folder is absolute, `defaults` holds validated track defaults."""

    root: Path
    name: str
    defaults: dict[str, Any] = field(default_factory=dict)
    audio_format: str = "wav"
    midi: bool = False  # [audio] midi: every render also writes build/<track>.mid (a track's [audio] midi wins)
    tracks_dir: Path = Path("tracks")
    build_dir: Path = Path("build")
    cache_dir: Path = Path(".acegit/cache")
    models: dict[str, Path | None] = field(default_factory=dict)  # [models.NAME] path, absolute; None: from env
    model_backends: dict[str, str] = field(default_factory=dict)  # [models.NAME] backend, "builtin" or "ace-step"
    export: dict[str, Any] = field(default_factory=dict)  # [export.*], kept as written for the export command
    remote: str | None = None  # [remote] url: the `acegit serve` that `acegit render` samples on (docs/server.md)
    cache: CacheSettings = CacheSettings()  # [cache]: the shared render cache's remote (docs/scale.md)

    @property
    def path(self) -> Path:
        return self.root / PROJECT_FILE

    def display(self, path: Path) -> str:
        """A path as messages show it: relative to the project root, with forward slashes."""
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)


def _inside(root: Path, shown: str, name: str, value: Any) -> Path:
    if not isinstance(value, str) or not value:
        raise InputError(shown, f"{name} = {toml_value(value)} must be a folder path relative to the project root")
    target = (root / value).resolve()
    if not target.is_relative_to(root.resolve()):
        raise InputError(shown, f"{name} = {toml_value(value)} points outside the project; use a folder inside it")
    return root / value


def parse_project(data: Mapping[str, Any], root: Path) -> Project:
    """Validate acegit.toml's content."""
    shown = PROJECT_FILE
    reject_unknown(shown, data, SECTIONS)
    proj = table(shown, data, "project")
    reject_unknown(shown, proj, ("name",), "project.")
    name = proj.get("name", root.name)
    if not isinstance(name, str) or not name.strip():
        raise InputError(shown, f'project.name = {toml_value(name)} must be a non-empty string (e.g. name = "my-game")')

    raw_defaults = table(shown, data, "defaults")
    reject_unknown(shown, raw_defaults, DEFAULTABLE_FIELDS, "defaults.")
    defaults = {k: validate_field(shown, k, v, f"defaults.{k}") for k, v in raw_defaults.items()}

    audio = table(shown, data, "audio")
    reject_unknown(shown, audio, ("format", "midi"), "audio.")
    midi = boolean(shown, "audio.midi", audio.get("midi", False))
    fmt = audio.get("format", "wav")
    if fmt not in AUDIO_FORMATS:
        raise InputError(shown, f"audio.format = {toml_value(fmt)} is not one of {', '.join(AUDIO_FORMATS)}")

    paths = table(shown, data, "paths")
    reject_unknown(shown, paths, PATH_KEYS, "paths.")
    folders = {k: _inside(root, shown, f"paths.{k}", paths.get(k, d)) for k, d in PATH_KEYS.items()}

    models: dict[str, Path | None] = {}
    backends: dict[str, str] = {}
    for mname, spec in table(shown, data, "models").items():
        backend = spec.get("backend", "builtin") if isinstance(spec, dict) else "builtin"
        if backend not in MODEL_BACKENDS:
            choices = ", ".join(f'"{b}"' for b in MODEL_BACKENDS)
            raise InputError(shown, f"models.{mname}.backend = {toml_value(backend)} is not one of {choices}")
        # An ace-step table may leave out `path`: the folder then comes from ACEGIT_ACE_STEP_PATH (docs/backends.md).
        pathless = isinstance(spec, dict) and backend == "ace-step" and "path" not in spec
        if not pathless and (not isinstance(spec, dict) or not isinstance(spec.get("path"), str) or not spec["path"]):
            raise InputError(
                shown,
                f'[models.{mname}] needs a `path` to a weights folder (e.g. path = "models/{mname}")',
            )
        reject_unknown(shown, spec, ("path", "backend"), f"models.{mname}.")
        backends[mname] = backend
        if pathless:
            models[mname] = None
            continue
        # Local checkpoints may live outside the project (a shared disk), so only resolve, never confine.
        p = Path(spec["path"]).expanduser()
        models[mname] = p if p.is_absolute() else root / p

    remote = table(shown, data, "remote")
    if "token" in remote:
        raise InputError(
            shown,
            "remote.token: credentials never live in acegit.toml (it is committed)",
            field="remote.token",
            hint="Remove it; give the token as ACEGIT_TOKEN in the environment, or `acegit render --token`.",
        )
    reject_unknown(shown, remote, ("url",), "remote.")
    url = remote.get("url")
    if url is not None and (not isinstance(url, str) or not url.startswith(("http://", "https://"))):
        raise InputError(
            shown, f"remote.url = {toml_value(url)} must be an http:// or https:// URL", field="remote.url"
        )

    return Project(
        root=root,
        name=name,
        defaults=defaults,
        audio_format=fmt,
        midi=midi,
        tracks_dir=folders["tracks"],
        build_dir=folders["build"],
        cache_dir=folders["cache"],
        models=LocalModels(models, backends),
        model_backends=backends,
        export=table(shown, data, "export"),
        remote=url,
        cache=parse_cache_settings(shown, table(shown, data, "cache")),
    )


def load_project(root: Path) -> Project:
    """Read `<root>/acegit.toml`."""
    root = root.absolute()
    return parse_project(read_toml(root / PROJECT_FILE, PROJECT_FILE, "project file"), root)


def find_project_root(start: Path) -> Path | None:
    """The nearest folder at or above `start` that holds acegit.toml."""
    start = start.absolute()
    for d in (start, *start.parents):
        if (d / PROJECT_FILE).is_file():
            return d
    return None


def find_project(start: Path | None = None) -> Project:
    """Load the project that contains `start` (default: the current folder)."""
    start = Path.cwd() if start is None else start
    root = find_project_root(start)
    if root is None:
        raise AcegitError(
            f"not inside an acegit project (no {PROJECT_FILE} in {start.absolute()} or any parent folder)",
            hint="Run `acegit new DIR` to create one, or cd into a project.",
        )
    return load_project(root)
