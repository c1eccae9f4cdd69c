"""Run a script in two fresh processes, at 1 and at 2 threads, without this process's pinned numerics environment:
what each prints (stripped). The determinism tests compare it with what this process computes."""

from __future__ import annotations

import os
import subprocess
import sys


def outputs_at_one_and_two_threads(script: str, *args: str, timeout: float = 300) -> set[str]:
    from acegit.engine import numerics

    env = {k: v for k, v in os.environ.items() if k not in numerics.PINNED_ENV}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, args[0], str(threads), *args[1:]],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**env, "OMP_NUM_THREADS": str(threads)},
        )
        for threads in (1, 2)
    ]
    outs = [p.communicate(timeout=timeout) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
    return {out.strip() for out, _ in outs}
