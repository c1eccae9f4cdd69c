"""Model benchmark: DiT step time vs duration (linear vs softmax self-attention) and a warm end-to-end render.

    .venv/bin/python bench/bench_model.py                # tiny, all CPU threads torch uses by default
    .venv/bin/python bench/bench_model.py --threads 2 --json out.json

Randomly initialised weights: speed does not depend on the values. Every figure is the median (and the minimum) of
--repeats warm runs, plus the median CPU time of the process: with --threads 1 on a machine shared with other jobs,
CPU time is the better estimate of the code's own cost.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from acegit.engine.checkpoint import build_model, save_checkpoint
from acegit.engine.conditioning import Conditions
from acegit.engine.config import preset
from acegit.engine.device import resolve_device, set_deterministic
from acegit.engine.dit import DiT
from acegit.engine.inference import Engine
from acegit.engine.request import GenerationRequest

DURATIONS = (10, 30, 60, 120, 240)


def timed(fn: Callable[[], Any], repeats: int, sync: Callable[[], None]) -> dict[str, float]:
    """Median and minimum wall seconds of `repeats` warm runs (one warm-up run first), and the median CPU seconds of
    this process: with one thread, CPU time is the cost of the code even when other jobs hold the cores."""
    fn()
    sync()
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        sync()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return {"median": statistics.median(wall), "min": min(wall), "cpu": statistics.median(cpu)}


def machine(device: torch.device) -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {
        "cpu": cpu,
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "device": str(device),
        "load_average_at_start": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def dummy_conditions(frames: int, dit: DiT, device: torch.device) -> Conditions:
    cfg = dit.cfg
    mask = torch.zeros(1, cfg.text_tokens, dtype=torch.bool)
    mask[:, :12] = True
    return Conditions(
        text=torch.randn(1, cfg.text_tokens, cfg.text_dim),
        text_mask=mask,
        bpm=torch.tensor([120.0]),
        key=torch.tensor([0]),
        time_signature=torch.tensor([0]),
        duration=torch.tensor([frames / dit.latent_rate]),
        melody=torch.zeros(1, cfg.melody_pitches, frames),
        beats=torch.randn(1, frames, 4 * cfg.beat_harmonics),
    ).to(device)


@torch.inference_mode()
def step_times(name: str, device: torch.device, repeats: int, sync: Callable[[], None]) -> list[dict[str, Any]]:
    """Seconds per DiT evaluation (one sampler step without guidance) at each duration, linear vs softmax.

    The two variants share weights and alternate run by run, so a change in the machine's load hits both alike.
    """
    cfg = preset(name)
    torch.manual_seed(0)
    models = {"linear": DiT(cfg.dit, cfg.latent_rate).to(device).eval()}
    models["softmax"] = DiT(dataclasses.replace(cfg.dit, softmax_self_attention=True), cfg.latent_rate).to(device)
    models["softmax"].load_state_dict(models["linear"].state_dict())
    rows = []
    for seconds in DURATIONS:
        frames = cfg.latent_frames(seconds * cfg.audio.sample_rate)
        x = torch.randn(1, cfg.dcae.latent_channels, cfg.audio.n_mels // cfg.dcae.downsample, frames, device=device)
        sigma = torch.tensor([0.5], device=device)
        cond = dummy_conditions(frames, models["linear"], device)
        runs: dict[str, list[dict[str, float]]] = {k: [] for k in models}
        for _ in range(repeats):
            for kind, dit in models.items():
                runs[kind].append(timed(lambda d=dit, x=x, s=sigma, c=cond: d(x, s, c), 1, sync))
        for kind, ts in runs.items():
            walls, cpus = [t["median"] for t in ts], [t["cpu"] for t in ts]
            stats = {"median": statistics.median(walls), "min": min(walls), "cpu": statistics.median(cpus)}
            rows.append({"attention": kind, "seconds": seconds, "frames": frames, **stats})
    return rows


def end_to_end(name: str, device: torch.device, repeats: int, sync: Callable[[], None]) -> dict[str, Any]:
    """A 30-s render: 20 Euler steps with guidance, DCAE decode, vocoder; and each part alone."""
    folder = Path(tempfile.mkdtemp(prefix="acegit-bench-"))
    save_checkpoint(build_model(name), folder)
    engine = Engine.load(folder, device=device)
    req = GenerationRequest(
        prompt="upbeat chiptune boss battle, square lead, fast arpeggios",
        negative_prompt="",
        seed=1,
        duration=30.0,
        bpm=140.0,
        key="E minor",
        time_signature="4/4",
        steps=20,
        guidance=4.0,
        sampler="euler",
    )
    samples = round(req.duration * engine.sample_rate)
    latent = engine.generate([req])[0]

    def render() -> None:
        engine.decode(engine.generate([req])[0], samples)

    def dcae() -> None:
        engine.decode_mel(latent)

    mel = engine.decode_mel(latent)
    return {
        "duration_s": req.duration,
        "steps": req.steps,
        "guidance": req.guidance,
        "total": timed(render, repeats, sync),
        "sampling": timed(lambda: engine.generate([req]), repeats, sync),
        "dcae_decode": timed(dcae, repeats, sync),
        "vocoder": timed(lambda: engine.vocoder(mel, samples), repeats, sync),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--skip-steps", action="store_true", help="only the end-to-end render")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    set_deterministic(device)  # measure what renders run with (oneDNN off on CPU, deterministic kernels)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    result: dict[str, Any] = {"machine": machine(device), "preset": args.preset, "repeats": args.repeats}
    if not args.skip_steps:
        result["step"] = step_times(args.preset, device, args.repeats, sync)
        for stat in ("median", "min", "cpu"):
            lin = {r["seconds"]: r[stat] for r in result["step"] if r["attention"] == "linear"}
            result[f"linear_240_over_30_{stat}"] = lin[240] / lin[30]
        for r in result["step"]:
            print(
                f"step  {r['attention']:8s} {r['seconds']:4d} s ({r['frames']:5d} frames): "
                f"median {r['median'] * 1000:8.1f} ms, min {r['min'] * 1000:8.1f} ms, cpu {r['cpu'] * 1000:8.1f} ms"
            )
        print(
            f"linear 240 s / 30 s: median {result['linear_240_over_30_median']:.2f}x, "
            f"min {result['linear_240_over_30_min']:.2f}x, cpu {result['linear_240_over_30_cpu']:.2f}x"
        )
    result["end_to_end"] = end_to_end(args.preset, device, args.repeats, sync)
    result["machine"]["load_average_at_end"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    e2e = result["end_to_end"]
    for stat in ("median", "min", "cpu"):
        print(
            f"30-s render ({e2e['steps']} steps, guidance {e2e['guidance']}), {stat}: {e2e['total'][stat]:.2f} s "
            f"(sampling {e2e['sampling'][stat]:.2f}, DCAE {e2e['dcae_decode'][stat]:.2f}, "
            f"vocoder {e2e['vocoder'][stat]:.2f})"
        )
    print(json.dumps(result["machine"]))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
