"""The fast path (issue 19): a warm 30-s `tiny` render by sampler and steps, and a cold `acegit render --no-cache`
against `python -c "import torch"`.

    .venv/bin/python bench/bench_fastpath.py --rounds 3                  # both parts
    .venv/bin/python bench/bench_fastpath.py --part warm --threads 1     # one part, another thread count
    .venv/bin/python bench/bench_fastpath.py --part vocoder --peer dc8b240~1   # Griffin-Lim now vs at a revision

warm: every configuration is a fresh process that loads the shipped weights, renders once to warm up, then times
--repeats renders (sampling, DCAE decode and vocoder separately) and reports medians; configurations run interleaved,
round after round, so a busy machine slows all of them alike. cold: one temporary project with a 30-s track of
`tiny` and the same of `tiny-turbo` (5 steps); each one's `acegit render NAME --force --no-cache` and `python -c
"import torch"` alternate, --rounds times each after a warm-up round (with --before DIR also the turbo render of
the code in DIR, on PYTHONPATH, e.g. `git archive REV acegit | tar -x -C DIR`). vocoder: Griffin-Lim of this checkout vs
acegit/engine/vocoder.py at --peer (loaded from Git into its own module), alternating on the same mel; also checks
that both give the same samples. Prints markdown; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

WARM_CHILD = r"""
import json, statistics, sys, time
import torch
from acegit.engine.inference import Engine
from acegit.engine.registry import builtin_weights_dir
from acegit.engine.request import GenerationRequest
sampler, steps, threads, repeats, weights = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), \
    sys.argv[5]
torch.set_num_threads(threads)
engine = Engine.load(weights or builtin_weights_dir("tiny"), device="cpu")
r = GenerationRequest(prompt="dark synthwave with driving bass", negative_prompt="", seed=1234, duration=30.0,
                      bpm=110.0, key="A minor", time_signature="4/4", steps=steps, guidance=4.0, sampler=sampler)
n = 30 * engine.sample_rate
engine.decode(engine.generate([r])[0], n)
parts = {"sampling": [], "dcae": [], "vocoder": [], "total": []}
for _ in range(repeats):
    t0 = time.perf_counter(); latent = engine.generate([r])[0]
    t1 = time.perf_counter(); mel = engine.decode_mel(latent)
    t2 = time.perf_counter(); engine.vocoder(mel, n)
    t3 = time.perf_counter()
    for k, v in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t3 - t0)):
        parts[k].append(v)
print(json.dumps({k: statistics.median(v) for k, v in parts.items()}))
"""

VOCODER_CHILD = r"""
import importlib.util, json, subprocess, sys, time
import torch
from acegit.engine import vocoder as current
from acegit.engine.inference import Engine
from acegit.engine.registry import builtin_weights_dir
from acegit.engine.request import GenerationRequest
peer_file, rounds, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
spec = importlib.util.spec_from_file_location("peer_vocoder", peer_file)
peer = importlib.util.module_from_spec(spec); spec.loader.exec_module(peer)
torch.set_num_threads(threads)
engine = Engine.load(builtin_weights_dir("tiny"), device="cpu")
r = GenerationRequest(prompt="lo-fi hip hop beat", negative_prompt="", seed=3, duration=30.0, bpm=85.0,
                      key="A minor", time_signature="4/4", steps=20, guidance=4.0, sampler="euler")
mel, n = engine.decode_mel(engine.generate([r])[0]), 30 * engine.sample_rate
vocoders = {"this checkout": current.GriffinLim(engine.cfg.audio), "peer": peer.GriffinLim(engine.cfg.audio)}
outs = {k: v(mel, n) for k, v in vocoders.items()}  # warm-up
times = {k: [] for k in vocoders}
for _ in range(rounds):
    for k, v in vocoders.items():
        t = time.perf_counter(); v(mel, n); times[k].append(time.perf_counter() - t)
