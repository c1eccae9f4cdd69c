"""Pinned CPU numerics (acegit/engine/numerics.py): taken when acegit.engine comes first or torch is only imported,
refused clearly when torch already ran kernels, and silent on stdout."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from acegit.engine import numerics

x86_only = pytest.mark.skipif(
    platform.machine().lower() not in ("x86_64", "amd64"), reason="the pinned code path is x86-64's (MKL, AVX2)"
)


def _child(code: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """A fresh Python without the pinned environment this test process passes on to its children."""
    clean = {k: v for k, v in os.environ.items() if k not in numerics.PINNED_ENV}
    return subprocess.run(
        [sys.executable, "-c", code, *args], env={**clean, **env}, capture_output=True, text=True, timeout=300
    )


CLASS = """
from acegit.engine import numerics
print("class", numerics.cpu_class())
"""


@x86_only
def test_this_process_is_pinned() -> None:
    assert numerics.cpu_class() == numerics.pinned_class()
    assert (numerics.pinned_class() == numerics.PINNED_CLASS) == (numerics.vendor() == "intel")


@x86_only
def test_another_vendors_class_names_it_and_the_instruction_set_mkl_may_dispatch_to(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """MKL's AUTO dispatch picks kernels by instruction set: an AVX-512 CPU is never promised another's bits."""
    import torch

    assert numerics.has_avx512() == torch.cpu._is_avx512_supported()  # /proc/cpuinfo and torch's cpuinfo agree
    monkeypatch.setattr(numerics, "vendor", lambda: "amd")
    for avx512, name in ((False, "cpu:x86-64-avx2-amd"), (True, "cpu:x86-64-avx512-amd")):
        monkeypatch.setattr(numerics, "has_avx512", lambda avx512=avx512: avx512)
        assert numerics.pinned_class() == name
    monkeypatch.setattr(numerics, "vendor", lambda: "intel")
    assert numerics.pinned_class() == numerics.PINNED_CLASS  # Intel's AVX2 branch, whatever else the CPU has


@x86_only
def test_the_instant_mkl_answer_agrees_with_its_verbose_report() -> None:
    """mkl_mode asks MKL's own getter; the verbose line of one product is the slow ground truth it replaced."""
    import re

    verbose = re.search(r"CNR:(\S+)", numerics.mkl_report())
    assert verbose is not None
    assert numerics._mkl_cbwr_get() is not None, "torch's library no longer exports mkl_serv_cbwr_get"
    assert numerics.mkl_mode() == verbose.group(1)
    expected = "AVX2,STRICT" if numerics.vendor() == "intel" else "AUTO,STRICT"  # MKL honours branches on Intel only
    assert numerics.mkl_mode() == expected


@x86_only
@pytest.mark.parametrize("first", ["", "import torch\n"], ids=["acegit-first", "torch-imported-first"])
def test_pin_takes_effect_before_the_first_kernel(first: str) -> None:
    """A library user may import torch first: nothing has run yet, so the pin still holds. The MKL report that checks
    it never reaches the process's stdout."""
    proc = _child(first + CLASS)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"class {numerics.pinned_class()}\n"


@x86_only
def test_kernels_before_acegit_are_refused() -> None:
    code = "import torch\na = torch.randn(64, 64)\na @ a\n" + CLASS
    proc = _child(code)
    assert proc.returncode != 0
    assert "cannot pin the CPU numerics" in proc.stderr and "Import acegit.engine before" in proc.stderr


@x86_only
def test_a_late_mkl_alone_is_refused() -> None:
    """ATen pinned from the environment, but MKL already started without CNR: the MKL check catches it."""
    code = "import torch\na = torch.ones(64, 64)\na @ a\n" + CLASS
    proc = _child(code, ATEN_CPU_CAPABILITY="avx2")
    assert proc.returncode != 0
    assert "MKL already runs with conditional numerical reproducibility OFF" in proc.stderr


@x86_only
def test_an_engine_refuses_to_start_on_unpinned_numerics(tiny_random_checkpoint) -> None:  # type: ignore[no-untyped-def]
    code = (
        "import sys, torch\n(torch.randn(64, 64) @ torch.randn(64, 64)).sum()\n"
        "from acegit.engine.inference import Engine\nfrom acegit.errors import AcegitError\n"
        "try:\n    Engine.load(sys.argv[1], device='cpu')\nexcept AcegitError as e:\n    print('refused:', e)\n"
    )
    proc = _child(code, str(tiny_random_checkpoint))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("refused: acegit cannot pin the CPU numerics")


def test_pin_sets_exactly_the_documented_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in numerics.PINNED_ENV:
        monkeypatch.setenv(k, "something-else")
    numerics.pin()
    expected = numerics.PINNED_ENV if platform.machine().lower() in ("x86_64", "amd64") else {}
    assert {k: os.environ[k] for k in expected} == expected
