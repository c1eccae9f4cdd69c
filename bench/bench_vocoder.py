"""Vocoder benchmark: Griffin-Lim vs the neural vocoder, seconds per second of audio, measured interleaved.

    .venv/bin/python bench/bench_vocoder.py --threads 1 --refine 0 8 --json out.json

The neural vocoder has the shipped shape (VocoderConfig's defaults) with seeded random weights: speed does not depend
on the values. --refine names the Griffin-Lim refinement iterations after the network to time, each as its own
variant (0: the network's output as is). Each round runs Griffin-Lim then every variant on the same mel, so all see
the same load on a shared machine; the figures are medians over --repeats rounds (wall and this process's CPU time)
and the median of the per-round ratios.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

import torch

from acegit.engine import audio
from acegit.engine.config import AudioConfig, VocoderConfig
from acegit.engine.device import set_deterministic
from acegit.engine.vocoder import GriffinLim, Vocoder
from acegit.engine.vocos import NeuralVocoder, Vocos

DURATIONS = (10, 30)


def run(fn: Vocoder, mel: torch.Tensor, n: int) -> tuple[float, float]:
    start, start_cpu = time.perf_counter(), time.process_time()
    fn(mel, n)
    return time.perf_counter() - start, time.process_time() - start_cpu


def bench(threads: int, repeats: int, refine: list[int]) -> dict[str, Any]:
    torch.set_num_threads(threads)
    set_deterministic(torch.device("cpu"))  # the pinned numerics a render runs with
    cfg = AudioConfig()
    torch.manual_seed(0)
    net = Vocos(VocoderConfig(neural=True), cfg)
    vocoders: dict[str, Vocoder] = {"griffin-lim": GriffinLim(cfg)}
    vocoders |= {v.name: v for v in (NeuralVocoder(net, refine_iterations=n) for n in refine)}
    out: dict[str, Any] = {"threads": threads, "repeats": repeats, "refine": refine, "durations": {}}
    for seconds in DURATIONS:
        n = seconds * cfg.sample_rate
        t = torch.arange(n) / cfg.sample_rate
        mel = audio.mel_spectrogram(0.3 * torch.sin(2 * torch.pi * 220 * t) + 0.01 * torch.randn(n), cfg)
        for v in vocoders.values():
            v(mel, n)  # warm-up
        rounds: dict[str, list[tuple[float, float]]] = {k: [] for k in vocoders}
        for _ in range(repeats):
            for name, v in vocoders.items():
                rounds[name].append(run(v, mel, n))
        row: dict[str, Any] = {}
        for name, rs in rounds.items():
            row[name] = {
                "wall_s": round(statistics.median(w for w, _ in rs), 4),
                "cpu_s": round(statistics.median(c for _, c in rs), 4),
                "cpu_s_per_audio_s": round(statistics.median(c for _, c in rs) / seconds, 5),
            }
        for name in vocoders:
            if name != "griffin-lim":
                ratios = [g[1] / nv[1] for g, nv in zip(rounds["griffin-lim"], rounds[name], strict=True)]
                row[f"griffin_lim_over_{name}_cpu"] = round(statistics.median(ratios), 2)
        out["durations"][str(seconds)] = row
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--refine", type=int, nargs="+", default=[0], help="refinement iterations to time (0: none)")
    p.add_argument("--json", default=None)
    a = p.parse_args()
    result = bench(a.threads, a.repeats, a.refine)
    text = json.dumps(result, indent=2)
    if a.json:
        with open(a.json, "w") as f:
            f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
