"""Train the DiT by flow matching on precomputed latents: `python -m model.train_dit --data data/pre --run runs/dit`.

Starts from the DCAE checkpoint (--dcae; its weights and latent statistics are kept frozen) or resumes the run.
Conditions are dropped at random so one model serves guidance and partial prompts: the prompt (10%), BPM, key and
time signature (10% each), all of them together (5%); the melody roll is given for only half the clips that have one.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from acegit.engine.checkpoint import load_checkpoint
from acegit.engine.conditioning import Conditions, single_conditions
from acegit.engine.sampling import shift_sigmas
from model.precompute import LATENT_INDEX, TEXT_INDEX
from model.training import EMA, RunDir, StopRequest, add_run_args, smoke_corpus


@dataclass(frozen=True)
class Dropout:
    text: float = 0.1
    bpm: float = 0.1
    key: float = 0.1
    time_signature: float = 0.1
    everything: float = 0.05
    melody_kept: float = 0.5  # of the clips that have a melody


class LatentData:
    """Precomputed latents, melody rolls and caption embeddings in memory; draws random conditioned crops."""

    def __init__(self, folder: Path, text_tokens: int, harmonics: int, seed: int) -> None:
        index = json.loads((folder / LATENT_INDEX).read_text())
        text = json.loads((folder / TEXT_INDEX).read_text())
        self.clips = index["clips"]
        self.rate = float(index["latent_rate"])
        self.latents = np.load(folder / "latents.npy")  # (frames, 128) float16
        self.melody = np.load(folder / "melody.npy")  # (frames, 128) uint8
        self.text = np.load(folder / "text.npy")  # (tokens, 384) float16
        self.text_index = text["captions"]
        self.text_tokens = text_tokens
        self.harmonics = harmonics
        self.rng = np.random.default_rng(seed)

    def batch(self, size: int, frames: int, drop: Dropout) -> tuple[torch.Tensor, Conditions]:
        """(B, 8, 16, frames) clean latents and their (partly dropped) conditions, built as inference builds them."""
        rng = self.rng
        long_enough = [c for c in self.clips if c["frames"] >= frames]
        x = np.zeros((size, frames, 128), np.float32)
        items = []
        for i in range(size):
            clip = long_enough[int(rng.integers(len(long_enough)))]
            k0 = int(rng.integers(clip["frames"] - frames + 1))
            a = clip["start"] + k0
            x[i] = self.latents[a : a + frames]
            everything = rng.random() < drop.everything
            melody = None
            if clip["has_melody"] and not everything and rng.random() < drop.melody_kept:
                melody = torch.from_numpy(self.melody[a : a + frames].T / np.float32(127.0))  # (128, frames)
            text = torch.zeros(self.text_tokens, self.text.shape[1])
            mask = torch.zeros(self.text_tokens, dtype=torch.bool)
            if not everything and rng.random() >= drop.text:
                start, n = self.text_index[clip["captions"][int(rng.integers(len(clip["captions"])))]]
                n = min(n, self.text_tokens)
                text[:n] = torch.from_numpy(self.text[start : start + n].astype(np.float32))
                mask[:n] = True
            keep_bpm = not everything and rng.random() >= drop.bpm
            keep_key = not everything and rng.random() >= drop.key
            keep_ts = not everything and rng.random() >= drop.time_signature
            items.append(
                single_conditions(
                    text,
                    mask,
                    bpm=float(clip["bpm"]) if keep_bpm else 0.0,
                    key=clip["key"] if keep_key else "",
                    time_signature=clip["time_signature"] if keep_ts else "",
                    duration=(frames - 0.5) / self.rate,  # what inference passes for a render of this many frames
                    frames=frames,
                    latent_rate=self.rate,
                    harmonics=self.harmonics,
                    melody=melody,
                    offset=k0 / self.rate,  # crops start mid-piece; the beat grid starts at the clip's downbeat
                )
            )
        lat = torch.from_numpy(x).transpose(1, 2).reshape(size, 8, 16, frames)  # (B, T, C*F) -> (B, C, F, T)
        return lat, Conditions.cat(items)


def flow_loss(
    dit: torch.nn.Module, x0: torch.Tensor, cond: Conditions, gen: torch.Generator, shift: float
) -> torch.Tensor:
    """Conditional flow matching (Lipman et al. 2023): x = (1 - s) x0 + s n, predict v = n - x0.

    Noise levels are logit-normal (SD3) then shifted like the sampler's schedule, so training spends its effort
    where sampling does.
    """
    B = x0.shape[0]
    noise = torch.randn(x0.shape, generator=gen)
    sigma = shift_sigmas(torch.sigmoid(torch.randn(B, generator=gen)), shift)  # (B,)
    s = sigma[:, None, None, None]
    v = dit((1 - s) * x0 + s * noise, sigma, cond)
    return F.mse_loss(v, noise - x0)


def train(args: argparse.Namespace) -> dict[str, Any]:
    torch.set_num_threads(args.threads)
    run = RunDir(args.run)
    if run.has_checkpoint():
        model, state = run.load()
    else:
        model, _ = load_checkpoint(args.dcae)
        model, state = model.train(), {}
    model.dcae.requires_grad_(False)
    cfg = model.cfg
    data = LatentData(args.data, cfg.dit.text_tokens, cfg.dit.beat_harmonics, args.seed + int(state.get("step", 0)))
    dit = model.dit
    opt = torch.optim.AdamW(dit.parameters(), lr=args.lr, weight_decay=0.01, betas=(0.9, 0.99))
    ema = EMA(dit, args.ema)
    gen = torch.Generator().manual_seed(args.seed)
    step = int(state.get("step", 0))
    if state:
        opt.load_state_dict(state["opt"])
        ema.shadow = state["ema"]
        data.rng.bit_generator.state = state["data_rng"]
        gen.set_state(state["gen"])

    def save() -> str:
        with ema.applied(dit):
            return run.save(
                model,
                {
                    "step": step,
                    "opt": opt.state_dict(),
                    "ema": ema.shadow,
                    "data_rng": data.rng.bit_generator.state,
                    "gen": gen.get_state(),
                },
            )

    drop = Dropout()
    start = last_save = time.time()
    losses: list[float] = []
    stop = StopRequest()
    while step < args.steps and time.time() - start < args.minutes * 60 and not stop.requested:
        lr = args.lr * min(1.0, (step + 1) / args.warmup)
        for g in opt.param_groups:
            g["lr"] = lr
        frames = args.crop_frames
        x0, cond = data.batch(args.batch, frames, drop)
        loss = flow_loss(dit, x0, cond, gen, cfg.sampling.shift)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad = float(torch.nn.utils.clip_grad_norm_(dit.parameters(), 1.0))
        opt.step()
        ema.update(dit, step)
        step += 1
        losses.append(loss.item())
        if step % args.log_every == 0:
            tail = losses[-args.log_every :]
            rate = (time.time() - start) / len(losses)
            run.log({"step": step, "loss": float(np.mean(tail)), "grad_norm": grad, "lr": lr, "s_per_step": rate})
            print(f"step {step} loss {np.mean(tail):.4f} ({rate:.2f} s/step)", flush=True)
        if time.time() - last_save >= args.save_every:
            save()
            last_save = time.time()
    stop.restore()
    digest = save()
    return {
        "step": step,
        "hash": digest,
        "run": str(run.path),
        "loss": float(np.mean(losses[-50:])) if losses else math.nan,
    }


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=Path("data/pre"))
    p.add_argument("--dcae", type=Path, default=Path("runs/dcae/ckpt"), help="DCAE checkpoint to start from")
    p.add_argument("--run", type=Path, default=Path("runs/dit"))
    p.add_argument("--crop-frames", type=int, default=108, help="latent frames per crop (108 = 10 s)")
    add_run_args(p, minutes=60.0, batch=16, lr=3e-4, warmup=300, log_every=25, save_every=300.0)
    return p


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parser().parse_args(argv)
    if not args.smoke:
        return train(args)
    from model import precompute, train_dcae

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        corpus = smoke_corpus(root / "corpus")
        train_dcae.main(
            ["--smoke", "--corpus", str(corpus), "--run", str(root / "dcae"), "--threads", str(args.threads)]
        )
        precompute.precompute_text(corpus, root / "pre", max_tokens=64)
        precompute.precompute_latents(corpus, root / "pre", root / "dcae" / "ckpt")
        args.data, args.dcae = root / "pre", root / "dcae" / "ckpt"
        args.run = root / "dit" if args.run == Path("runs/dit") else args.run
        args.batch, args.crop_frames, args.steps, args.log_every, args.warmup = 2, 16, 2, 1, 1
        first = train(args)
        args.steps = 3  # resume from the checkpoint just written
        return {**train(args), "first": first}


if __name__ == "__main__":
    print(main())
