"""Benchmark `acegit diff` on CPU: one 30-s track between two commits, and 100 tracks (results: docs/performance.md).

    .venv/bin/python bench/bench_diff.py [--runs 5] [--tracks 100]

Builds a throwaway project in a temp folder with a randomly initialised tiny checkpoint (decoding costs the same with
trained weights: same shapes, same vocoder) and two commits whose lock files hold different 30-s latents (written
directly; no sampling). Measures, in one process unless noted:

- latent only (`--no-audio`): parameters + latent comparison, the part that needs no model;
- full diff, cold: a fresh Snapshots each run (loads the model, decodes both snapshots, spectrogram metrics);
- full diff, warm: the model already loaded (what a second track in the same `acegit diff` pays);
- full diff, render cache: both versions' audio in the render cache (what a local render leaves behind);
- `acegit diff --stat` and `acegit diff` as subprocesses (interpreter + imports included);
- 100 tracks: latent only, and with audio from the render cache (cache entries hold stand-in noise of the right
  length: reading and metrics cost the same whatever the audio is).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SECONDS = 30.0
SR = 22050


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def make_project(tmp: Path, tracks: int) -> Path:
    from acegit.engine.checkpoint import build_model, save_checkpoint
    from acegit.engine.registry import resolve_model
    from acegit.lockfile import AudioStats, LockEnvironment, build_lock, write_lock
    from acegit.project import load_project
    from acegit.scaffold import new_project
    from acegit.track import load_track

    root = tmp / f"proj{tracks}"
    new_project(root)
    save_checkpoint(build_model("tiny", seed=0), root / "weights" / "bench")
    text = (root / "acegit.toml").read_text().replace('model = "tiny"', 'model = "bench"')
    (root / "acegit.toml").write_text(text + '\n[models.bench]\npath = "weights/bench"\n')
    (root / "tracks" / "example.toml").unlink()
    project = load_project(root)
    ref = resolve_model("bench", project.models)
    env = LockEnvironment.make("cpu", "2.13.0", "float32", True)
    frames = int(SECONDS * SR) // 2048 + 1
    for version in (1, 2):
        for i in range(tracks):
            name = f"track-{i:03d}"
            path = root / "tracks" / f"{name}.toml"
            path.write_text(f'prompt = "bench track {i}"\nseed = {1000 * version + i}\nduration = {SECONDS}\n')
            latent = np.random.default_rng(1000 * version + i).standard_normal((8, 16, frames)).astype(np.float32)
            track = load_track(path, project)
            write_lock(
                root / "tracks" / f"{name}.lock.toml",
                build_lock(track, ref, latent, env, AudioStats(SECONDS, SR, 0.5, 0.1)),
            )
        git(root, "add", "-A")
        git(root, "commit", "-qm", f"v{version}")
    return root


def fill_cache(root: Path, decode: bool) -> None:
    """Put each snapshot's audio in the render cache, as a local render would (decoded, or stand-in noise)."""
    from acegit.cache import RenderCache, cache_key
    from acegit.diff.sides import Side, open_repo
    from acegit.lockfile import dumps_lock
    from acegit.project import load_project
    from acegit.render import audio_bytes
    from acegit.snapshots import Snapshots

    project = load_project(root)
    cache = RenderCache(project.cache_dir)
    snapshots = Snapshots(project, "cpu")
    for rev in ("HEAD~1", "HEAD"):
        side = Side(project, open_repo(project), rev)
        for name in side.track_names():
            lock = side.version(name).lock
            assert lock is not None
            if decode:
                wave = snapshots.audio(lock, name).wave
            else:
                wave = np.random.default_rng(0).uniform(-0.3, 0.3, int(SECONDS * SR)).astype(np.float32)
            key = cache_key(lock.input.fingerprint, lock.environment.fingerprint)
            cache.put(key, dumps_lock(lock).encode(), audio_bytes(wave, SR, "cache"))


def timed(fn: Callable[[], object], runs: int) -> tuple[float, float, float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), max(times)


def report(label: str, stats: tuple[float, float, float]) -> None:
    med, lo, hi = stats
    print(f"| {label} | {med:.3f} | {lo:.3f} | {hi:.3f} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--tracks", type=int, default=100)
    args = ap.parse_args()

    from acegit.diff import diff_tracks
    from acegit.project import load_project
    from acegit.snapshots import Snapshots

    print(f"load average {os.getloadavg()[0]:.2f}, nproc {os.cpu_count()}, python {sys.version.split()[0]}")
    print("| case | median (s) | min (s) | max (s) |\n| --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory(prefix="bench-diff-") as tmp_name:
        tmp = Path(tmp_name)
        root = make_project(tmp, 1)
        project = load_project(root)
        os.chdir(root)

        def one(**kw: object) -> None:
            r = diff_tracks(project, "HEAD~1", "HEAD", **kw)  # type: ignore[arg-type]
            assert len(r.tracks) == 1 and not r.problems, r.problems

        report("1 track, latent only (`--no-audio`)", timed(lambda: one(audio=False), args.runs))
        report(
            "1 track, full, cold (model load + 2 decodes)",
            timed(lambda: one(snapshots=Snapshots(project, "cpu")), args.runs),
        )
        warm = Snapshots(project, "cpu")
        one(snapshots=warm)
        report(
            "1 track, full, model loaded (2 decodes)",
            timed(lambda: (warm._audio.clear(), one(snapshots=warm)), args.runs),
        )
        fill_cache(root, decode=True)
        report(
            "1 track, full, audio from the render cache",
            timed(lambda: one(snapshots=Snapshots(project, "cpu")), args.runs),
        )
        exe = [sys.executable, "-m", "acegit", "diff", "HEAD~1", "HEAD"]
        report(
            "1 track, `acegit diff --stat` (subprocess)",
            timed(lambda: subprocess.run([*exe, "--stat"], check=True, capture_output=True), args.runs),
        )
        report(
            "1 track, `acegit diff` (subprocess, render cache)",
            timed(lambda: subprocess.run(exe, check=True, capture_output=True), args.runs),
        )
        shutil.rmtree(project.cache_dir)
        report(
            "1 track, `acegit diff` (subprocess, no cache)",
            timed(lambda: subprocess.run(exe, check=True, capture_output=True), max(1, args.runs // 2)),
        )

        root = make_project(tmp, args.tracks)
        project = load_project(root)
        os.chdir(root)

        def many(**kw: object) -> None:
            r = diff_tracks(project, "HEAD~1", "HEAD", **kw)  # type: ignore[arg-type]
            assert len(r.tracks) == args.tracks and not r.problems

        runs = max(1, args.runs // 2)
        report(f"{args.tracks} tracks, latent only", timed(lambda: many(audio=False), runs))
        fill_cache(root, decode=False)
        report(
            f"{args.tracks} tracks, full, audio from the render cache",
            timed(lambda: many(snapshots=Snapshots(project, "cpu")), runs),
        )
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
