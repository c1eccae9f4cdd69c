"""Seam of looped renders: 5 prompts rendered with loop = true, the seam metric of acegit/loopseam.py for each.

Usage: python bench/bench_loop.py [--model tiny | --weights DIR | --random] [--bars 4] [--steps 20] [--device auto]
                                  [--crossfade 0.1] [--json]

For each prompt it renders the track twice from the same seed — loop = true and loop = false (the control) — decodes
both, and measures the seam of the whole render taken as a loop (end joined to start), then of the export-side loop
(acegit/export.py: the tail after whole bars crossfaded into the head, `--crossfade` seconds). "Seamless" means the
seam's spectral flux and level jump are within the 95th percentile of the track's own frame-to-frame variation.
Issue 8's target: the raw loop = true seam is seamless on at least 4 of 5 prompts. Prints a markdown table (and JSON).
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--model", default="tiny", help="a built-in model name")
    src.add_argument("--weights", help="a checkpoint folder (model.safetensors, config.json, sha256)")
    src.add_argument("--random", action="store_true", help="a randomly initialised tiny model (smoke test)")
    ap.add_argument("--bars", type=int, default=4, help="track length in bars of 4/4")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--crossfade", type=float, default=0.1, help="export-side loop crossfade, seconds")
    ap.add_argument("--json", action="store_true", help="also print the rows as JSON")
    args = ap.parse_args()

    from acegit.engine.request import GenerationRequest
    from acegit.export import loop_body, parse_profile
    from acegit.loopseam import seam_report
    from acegit.track import Track

    engine, what = _engine(args)
    rate = engine.sample_rate  # type: ignore[attr-defined]
    profile = parse_profile("bench", {"loop_trim": "bars", "loop_crossfade": args.crossfade})
    rows = []
    start = time.perf_counter()
    for i, (prompt, bpm, key) in enumerate(PROMPTS):
        duration = args.bars * 4 * 60.0 / bpm  # whole bars: the engine renders one period of the loop
        req = GenerationRequest(
            prompt=prompt,
            negative_prompt="",
            seed=1000 + i,
            duration=round(duration, 3),
            bpm=bpm,
            key=key,
            time_signature="4/4",
            steps=args.steps,
            guidance=4.0,
            sampler="euler",
            melody=None,
            loop=True,
        )
        num = round(req.duration * rate)
        waves = {}
        for loop in (True, False):
            (latent,) = engine.generate([replace(req, loop=loop)])  # type: ignore[attr-defined]
            waves[loop] = engine.decode(latent, num_samples=num, loop=loop)  # type: ignore[attr-defined]
        track = Track("bench", Path("bench.toml"), prompt, req.seed, duration=req.duration, bpm=bpm, loop=True)
        looped, control = seam_report(waves[True], rate), seam_report(waves[False], rate)
        faded = seam_report(loop_body(waves[True], rate, track, profile), rate)
        rows.append(
            {
                "prompt": prompt,
                "bpm": bpm,
                "loop": asdict(looped),
                "control": asdict(control),
                "crossfaded": asdict(faded),
                "seamless": looped.seamless,
                "control_seamless": control.seamless,
                "crossfaded_seamless": faded.seamless,
            }
        )
    elapsed = time.perf_counter() - start

    print(
        f"Model: {what}; {args.bars} bars of 4/4 per prompt, {args.steps} steps, {rate} Hz; "
        f"{platform.machine()} {platform.system()}; {elapsed:.0f} s for 10 renders.\n"
    )
    print(
        "| prompt | loop=true: flux dB (p95) | level jump dB (p95) | seamless | loop=false: flux / level "
        "| seamless | + crossfade: flux / level | seamless |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        lp, ct, cf = r["loop"], r["control"], r["crossfaded"]
        print(
            f"| {r['prompt']} | {lp['flux_db']:.2f} ({lp['flux_p95_db']:.2f}) "
            f"| {lp['level_jump_db']:.2f} ({lp['level_p95_db']:.2f}) | {'yes' if r['seamless'] else 'no'} "
            f"| {ct['flux_db']:.2f} / {ct['level_jump_db']:.2f} | {'yes' if r['control_seamless'] else 'no'} "
            f"| {cf['flux_db']:.2f} / {cf['level_jump_db']:.2f} | {'yes' if r['crossfaded_seamless'] else 'no'} |"
        )
    n = len(rows)
    print(
        f"\nseamless: loop=true {sum(r['seamless'] for r in rows)}/{n}, "
        f"loop=false {sum(r['control_seamless'] for r in rows)}/{n}, "
        f"loop=true + {args.crossfade:g} s crossfade {sum(r['crossfaded_seamless'] for r in rows)}/{n}"
    )
    if args.json:
        print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
