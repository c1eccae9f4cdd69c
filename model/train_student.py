"""Distil guidance (and steps) into a student: `python -m model.train_student --run runs/student`.

Guidance costs a second DiT branch at every step (issue 19: sampling is two thirds of a render). The student (Meng et
al. 2023, stage one, on the flow path) is the teacher's DiT plus an embedding of the guidance scale, zero-initialised
so that it starts as the teacher's conditional branch; it learns to predict the teacher's *guided* velocity in one
evaluation, for any scale, so a render samples at half the cost with the same steps and schedule.

`--jump K` also distils steps (a few-step student, as ACE-Step's turbo): each training pair spans K of the teacher's
steps, and its target is the secant velocity (x_{i+K} - x_i) / (σ_{i+K} - σ_i) along the teacher's own trajectory, so
one Euler step of the student lands where K guided steps of the teacher did. The shifted schedule of n steps is every
K-th level of the one of n·K steps, so a student trained on teacher trajectories of 20 steps with `--jump 4` renders
with `steps = 5`. `--init` starts it from a guidance-distilled student instead of the teacher's weights.

Training is on-policy and needs no corpus audio: the teacher samples trajectories through the engine's own path
(`Engine._denoise`: its conditions, guidance branch and schedule) for the prompts, BPM, keys, metres and melodies of
freshly composed pieces, at random scales and step counts; every K steps it takes is a training pair (x_σ, σ,
conditions, scale) -> velocity, and the student fits them by MSE (`--reuse` passes over each round's pairs). DCAE and
vocoder are the teacher's, unchanged. The checkpoint is a whole model in acegit's format (`dit.guidance_embed =
true`); resumes from the run folder.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from acegit.engine.checkpoint import load_checkpoint, seeded
from acegit.engine.conditioning import Conditions
from acegit.engine.inference import Engine
from acegit.engine.model import MusicModel
from acegit.engine.request import GenerationRequest
from acegit.engine.sampling import flow_sigmas
from model.corpus.captions import captions
from model.corpus.composer import compose
from model.corpus.melody import melody_midi
from model.train_dit import Dropout
from model.training import EMA, RunDir, StopRequest, add_run_args


@dataclasses.dataclass
class Pool:
    """One round of teacher trajectories of one length: every step a pair, and each trajectory's conditions."""

    x: list[torch.Tensor] = dataclasses.field(default_factory=list)  # (1, C, F, T) each
    sigma: list[torch.Tensor] = dataclasses.field(default_factory=list)  # (1,)
    target: list[torch.Tensor] = dataclasses.field(default_factory=list)  # the teacher's (secant) guided velocity
    trajectory: list[int] = dataclasses.field(default_factory=list)
    conds: list[Conditions] = dataclasses.field(default_factory=list)
    scales: list[float] = dataclasses.field(default_factory=list)
    loop: bool = False

    def batch(self, idx: list[int]) -> tuple[torch.Tensor, torch.Tensor, Conditions, torch.Tensor, torch.Tensor]:
        traj = [self.trajectory[i] for i in idx]
        return (
            torch.cat([self.x[i] for i in idx]),
            torch.cat([self.sigma[i] for i in idx]),
            Conditions.cat([self.conds[j] for j in traj]),
            torch.tensor([self.scales[j] for j in traj], dtype=torch.float32),
            torch.cat([self.target[i] for i in idx]),
        )


def request(rng: random.Random, args: argparse.Namespace, duration: float, loop: bool, tmp: Path) -> GenerationRequest:
    """A request as a user might write it, from a freshly composed piece's labels (dropped like the DiT's training)."""
    seed = rng.randrange(2**31)
    piece = compose(seed, duration)
    labels, drop = piece.labels, Dropout()
    prompt = "" if rng.random() < drop.text else captions(labels, 1, seed)[0].text
    melody = None
    midi = melody_midi(piece) if rng.random() < drop.melody_kept else None
    if midi is not None:
        melody = tmp / f"{seed}.mid"
        midi.write(str(melody))
    lo, hi = args.guidance_range
    return GenerationRequest(
        prompt=prompt,
        negative_prompt="",
        seed=seed,
        duration=duration,
        bpm=0.0 if rng.random() < drop.bpm else float(labels.bpm),
        key="" if rng.random() < drop.key else labels.key,
        time_signature="" if rng.random() < drop.time_signature else labels.time_signature,
        steps=rng.choice(args.sample_steps),
        guidance=rng.uniform(lo, hi),
        sampler="euler",
        melody=melody,
        loop=loop,
    )


