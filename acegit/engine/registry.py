"""Model names to weights folders and weights hashes, without torch (status must stay instant)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from acegit.errors import AcegitError

BUILTIN_MODELS = ("tiny", "base")
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
HASH_FILE = "sha256"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class ModelRef:
    """A resolved model: its name, weights folder and weights hash ("sha256:<hex>")."""

    name: str
    path: Path
    weights_hash: str
    backend: str = "builtin"


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


def resolve_model(name: str, local_models: dict[str, Path]) -> ModelRef:
    """A local model from acegit.toml's [models.NAME] wins over a built-in of the same name."""
    if name in local_models:
        folder = local_models[name]
        fix = (
            f"Fix [models.{name}] path in acegit.toml: it must point at a folder with "
            f"{WEIGHTS_FILE}, {CONFIG_FILE} and {HASH_FILE}."
        )
        if not folder.is_dir():
            raise AcegitError(f"model {name!r}: weights folder {folder} does not exist", hint=fix)
        return ModelRef(name, folder, _read_hash(folder, fix), "builtin")
    if name in BUILTIN_MODELS:
        folder = builtin_weights_dir(name)
        return ModelRef(name, folder, _read_hash(folder, "Reinstall acegit (`pip install --force-reinstall acegit`)."))
    known = sorted({*BUILTIN_MODELS, *local_models})
    raise AcegitError(
        f"unknown model {name!r}; known models: {', '.join(known)}",
        hint=f'Use one of those, or add [models.{name}] path = "path/to/weights" to acegit.toml.',
    )
