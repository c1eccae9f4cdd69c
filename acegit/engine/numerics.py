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
PINNED_CLASS = "cpu:x86-64-avx2"  # the CPU device class of a verified pinned process on an Intel CPU
# MKL honours a CNR code branch on Intel CPUs only. On another vendor's CPU it keeps its own dispatch (it reports
# "AUTO,STRICT" when asked for AVX2,STRICT), which is strict — the same bits at any thread count, measured on an AMD
# EPYC — but not Intel's AVX2 branch: its latents differ from an Intel machine's in the last bits (docs/render.md).
# AUTO dispatches by instruction set, so a CPU with AVX-512 (AMD since Zen 4) is a class apart from one without.
VENDOR_CLASS = "cpu:x86-64-{isa}-{vendor}"
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


# mkl_cbwr.h: the code branch in the low bits, the strict flag above them.
_CBWR_ALL, _CBWR_STRICT = -1, 0x10000
_CBWR_BRANCHES = {0: "OFF", 1: "OFF", 2: "AUTO", 3: "COMPATIBLE", 10: "AVX2"}


def vendor() -> str:
    """The CPU's vendor, short: "intel", "amd", another vendor's id in lower case, or "unknown". Torch-free."""
    # Windows: platform.processor() is "AMD64 Family 23 Model 49 Stepping 0, AuthenticAMD"
    found = _cpuinfo("vendor_id") or platform.processor()
    for name, short in (("GenuineIntel", "intel"), ("AuthenticAMD", "amd")):
        if name in found:
            return short
    if sys.platform == "darwin":  # x86-64 Macs are Intel's
        return "intel"
    word = re.sub(r"[^a-z0-9]+", "", found.rsplit(",", 1)[-1].lower())
    return word or "unknown"


def mkl_mode() -> str:
    """MKL's conditional numerical reproducibility mode as its verbose mode writes it ("AVX2,STRICT", "OFF", ...).

    Asked of MKL itself (`mkl_cbwr_get`, which torch's library exports as mkl_serv_cbwr_get): instant. Where that
    symbol is missing or answers a value this module does not name, MKL's verbose report of one product says it
    (a second or so)."""
    code = _mkl_cbwr_get()
    if code is not None and code & ~_CBWR_STRICT in _CBWR_BRANCHES:
        return _CBWR_BRANCHES[code & ~_CBWR_STRICT] + (",STRICT" if code & _CBWR_STRICT else "")
    found = re.search(r"CNR:(\S+)", mkl_report())
    return found.group(1) if found else "unknown"


def _mkl_cbwr_get() -> int | None:
    import ctypes

    import torch

    lib = os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.so")
    try:
        get = ctypes.CDLL(lib).mkl_serv_cbwr_get
    except (OSError, AttributeError):
        return None
    get.restype, get.argtypes = ctypes.c_int, [ctypes.c_int]
    return int(get(_CBWR_ALL))


def mkl_report() -> str:
    """What MKL says of itself for one matrix product in its verbose mode: its code path and its CNR mode.

    The verbose line MKL prints on file descriptor 1 is read back from a temp file. Costs 0.7-1 s (measured): MKL
    times its calls in this mode, and its first timed call calibrates the clock.
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
            flush_c_stdio()
        finally:
            if saved is None:
                os.close(1)
            else:
                os.dup2(saved, 1)
                os.close(saved)
        out.seek(0)
        return out.read(1 << 16).decode("utf-8", errors="replace")


def flush_c_stdio() -> None:
    """Flush C stdio's buffers: MKL (and any native library) prints with it, which buffers when stdout is not a
    terminal."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError, TypeError):  # TypeError: no CDLL(None) (Windows)
        ctypes.CDLL(None).fflush(None)


def cpu_class() -> str:
    """The CPU device class this process renders in, after checking that the pin took effect.

    "cpu:x86-64-avx2" on an Intel x86-64 CPU (MKL's AVX2 branch: exact across those machines and thread counts);
    "cpu:x86-64-avx2-amd" ("-avx512-" on a CPU with AVX-512; another vendor's name for another vendor) where MKL
    keeps its own dispatch: exact at any thread count, another class than Intel's; "cpu:<machine>" elsewhere (ARM,
    Apple). Other classes are judged against each other by the tolerance. Raises when the pin came too late.
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
    mode, who = mkl_mode(), vendor()
    if mode == PINNED_ENV["MKL_CBWR"]:
        return PINNED_CLASS
    if mode == "AUTO,STRICT" and who != "intel":  # MKL honours no code branch here; strict it is
        return pinned_class()
    raise _late_pin_error(f"MKL already runs with conditional numerical reproducibility {mode}, not AVX2,STRICT")


def pinned_class() -> str:
    """The class a verified pinned process on this CPU has: what cpu_class returns when the pin took effect (the
    decoded-snapshot cache keys on it). Torch-free where /proc/cpuinfo lists the CPU's flags (Linux)."""
    if not _X86:
        return f"cpu:{_MACHINE}"
    flags = _cpuinfo("flags")
    if flags is not None and "avx2" not in flags.split():
        return "cpu:x86-64-baseline"
    who = vendor()
    if who == "intel":
        return PINNED_CLASS
    return VENDOR_CLASS.format(isa="avx512" if has_avx512() else "avx2", vendor=who)


def has_avx512() -> bool:
    """Whether the CPU has AVX-512 (its foundation, avx512f): from /proc/cpuinfo, else as torch's cpuinfo sees it."""
    flags = _cpuinfo("flags")
    if flags is not None:
        return "avx512f" in flags.split()
    import torch

    return bool(torch.cpu._is_avx512_supported())


@functools.cache
def _cpuinfo(field: str) -> str | None:
    """The first CPU's `field` in /proc/cpuinfo (Linux), or None where there is no such file or field."""
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
        for line in f:
            name, _, value = line.partition(":")
            if name.strip() == field:
                return value.strip()
    return None
