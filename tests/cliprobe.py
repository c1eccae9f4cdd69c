"""Run `acegit ARGS` in a fresh interpreter and report which heavy modules it imported (the lazy-import promises:
`--help`, `status`, cache restores and daemon use never import torch)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

HEAVY = ("torch", "numpy", "git", "librosa", "scipy")

_SCRIPT = """
import json, sys
roots = set(json.loads(sys.argv[1]))
from acegit.cli import main
sys.argv = ["acegit", *sys.argv[2:]]
try:
    main()
except SystemExit as e:
    code = e.code
print(json.dumps({"code": code, "loaded": sorted(m for m in sys.modules if m.split(".")[0] in roots)}))
"""


@dataclass(frozen=True)
class Probe:
    code: object  # the command's exit code (None: it returned)
    loaded: list[str]  # the modules under `modules` it imported
    output: str  # what the command printed before the probe's own line
    stderr: str


def probe(
    cwd: Path, *args: str, modules: tuple[str, ...] = HEAVY, env: dict[str, str] | None = None, timeout: float = 60
) -> Probe:
    proc = subprocess.run(
        [sys.executable, "-c", _SCRIPT, json.dumps(modules), *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    *out, last = proc.stdout.strip().splitlines() or [""]
    if not last.startswith("{"):
        raise AssertionError(f"acegit {' '.join(args)} printed no probe line:\n{proc.stdout}\n{proc.stderr}")
    data = json.loads(last)
    return Probe(data["code"], data["loaded"], "\n".join(out), proc.stderr)
