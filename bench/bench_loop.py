"""Seam of looped renders: 5 prompts rendered with loop = true, the seam metric of acegit/loopseam.py for each.

Usage: python bench/bench_loop.py [--model tiny | --weights DIR | --random] [--bars 4] [--steps 20] [--seeds 1]
                                  [--sampler euler] [--device auto] [--crossfade 0.1] [--json]

For each prompt (and seed) it renders the track twice — loop = true and loop = false (the control) — decodes both,
and measures the seam of the whole render taken as a loop (end joined to start), then of the export-side loop
(acegit/export.py: the tail after whole bars crossfaded into the head, `--crossfade` seconds). "Seamless" means the
seam's spectral flux and level jump are within the 95th percentile of the track's own frame-to-frame variation, at
every hop or at every beat boundary inside the loop (the seam is a bar line; see acegit/loopseam.py); the table says
which admitted it, and the summary also counts the hops alone. Issue 8's target: the raw loop = true seam is seamless
on at least 4 of 5 prompts. Prints a markdown table (and JSON).
Use trained weights: a random DiT's output layer is zero, so `--random` renders decoded noise (a smoke test).
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

from acegit.loopseam import SeamReport

PROMPTS = (
    ("calm solo piano, gentle arpeggios", 90.0, "C major"),
    ("lo-fi hip hop beat with soft keys", 80.0, "A minor"),
    ("chiptune adventure theme, square leads", 140.0, "G major"),
    ("dark ambient drone with slow pads", 70.0, "D minor"),
    ("upbeat acoustic guitar strumming", 120.0, "E major"),
)


def _engine(args: argparse.Namespace) -> tuple[object, str]:
    from acegit.engine.inference import Engine

    if args.random:
        from acegit.engine.checkpoint import build_model, save_checkpoint

        folder = Path(tempfile.mkdtemp(prefix="acegit-bench-loop-")) / "tiny-random"
        save_checkpoint(build_model("tiny", seed=0), folder)
        return Engine.load(folder, device=args.device), "tiny, random weights (pipeline check only)"
    if args.weights:
        return Engine.load(Path(args.weights), device=args.device), f"checkpoint {args.weights}"
    from acegit.engine.registry import resolve_model

    return Engine.load(resolve_model(args.model, {}), device=args.device), f"built-in {args.model}"


def _measure(engine, profile, args, prompt: str, bpm: float, key: str, seed: int) -> dict:  # type: ignore[no-untyped-def]
    """Render one prompt as a loop and as the control; the seam figures of each, against beats and against hops."""
    from acegit.engine.request import GenerationRequest
    from acegit.export import loop_body
    from acegit.loopseam import seam_report
    from acegit.track import Track

    rate = engine.sample_rate
    duration = round(args.bars * 4 * 60.0 / bpm, 3)  # whole bars: the engine renders one period of the loop
    req = GenerationRequest(
        prompt=prompt,
        negative_prompt="",
        seed=seed,
        duration=duration,
        bpm=bpm,
        key=key,
        time_signature="4/4",
        steps=args.steps,
        guidance=4.0,
        sampler=args.sampler,
        melody=None,
        loop=True,
    )
    num, beat = round(duration * rate), 60.0 / bpm * rate
    waves = {}
    for loop in (True, False):
        (latent,) = engine.generate([replace(req, loop=loop)])
        waves[loop] = engine.decode(latent, num_samples=num, loop=loop)
    track = Track("bench", Path("bench.toml"), prompt, seed, duration=duration, bpm=bpm, loop=True)
    faded = loop_body(waves[True], rate, track, profile)
    return {
        "prompt": prompt,
        "seed": seed,
        "bpm": bpm,
        "loop": seam_report(waves[True], rate, beat=beat),
        "control": seam_report(waves[False], rate, beat=beat),
        "crossfaded": seam_report(faded, rate, beat=beat),
    }


def _verdict(r: SeamReport) -> str:
    return f"yes ({r.reference})" if r.seamless else "no"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--model", default="tiny", help="a built-in model name")
    src.add_argument("--weights", help="a checkpoint folder (model.safetensors, config.json, sha256)")
    src.add_argument("--random", action="store_true", help="a randomly initialised tiny model (smoke test)")
    ap.add_argument("--bars", type=int, default=4, help="track length in bars of 4/4")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--sampler", default="euler", help="euler, heun or dpm++2m")
    ap.add_argument("--seeds", type=int, default=1, help="seeds per prompt (1000 + 10 × seed + prompt index)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--crossfade", type=float, default=0.1, help="export-side loop crossfade, seconds")
    ap.add_argument("--json", action="store_true", help="also print the rows as JSON")
    args = ap.parse_args()

    from acegit.export import parse_profile

    engine, what = _engine(args)
    rate = engine.sample_rate  # type: ignore[attr-defined]
    profile = parse_profile("bench", {"loop_trim": "bars", "loop_crossfade": args.crossfade})
    rows = []
    start = time.perf_counter()
    for k in range(args.seeds):
        for i, (prompt, bpm, key) in enumerate(PROMPTS):
            rows.append(_measure(engine, profile, args, prompt, bpm, key, seed=1000 + 10 * k + i))
    elapsed = time.perf_counter() - start

    print(
        f"Model: {what}; {args.bars} bars of 4/4 per prompt, {args.steps} {args.sampler} steps, {args.seeds} seed(s), "
        f"{rate} Hz; "
        f"{platform.machine()} {platform.system()}; {elapsed:.0f} s for {2 * len(rows)} renders.\n"
    )
    print(
        "| prompt | seed | loop=true: seam flux / level jump dB | p95 at hops | p95 at beats | seamless "
        "| loop=false: seamless | + crossfade: seamless |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        lp, hops, beats = row["loop"], row["loop"].hops, row["loop"].beats
        at_beats = f"{beats.flux_p95_db:.2f} / {beats.level_p95_db:.2f}" if beats else "—"
        print(
            f"| {row['prompt']} | {row['seed']} | {lp.flux_db:.2f} / {lp.level_jump_db:.2f} "
            f"| {hops.flux_p95_db:.2f} / {hops.level_p95_db:.2f} | {at_beats} | {_verdict(lp)} "
            f"| {_verdict(row['control'])} | {_verdict(row['crossfaded'])} |"
        )
    n = len(rows)

    def count(key: str, hops_only: bool = False) -> str:
        ok = [(r[key].reference == "hops") if hops_only else r[key].seamless for r in rows]
        return f"{sum(ok)}/{n}"

    print(
        f"\nseamless (at hops alone): loop=true {count('loop')} ({count('loop', True)}), "
        f"loop=false {count('control')} ({count('control', True)}), "
        f"loop=true + {args.crossfade:g} s crossfade {count('crossfaded')} ({count('crossfaded', True)})"
    )
    if args.json:
        print(json.dumps([{k: asdict(v) if isinstance(v, SeamReport) else v for k, v in r.items()} for r in rows]))


if __name__ == "__main__":
    main()
