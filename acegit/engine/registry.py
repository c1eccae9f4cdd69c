"""Model names to weights folders and weights hashes, without torch (status must stay instant)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from acegit.errors import AcegitError

BUILTIN_MODELS = ("tiny", "tiny-turbo", "base")
TRANSCRIBER = "transcriber"  # the shipped audio-to-notes model (acegit/engine/transcriber.py); never a track's model
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
HASH_FILE = "sha256"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")

BUILTIN = "builtin"  # acegit's own model (acegit/engine/inference.py)
# The ace-step backend (docs/backends.md): a diffusers AceStepPipeline folder, never downloaded by acegit.
ACE_STEP = "ace-step"
ACE_STEP_PATH_ENV = "ACEGIT_ACE_STEP_PATH"  # the weights folder when [models.NAME] has no `path`
ACE_STEP_INDEX = "model_index.json"
ACE_STEP_PIPELINE = "AceStepPipeline"
# component folder -> (a file it must hold, whether it holds *.safetensors weights, what it is)
ACE_STEP_COMPONENTS = {
    "transformer": ("config.json", True, "the diffusion transformer"),
    "condition_encoder": ("config.json", True, "the condition encoder"),
    "text_encoder": ("config.json", True, "the Qwen3 text encoder"),
    "tokenizer": ("tokenizer_config.json", False, "the text tokenizer"),
    "vae": ("config.json", True, "the AutoencoderOobleck VAE"),
    "scheduler": ("scheduler_config.json", False, "the flow-matching scheduler"),
}
ACE_STEP_OBTAIN = (
    "acegit never downloads weights. On a machine with internet access, save a diffusers-format ACE-Step 1.5 "
    "checkpoint once (e.g. `hf download ACE-Step/acestep-v15-xl-turbo-diffusers --local-dir /models/ace-step-1.5`), "
    f'copy the folder here, and point [models.NAME] path = "..." or {ACE_STEP_PATH_ENV} at it (docs/backends.md).'
)
_RACY_S = 2.0  # files modified this recently are hashed but not cached: their mtime could repeat after an edit


@dataclass(frozen=True)
class ModelRef:
    """A resolved model: its name, weights folder and weights hash ("sha256:<hex>")."""

    name: str
    path: Path
    weights_hash: str
    backend: str = BUILTIN


def _package_root() -> Path:
    import acegit

    return Path(acegit.__file__).resolve().parent


def builtin_weights_dir(name: str) -> Path:
    """The folder of a built-in model: inside the installed package, else the source checkout (editable install)."""
    if name not in BUILTIN_MODELS:
        raise AcegitError(f"unknown built-in model {name!r}; built-in models are {', '.join(BUILTIN_MODELS)}")
    pkg = _package_root()
    candidates = (pkg / "_weights" / name, pkg.parent / "model" / "weights" / name)
    for c in candidates:
        if c.is_dir():
            return c
    raise AcegitError(
        f"the weights of the built-in model {name!r} are not installed (looked in {candidates[0]} and {candidates[1]})",
        hint="Reinstall acegit (`pip install --force-reinstall acegit`), or use a local model: "
        f'[models.{name}] path = "..." in acegit.toml.',
    )


def transcriber_ref() -> ModelRef:
    """The shipped transcriber's weights folder and recorded hash (read, not computed: no torch, no hashing)."""
    pkg = _package_root()
    candidates = (pkg / "_weights" / TRANSCRIBER, pkg.parent / "model" / "weights" / TRANSCRIBER)
    fix = "Reinstall acegit (`pip install --force-reinstall acegit`): the transcriber ships inside the package."
    for c in candidates:
        if c.is_dir():
            return ModelRef(TRANSCRIBER, c, _read_hash(c, fix))
    raise AcegitError(
        f"the transcriber's weights are not installed (looked in {candidates[0]} and {candidates[1]})", hint=fix
    )


def installed_models(local_models: Mapping[str, Path | None]) -> list[str]:
    """The model names a track can use here: built-ins whose weights are installed, and acegit.toml's [models.*]."""
    builtins = []
    for name in BUILTIN_MODELS:
        with contextlib.suppress(AcegitError):
            builtin_weights_dir(name)
            builtins.append(name)
    return sorted({*builtins, *local_models})


def check_available(name: str, local_models: Mapping[str, Path | None]) -> None:
    """Refuse a model name a new track cannot render with, without hashing anything: a built-in whose weights did not
    ship (e.g. `base`), or a name that is neither built in nor in acegit.toml. Local models are checked at render."""
    if name in local_models:
        return
    have = installed_models(local_models)
    if name in BUILTIN_MODELS:
        if name in have:
            return
        what = f"model {name!r} is a built-in preset whose weights are not installed (only {', '.join(have)} ship)"
    else:
        what = f"unknown model {name!r}"
    raise AcegitError(
        f"{what}; the models here are: {', '.join(have) or 'none'}",
        hint=f"Use one of those (--model {have[0] if have else 'tiny'}), or a checkpoint of your own: add "
        f'[models.{name}] path = "path/to/weights" to acegit.toml (a folder with {WEIGHTS_FILE}, {CONFIG_FILE} and '
        f"{HASH_FILE}; docs/format.md).",
    )


