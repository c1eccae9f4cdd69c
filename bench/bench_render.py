"""Time `acegit render`: a no-op render of a 1000-track project, and real renders of 1 and 16 tracks on this machine.

Usage: python bench/bench_render.py [--tracks 1000] [--runs 7] [--render-tracks 16] [--duration 30] [--steps 20]
Prints markdown tables (median of N subprocess runs after one warm-up); asserts nothing. Real renders use a randomly
initialised `tiny` checkpoint: the same architecture and sizes as the shipped weights, so the same time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_cli import make_project, time_command

from acegit.engine.checkpoint import build_model, save_checkpoint
from acegit.fsutil import atomic_write_text
from acegit.project import load_project
from acegit.scaffold import add_track, new_project


def _render_project(root: Path, n: int, duration: float, steps: int) -> None:
    new_project(root)
    (root / "tracks" / "example.toml").unlink()
    save_checkpoint(build_model("tiny", seed=0), root / "weights" / "tiny-random")
    cfg = (root / "acegit.toml").read_text().replace('model = "tiny"', 'model = "rnd"')
    atomic_write_text(root / "acegit.toml", cfg + '\n[models.rnd]\npath = "weights/tiny-random"\n')
    project = load_project(root)
    prompts = ("calm solo piano", "epic orchestral battle", "lo-fi hip hop beat", "chiptune adventure")
    for i in range(n):
        fields = {"prompt": prompts[i % 4], "seed": i, "duration": duration, "steps": steps}
        add_track(project, f"t{i:02d}", fields)


def _timed_render(base: list[str], root: Path, names: list[str]) -> tuple[float, dict[str, float]]:
    t0 = time.perf_counter()
    out = subprocess.run([*base, "render", *names, "--force", "--no-cache", "--json"], cwd=root, capture_output=True)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(out.stderr.decode())
    data = json.loads(out.stdout)
    return wall, {t["name"]: t["seconds"] for t in data["tracks"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tracks", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--render-tracks", type=int, default=16)
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--noop-only", action="store_true", help="only the no-op render (no model, seconds not minutes)")
    args = ap.parse_args()

    exe = shutil.which("acegit", path=str(Path(sys.executable).parent))
    base = [exe] if exe else [sys.executable, "-m", "acegit"]
    rows = []
    with tempfile.TemporaryDirectory(prefix="acegit-bench-") as tmp:
        root = Path(tmp) / "noop"
        make_project(root, args.tracks, 323)
        time.sleep(2.5)  # past the status cache's racy window
        wall, cpu = time_command([*base, "render"], root, args.runs)
        label = f"no-op `acegit render`, {args.tracks} fresh tracks"
        rows.append((label, statistics.median(wall), min(wall), statistics.median(cpu)))
        if not args.noop_only:
            rows += _real_renders(base, Path(tmp) / "real", args)

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs (nproc), {platform.platform()}")
    print(f"load average after the run: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"python {platform.python_version()}; command: {' '.join(base)}")
    print()
    print("| what | median wall (s) | min (s) | median CPU (s) |")
    print("| --- | --- | --- | --- |")
    for label, med, lo, cpu_s in rows:
        print(f"| {label} | {med:.3f} | {lo:.3f} | {'' if cpu_s is None else f'{cpu_s:.3f}'} |")


def _real_renders(base: list[str], root: Path, args: argparse.Namespace) -> list[tuple[str, float, float, None]]:
    _render_project(root, args.render_tracks, args.duration, args.steps)
    _timed_render(base, root, ["t00"])  # warm-up: page cache, .pyc files
    one = [_timed_render(base, root, ["t00"]) for _ in range(3)]
    label = f"render 1 track ({args.duration:g} s, {args.steps} steps), whole command"
    rows = [(label, statistics.median(w for w, _ in one), min(w for w, _ in one), None)]
    secs1 = [s["t00"] for _, s in one]
    rows.append(("  of which sampling + decoding the track", statistics.median(secs1), min(secs1), None))
    names = [f"t{i:02d}" for i in range(args.render_tracks)]
    wall, secs = _timed_render(base, root, names)
    rows.append((f"render {args.render_tracks} tracks, whole command (one run)", wall, wall, None))
    rows.append(("  median per track", statistics.median(secs.values()), min(secs.values()), None))
    return rows


if __name__ == "__main__":
    main()
