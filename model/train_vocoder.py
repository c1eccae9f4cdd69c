"""Train the neural vocoder: `python -m model.train_vocoder --corpus data/corpus --run runs/vocoder`.

The vocoder (acegit/engine/vocos.py) is trained inside a copy of a trained model (--init, the shipped `tiny` by
default) whose DCAE and DiT stay frozen, so the run's checkpoint is a whole model in acegit's format, ready to ship.
Inputs are the engine's own log-mel of short corpus crops; a share of them (--dcae-share) goes through the model's
DCAE round trip first, which is what rendering feeds the vocoder. Losses: multi-resolution STFT (spectral convergence
+ log magnitude), L1 log-mel of the output, and a magnitude-weighted phase term on the predicted spectrum. Resumes from
the run folder when it holds a checkpoint.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from acegit.engine import audio
from acegit.engine.checkpoint import load_checkpoint
from acegit.engine.config import AudioConfig, VocoderConfig
from acegit.engine.model import MusicModel
from model.train_dcae import CropReader
from model.training import EMA, RunDir, StopRequest, add_run_args, smoke_run

RESOLUTIONS = ((512, 128), (1024, 256), (2048, 512))  # (n_fft, hop) of the multi-resolution STFT loss
CONTEXT = 16  # mel frames of context on each side of a crop, so the DCAE round trip has no crop edge inside it


def with_vocoder(model: MusicModel, cfg: VocoderConfig, seed: int) -> MusicModel:
    """A copy of `model` with a freshly initialised neural vocoder (seeded), its DCAE and DiT weights kept."""
    new_cfg = dataclasses.replace(model.cfg, vocoder=dataclasses.replace(cfg, neural=True))
    gen_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        out = MusicModel(new_cfg)
    finally:
        torch.random.set_rng_state(gen_state)
    kept = {k: v for k, v in model.state_dict().items() if not k.startswith("vocoder.")}  # a shipped one is replaced
    missing, unexpected = out.load_state_dict(kept, strict=False)
    assert not unexpected and all(k.startswith("vocoder.") for k in missing)
    return out


def _mag(wave: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    window = torch.hann_window(n_fft, dtype=wave.dtype)
    return torch.stft(wave, n_fft, hop, window=window, center=True, return_complex=True).abs()


def multi_resolution_stft(est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Mean over RESOLUTIONS of spectral convergence + L1 log magnitude (Yamamoto et al. 2020)."""
    total = est.new_zeros(())
    for n_fft, hop in RESOLUTIONS:
        s, s_hat = _mag(ref, n_fft, hop), _mag(est, n_fft, hop)
        sc = torch.linalg.norm(s - s_hat) / torch.linalg.norm(s).clamp_min(1e-8)
        total = total + sc + (torch.log(s + 1e-5) - torch.log(s_hat + 1e-5)).abs().mean()
    return total / len(RESOLUTIONS)


def log_mel_l1(est: torch.Tensor, ref: torch.Tensor, cfg: AudioConfig) -> torch.Tensor:
    """L1 of ln(mel) between the output and the reference audio, in nats."""
    floor = cfg.log_floor
    return (
        (
            torch.log(audio.mel_spectrogram(est, cfg).clamp_min(floor))
            - torch.log(audio.mel_spectrogram(ref, cfg).clamp_min(floor))
        )
        .abs()
        .mean()
    )


def phase_loss(spec: torch.Tensor, ref: torch.Tensor, cfg: AudioConfig) -> torch.Tensor:
    """sum |S| (1 - cos(phase error)) / sum |S| of the predicted spectrum (B, T, bins) against the reference's STFT.

    Weighted by the reference magnitude, so it trains the phase where there is energy and never pulls magnitudes down.
    """
    s = audio.stft(ref, cfg).transpose(1, 2)  # (B, T, bins)
    agree = (spec * s.conj()).real / spec.abs().clamp_min(1e-8)  # |S| cos(phase error)
    return (s.abs() - agree).sum() / s.abs().sum().clamp_min(1e-8)


