"""Edits on the shipped model: what a repaint, an extend and a vary change, and what each costs.

Usage: python bench/bench_edits.py [--model tiny] [--seconds 30] [--steps 20] [--images docs/images] [--json]

For one 30-s track (20 Euler steps, guidance 4) it renders the base and then, each from that base:
- repaint 10–15 s: the latent frames that changed (must all lie in the range), the per-second latent change as
  `acegit diff` reports it, and the per-second change of the decoded audio (the decoder and Griffin-Lim reach a little
  past the range);
- extend to +10 s: whether the original frames are bit-identical, and the join measured as a loop seam is
  (acegit/loopseam.py): spectral flux across the join against the track's own hop-to-hop variation;
- vary at amounts 0 … 1: the relative latent change (0 at amount 0, growing with the amount);
and the wall time of each render (base + edit) against the base alone. With --images, a before/after spectrogram PNG
per kind (acegit show --png's renderer). Prints a markdown table and, with --json, the raw figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="tiny")
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--images", type=Path)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    from acegit.diff.latents import compare_latents
    from acegit.edits import Edit
    from acegit.engine import editing
    from acegit.engine.inference import Engine
    from acegit.engine.registry import resolve_model
    from acegit.engine.request import GenerationRequest
    from acegit.lockfile import as_stored
    from acegit.loopseam import seam_report
    from acegit.report import spectrogram_png

    engine = Engine.load(resolve_model(args.model, {}), device="cpu")
    sr, rate = engine.sample_rate, engine.latent_rate
    base = GenerationRequest(
        prompt="calm solo piano with soft strings, gentle and warm",
        negative_prompt="",
        seed=2024,
        duration=args.seconds,
        bpm=90.0,
        key="A minor",
        time_signature="4/4",
        steps=args.steps,
        guidance=4.0,
        sampler="euler",
    )

    def render(r: GenerationRequest) -> tuple[np.ndarray, np.ndarray, float]:
        start = time.perf_counter()
        latent = as_stored(engine.generate([r])[0])  # what the lock stores and every decode starts from
        seconds = time.perf_counter() - start
        length = r.duration
        for e in r.edits:
            length = e.duration_after(length)
        return latent, engine.decode(latent, round(length * sr)), seconds

    engine.generate([dataclasses.replace(base, duration=2.0, steps=1)])  # warm: text encoder, allocations
    L0, W0, t0 = render(base)
    out: dict[str, object] = {"machine": f"{platform.machine()}, {platform.processor() or platform.system()}"}
    out["base_seconds"] = t0

    # repaint 10–15 s
    lo, hi = 10.0 * args.seconds / 30, 15.0 * args.seconds / 30
    L1, W1, t1 = render(dataclasses.replace(base, edits=(Edit("repaint", seed=7, start=lo, end=hi),)))
    changed = np.nonzero(np.abs(L1 - L0).max(axis=(0, 1)))[0]
    first, last = editing.range_frames(lo, hi, L0.shape[-1], rate)
    lat = compare_latents(L0, L1, rate)
    audio_sec = [
        float(np.sqrt(np.mean((W1[s * sr : (s + 1) * sr] - W0[s * sr : (s + 1) * sr]) ** 2)))
        / max(float(np.sqrt(np.mean(W0[s * sr : (s + 1) * sr] ** 2))), 1e-9)
        for s in range(int(args.seconds))
    ]
    out["repaint"] = {
        "range_s": [lo, hi],
        "range_frames": [first, last],
        "changed_frames": [int(changed.min()), int(changed.max()) + 1] if changed.size else None,
        "outside_identical": bool(np.array_equal(L1[..., :first], L0[..., :first]))
        and bool(np.array_equal(L1[..., last:], L0[..., last:])),
        "latent_per_second": [round(x, 4) for x in lat.per_second],
        "changed_seconds": lat.changed_seconds,
        "audio_rel_change_per_second": [round(x, 4) for x in audio_sec],
        "seconds": t1,
    }

    # extend by a third
    to = args.seconds * 4 / 3
    L2, W2, t2 = render(dataclasses.replace(base, edits=(Edit("extend", seed=8, to=to),)))
    join = round(args.seconds * sr)
    rolled = np.concatenate([W2[join:], W2[:join]])  # the join becomes the wrap point of a loop: measured as a seam
    seam = seam_report(rolled, sr, beat=60.0 / base.bpm * sr)
    within = seam_report(np.concatenate([W0[join // 2 :], W0[: join // 2]]), sr, beat=60.0 / base.bpm * sr)
    out["extend"] = {
        "to_s": to,
        "frames": [int(L0.shape[-1]), int(L2.shape[-1])],
        "original_identical": bool(np.array_equal(L2[..., : L0.shape[-1]], L0)),
        "join_flux_db": seam.flux_db,
        "join_level_jump_db": seam.level_jump_db,
        "hop_flux_median_db": seam.hops.flux_median_db,
        "hop_flux_p95_db": seam.hops.flux_p95_db,
        "join_flux_ratio": seam.flux_ratio,
        "join_within": seam.reference,
        "control_cut_flux_ratio": within.flux_ratio,  # the base track cut at its middle and rejoined: a real join
        "seconds": t2,
    }

    # vary
    rows = []
    for amount in (0.0, 0.1, 0.25, 0.5, 0.75, 1.0):
        Lv, Wv, tv = render(dataclasses.replace(base, edits=(Edit("vary", seed=9, amount=amount),)))
        rows.append({"amount": amount, "change": compare_latents(L0, Lv, rate).change, "seconds": tv,
                     "identical": bool(np.array_equal(Lv, L0))})  # fmt: skip
        if amount == 0.5:
            W3 = Wv
    out["vary"] = rows

    if args.images:
        args.images.mkdir(parents=True, exist_ok=True)
        for name, wave in (("base", W0), ("repaint", W1), ("extend", W2), ("vary", W3)):
            (args.images / f"edits-{name}.png").write_bytes(spectrogram_png(wave, sr))

    r, e = out["repaint"], out["extend"]
    print(f"machine: {out['machine']}; base render {t0:.2f} s ({args.seconds:g} s, {args.steps} steps)")
    print("| edit | what is kept | what changed | wall (s), base + edit |")
    print("| --- | --- | --- | ---: |")
    print(f"| repaint {lo:g}–{hi:g} s | frames outside [{first}, {last}) bit-identical: {r['outside_identical']} "  # type: ignore[index]
          f"| latent seconds {r['changed_seconds']} | {r['seconds']:.2f} |")  # type: ignore[index]  # fmt: skip
    print(f"| extend to {to:g} s | first {L0.shape[-1]} frames bit-identical: {e['original_identical']} "  # type: ignore[index]
          f"| join flux {e['join_flux_db']:.2f} dB = {e['join_flux_ratio']:.2f}x the median hop "  # type: ignore[index]
          f"(p95 {e['hop_flux_p95_db']:.2f} dB; within: {e['join_within']}) | {e['seconds']:.2f} |")  # type: ignore[index]  # fmt: skip
    for row in rows:
        print(f"| vary {row['amount']:g} | identical: {row['identical']} | latent change {row['change']:.3f} "
              f"| {row['seconds']:.2f} |")  # fmt: skip
    if args.json:
        print(json.dumps(out, indent=2, default=float))


if __name__ == "__main__":
    main()
