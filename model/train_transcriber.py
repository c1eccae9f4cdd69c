"""Train the transcriber: `python -m model.train_transcriber --corpus data/corpus --run runs/transcriber`.

Random crops of corpus clips (about 3 s) with their exact MIDI per role (the corpus writes one instrument per role,
named melody / chords / bass / drums): onset and frame targets on the engine's mel frame grid, binary cross-entropy on
both heads. Resumes from the run folder when it holds a checkpoint; the EMA weights are what is saved and shipped.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import pretty_midi
import soundfile as sf
import torch
import torch.nn.functional as F

from acegit.engine.audio import log_mel
from acegit.engine.transcriber import (
    Transcriber,
    TranscriberConfig,
    build_transcriber,
    load_transcriber,
    save_transcriber,
)
from model.corpus.build import read_labels
from model.training import EMA, RunDir, StopRequest, add_run_args, smoke_run


def role_notes(midi_path: Path, roles: tuple[str, ...]) -> list[np.ndarray]:
    """Per role, the notes of a corpus clip's MIDI as an (N, 3) array of start s, end s, pitch."""
    pm = pretty_midi.PrettyMIDI(str(midi_path))
    out = []
    for role in roles:
        notes = [(n.start, n.end, n.pitch) for inst in pm.instruments if inst.name == role for n in inst.notes]
        out.append(np.asarray(notes, np.float64).reshape(-1, 3))
    return out