def weights_hash_of(folder: Path) -> str:
    """Hex sha256 over model.safetensors' bytes followed by config.json's bytes (what the `sha256` file holds)."""
    h = hashlib.sha256()
    for fname in (WEIGHTS_FILE, CONFIG_FILE):
        with open(folder / fname, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    return h.hexdigest()


def _read_hash(folder: Path, fix: str) -> str:
    for fname in (WEIGHTS_FILE, CONFIG_FILE, HASH_FILE):
        if not (folder / fname).is_file():
            raise AcegitError(f"model weights folder {folder} has no {fname}", hint=fix)
    text = (folder / HASH_FILE).read_text(encoding="utf-8", errors="replace").strip().lower()
    if not _HEX64.match(text):
        raise AcegitError(
            f"{folder / HASH_FILE} does not hold a sha256 hex digest",
            hint=f"Write the hex sha256 of {WEIGHTS_FILE} + {CONFIG_FILE} into it, or: {fix}",
        )
    return "sha256:" + text


class LocalModels(dict[str, Path | None]):
    """acegit.toml's [models.NAME] folders (None: taken from the environment), with each one's declared backend."""

    def __init__(self, folders: Mapping[str, Path | None] = {}, backends: Mapping[str, str] = {}) -> None:  # noqa: B006
        super().__init__(folders)
        self.backends = dict(backends)


def _hash_cache_dir() -> Path:
    """Per-user cache of ace-step weights hashes (a model folder may be read-only or shared by projects)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "acegit" / "weights"


def _ace_step_files(folder: Path, components: list[str]) -> list[tuple[str, int, int]]:
    """(posix path, size, mtime_ns) of model_index.json and every non-hidden file of the components, sorted."""
    out = []
    for rel in [ACE_STEP_INDEX, *components]:
        top = folder / rel
        paths = [top] if top.is_file() else [p for p in top.rglob("*") if p.is_file()]
        for p in paths:
            relpath = p.relative_to(folder).as_posix()
            if any(part.startswith(".") for part in relpath.split("/")):
                continue  # hub download metadata (.cache/), editor files: not weights
            st = p.stat()
            out.append((relpath, st.st_size, st.st_mtime_ns))
    return sorted(out)


def ace_step_weights_hash(folder: Path, components: list[str]) -> str:
    """Hex sha256 over each weights file's path, size and bytes; computed once per folder state and cached.

    The cache entry is keyed by the folder and every file's size and mtime, so `acegit status` reads a few stats
    and one small JSON file instead of hashing gigabytes.
    """
    files = _ace_step_files(folder, components)
    stamp = [list(f) for f in files]
    cache = _hash_cache_dir() / (hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:32] + ".json")
    with contextlib.suppress(OSError, ValueError):
        entry = json.loads(cache.read_text(encoding="utf-8"))
        if entry.get("files") == stamp and _HEX64.match(str(entry.get("sha256"))):
            return str(entry["sha256"])
    h = hashlib.sha256()
    for rel, size, _ in files:
        h.update(f"{rel}\0{size}\0".encode())
        with open(folder / rel, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    digest = h.hexdigest()
    if all(time.time() - mtime / 1e9 > _RACY_S for _, _, mtime in files):
        from acegit.fsutil import atomic_write_text

        with contextlib.suppress(OSError):  # no writable cache: correct, only slower
            atomic_write_text(cache, json.dumps({"folder": str(folder.resolve()), "files": stamp, "sha256": digest}))
    return digest


def _ace_step_components(name: str, folder: Path) -> list[str]:
    """The component folders of an AceStepPipeline folder, each checked; errors name what is missing and the fix."""
    where = f"model {name!r}: ACE-Step weights folder {folder}"
    try:
        index = json.loads((folder / ACE_STEP_INDEX).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AcegitError(
            f"{where} has no {ACE_STEP_INDEX}, so it is not a diffusers pipeline folder", hint=ACE_STEP_OBTAIN
        ) from None
    except (OSError, ValueError) as e:
        raise AcegitError(f"{where}: cannot read {ACE_STEP_INDEX}: {e}", hint=ACE_STEP_OBTAIN) from None
    if not isinstance(index, dict) or index.get("_class_name") != ACE_STEP_PIPELINE:
        found = index.get("_class_name") if isinstance(index, dict) else None
        raise AcegitError(
            f"{where} holds a {found or 'unknown'} pipeline, not {ACE_STEP_PIPELINE}", hint=ACE_STEP_OBTAIN
        )
    for comp, (marker, weights, what) in ACE_STEP_COMPONENTS.items():
        sub = folder / comp
        if not (sub / marker).is_file():
            raise AcegitError(f"{where} is missing {comp}/{marker} ({what})", hint=ACE_STEP_OBTAIN)
        if weights and not any(sub.glob("*.safetensors")):
            raise AcegitError(f"{where} has no {comp}/*.safetensors ({what}'s weights)", hint=ACE_STEP_OBTAIN)
    # Optional components the index names (audio tokenizer for covers) take part in the hash too.
    return sorted(
        {
            *ACE_STEP_COMPONENTS,
            *(
                k
                for k, v in index.items()
                if not k.startswith("_") and (folder / k).is_dir() and isinstance(v, list) and v[0] is not None
            ),
        }
    )


def _resolve_ace_step(name: str, folder: Path | None) -> ModelRef:
    """An ace-step model: [models.NAME] path, else $ACEGIT_ACE_STEP_PATH; backend decided by model_index.json."""
    if folder is None:
        env = os.environ.get(ACE_STEP_PATH_ENV, "")
        if not env:
            raise AcegitError(
                f'model {name!r} (backend = "ace-step") has no weights folder: its [models.{name}] table has no '
                f"`path` and {ACE_STEP_PATH_ENV} is not set",
                hint=ACE_STEP_OBTAIN,
            )
        folder = Path(env).expanduser().absolute()
    if not folder.is_dir():
        raise AcegitError(f"model {name!r}: ACE-Step weights folder {folder} does not exist", hint=ACE_STEP_OBTAIN)
    components = _ace_step_components(name, folder)
    return ModelRef(name, folder, "sha256:" + ace_step_weights_hash(folder, components), ACE_STEP)


def backend_of(name: str, local_models: Mapping[str, Path | None]) -> str:
    """Which engine a model name runs on, without hashing or loading anything: "builtin" or "ace-step"."""
    if name in local_models:
        folder = local_models[name]
        declared = local_models.backends.get(name) if isinstance(local_models, LocalModels) else None
        # Declared in acegit.toml; else no path (from the environment) or a diffusers folder means ace-step.
        if declared == ACE_STEP or (declared is None and (folder is None or (folder / ACE_STEP_INDEX).is_file())):
            return ACE_STEP
    return BUILTIN


def resolve_model(name: str, local_models: Mapping[str, Path | None]) -> ModelRef:
    """A local model from acegit.toml's [models.NAME] wins over a built-in of the same name."""
    if name in local_models:
        folder = local_models[name]
        if backend_of(name, local_models) == ACE_STEP:
            return _resolve_ace_step(name, folder)
        if folder is None:
            raise AcegitError(f"model {name!r}: [models.{name}] has no `path`", hint='Add path = "..." to it.')
        fix = (
            f"Fix [models.{name}] path in acegit.toml: it must point at a folder with "
            f"{WEIGHTS_FILE}, {CONFIG_FILE} and {HASH_FILE}."
        )
        if not folder.is_dir():
            raise AcegitError(f"model {name!r}: weights folder {folder} does not exist", hint=fix)
        return ModelRef(name, folder, _read_hash(folder, fix), BUILTIN)
    if name in BUILTIN_MODELS:
        folder = builtin_weights_dir(name)
        return ModelRef(name, folder, _read_hash(folder, "Reinstall acegit (`pip install --force-reinstall acegit`)."))
    known = sorted({*BUILTIN_MODELS, *local_models})
    raise AcegitError(
        f"unknown model {name!r}; known models: {', '.join(known)}",
        hint=f'Use one of those, or add [models.{name}] path = "path/to/weights" to acegit.toml.',
    )


DISTILLED_SAMPLER = "euler"  # the one sampler a step-distilled model renders with (it was trained on Euler steps)


def distilled_steps(name: str, local_models: Mapping[str, Path | None]) -> int:
    """The Euler steps a step-distilled model of the built-in backend renders with (its config.json's
    `sampling.steps`, model/train_student.py --jump); 0 when any steps do, or when the model cannot be read here."""
    if backend_of(name, local_models) != BUILTIN:  # before resolving: an ace-step folder would be hashed
        return 0
    try:
        ref = resolve_model(name, local_models)
        steps = json.loads((ref.path / CONFIG_FILE).read_text(encoding="utf-8")).get("sampling", {}).get("steps", 0)
    except (AcegitError, OSError, ValueError, AttributeError):
        return 0
    return steps if isinstance(steps, int) and not isinstance(steps, bool) and steps > 0 else 0
