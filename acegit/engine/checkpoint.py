"""Checkpoints: model.safetensors + config.json + sha256, verified on load, never unpickled."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from torch import nn
from torch.overrides import TorchFunctionMode

from acegit.engine.config import ModelConfig, preset
from acegit.engine.model import MusicModel
from acegit.errors import AcegitError
from acegit.fsutil import atomic_write_bytes, atomic_write_text

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
HASH = "sha256"
M = TypeVar("M", bound=nn.Module)
DIT_PREFIX = "dit."  # the DiT's tensors in model.safetensors: a decode-only load skips them


def weights_hash(weights: bytes, config: bytes) -> str:
    """The weights hash: sha256 over the bytes of model.safetensors followed by the bytes of config.json.

    The same rule as acegit.engine.registry.weights_hash_of, which reads it without torch.
    """
    digest = hashlib.sha256(weights)  # updated in two steps: no 30-MB concatenated copy
    digest.update(config)
    return digest.hexdigest()


def seeded(seed: int, make: Callable[[], M]) -> M:
    """`make()` with torch's global generator seeded (nn.Module initialisers draw from it), then restored: the
    initial weights of a new model are reproducible and the caller's random stream is untouched."""
    gen_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        return make()
    finally:
        torch.random.set_rng_state(gen_state)


def build_model(preset_name: str, seed: int = 0) -> MusicModel:
    """A randomly initialised model of a named preset; the seed makes the initial weights reproducible."""
    cfg = preset(preset_name)
    return seeded(seed, lambda: MusicModel(cfg))


def save_module(module: nn.Module, config_json: str, folder: Path) -> str:
    """Any model's weights folder (this format, also the transcriber's): its float32 CPU tensors as safetensors and
    its config, written atomically (weights and config first, hash last); returns the hash."""
    state = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in module.state_dict().items()}
    weights = save_safetensors(state, metadata={"format": "pt"})
    return write_verified(Path(folder), weights, config_json.encode("utf-8"))


def save_checkpoint(model: MusicModel, folder: Path) -> str:
    """Write the three files atomically (weights and config first, hash last) and return the hash."""
    return save_module(model, model.cfg.to_json(), folder)


def write_verified(folder: Path, weights: bytes, config: bytes) -> str:
    """Any model's weights folder (this format, also the transcriber's): weights and config first, hash last."""
    digest = weights_hash(weights, config)
    atomic_write_bytes(folder / WEIGHTS, weights)
    atomic_write_bytes(folder / CONFIG, config)
    atomic_write_text(folder / HASH, digest + "\n")
    return digest


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise AcegitError(
            f"model checkpoint file {path} is missing",
            hint="a weights folder holds model.safetensors, config.json and sha256",
        ) from None


def load_checkpoint(
    folder: Path, expected_hash: str | None = None, decode_only: bool = False
) -> tuple[MusicModel, str]:
    """Load and verify a weights folder; returns the model (eval mode, CPU) and its hex weights hash.

    expected_hash (hex, or "sha256:<hex>" as in ModelRef) must match too when given. `decode_only` builds and loads
    what decoding needs (DCAE and vocoder), not the DiT; the hash still covers the whole file.
    """
    folder = Path(folder)
    weights, config, digest = read_verified(folder, expected_hash)
    cfg = ModelConfig.from_json(config.decode("utf-8"))
    try:
        state = load_safetensors(weights)
    except Exception as e:  # safetensors raises its own error type on a malformed header
        raise AcegitError(f"model checkpoint {folder / WEIGHTS} is not a valid safetensors file: {e}") from e
    if decode_only:  # strict below still checks that every DCAE and vocoder tensor is there, and nothing else
        state = {k: v for k, v in state.items() if not k.startswith(DIT_PREFIX)}
    with _Unfilled():  # no random initialisation to overwrite: the loaded tensors become the weights
        model = MusicModel(cfg, dit=not decode_only)
    try:
        model.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as e:
        raise AcegitError(f"model checkpoint {folder} does not match its config: {e}") from e
    return model.eval(), digest


class _Unfilled(TorchFunctionMode):
    """Build modules without their random init (0.1-0.15 s of every cold render, measured): a `torch.nn.init`
    function or an in-place fill called on an nn.Parameter is skipped, and `torch.randn` / `torch.rand` return
    uninitialised memory without drawing. Only for a build whose every parameter a strict
    `load_state_dict(assign=True)` then replaces: a loaded model may depend on no draw. Anything else is computed as
    usual. Modes are thread-local: another thread's build is untouched."""

    SKIPPED = frozenset(
        [getattr(nn.init, n) for n in dir(nn.init) if n.endswith("_") and not n.startswith("_")]
        + [torch.Tensor.uniform_, torch.Tensor.normal_, torch.Tensor.zero_, torch.Tensor.fill_]
    )
    DRAWS = frozenset([torch.randn, torch.rand])

    def __torch_function__(
        self, func: Callable[..., object], types: object, args: tuple[object, ...] = (), kwargs: dict | None = None
    ) -> object:
        kwargs = kwargs or {}
        target = args[0] if args else kwargs.get("tensor")  # nn.init passes its tensor by keyword to this hook
        if func in self.SKIPPED and isinstance(target, nn.Parameter):
            return target
        if func in self.DRAWS:
            empty: Callable[..., object] = torch.empty  # same size, dtype and device; no generator to draw from
            return empty(*args, **{k: v for k, v in kwargs.items() if k != "generator"})
        return func(*args, **kwargs)


def read_verified(folder: Path, expected_hash: str | None = None) -> tuple[bytes, bytes, str]:
    """A weights folder's weights and config bytes and their hash, checked against its sha256 file (and the expected
    hash when given)."""
    weights, config = _read(folder / WEIGHTS), _read(folder / CONFIG)
    recorded = _read(folder / HASH).decode("ascii", errors="replace").strip()
    digest = weights_hash(weights, config)
    if digest != recorded:
        raise AcegitError(
            f"model checkpoint {folder} is damaged: its files hash to {digest[:12]}…, "
            f"its sha256 file says {recorded[:12]}…",
            hint="the weights were truncated or modified; restore the folder or rebuild the checkpoint",
        )
    if expected_hash is not None and digest != expected_hash.removeprefix("sha256:"):
        raise AcegitError(
            f"model checkpoint {folder} has weights hash {digest[:12]}…, expected {expected_hash[:12]}…",
            hint="the weights changed since they were registered",
        )
    return weights, config, digest
