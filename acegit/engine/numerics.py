"""Pinned CPU numerics: the BLAS and ATen code paths, fixed before torch's first CPU kernel (docs/render.md).

Torch's CPU wheel runs matrix products (and FFTs) through MKL, whose kernels and blocking depend on the CPU and the
thread count, and its own vectorised kernels through the widest instruction set the CPU has (AVX-512 on recent Intel,
AVX2 on most AMD). Both are read once, when the first kernel runs, so the pin is set when `acegit.engine` is imported
and checked when an engine starts. Torch-free: importing this module costs nothing.
"""

from __future__ import annotations

import contextlib
import functools
import os
import platform
import re
import sys
import tempfile
import threading

from acegit.errors import AcegitError

# MKL's conditional numerical reproducibility in strict mode gives the same bits for any thread count; the AVX2 branch
# of MKL and of ATen is the code path every x86-64 CPU with AVX2 (Intel since 2013, AMD since 2015) runs alike.
PINNED_ENV = {"MKL_CBWR": "AVX2,STRICT", "ATEN_CPU_CAPABILITY": "avx2"}
PINNED_CLASS = "cpu:x86-64-avx2"  # the CPU device class of a verified pinned process
_MACHINE = platform.machine().lower()
_X86 = _MACHINE in ("x86_64", "amd64")
_lock = threading.Lock()


def pin() -> None:
    """Set the pinned code paths for this process (and its children). Has effect only before torch's first CPU kernel;
    a value of the user's own is replaced, since renders must agree with every other machine's."""
    if _X86:
        os.environ.update(PINNED_ENV)


def _late_pin_error(what: str) -> AcegitError:
    return AcegitError(
        f"acegit cannot pin the CPU numerics of this process: {what}. Torch ran CPU kernels before acegit.engine was "
        "imported, so renders here would not reproduce on other machines or thread counts",
        hint="Import acegit.engine before running anything with torch, or start Python with "
        + " ".join(f"{k}={v}" for k, v in PINNED_ENV.items())
        + " set in the environment (docs/render.md, 'The determinism contract').",
    )


def mkl_report() -> str:
    """What MKL says of itself for one matrix product in its verbose mode: its code path and its CNR mode.

    No public API exposes either, so the verbose line MKL prints on file descriptor 1 is read back from a temp file.
    """
    import torch

    a = torch.ones(64, 64)
    sys.stdout.flush()
    with tempfile.TemporaryFile() as out:
        saved = None
        with contextlib.suppress(OSError):  # fd 1 may be closed (a daemon): then it is closed again afterwards
            saved = os.dup(1)
        os.dup2(out.fileno(), 1)
        try:
            with torch.backends.mkl.verbose(torch.backends.mkl.VERBOSE_ON):
                torch.mm(a, a)
            _flush_c_stdout()
        finally:
            if saved is None:
                os.close(1)
            else:
                os.dup2(saved, 1)
                os.close(saved)
        out.seek(0)
        return out.read(1 << 16).decode("utf-8", errors="replace")


def _flush_c_stdout() -> None:
    """MKL prints with C stdio, which buffers when stdout is not a terminal."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).fflush(None)


def cpu_class() -> str:
    """The CPU device class this process renders in, after checking that the pin took effect.

    "cpu:x86-64-avx2" on x86-64 (exact across those machines and thread counts); "cpu:<machine>" elsewhere (ARM, Apple:
    another class, judged against x86-64 snapshots by the tolerance). Raises when the pin came too late.
    """
    with _lock:
        return _cpu_class()


@functools.cache
def _cpu_class() -> str:
    if not _X86:
        return f"cpu:{_MACHINE}"
    import torch

    capability = torch.backends.cpu.get_cpu_capability()
    if capability == "DEFAULT":  # a CPU without AVX2: nothing to share bits with
        return "cpu:x86-64-baseline"
    if capability != "AVX2":
        raise _late_pin_error(f"torch's vectorised kernels already run the {capability} code path, not AVX2")
    if not torch.backends.mkl.is_available():
        return "cpu:x86-64-avx2-no-mkl"
    found = re.search(r"CNR:(\S+)", mkl_report())
    mode = found.group(1) if found else "unknown"
    if mode != PINNED_ENV["MKL_CBWR"]:
        raise _late_pin_error(f"MKL already runs with conditional numerical reproducibility {mode}, not AVX2,STRICT")
    return PINNED_CLASS
