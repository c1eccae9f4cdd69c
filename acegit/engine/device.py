"""The device and the process-wide numerics of the determinism contract (docs/render.md), for both backends."""

from __future__ import annotations

import os
from typing import Any

import torch

from acegit.engine import numerics
from acegit.errors import AcegitError

DTYPE = torch.float32  # the one compute dtype: part of the environment fingerprint
CUBLAS_WORKSPACE = ":4096:8"  # the fixed cuBLAS workspace deterministic GPU renders need


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """ "auto" -> cuda when available, else cpu; an explicit cuda without a GPU is a user error."""
    name = str(device)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise AcegitError("device 'cuda' was asked for but no CUDA GPU is available", hint="use --device cpu")
    try:
        return torch.device(name)
    except RuntimeError:
        raise AcegitError(f"unknown device {name!r}", hint="use auto, cpu or cuda") from None


def set_deterministic(device: torch.device) -> None:
    """Process-wide switches the determinism contract needs (docs/render.md). Idempotent."""
    if device.type == "cuda":
        # cuBLAS needs a fixed workspace to be deterministic, set before cuBLAS starts; a value of the user's own is
        # replaced (not kept), so every render runs with the one the fingerprint stands for.
        os.environ["CUBLAS_WORKSPACE_CONFIG"] = CUBLAS_WORKSPACE
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    # torch.use_deterministic_algorithms(True) also sets torch._inductor.config.deterministic, and importing that
    # config loads inductor and dynamo: 1.6 s of every command's start-up on CPU (measured). Nothing here compiles,
    # so set the one switch eager mode reads; the public call stays the fallback for a torch without it.
    if hasattr(torch._C, "_set_deterministic_algorithms"):
        torch._C._set_deterministic_algorithms(True, warn_only=False)
    else:  # pragma: no cover - torch is pinned (pyproject.toml); kept for a torch that renames the private switch
        torch.use_deterministic_algorithms(True)
    if device.type == "cpu":
        torch.backends.mkldnn.enabled = False  # type: ignore[assignment]  # oneDNN changes bits with the thread count
        numerics.cpu_class()  # refuse now, before any render, when the CPU numerics could not be pinned


def device_class(device: torch.device) -> str:
    """ "cpu:x86-64-avx2" (the pinned CPU numerics, `numerics.cpu_class`) or "cuda:<major>.<minor>" (compute
    capability): results are exact within one class."""
    if device.type == "cuda":
        major, minor = torch.cuda.get_device_capability(device)
        return f"cuda:{major}.{minor}"
    return numerics.cpu_class()


def environment(device: str | torch.device = "auto") -> dict[str, Any]:
    """The environment fingerprint of renders on this device, without loading a model."""
    dev = resolve_device(device)
    return {
        "device_class": device_class(dev),
        "torch": torch.__version__,
        "dtype": str(DTYPE).removeprefix("torch."),
        "deterministic": True,
    }
