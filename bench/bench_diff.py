"""Benchmark `acegit diff` on CPU: one 30-s track between two commits, and 100 tracks (results: docs/performance.md).

    .venv/bin/python bench/bench_diff.py [--runs 5] [--tracks 100]
    .venv/bin/python bench/bench_diff.py --cold 7 [--before DIR] [--skip-rest]   # issue 19, the fast path

Builds a throwaway project in a temp folder with a randomly initialised checkpoint of the shipped `tiny`'s config
(decoding costs the same with trained weights: same shapes, same vocoder and refinement) and two commits whose lock
files hold different 30-s latents (written directly; no sampling). Measures, in one process unless noted:

- latent only (`--no-audio`): parameters + latent comparison, the part that needs no model;
- full diff, cold: a fresh Snapshots each run (loads the model, decodes both snapshots, spectrogram metrics);
- full diff, warm: the model already loaded (what a second track in the same `acegit diff` pays);
- full diff, render cache: both versions' audio in the render cache (what a local render leaves behind);
- `acegit diff --stat` and `acegit diff` as subprocesses (interpreter + imports included);
- 100 tracks: latent only, and with audio from the render cache (cache entries hold stand-in noise of the right
  length: reading and metrics cost the same whatever the audio is).

`--cold N` (issue 19: cold `acegit diff` of one 30-s track <= 2x `python -c "import torch"`) first measures, interleaved
in rounds after one warm-up round: `python -c "import torch"`; a cold `acegit diff` (no render cache: decode-only
engine load and two decodes, which it keeps); the second `acegit diff` of the same commits (the kept decodes: no
decode, no torch); and with `--before DIR` (a checkout of the code before, e.g. `git worktree add DIR main`) that
code's cold diff, on PYTHONPATH. It prints each median, the ratio cold diff / import torch (median of the per-round
ratios and the ratio of the medians), checks that the second diff imported no torch, and then the levers one by one,
each interleaved with what it replaced: a decode-only vs a full engine load, the lock reader vs tomllib over the whole
lock, the numpy loudness meter vs pyloudnorm (per 30-s wave, and the import each needs, as subprocesses).
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
    from acegit.engine.checkpoint import save_checkpoint, seeded
    from acegit.engine.config import ModelConfig
    from acegit.engine.model import MusicModel
    from acegit.engine.registry import builtin_weights_dir, resolve_model
    from acegit.lockfile import AudioStats, LockEnvironment, build_lock, write_lock
    from acegit.project import load_project
    from acegit.scaffold import new_project
    from acegit.track import load_track

    root = tmp / f"proj{tracks}"
    new_project(root)
    shipped = ModelConfig.from_json((builtin_weights_dir("tiny") / "config.json").read_text())
    save_checkpoint(seeded(0, lambda: MusicModel(shipped)), root / "weights" / "bench")  # the shipped decode path
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


# Subprocesses may write bytecode (the warm-up round does), as any install has it: pip compiles a wheel's modules,
# and an editable install writes them on first use. A PYTHONDONTWRITEBYTECODE in the environment (some sandboxes set it)
# would have every run compile acegit's modules again (measured: 60 ms), which no user pays.
BYTECODE_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run_s(cmd: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env or BYTECODE_ENV)
    return time.perf_counter() - start


def interleaved(cases: dict[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """Each case once per round, in turn, after one warm-up round that is not counted: {case: [seconds]}."""
    times: dict[str, list[float]] = {k: [] for k in cases}
    for i in range(rounds + 1):
        for k, fn in cases.items():
            t = fn()
            if i:
                times[k].append(t)
    return times


def stats_of(ts: list[float]) -> tuple[float, float, float]:
    return statistics.median(ts), min(ts), max(ts)


def cold_diff(root: Path, rounds: int, before: Path | None) -> None:
    """Issue 19: cold and second `acegit diff` against `python -c "import torch"`, interleaved; then each lever."""
    cache = root / ".acegit" / "cache"
    exe = [sys.executable, "-m", "acegit", "diff", "HEAD~1", "HEAD"]

    def cold() -> float:
        shutil.rmtree(cache, ignore_errors=True)
        return run_s(exe)

    cases: dict[str, Callable[[], float]] = {
        '`python -c "import torch"`': lambda: run_s([sys.executable, "-c", "import torch"]),
        "cold `acegit diff` (no cache: load + 2 decodes)": cold,
        "second `acegit diff` (decodes kept)": lambda: run_s(exe),
    }
    if before is not None:
        env = {**BYTECODE_ENV, "PYTHONPATH": str(before)}

        def cold_before() -> float:
            shutil.rmtree(cache, ignore_errors=True)
            return run_s(exe, env)

        cases["cold `acegit diff`, code before (--before)"] = cold_before
    print(f"\n### cold diff, {rounds} interleaved rounds after a warm-up (load {os.getloadavg()[0]:.2f})\n")
    print("| case | median (s) | min (s) | max (s) |\n| --- | --- | --- | --- |")
    times = interleaved(cases, rounds)
    for k, ts in times.items():
        report(k, stats_of(ts))
    torch_t, cold_t = times['`python -c "import torch"`'], times["cold `acegit diff` (no cache: load + 2 decodes)"]
    ratios = [c / t for c, t in zip(cold_t, torch_t, strict=True)]
    print(
        f"\nratio cold diff / import torch: median of rounds {statistics.median(ratios):.2f} "
        f"(min {min(ratios):.2f}, max {max(ratios):.2f}); of medians "
        f"{statistics.median(cold_t) / statistics.median(torch_t):.2f}; target <= 2"
    )
    if before is not None:
        b = times["cold `acegit diff`, code before (--before)"]
        print(f"ratio before / import torch: of medians {statistics.median(b) / statistics.median(torch_t):.2f}")
    run_s(exe)  # the last round may have ended with a cold diff of the code before, which keeps no decodes
    probe = subprocess.run([sys.executable, "-X", "importtime", *exe[1:]], capture_output=True, text=True, check=True)
    tops = {line.split("|")[-1].strip().split(".")[0] for line in probe.stderr.splitlines() if "|" in line}
    print(f"second diff imported torch: {'torch' in tops}; scipy: {'scipy' in tops}")

    # The levers, each against what it replaced (in this process, interleaved).
    import tomllib

    from acegit.engine.inference import Engine
    from acegit.lockfile import read_lock
    from acegit.loudness import integrated_loudness

    weights, lock = root / "weights" / "bench", root / "tracks" / "track-000.lock.toml"
    wave = np.random.default_rng(0).standard_normal(int(SECONDS * SR)) * 0.1

    def timed_s(fn: Callable[[], object]) -> Callable[[], float]:
        def run() -> float:
            start = time.perf_counter()
            fn()
            return time.perf_counter() - start

        return run

    def pyloudnorm_meter() -> float:
        import pyloudnorm

        return float(pyloudnorm.Meter(SR).integrated_loudness(wave))

    print(f"\n### levers, {rounds} interleaved rounds (load {os.getloadavg()[0]:.2f})\n")
    print("| lever | median (s) | min (s) | max (s) |\n| --- | --- | --- | --- |")
    from acegit.lockfile import decode_latent
    from acegit.snapshots import decode

    decoder, latent = Engine.load(weights, "cpu", decode_only=True), decode_latent(read_lock(lock))
    levers = {
        "two 30-s decodes (DCAE + Griffin-Lim), engine loaded": timed_s(
            lambda: [decode(decoder, latent, SECONDS, False) for _ in range(2)]
        ),
        "engine load, whole checkpoint": timed_s(lambda: Engine.load(weights, "cpu")),
        "engine load, decode-only (no DiT)": timed_s(lambda: Engine.load(weights, "cpu", decode_only=True)),
        "read a 30-s lock (data string sliced out)": timed_s(lambda: read_lock(lock)),
        "tomllib over the whole 30-s lock": timed_s(lambda: tomllib.loads(lock.read_text())),
        "loudness of a 30-s wave, acegit/loudness.py": timed_s(lambda: integrated_loudness(wave, SR)),
        "loudness of a 30-s wave, pyloudnorm": timed_s(pyloudnorm_meter),
        '`python -c "import numpy, acegit.loudness"`': lambda: run_s(
            [sys.executable, "-c", "import numpy, acegit.loudness"]
        ),
        '`python -c "import numpy, pyloudnorm"`': lambda: run_s([sys.executable, "-c", "import numpy, pyloudnorm"]),
    }
    for k, ts in interleaved(levers, rounds).items():
        report(k, stats_of(ts))
    print(f"load average {os.getloadavg()[0]:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--tracks", type=int, default=100)
    ap.add_argument("--cold", type=int, default=0, help="rounds of the interleaved cold-diff measurement (issue 19)")
    ap.add_argument("--before", type=Path, help="a checkout of the code before, for its cold diff (with --cold)")
    ap.add_argument("--skip-rest", action="store_true", help="with --cold: only the cold-diff measurement")
    args = ap.parse_args()
    if args.cold:
        with tempfile.TemporaryDirectory(prefix="bench-diff-cold-") as tmp_name:
            root = make_project(Path(tmp_name), 1)
            os.chdir(root)
            print(f"nproc {os.cpu_count()}, python {sys.version.split()[0]}")
            cold_diff(root, args.cold, args.before.resolve() if args.before else None)
            os.chdir(ROOT)
        if args.skip_rest:
            return

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
        decoded = project.cache_dir / "decoded"  # decodes a diff keeps (issue 19): forgotten where decoding is timed
        report(
            "1 track, full, cold (model load + 2 decodes)",
            timed(lambda: (shutil.rmtree(decoded, True), one(snapshots=Snapshots(project, "cpu"))), args.runs),
        )
        warm = Snapshots(project, "cpu")
        one(snapshots=warm)
        report(
            "1 track, full, model loaded (2 decodes)",
            timed(lambda: (warm._audio.clear(), shutil.rmtree(decoded, True), one(snapshots=warm)), args.runs),
        )
        one(snapshots=Snapshots(project, "cpu"))
        report(
            "1 track, full, decodes kept from an earlier diff",
            timed(lambda: one(snapshots=Snapshots(project, "cpu")), args.runs),
        )
        shutil.rmtree(decoded)
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
        report(
            "1 track, `acegit diff` (subprocess, no cache)",
            timed(
                lambda: (shutil.rmtree(project.cache_dir, True), subprocess.run(exe, check=True, capture_output=True)),
                max(1, args.runs // 2),
            ),
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