@torch.no_grad()
def teacher_round(teacher: Engine, rng: random.Random, args: argparse.Namespace) -> Pool:
    """`args.batch` trajectories of one random length (loops or not), sampled by the teacher; a pair every K steps."""
    pool = Pool(loop=rng.random() < args.loop_share)
    duration = rng.choice(args.durations)
    with tempfile.TemporaryDirectory() as tmp:
        for j in range(args.batch):
            r = request(rng, args, duration, pool.loop, Path(tmp))
            pool.conds.append(teacher.conditions(r)[0])
            pool.scales.append(r.guidance)
            xs: list[torch.Tensor] = []

            def record(denoise: Any, xs: list[torch.Tensor] = xs) -> Any:
                def recorded(x: torch.Tensor, sigma: torch.Tensor, *, cond: Any, uncond: Any) -> torch.Tensor:
                    xs.append(x)
                    return denoise(x, sigma, cond=cond, uncond=uncond)

                return recorded

            sigmas = flow_sigmas(r.steps, teacher.cfg.sampling.shift)
            xs.append(teacher._denoise(r, teacher.initial_noise(r), sigmas, lambda info: None, record))
            for i in range(0, r.steps, args.jump):
                pool.x.append(xs[i])
                pool.sigma.append(sigmas[i : i + 1])
                pool.target.append((xs[i + args.jump] - xs[i]) / (sigmas[i + args.jump] - sigmas[i]))
                pool.trajectory.append(j)
    teacher._text_cache.clear()  # every round brings new prompts: keep the teacher's memory flat
    return pool


def student_of(teacher: MusicModel, seed: int) -> MusicModel:
    """The teacher's weights in a model whose DiT takes the guidance scale (its embedding starts at zero)."""
    cfg = dataclasses.replace(teacher.cfg, dit=dataclasses.replace(teacher.cfg.dit, guidance_embed=True))
    student = seeded(seed, lambda: MusicModel(cfg))
    missing, unexpected = student.load_state_dict(teacher.state_dict(), strict=False)
    if unexpected or not all(k.startswith("dit.g_embed.") for k in missing):
        raise SystemExit(f"the teacher's weights do not fit a student of its config: {unexpected or missing}")
    return student


