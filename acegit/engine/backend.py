"""What every engine offers (a torch-free protocol), and the one place that maps a model's backend to its engine.

Backends (docs/backends.md): "builtin" (acegit's own model, `acegit/engine/inference.py`) and "ace-step" (ACE-Step 1.5
through diffusers, `acegit/engine/acestep.py`). Both engines satisfy `Backend`; nothing else names them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from acegit.engine.registry import ACE_STEP, ModelRef

if TYPE_CHECKING:
    import numpy as np

    from acegit.engine.request import GenerationRequest

ACE_STEP_LIBRARIES = ("diffusers", "transformers")  # what the ace-step backend runs on besides torch

StepProgress = Callable[[int, int], None]  # (steps done, steps in all) of one generate() call


class Device(Protocol):
    """The part of a torch.device that callers read."""

    @property
    def type(self) -> str: ...


class Backend(Protocol):
    """A loaded model on one device: requests -> final latents -> mono waveforms, deterministically."""

    @property
    def device(self) -> Device: ...

    @property
    def sample_rate(self) -> int: ...

    def generate(
        self, requests: Sequence[GenerationRequest], progress: StepProgress | None = None
    ) -> list[np.ndarray]: ...

    def decode(
        self, latent: np.ndarray, num_samples: int | None = None, loop: bool = False, vocoder: str | None = None
    ) -> np.ndarray: ...

    def environment(self) -> dict[str, Any]: ...


def backend_libraries(backend: str) -> str:
    """The versions of the libraries a backend computes with besides torch, for the environment fingerprint: an
    upgrade of diffusers may change an ace-step render as a torch upgrade may. "" for the built-in backend."""
    if backend != ACE_STEP:
        return ""
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for lib in ACE_STEP_LIBRARIES:
        try:
            found.append(f"{lib} {version(lib)}")
        except PackageNotFoundError:
            found.append(f"{lib} missing")
    return ", ".join(found)


def load_engine(ref: ModelRef, device: str = "auto", decode_only: bool = False) -> Backend:
    """Load the engine of a resolved model; torch (and, for ace-step, diffusers) is imported only here.
    `decode_only`: what decoding needs and no more (the built-in backend skips the DiT; ace-step loads it all)."""
    if ref.backend == ACE_STEP:
        from acegit.engine.acestep import AceStepEngine

        return AceStepEngine.load(ref, device=device)
    from acegit.engine.inference import Engine

    return Engine.load(ref, device=device, decode_only=decode_only)
