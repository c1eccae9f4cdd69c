"""Train the DCAE on short log-mel crops: `python -m model.train_dcae --corpus data/corpus --run runs/dcae`.

Resumes from the run folder when it holds a checkpoint. Short crops (about 3 s) teach a convolutional autoencoder as
much per step as whole clips at a fraction of the cost; the encoder's latent statistics are written into the config
(latent_mean, latent_std) so the DiT sees unit-scale latents.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch
import torch.nn.functional as F

from acegit.engine.audio import log_mel
from acegit.engine.checkpoint import build_model
from acegit.engine.model import MusicModel
from model.corpus.build import read_labels
from model.training import EMA, RunDir, StopRequest, add_run_args, smoke_run


def set_latent_stats(model: MusicModel, mean: float, std: float) -> None:
    """Record the latent normalisation in the model's config (saved with the weights)."""
    dcae = dataclasses.replace(model.cfg.dcae, latent_mean=round(mean, 5), latent_std=round(std, 5))
    model.cfg = dataclasses.replace(model.cfg, dcae=dcae)
    model.dcae.cfg = dcae


class CropReader:
    """Random fixed-length crops of corpus clips, read straight from the FLAC files (seeking, not decoding all)."""

    def __init__(self, corpus: Path, samples: int, seed: int) -> None:
        self.corpus = corpus
        self.samples = samples
        self.rng = np.random.default_rng(seed)
        self.refresh()

    def refresh(self) -> None:
        """Re-read the labels: a corpus still being built keeps growing."""
        self.records = [(r["audio"], r["duration"]) for r in read_labels(self.corpus)]

    def batch(self, size: int, sample_rate: int) -> torch.Tensor:
        out = np.zeros((size, self.samples), np.float32)
        for i in range(size):
            path, duration = self.records[int(self.rng.integers(len(self.records)))]
            total = int(duration * sample_rate)
            start = int(self.rng.integers(max(1, total - self.samples)))
            wave, _ = sf.read(self.corpus / path, start=start, frames=self.samples, dtype="float32")
            out[i, : len(wave)] = wave
        return torch.from_numpy(out)


def train(args: argparse.Namespace) -> dict[str, Any]:
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    run = RunDir(args.run)
    if run.has_checkpoint():
        model, state = run.load()
    else:
        model, state = build_model(args.preset, seed=args.seed).train(), {}
    cfg = model.cfg
    frames = args.crop_frames
    reader = CropReader(args.corpus, (frames - 1) * cfg.audio.hop_length, args.seed + int(state.get("step", 0)))
    params = list(model.dcae.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0, betas=(0.9, 0.99))
    ema = EMA(model.dcae, args.ema)
    step = int(state.get("step", 0))
    stats = state.get("latent_stats", [0.0, 1.0])  # running mean and mean square of the latent
    if state:
        opt.load_state_dict(state["opt"])
        ema.shadow = state["ema"]
        reader.rng.bit_generator.state = state["data_rng"]

    def save() -> str:
        with ema.applied(model.dcae):
            mean, sq = stats
            set_latent_stats(model, mean, math.sqrt(max(sq - mean * mean, 1e-8)))
            return run.save(
                model,
                {
                    "step": step,
                    "opt": opt.state_dict(),
                    "ema": ema.shadow,
                    "latent_stats": stats,
                    "data_rng": reader.rng.bit_generator.state,
                },
            )

    stop = StopRequest()
    start = time.time()
    last_save = start
    losses: list[float] = []
    while True:
        elapsed = time.time() - start
        if step >= args.steps or elapsed >= args.minutes * 60 or stop.requested:
            break
        if step % 500 == 0:
            reader.refresh()
        lr = args.lr * min(1.0, (step + 1) / args.warmup)
        for g in opt.param_groups:
            g["lr"] = lr
        mel = log_mel(reader.batch(args.batch, cfg.audio.sample_rate), cfg.audio)[..., :frames]  # (B, n_mels, frames)
        z = model.dcae.encode(mel)  # (B, C, n_mels/8, frames/8)
        recon = model.dcae.decode(z)
        loss = F.l1_loss(recon, mel) + 0.5 * F.mse_loss(recon, mel)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        ema.update(model.dcae, step)
        with torch.no_grad():
            m, s = float(z.mean()), float(z.pow(2).mean())
            stats = [0.99 * stats[0] + 0.01 * m, 0.99 * stats[1] + 0.01 * s] if step else [m, s]
        step += 1
        losses.append(loss.item())
        if step % args.log_every == 0:
            run.log(
                {
                    "step": step,
                    "loss": float(np.mean(losses[-args.log_every :])),
                    "l1": F.l1_loss(recon.detach(), mel).item(),
                    "lr": lr,
                    "latent_mean": stats[0],
                    "s_per_step": (time.time() - start) / max(1, len(losses)),
                }
            )
            losses_tail = losses[-args.log_every :]
            print(f"step {step} loss {np.mean(losses_tail):.4f}", flush=True)
        if time.time() - last_save >= args.save_every:
            save()
            last_save = time.time()
    stop.restore()
    digest = save()
    return {"step": step, "hash": digest, "run": str(run.path)}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", type=Path, default=Path("data/corpus"))
    p.add_argument("--run", type=Path, default=Path("runs/dcae"))
    p.add_argument("--preset", default="tiny")
    p.add_argument("--crop-frames", type=int, default=256, help="mel frames per crop (256 = 2.97 s), a multiple of 8")
    add_run_args(p, minutes=25.0, batch=16, lr=1e-3, warmup=200, log_every=20, save_every=180.0)
    return p


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parser().parse_args(argv)
    return smoke_run(args, train, Path("runs/dcae"), crop_frames=64) if args.smoke else train(args)


if __name__ == "__main__":
    print(main())
