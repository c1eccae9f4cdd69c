"""Time `acegit export` per file: a 30 s track from the render cache to each format (no model involved).

Usage: python bench/bench_export.py [--seconds 30] [--runs 5]
Prints a markdown table: median and min wall time, and median CPU time, of `export_tracks` for one track and one profile
(resample 22,050 -> 48,000 Hz, stereo, loudness -16 LUFS, true peak -1 dBTP, encode, decode-and-measure, tags, write).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from conftest import cache_render, make_weights  # noqa: E402

from acegit.export import export_tracks  # noqa: E402
from acegit.project import PROJECT_FILE, load_project  # noqa: E402
from acegit.scaffold import add_track, new_project  # noqa: E402

PROFILES = {
    "wav": 'format = "wav"',
    "flac": 'format = "flac"',
    "ogg": 'format = "ogg"',
    "wav, loop, 0.1 s crossfade": 'format = "wav"\nloop_crossfade = 0.1',
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="acegit-bench-export-")) / "proj"
    new_project(root)
    (root / "tracks" / "example.toml").unlink()
    make_weights(root / "weights" / "test")
    text = (root / PROJECT_FILE).read_text().replace('model = "tiny"', 'model = "test"')
    text += '\n[models.test]\npath = "weights/test"\n'
    for i, body in enumerate(PROFILES.values()):
        text += f"\n[export.p{i}]\n{body}\nsample_rate = 48000\nchannels = 2\nloudness = -16.0\n"
    (root / PROJECT_FILE).write_text(text)
    project = load_project(root)
    add_track(project, "plain", {"prompt": "bench", "seed": 1, "duration": args.seconds})
    add_track(project, "loop", {"prompt": "bench", "seed": 2, "duration": args.seconds, "loop": True})
    for name in ("plain", "loop"):
        cache_render(project, name)

    print(f"{args.seconds:g} s track, 22,050 Hz mono -> 48,000 Hz stereo, -16 LUFS / -1 dBTP; {args.runs} runs after a")
    print(f"warm-up; {platform.machine()} {platform.system()}, Python {platform.python_version()}.\n")
    print("| profile | median wall (s) | min (s) | median CPU (s) |")
    print("| --- | --- | --- | --- |")
    for i, label in enumerate(PROFILES):
        track = "loop" if "loop" in label else "plain"
        export_tracks(project, f"p{i}", [track])  # warm-up: imports
        walls, cpus = [], []
        for _ in range(args.runs):
            w0, c0 = time.perf_counter(), time.process_time()
            export_tracks(project, f"p{i}", [track])
            walls.append(time.perf_counter() - w0)
            cpus.append(time.process_time() - c0)
        print(f"| {label} | {statistics.median(walls):.2f} | {min(walls):.2f} | {statistics.median(cpus):.2f} |")


if __name__ == "__main__":
    main()
