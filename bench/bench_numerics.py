"""The cost of the pinned CPU numerics (issue 22): a warm 30-s `tiny` render, pinned vs torch defaults, 1 and 2 threads.

    .venv/bin/python bench/bench_numerics.py --rounds 3
    .venv/bin/python bench/bench_numerics.py --check 15     # what verifying the pin costs an engine start

Each measurement is a fresh process (the pin is fixed when torch's first kernel runs), and the four configurations run
interleaved, round after round, so a busy machine slows all of them alike. A process loads the shipped weights, renders
once to warm up, then times --repeats renders (sampling and decode separately) and reports its medians. "default" is
what a process gets when torch starts before acegit could pin it: the engine refuses that, so this benchmark alone
replaces the check to measure it.

--check N: the verification an engine start makes (`numerics.cpu_class`), MKL's mode asked of `mkl_cbwr_get` (what the
engine does) against MKL's verbose report of one product (what it did before), each in a fresh process after
`import torch` and one product, N rounds interleaved; prints the medians of the check alone and of the whole process.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, statistics, sys, time
pinned, threads, repeats = sys.argv[1] == "pinned", int(sys.argv[2]), int(sys.argv[3])
if not pinned:
    import torch
    torch.ones(64, 64) @ torch.ones(64, 64)  # torch's own defaults are now fixed for this process
    from acegit.engine import numerics
    numerics.cpu_class = lambda: "cpu:unpinned"  # the benchmark's bypass of the engine's refusal
import torch
from acegit.engine.inference import Engine
from acegit.engine.registry import builtin_weights_dir
from acegit.engine.request import GenerationRequest
torch.set_num_threads(threads)
engine = Engine.load(builtin_weights_dir("tiny"), device="cpu")
r = GenerationRequest(prompt="dark synthwave with driving bass", negative_prompt="", seed=1234, duration=30.0,
                      bpm=110.0, key="A minor", time_signature="4/4", steps=20, guidance=3.0, sampler="euler")
engine.decode(engine.generate([r])[0])
sample, decode = [], []
for _ in range(repeats):
    t0 = time.perf_counter(); latent = engine.generate([r])[0]; t1 = time.perf_counter()
    engine.decode(latent); t2 = time.perf_counter()
    sample.append(t1 - t0); decode.append(t2 - t1)
print(json.dumps({"sampling": statistics.median(sample), "decode": statistics.median(decode),
                  "capability": torch.backends.cpu.get_cpu_capability()}))
"""
CONFIGS = [("pinned", 1), ("default", 1), ("pinned", 2), ("default", 2)]

CHECK_CHILD = r"""
import json, re, sys, time
from acegit.engine import numerics
import torch
torch.ones(64, 64) @ torch.ones(64, 64)
t0 = time.perf_counter()
mode = numerics.mkl_mode() if sys.argv[1] == "getter" else re.search(r"CNR:(\S+)", numerics.mkl_report()).group(1)
print(json.dumps({"check": time.perf_counter() - t0, "mode": mode}))
"""


def check_cost(rounds: int) -> None:
    """The engine start's MKL check: the getter vs the verbose report, fresh processes, interleaved."""
    import time

    times: dict[str, list[float]] = {"getter": [], "verbose": []}
    whole: dict[str, list[float]] = {"getter": [], "verbose": []}
    modes = set()
    for _ in range(rounds):
        for how in times:
            t0 = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", CHECK_CHILD, how], capture_output=True, text=True, check=True)
            whole[how].append(time.perf_counter() - t0)
            found = json.loads(out.stdout.strip().splitlines()[-1])
            times[how].append(found["check"])
            modes.add(found["mode"])
    print("| MKL check | check alone, median s | min–max | whole process, median s |")
    print("| --- | ---: | ---: | ---: |")
    for how in times:
        print(
            f"| {how} | {statistics.median(times[how]):.6f} | {min(times[how]):.6f}–{max(times[how]):.6f} "
            f"| {statistics.median(whole[how]):.3f} |"
        )
    print(json.dumps({"modes": sorted(modes), "cpu": cpu_model(), "load_average_at_end": os.getloadavg()[0]}))


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run(mode: str, threads: int, repeats: int) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if k not in ("MKL_CBWR", "ATEN_CPU_CAPABILITY")}
    env["OMP_NUM_THREADS"] = str(threads)
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(threads), str(repeats)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3, help="timed renders per process")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--check", type=int, default=0, metavar="N", help="time the engine start's MKL check instead")
    args = ap.parse_args()
    if args.check:
        check_cost(args.check)
        return
    results: dict[str, list[dict[str, float]]] = {f"{m}/{t}": [] for m, t in CONFIGS}
    for _ in range(args.rounds):
        for mode, threads in CONFIGS:
            results[f"{mode}/{threads}"].append(run(mode, threads, args.repeats))
    summary = {}
    for key, runs in results.items():
        summary[key] = {
            "sampling": statistics.median(r["sampling"] for r in runs),
            "decode": statistics.median(r["decode"] for r in runs),
            "capability": runs[0]["capability"],
        }
        print(
            f"{key:10s} sampling {summary[key]['sampling']:.2f} s, decode {summary[key]['decode']:.2f} s "
            f"(ATen {summary[key]['capability']})"
        )
    for threads in (1, 2):
        p, d = summary[f"pinned/{threads}"], summary[f"default/{threads}"]
        print(
            f"{threads} thread(s): pinned / default = sampling {p['sampling'] / d['sampling']:.2f}x, "
            f"decode {p['decode'] / d['decode']:.2f}x"
        )
    machine = {"cpu": cpu_model(), "cores": os.cpu_count(), "load_average_at_end": os.getloadavg()[0]}
    print(json.dumps(machine))
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "summary": summary, "runs": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
