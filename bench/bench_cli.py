"""Time `acegit --help` and `acegit status` on a generated 1000-track project with fresh snapshots.

Usage: python bench/bench_cli.py [--tracks 1000] [--runs 11] [--frames 323]
Prints a markdown table (median, min, max wall time and median CPU time of N subprocess runs after one warm-up);
asserts nothing. `status` is timed with its stat cache (.acegit/status-cache.json) warm and, separately, deleted
before every run (the first status after a clone or a change to acegit.toml).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from acegit.engine.registry import resolve_model, weights_hash_of
from acegit.fingerprint import RENDER_FORMAT_VERSION, input_fingerprint, source_fingerprint
from acegit.fsutil import atomic_write_text
from acegit.lockfile import AudioStats, Lock, LockEnvironment, LockInput, encode_latent, lock_path, write_lock
from acegit.project import load_project
from acegit.scaffold import add_track, new_project

KEYS = ("A minor", "C major", "F# minor", "Bb major", "E minor", "D major")


def make_project(root: Path, n: int, frames: int) -> None:
    """A project with `n` tracks, each with a fresh lock holding a realistic-size latent (8, 16, frames)."""
    new_project(root)
    (root / "tracks" / "example.toml").unlink()
    weights = root / "weights" / "bench"
    weights.mkdir(parents=True)
    (weights / "model.safetensors").write_bytes(os.urandom(1 << 16))
    (weights / "config.json").write_text("{}")
    (weights / "sha256").write_text(weights_hash_of(weights) + "\n")
    cfg = (root / "acegit.toml").read_text().replace('model = "tiny"', 'model = "bench"')
    atomic_write_text(root / "acegit.toml", cfg + '\n[models.bench]\npath = "weights/bench"\n')
    project = load_project(root)
    model = resolve_model("bench", project.models)
    env = LockEnvironment.make("cpu-x86_64", "2.13.0", "float32", True)
    # One encoded latent shared by all locks: status never decodes it, but the files have their real size.
    latent = encode_latent(np.random.default_rng(0).standard_normal((8, 16, frames)).astype(np.float32))
    audio = AudioStats(30.0, 44100, 0.9, 0.2)
    for i in range(n):
        fields = {"prompt": f"track {i} for the benchmark", "seed": i, "bpm": 60 + i % 120, "key": KEYS[i % len(KEYS)]}
        track = add_track(project, f"t{i:04d}", fields)
        lin = LockInput(
            input_fingerprint(track, model), source_fingerprint(track), model.name, model.weights_hash,
            RENDER_FORMAT_VERSION,
        )  # fmt: skip
        write_lock(lock_path(track.path), Lock(track.name, lin, env, latent, audio))


def _child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def time_command(cmd: list[str], cwd: Path, runs: int, before: Path | None = None) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of each run; `before` is a file deleted before every run."""
    subprocess.run(cmd, cwd=cwd, capture_output=True)  # warm-up: page cache, .pyc files, the stat cache
    wall, cpu = [], []
    for _ in range(runs):
        if before is not None:
            before.unlink(missing_ok=True)
        c0, t0 = _child_cpu(), time.perf_counter()
        subprocess.run(cmd, cwd=cwd, capture_output=True)
        wall.append(time.perf_counter() - t0)
        cpu.append(_child_cpu() - c0)
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tracks", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=11)
    ap.add_argument("--frames", type=int, default=323, help="latent frames per lock (323 = 30 s)")
    args = ap.parse_args()

    exe = shutil.which("acegit", path=str(Path(sys.executable).parent))
    base = [exe] if exe else [sys.executable, "-m", "acegit"]
    with tempfile.TemporaryDirectory(prefix="acegit-bench-") as tmp:
        root = Path(tmp) / "bench"
        t0 = time.perf_counter()
        make_project(root, args.tracks, args.frames)
        setup = time.perf_counter() - t0
        time.sleep(2.5)  # let the newest files age past the stat cache's racy window
        status_out = subprocess.run([*base, "status"], cwd=root, capture_output=True, text=True).stdout
        summary = status_out.strip().splitlines()[-1] if status_out.strip() else "(no output)"
        size_mb = sum(p.stat().st_size for p in (root / "tracks").iterdir()) / 1e6
        rows = []
        cache = root / ".acegit" / "status-cache.json"
        for label, cmd, before in (
            ("acegit --help", [*base, "--help"], None),
            ("acegit status", [*base, "status"], None),
            ("acegit status (no stat cache)", [*base, "status"], cache),
        ):
            wall, cpu = time_command(cmd, root, args.runs, before)
            rows.append((label, statistics.median(wall), min(wall), max(wall), statistics.median(cpu)))

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs (nproc), {platform.platform()}")
    print(f"load average during the run: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"python {platform.python_version()}; command: {' '.join(base)}; {args.runs} runs after 1 warm-up")
    print(f"project: {args.tracks} tracks + fresh locks ({size_mb:.0f} MB in tracks/), built in {setup:.1f} s")
    print(f"status said: {summary}")
    print()
    print("| command | median wall (s) | min (s) | max (s) | median CPU (s) |")
    print("| --- | --- | --- | --- | --- |")
    for label, med, lo, hi, cpu in rows:
        print(f"| `{label}` | {med:.3f} | {lo:.3f} | {hi:.3f} | {cpu:.3f} |")


if __name__ == "__main__":
    main()