def train(args: argparse.Namespace) -> dict[str, Any]:
    torch.set_num_threads(args.threads)
    teacher_model, teacher_hash = load_checkpoint(args.teacher)
    if teacher_model.cfg.dit.guidance_embed:
        raise SystemExit(f"{args.teacher} is already a guidance-distilled student; give the model it was made from")
    teacher = Engine(teacher_model, teacher_hash, torch.device("cpu"))
    if any(n % args.jump for n in args.sample_steps):
        raise SystemExit(f"--sample-steps {args.sample_steps}: each must be a multiple of --jump {args.jump}")
    if args.jump > 1 and len(set(args.sample_steps)) > 1:
        raise SystemExit(f"--sample-steps {args.sample_steps}: a few-step student is trained for one step count")
    run = RunDir(args.run)
    if run.has_checkpoint():
        student, state = run.load()
    elif args.init is not None:
        student, state = load_checkpoint(args.init)[0].train(), {}
        if student.cfg != student_of(teacher_model, args.seed).cfg:
            raise SystemExit(f"--init {args.init} is not a guidance-distilled student of {args.teacher}")
    else:
        student, state = student_of(teacher_model, args.seed).train(), {}
    if state and state.get("teacher") != teacher_hash:
        raise SystemExit(f"{args.run} distils weights {state.get('teacher', '?')[:12]}…, not {args.teacher}")
    if args.jump > 1:  # it renders with exactly its steps (the engine refuses others)
        sampling = dataclasses.replace(student.cfg.sampling, steps=args.sample_steps[0] // args.jump)
        student.cfg = dataclasses.replace(student.cfg, sampling=sampling)
    student.dcae.requires_grad_(False).eval()
    if student.vocoder is not None:
        student.vocoder.requires_grad_(False)
    dit = student.dit
    opt = torch.optim.AdamW(dit.parameters(), lr=args.lr, weight_decay=0.01, betas=(0.9, 0.99))
    ema = EMA(dit, args.ema)
    step = int(state.get("step", 0))
    rng = random.Random(args.seed)
    picks = np.random.default_rng(args.seed + 1)
    if state:
        opt.load_state_dict(state["opt"])
        ema.shadow = state["ema"]
        rng.setstate(state["rng"])
        picks.bit_generator.state = state["picks"]

    def save() -> str:
        with ema.applied(dit):
            return run.save(
                student,
                {
                    "step": step,
                    "teacher": teacher_hash,
                    "opt": opt.state_dict(),
                    "ema": ema.shadow,
                    "rng": rng.getstate(),
                    "picks": picks.bit_generator.state,
                },
            )

    stop = StopRequest()
    start = last_save = time.time()
    losses: list[float] = []
    rel: list[float] = []
    while step < args.steps and time.time() - start < args.minutes * 60 and not stop.requested:
        pool = teacher_round(teacher, rng, args)
        order = [i for _ in range(args.reuse) for i in picks.permutation(len(pool.x)).tolist()]
        for first in range(0, len(order) - args.batch + 1, args.batch):
            if step >= args.steps or stop.requested:
                break
            lr = args.lr * min(1.0, (step + 1) / args.warmup)
            for g in opt.param_groups:
                g["lr"] = lr
            x, sigma, cond, scale, target = pool.batch(order[first : first + args.batch])
            v = dit(x, sigma, cond, circular=pool.loop, guidance=scale)
            loss = F.mse_loss(v, target)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            grad = float(torch.nn.utils.clip_grad_norm_(dit.parameters(), 1.0))
            opt.step()
            ema.update(dit, step)
            step += 1
            losses.append(loss.item())
            rel.append(float((v.detach() - target).norm() / target.norm().clamp_min(1e-8)))
            if step % args.log_every == 0:
                tail, tail_rel = losses[-args.log_every :], rel[-args.log_every :]
                rate = (time.time() - start) / len(losses)
                run.log({"step": step, "loss": float(np.mean(tail)), "relative_error": float(np.mean(tail_rel)),
                         "grad_norm": grad, "lr": lr, "s_per_step": rate})  # fmt: skip
                print(f"step {step} loss {np.mean(tail):.4f} rel {np.mean(tail_rel):.3f} ({rate:.2f} s/step)")
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
        "relative_error": float(np.mean(rel[-50:])) if rel else math.nan,
    }


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--teacher", type=Path, default=Path("model/weights/tiny"), help="the model to distil")
    p.add_argument("--run", type=Path, default=Path("runs/student"))
    p.add_argument("--durations", type=float, nargs="+", default=[6.0, 8.0, 10.0, 12.0], help="seconds per round")
    p.add_argument("--sample-steps", type=int, nargs="+", default=[20, 20, 20, 10], help="teacher steps (drawn)")
    p.add_argument("--guidance-range", type=float, nargs=2, default=[1.0, 7.0], metavar=("LO", "HI"))
    p.add_argument("--loop-share", type=float, default=0.1, help="share of rounds sampled as seamless loops")
    p.add_argument("--jump", type=int, default=1, help="teacher steps per student step (1: guidance distillation)")
    p.add_argument("--init", type=Path, help="a guidance-distilled student of the teacher to start from")
    p.add_argument("--reuse", type=int, default=1, help="passes over each round's pairs")
    add_run_args(p, minutes=60.0, batch=8, lr=2e-4, warmup=100, log_every=20, save_every=300.0)
    return p


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parser().parse_args(argv)
    if not args.smoke:
        return train(args)
    with tempfile.TemporaryDirectory() as tmp:  # two steps on 2-s tracks of 2 teacher steps, then a resume (CI)
        args.run = Path(tmp) / "run" if args.run == Path("runs/student") else args.run
        args.batch, args.steps, args.log_every, args.warmup = 2, 2, 1, 1
        args.durations, args.sample_steps = [2.0], [2 * args.jump]
        first = train(args)
        args.steps = 3
        return {**train(args), "first": first}


if __name__ == "__main__":
    print(main())