def train(args: argparse.Namespace) -> dict[str, Any]:
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    run = RunDir(args.run)
    if run.has_checkpoint():
        model, state = run.load()
    else:
        base, _ = load_checkpoint(args.init)
        vcfg = VocoderConfig(dim=args.dim, depth=args.depth, mlp_ratio=args.mlp_ratio, kernel=args.kernel)
        model, state = with_vocoder(base, vcfg, args.seed).train(), {}
    assert model.vocoder is not None
    net, cfg = model.vocoder, model.cfg.audio
    model.dcae.requires_grad_(False).eval()
    model.dit.requires_grad_(False)
    frames = args.crop_frames
    hop = cfg.hop_length
    reader = CropReader(args.corpus, (frames + 2 * CONTEXT - 1) * hop, args.seed + int(state.get("step", 0)))
    params = list(net.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01, betas=(0.8, 0.99))
    ema = EMA(net, args.ema)
    step = int(state.get("step", 0))
    seconds = float(state.get("seconds", 0.0))  # training wall time of earlier runs: the lr schedule's clock
    mix = np.random.default_rng(args.seed + 1)
    if state:
        opt.load_state_dict(state["opt"])
        ema.shadow = state["ema"]
        reader.rng.bit_generator.state = state["data_rng"]
        mix.bit_generator.state = state["mix_rng"]

    def save() -> str:
        with ema.applied(net):
            return run.save(
                model,
                {
                    "step": step,
                    "seconds": seconds + time.time() - start,
                    "opt": opt.state_dict(),
                    "ema": ema.shadow,
                    "data_rng": reader.rng.bit_generator.state,
                    "mix_rng": mix.bit_generator.state,
                },
            )

    stop = StopRequest()
    start = time.time()
    last_save = start
    budget = args.minutes * 60
    parts: dict[str, list[float]] = {"loss": [], "stft": [], "mel": [], "phase": []}
    while True:
        elapsed = time.time() - start
        if step >= args.steps or elapsed >= budget or stop.requested:
            break
        if step % 500 == 0:
            reader.refresh()
        # linear warm-up, then cosine to a tenth over the schedule's length (cumulative wall time)
        progress = min(1.0, (seconds + elapsed) / (args.schedule_minutes * 60))
        lr = args.lr * min(1.0, (step + 1) / args.warmup) * (0.1 + 0.45 * (1 + math.cos(math.pi * progress)))
        for g in opt.param_groups:
            g["lr"] = lr
        wave = reader.batch(args.batch, cfg.sample_rate)  # (B, samples)
        with torch.no_grad():
            mel = audio.log_mel(wave, cfg)  # (B, n_mels, frames + 2 * CONTEXT)
            use_dcae = torch.from_numpy(mix.random(args.batch) < args.dcae_share)
            if use_dcae.any():
                mel = torch.where(use_dcae[:, None, None], model.dcae(mel), mel)
            mel = mel[..., CONTEXT : CONTEXT + frames]
        target = wave[:, CONTEXT * hop : (CONTEXT + frames - 1) * hop]  # the samples those frames are centred on
        spec = net(mel)  # (B, frames, bins)
        est = audio.istft(spec.transpose(1, 2), cfg, target.shape[-1])
        l_stft = multi_resolution_stft(est, target)
        l_mel = log_mel_l1(est, target, cfg)
        l_phase = phase_loss(spec, target, cfg)
        loss = l_stft + l_mel + args.phase_weight * l_phase
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        ema.update(net, step)
        step += 1
        for k, v in (("loss", loss), ("stft", l_stft), ("mel", l_mel), ("phase", l_phase)):
            parts[k].append(v.item())
        if step % args.log_every == 0:
            means = {k: float(np.mean(v[-args.log_every :])) for k, v in parts.items()}
            run.log({"step": step, **means, "lr": lr, "s_per_step": (time.time() - start) / max(1, len(parts["loss"]))})
            print(f"step {step} " + " ".join(f"{k} {v:.4f}" for k, v in means.items()), flush=True)
        if time.time() - last_save >= args.save_every:
            save()
            last_save = time.time()
    stop.restore()
    digest = save()
    return {"step": step, "hash": digest, "run": str(run.path)}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", type=Path, default=Path("data/corpus"))
    p.add_argument("--run", type=Path, default=Path("runs/vocoder"))
    p.add_argument("--init", type=Path, default=Path("model/weights/tiny"), help="the trained model to add it to")
    p.add_argument("--crop-frames", type=int, default=64, help="mel frames per crop (64 = 0.74 s)")
    p.add_argument("--dcae-share", type=float, default=0.5, help="share of crops fed as their DCAE round trip")
    p.add_argument("--phase-weight", type=float, default=1.0)
    p.add_argument("--schedule-minutes", type=float, default=60.0, help="cosine lr decay length (cumulative)")
    d = VocoderConfig()
    p.add_argument("--dim", type=int, default=d.dim)
    p.add_argument("--depth", type=int, default=d.depth)
    p.add_argument("--mlp-ratio", type=int, default=d.mlp_ratio)
    p.add_argument("--kernel", type=int, default=d.kernel)
    add_run_args(p, minutes=60.0, batch=8, lr=5e-4, warmup=100, log_every=20, save_every=180.0)
    return p


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parser().parse_args(argv)
    if not args.smoke:
        return train(args)
    return smoke_run(args, train, Path("runs/vocoder"), crop_frames=16, dim=32, depth=2)


if __name__ == "__main__":
    print(main())
