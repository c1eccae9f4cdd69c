"""What the training recipes share: run folders, resumable state, loss logs, EMA weights, the --smoke run."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from acegit.engine.checkpoint import load_checkpoint, save_checkpoint

CKPT = "ckpt"  # the model as acegit loads it: model.safetensors + config.json + sha256
STATE = "train_state.pt"  # optimiser, EMA, step, RNG: only what resuming needs; never shipped
LOG = "log.jsonl"


@dataclass
class RunDir:
    """A training run's folder: runs/<name>/{ckpt/, train_state.pt, log.jsonl}.

    saver/loader write and read the model's weights folder: the music model's by default, the transcriber's for
    model/train_transcriber.py; both keep acegit's format (safetensors + config + sha256).
    """

    path: Path
    saver: Callable[[Any, Path], str] = field(default=save_checkpoint)
    loader: Callable[[Path], tuple[Any, str]] = field(default=load_checkpoint)

    @property
    def ckpt(self) -> Path:
        return self.path / CKPT

    def has_checkpoint(self) -> bool:
        return (self.ckpt / "sha256").exists() and (self.path / STATE).exists()

    def log(self, record: dict[str, Any]) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        with (self.path / LOG).open("a") as f:
            f.write(json.dumps({"time": round(time.time(), 1), **record}) + "\n")

    def save(self, model: Any, state: dict[str, Any]) -> str:
        """Checkpoint the model (acegit's format, hash included) and the resume state; returns the weights hash."""
        self.path.mkdir(parents=True, exist_ok=True)
        digest = self.saver(model, self.ckpt)
        tmp = self.path / (STATE + ".tmp")
        torch.save(state, tmp)
        tmp.replace(self.path / STATE)  # atomic: a crash leaves the previous state
        return digest

    def load(self) -> tuple[Any, dict[str, Any]]:
        model, _ = self.loader(self.ckpt)
        state = torch.load(self.path / STATE, map_location="cpu", weights_only=True)
        return model.train(), state


class EMA:
    """Exponential moving average of parameters (what gets evaluated and shipped)."""

    def __init__(self, module: nn.Module, decay: float) -> None:
        self.decay = decay
        self.shadow = {k: v.detach().clone() for k, v in module.state_dict().items()}

    @torch.no_grad()
    def update(self, module: nn.Module, step: int) -> None:
        d = min(self.decay, (1 + step) / (10 + step))  # warm-up: early averages do not remember the random init
        for k, v in module.state_dict().items():
            if v.dtype.is_floating_point:
                self.shadow[k].mul_(d).add_(v.detach(), alpha=1 - d)
            else:
                self.shadow[k].copy_(v)

    def copy_to(self, module: nn.Module) -> None:
        module.load_state_dict(self.shadow)

    @contextlib.contextmanager
    def applied(self, module: nn.Module) -> Iterator[None]:
        """The EMA weights in `module` inside the block (a checkpoint holds them: what gets evaluated and shipped),
        its live training weights back after."""
        live = {k: v.clone() for k, v in module.state_dict().items()}
        self.copy_to(module)
        try:
            yield
        finally:
            module.load_state_dict(live)


class StopRequest:
    """Set by SIGTERM / SIGINT, so `kill PID` ends a background run at the next step with a final checkpoint."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = {sig: signal.signal(sig, self._set) for sig in (signal.SIGTERM, signal.SIGINT)}

    def _set(self, signum: int, frame: object) -> None:
        self.requested = True

    def restore(self) -> None:
        """Give the signals back to their previous handlers (the run is over)."""
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def add_run_args(
    p: argparse.ArgumentParser, *, minutes: float, batch: int, lr: float, warmup: int, log_every: int, save_every: float
) -> None:
    """The options both recipes share (budget, optimiser, logging, checkpoints, smoke), with per-recipe defaults."""
    p.add_argument("--minutes", type=float, default=minutes, help="stop after this much wall time")
    p.add_argument("--steps", type=int, default=10**9, help="stop at this total step count")
    p.add_argument("--batch", type=int, default=batch)
    p.add_argument("--lr", type=float, default=lr)
    p.add_argument("--warmup", type=int, default=warmup)
    p.add_argument("--ema", type=float, default=0.999)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--log-every", type=int, default=log_every)
    p.add_argument("--save-every", type=float, default=save_every, help="seconds between checkpoints")
    p.add_argument("--smoke", action="store_true", help="a few steps on a few synthesised clips (CI)")


def smoke_corpus(folder: Path) -> Path:
    """A handful of short clips rendered with the small soundfont: enough for a few steps of any recipe."""
    from model.corpus.build import CorpusSpec, build
    from model.corpus.synth import find_soundfont

    build(
        CorpusSpec(seed=0, clips=4, min_seconds=3.0, max_seconds=4.0, captions=2),
        folder,
        find_soundfont("TimGM6mb.sf2"),
    )
    return folder


def smoke_run(args: argparse.Namespace, train: Callable[[argparse.Namespace], dict[str, Any]], default_run: Path,
              **small: Any) -> dict[str, Any]:  # fmt: skip
    """`--smoke` of a recipe that reads a corpus: two steps on a synthesised one (unless --corpus/--run are given) with
    `small` overriding the sizes, then a resume from the checkpoint just written to step three (CI)."""
    with tempfile.TemporaryDirectory() as tmp:
        args.corpus = smoke_corpus(Path(tmp) / "corpus") if args.corpus == Path("data/corpus") else args.corpus
        args.run = Path(tmp) / "run" if args.run == default_run else args.run
        args.batch, args.steps, args.log_every, args.warmup = 2, 2, 1, 1
        for k, v in small.items():
            setattr(args, k, v)
        first = train(args)
        args.steps = 3  # resume from the checkpoint just written
        return {**train(args), "first": first}