def targets(
    notes: list[np.ndarray], start_s: float, frames: int, cfg: TranscriberConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Onset and frame targets (roles, pitches, frames) of a crop starting at start_s; frame i is at start_s + i/rate.

    An onset marks the two frames around its time (23 ms at the defaults), as the paper's onset length does.
    """
    onset = np.zeros((len(cfg.roles), cfg.pitches, frames), np.float32)
    frame = np.zeros_like(onset)
    rate = cfg.frame_rate
    for r, arr in enumerate(notes):
        for s, e, pitch in arr:
            p = int(pitch) - cfg.min_pitch
            if not 0 <= p < cfg.pitches:
                continue
            a, b = (s - start_s) * rate, (e - start_s) * rate
            lo, hi = max(0, int(np.ceil(a))), min(frames, int(np.ceil(b)))
            if hi > lo:
                frame[r, p, lo:hi] = 1.0
            first = int(np.floor(a))
            for i in (first, first + 1):
                if 0 <= i < frames:
                    onset[r, p, i] = 1.0
    return onset, frame


class CropReader:
    """Random crops of corpus clips with their targets; audio read by seeking in the FLAC files."""

    def __init__(self, corpus: Path, cfg: TranscriberConfig, frames: int, seed: int) -> None:
        self.corpus, self.cfg, self.frames = corpus, cfg, frames
        self.samples = (frames - 1) * cfg.audio.hop_length
        self.rng = np.random.default_rng(seed)
        self.notes: dict[str, list[np.ndarray]] = {}
        self.refresh()

    def refresh(self) -> None:
        """Re-read the labels: a corpus still being built keeps growing."""
        self.records = [(r["audio"], r["midi"], r["duration"]) for r in read_labels(self.corpus)]

    def _notes(self, midi: str) -> list[np.ndarray]:
        if midi not in self.notes:
            self.notes[midi] = role_notes(self.corpus / midi, self.cfg.roles)
        return self.notes[midi]

    def batch(self, size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        sr = self.cfg.audio.sample_rate
        waves = np.zeros((size, self.samples), np.float32)
        onsets, frames = [], []
        for i in range(size):
            audio, midi, duration = self.records[int(self.rng.integers(len(self.records)))]
            start = int(self.rng.integers(max(1, int(duration * sr) - self.samples)))
            wave, _ = sf.read(self.corpus / audio, start=start, frames=self.samples, dtype="float32")
            waves[i, : len(wave)] = wave * float(self.rng.uniform(0.5, 1.5))  # level varies in renders
            on, fr = targets(self._notes(midi), start / sr, self.frames, self.cfg)
            onsets.append(on)
            frames.append(fr)
        mel = log_mel(torch.from_numpy(waves), self.cfg.audio)[..., : self.frames]
        return mel, torch.from_numpy(np.stack(onsets)), torch.from_numpy(np.stack(frames))


# Positives are rare (about 0.05% of onset and 1% of frame targets): weighting them keeps a short CPU run from settling
# on "no notes"; the decoding thresholds are then chosen on validation clips (model/evaluate/transcription.py).
ONSET_POS_WEIGHT = 8.0
FRAME_POS_WEIGHT = 2.0


def losses(model: Transcriber, mel: torch.Tensor, onset: torch.Tensor, frame: torch.Tensor) -> dict[str, torch.Tensor]:
    on_logit, fr_logit = model(mel)
    return {
        "onset": F.binary_cross_entropy_with_logits(on_logit, onset, pos_weight=torch.tensor(ONSET_POS_WEIGHT)),
        "frame": F.binary_cross_entropy_with_logits(fr_logit, frame, pos_weight=torch.tensor(FRAME_POS_WEIGHT)),
    }


def train(args: argparse.Namespace) -> dict[str, Any]:
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    run = RunDir(args.run, saver=save_transcriber, loader=load_transcriber)
    if run.has_checkpoint():
        model, state = run.load()
        model.train()
    else:
        model, state = build_transcriber(TranscriberConfig(), seed=args.seed).train(), {}
    step = int(state.get("step", 0))
    reader = CropReader(args.corpus, model.cfg, args.crop_frames, args.seed + step)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4, betas=(0.9, 0.99))
    ema = EMA(model, args.ema)
    if state:
        opt.load_state_dict(state["opt"])
        ema.shadow = state["ema"]
        reader.rng.bit_generator.state = state["data_rng"]

    def save() -> str:
        with ema.applied(model):
            return run.save(
                model,
                {"step": step, "opt": opt.state_dict(), "ema": ema.shadow, "data_rng": reader.rng.bit_generator.state},
            )

    stop = StopRequest()
    start = time.time()
    last_save = start
    history: list[tuple[float, float]] = []
    while True:
        if step >= args.steps or time.time() - start >= args.minutes * 60 or stop.requested:
            break
        if step % 500 == 0:
            reader.refresh()
        lr = args.lr * min(1.0, (step + 1) / args.warmup)
        for g in opt.param_groups:
            g["lr"] = lr
        loss = losses(model, *reader.batch(args.batch))
        total = loss["onset"] + loss["frame"]
        opt.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        ema.update(model, step)
        step += 1
        history.append((loss["onset"].item(), loss["frame"].item()))
        if step % args.log_every == 0:
            tail = np.asarray(history[-args.log_every :])
            run.log(
                {
                    "step": step,
                    "onset": float(tail[:, 0].mean()),
                    "frame": float(tail[:, 1].mean()),
                    "lr": lr,
                    "s_per_step": (time.time() - start) / max(1, len(history)),
                }
            )
            print(f"step {step} onset {tail[:, 0].mean():.4f} frame {tail[:, 1].mean():.4f}", flush=True)
        if time.time() - last_save >= args.save_every:
            save()
            last_save = time.time()
    stop.restore()
    digest = save()
    return {"step": step, "hash": digest, "run": str(run.path)}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", type=Path, default=Path("data/corpus"))
    p.add_argument("--run", type=Path, default=Path("runs/transcriber"))
    p.add_argument("--crop-frames", type=int, default=256, help="mel frames per crop (256 = 2.97 s)")
    add_run_args(p, minutes=60.0, batch=8, lr=1e-3, warmup=200, log_every=25, save_every=180.0)
    return p


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parser().parse_args(argv)
    return smoke_run(args, train, Path("runs/transcriber"), crop_frames=64) if args.smoke else train(args)


if __name__ == "__main__":
    print(main())
