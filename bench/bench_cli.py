"""Time `acegit --help` and `acegit status` on a generated 1000-track project with fresh snapshots, against a peer.

Usage: python bench/bench_cli.py [--tracks 1000] [--runs 11] [--frames 323] [--no-status] [--tree LABEL=DIR ...]
The peer is `pre-commit --help` (a well-known Python CLI; a bench-only dependency: `pip install pre-commit`). Every
command runs once as a warm-up, then the commands are interleaved run by run (round r runs each once, the order rotated
every round) so load from other jobs falls on all of them alike. Prints a markdown table (median, min, max wall time and
median CPU time of N subprocess runs) and each acegit command's ratio to the peer: the ratio of the medians, and the
median of the per-round ratios. Asserts nothing. `status` is timed with its stat cache (.acegit/status-cache.json) warm
and, separately, deleted before every run (the first status after a clone or a change to acegit.toml).
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

PEER = "pre-commit --help"
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


Timed = tuple[str, list[str], Path | None, dict[str, str] | None]  # label, command, file deleted first, environment


def _run_once(cmd: list[str], cwd: Path, before: Path | None, env: dict[str, str] | None) -> tuple[float, float]:
    """Wall and CPU seconds of one run; `before` is a file deleted first."""
    if before is not None:
        before.unlink(missing_ok=True)
    c0, t0 = _child_cpu(), time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.decode(errors='replace')[-2000:]}")
    return wall, _child_cpu() - c0


def time_interleaved(commands: list[Timed], cwd: Path, runs: int) -> dict[str, tuple[list[float], list[float]]]:
    """Wall and CPU seconds of each run of each command, after one warm-up each (page cache, .pyc files, the stat
    cache); round r runs every command once, starting at command r mod len(commands)."""
    for _, cmd, before, env in commands:
        _run_once(cmd, cwd, before, env)
    times: dict[str, tuple[list[float], list[float]]] = {label: ([], []) for label, _, _, _ in commands}
    for r in range(runs):
        for i in range(len(commands)):
            label, cmd, before, env = commands[(r + i) % len(commands)]
            wall, cpu = _run_once(cmd, cwd, before, env)
            times[label][0].append(wall)
            times[label][1].append(cpu)
    return times


def find_peer() -> list[str]:
    """`pre-commit --help`, from this interpreter's environment or PATH; exit 1 with the install command if absent."""
    exe = shutil.which("pre-commit", path=str(Path(sys.executable).parent)) or shutil.which("pre-commit")
    if exe is None:
        print(
            "bench_cli.py times acegit against `pre-commit --help`, which is not installed.\n"
            f"Install it (a bench-only dependency): {sys.executable} -m pip install pre-commit",
            file=sys.stderr,
        )
        sys.exit(1)
    return [exe, "--help"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tracks", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=11)
    ap.add_argument("--frames", type=int, default=323, help="latent frames per lock (323 = 30 s)")
    ap.add_argument("--no-status", action="store_true", help="time only the two --help commands (no project)")
    ap.add_argument("--tree", action="append", default=[], metavar="LABEL=DIR", help="also time another source tree")
    args = ap.parse_args()
    trees = []
    for spec in args.tree:
        label, sep, folder = spec.partition("=")
        if not sep or not (Path(folder) / "acegit" / "__init__.py").is_file():
            ap.error(f"--tree {spec!r}: give LABEL=DIR, DIR holding an acegit/ package")
        trees.append((label, str(Path(folder).resolve())))

    peer = find_peer()
    exe = shutil.which("acegit", path=str(Path(sys.executable).parent))
    base = [exe] if exe else [sys.executable, "-m", "acegit"]
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="acegit-bench-") as tmp:
        root = Path(tmp) / "bench"
        commands: list[Timed] = [(PEER, peer, None, None), ("acegit --help", [*base, "--help"], None, None)]
        tree_env = {label: {**os.environ, "PYTHONPATH": folder} for label, folder in trees}
        module = [sys.executable, "-m", "acegit"]
        commands += [(f"acegit --help [{t}]", [*module, "--help"], None, tree_env[t]) for t, _ in trees]
        if args.no_status:
            root.mkdir()
            project_line = "project: none (--no-status)"
            summary = "(not run)"
        else:
            t0 = time.perf_counter()
            make_project(root, args.tracks, args.frames)
            setup = time.perf_counter() - t0
            time.sleep(2.5)  # let the newest files age past the stat cache's racy window
            status_out = subprocess.run([*base, "status"], cwd=root, capture_output=True, text=True).stdout
            summary = status_out.strip().splitlines()[-1] if status_out.strip() else "(no output)"
            size_mb = sum(p.stat().st_size for p in (root / "tracks").iterdir()) / 1e6
            project_line = (
                f"project: {args.tracks} tracks + fresh locks ({size_mb:.0f} MB in tracks/), built in {setup:.1f} s"
            )
            cache = root / ".acegit" / "status-cache.json"
            commands += [
                ("acegit status", [*base, "status"], None, None),
                ("acegit status (no stat cache)", [*base, "status"], cache, None),
            ]
            commands += [(f"acegit status [{t}]", [*module, "status"], None, tree_env[t]) for t, _ in trees]
        times = time_interleaved(commands, root, args.runs)
    load_after = os.getloadavg()

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs (nproc), {platform.platform()}, {_cpu_model()}")
    print(f"load average (1, 5, 15 min) before: {_load(load_before)}; after: {_load(load_after)}")
    print(f"python {platform.python_version()}; command: {' '.join(base)}; peer: {' '.join(peer)}")
    print(f"{args.runs} interleaved rounds after 1 warm-up of each command")
    print(project_line)
    for label, folder in trees:
        print(f"[{label}]: {sys.executable} -m acegit with PYTHONPATH={folder}")
    print(f"status said: {summary}")
    print()
    print("| command | median wall (s) | min (s) | max (s) | median CPU (s) | ÷ peer (medians) | ÷ peer (per round) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    peer_wall = times[PEER][0]
    for label, (wall, cpu) in times.items():
        med = statistics.median(wall)
        if label == PEER:
            ratios = "1 | 1"
        else:
            paired = statistics.median(w / p for w, p in zip(wall, peer_wall, strict=True))
            ratios = f"{med / statistics.median(peer_wall):.2f} | {paired:.2f}"
        print(
            f"| `{label}` | {med:.3f} | {min(wall):.3f} | {max(wall):.3f} | {statistics.median(cpu):.3f} | {ratios} |"
        )


def _load(avg: tuple[float, float, float]) -> str:
    return " ".join(f"{x:.2f}" for x in avg)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    main()