print(json.dumps({"times": times, "identical": bool(torch.equal(*outs.values()))}))
"""


def _machine() -> str:
    load = os.getloadavg()[0]
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load average {load:.2f}"


def warm(rounds: int, repeats: int, threads: int, configs: list[tuple[str, int, str]]) -> None:
    results: dict[tuple[str, int, str], list[dict[str, float]]] = {c: [] for c in configs}
    for _ in range(rounds):
        for sampler, steps, weights in configs:
            args = [sys.executable, "-c", WARM_CHILD, sampler, str(steps), str(threads), str(repeats), weights]
            out = subprocess.run(args, capture_output=True, text=True, check=True)
            results[(sampler, steps, weights)].append(json.loads(out.stdout))
    print(f"\nWarm 30-s render, {threads} thread(s), median over {rounds} rounds of {repeats} ({_machine()})\n")
    print("| weights | sampler | steps | sampling s | DCAE s | vocoder s | total s | real-time factor |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for (sampler, steps, weights), rs in results.items():
        med = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
        print(
            f"| {weights or 'shipped tiny'} | {sampler} | {steps} | {med['sampling']:.2f} | {med['dcae']:.2f} "
            f"| {med['vocoder']:.2f} | {med['total']:.2f} | {30 / med['total']:.1f} |"
        )


def cold(rounds: int, before: Path | None = None) -> None:
    acegit = str(Path(sys.executable).with_name("acegit"))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "proj"
        subprocess.run([acegit, "new", str(root)], check=True, capture_output=True)
        track = 'prompt = "dark synthwave with driving bass"\nseed = 1234\nduration = 30.0\nbpm = 110\n'
        (root / "tracks" / "example.toml").write_text(track)
        (root / "tracks" / "turbo.toml").write_text(track + 'model = "tiny-turbo"\nsteps = 5\n')
        commands = {
            "acegit render example --force --no-cache": [acegit, "render", "example", "--force", "--no-cache"],
            'python -c "import torch"': [sys.executable, "-c", "import torch"],
            "acegit render turbo --force --no-cache (tiny-turbo)": [acegit, "render", "turbo", "--force", "--no-cache"],
        }
        if before is not None:  # the code before, on PYTHONPATH, through `python -m acegit`
            commands["turbo, code before (--before)"] = [sys.executable, "-m", "acegit", "render", "turbo", "--force",
                                                        "--no-cache"]  # fmt: skip
        times: dict[str, list[float]] = {k: [] for k in commands}
        # bytecode may be written (the warm-up round does), as in any install: pip compiles a wheel's modules; a
        # sandbox's PYTHONDONTWRITEBYTECODE would have every run compile acegit's modules again (60 ms, measured)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        for i in range(rounds + 1):  # the first round warms the page cache and is not counted
            for name, cmd in commands.items():
                t = time.perf_counter()
                run_env = {**env, "PYTHONPATH": str(before)} if name.startswith("turbo, code before") else env
                subprocess.run(cmd, cwd=root, check=True, capture_output=True, env=run_env)
                if i:
                    times[name].append(time.perf_counter() - t)
    med = {k: statistics.median(v) for k, v in times.items()}
    torch_ = med['python -c "import torch"']
    print(f"\nCold 30-s render vs importing torch, {rounds} interleaved rounds ({_machine()})\n")
    print("| command | median s | min s | max s |\n| --- | ---: | ---: | ---: |")
    for k, v in times.items():
        print(f"| `{k}` | {statistics.median(v):.2f} | {min(v):.2f} | {max(v):.2f} |")
    for k, v in med.items():
        if k.startswith(("acegit", "turbo")):
            print(f"\nratio `{k}` / import torch: **{v / torch_:.2f}x** (target 1.5x)")


def vocoder(peer: str, rounds: int, threads: int) -> None:
    source = subprocess.run(
        ["git", "show", f"{peer}:acegit/engine/vocoder.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    with tempfile.TemporaryDirectory() as tmp:
        peer_file = Path(tmp) / "peer_vocoder.py"
        peer_file.write_text(source)
        args = [sys.executable, "-c", VOCODER_CHILD, str(peer_file), str(rounds), str(threads)]
        data = json.loads(subprocess.run(args, capture_output=True, text=True, check=True).stdout)
    print(f"\nGriffin-Lim, 30 s, {threads} thread(s), {rounds} alternating runs ({_machine()})\n")
    print("| Griffin-Lim | median s | min s |\n| --- | ---: | ---: |")
    for k, v in data["times"].items():
        print(f"| {k if k != 'peer' else f'at {peer}'} | {statistics.median(v):.3f} | {min(v):.3f} |")
    ratio = statistics.median(data["times"]["this checkout"]) / statistics.median(data["times"]["peer"])
    print(f"\nratio: {ratio:.2f}x; identical samples: {data['identical']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=("warm", "cold", "vocoder", "all"), default="all")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--config",
        action="append",
        help="SAMPLER:STEPS[:WEIGHTS] (repeatable; WEIGHTS a checkpoint folder, default the shipped tiny; "
        "default configs euler:20, dpm++2m:10..14)",
    )
    ap.add_argument("--peer", default="HEAD", help="the revision whose Griffin-Lim --part vocoder compares against")
    ap.add_argument("--before", type=Path, help="with --part cold: a checkout of the code before (its acegit/ folder)")
    args = ap.parse_args()
    parts = [(c.split(":", 2) + [""])[:3] for c in args.config or []]  # SAMPLER, STEPS and the weights ("" if none)
    configs = [(sampler, int(steps), weights) for sampler, steps, weights in parts] or [
        ("euler", 20, ""),
        ("dpm++2m", 14, ""),
        ("dpm++2m", 12, ""),
        ("dpm++2m", 10, ""),
    ]
    if args.part in ("warm", "all"):
        warm(args.rounds, args.repeats, args.threads, configs)
    if args.part in ("cold", "all"):
        cold(args.rounds, args.before)
    if args.part in ("vocoder", "all"):
        vocoder(args.peer, args.rounds, args.threads)


if __name__ == "__main__":
    main()
