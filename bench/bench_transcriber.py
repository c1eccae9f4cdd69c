"""The transcriber against the render it transcribes: `.venv/bin/python bench/bench_transcriber.py --threads 1`.

Interleaved in one process, on the shipped weights (tiny model and transcriber): a render of the built-in model
(20 Euler steps with guidance, decode and Griffin-Lim) and the transcription of its audio, for each duration. Medians
of --repeats warm runs, wall and CPU seconds (with one thread on a shared machine, CPU time is the code's own cost).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from typing import Any

import torch

from acegit.engine.inference import Engine
from acegit.engine.registry import builtin_weights_dir, transcriber_ref
from acegit.engine.request import GenerationRequest
from acegit.engine.transcriber import load_transcriber, transcribe


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--durations", type=float, nargs="+", default=[12.0, 30.0])
    p.add_argument("--json", default=None)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    engine = Engine.load(builtin_weights_dir("tiny"), "cpu")
    ref = transcriber_ref()
    model, _ = load_transcriber(ref.path, ref.weights_hash)
    rows: list[dict[str, Any]] = []
    for duration in args.durations:
        req = GenerationRequest(
            prompt="calm solo piano",
            negative_prompt="",
            seed=1,
            duration=duration,
            bpm=90.0,
            key="A minor",
            time_signature="4/4",
            steps=20,
            guidance=3.0,
            sampler="euler",
        )
        render_wall, render_cpu, tr_wall, tr_cpu = [], [], [], []
        for i in range(args.repeats + 1):  # the first of each is a warm-up
            t, c = time.perf_counter(), time.process_time()
            wave = engine.decode(engine.generate([req])[0], int(duration * engine.sample_rate))
            rw, rc = time.perf_counter() - t, time.process_time() - c
            t, c = time.perf_counter(), time.process_time()
            transcribe(model, wave, engine.sample_rate)
            tw, tc = time.perf_counter() - t, time.process_time() - c
            if i:
                render_wall.append(rw), render_cpu.append(rc), tr_wall.append(tw), tr_cpu.append(tc)
        row = {
            "duration_s": duration,
            "render_wall_s": round(statistics.median(render_wall), 3),
            "render_cpu_s": round(statistics.median(render_cpu), 3),
            "transcribe_wall_s": round(statistics.median(tr_wall), 3),
            "transcribe_cpu_s": round(statistics.median(tr_cpu), 3),
        }
        row["transcribe_share_of_render_cpu"] = round(row["transcribe_cpu_s"] / row["render_cpu_s"], 3)
        rows.append(row)
        print(json.dumps(row), flush=True)
    out = {"machine": platform.processor() or platform.machine(), "threads": args.threads, "rows": rows}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
