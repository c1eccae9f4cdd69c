"""Edits on the latent (acegit/engine/editing.py): what they keep bit for bit, what they change, and the determinism
matrix for each kind — twice in one process, alone vs batched, 1 vs 2 threads, two processes."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from acegit.edits import Edit
from acegit.engine import editing
from acegit.engine.request import GenerationRequest

BASE = GenerationRequest(
    prompt="dark synthwave with driving bass",
    negative_prompt="",
    seed=1234,
    duration=4.0,
    bpm=110.0,
    key="A minor",
    time_signature="4/4",
    steps=3,
    guidance=3.0,
    sampler="euler",
)
REPAINT = Edit("repaint", seed=7, start=1.5, end=2.5)
EXTEND = Edit("extend", seed=8, to=5.5, prompt="a quiet outro")
VARY = Edit("vary", seed=9, amount=0.5)
KINDS = {"repaint": REPAINT, "extend": EXTEND, "vary": VARY}


def digest(latent: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(latent, dtype=np.float32).tobytes()).hexdigest()


def edited(*edits: Edit, **changes: object) -> GenerationRequest:
    return dataclasses.replace(BASE, edits=edits, **changes)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def base_latent(tiny_engine) -> np.ndarray:  # type: ignore[no-untyped-def]
    return tiny_engine.generate([BASE])[0]


def test_range_mask_blends_inside_the_range() -> None:
    m = editing.range_mask(12, 3, 9, blend=2)
    assert m.tolist() == pytest.approx([0, 0, 0, 1 / 3, 2 / 3, 1, 1, 2 / 3, 1 / 3, 0, 0, 0])
    assert editing.range_frames(1.5, 2.5, 44, 10.7666) == (17, 27)  # frames whose time lies in [1.5, 2.5)


def test_repaint_changes_its_range_and_keeps_every_other_frame(tiny_engine, base_latent) -> None:  # type: ignore[no-untyped-def]
    out = tiny_engine.generate([edited(REPAINT)])[0]
    lo, hi = editing.range_frames(1.5, 2.5, out.shape[-1], tiny_engine.latent_rate)
    changed = np.nonzero(np.abs(out - base_latent).max(axis=(0, 1)))[0]
    assert changed.tolist() == list(range(lo, hi))  # every frame of the range, and no other
    assert np.array_equal(out[..., :lo], base_latent[..., :lo]) and np.array_equal(out[..., hi:], base_latent[..., hi:])
    inside = np.abs(out[..., lo:hi] - base_latent[..., lo:hi]).mean()
    assert inside > 0.05 * np.abs(base_latent).mean()  # really regenerated, not a nudge


def test_repaint_strength_scales_the_change(tiny_engine, base_latent) -> None:  # type: ignore[no-untyped-def]
    full = tiny_engine.generate([edited(REPAINT)])[0]
    light = tiny_engine.generate([edited(dataclasses.replace(REPAINT, strength=0.3))])[0]
    assert 0 < np.linalg.norm(light - base_latent) < np.linalg.norm(full - base_latent)


def test_extend_keeps_the_original_frames(tiny_engine, base_latent) -> None:  # type: ignore[no-untyped-def]
    out = tiny_engine.generate([edited(EXTEND)])[0]
    kept = base_latent.shape[-1]
    assert out.shape[-1] == tiny_engine.latent_frames(5.5) > kept
    assert np.array_equal(out[..., :kept], base_latent)
    assert np.abs(out[..., kept:]).mean() > 0.1 * np.abs(base_latent).mean()


def test_vary_zero_is_the_original_and_grows_with_amount(tiny_engine, base_latent) -> None:  # type: ignore[no-untyped-def]
    assert np.array_equal(tiny_engine.generate([edited(dataclasses.replace(VARY, amount=0.0))])[0], base_latent)
    distances = [
        float(np.linalg.norm(tiny_engine.generate([edited(dataclasses.replace(VARY, amount=a))])[0] - base_latent))
        for a in (0.2, 0.5, 1.0)
    ]
    assert 0 < distances[0] < distances[1] < distances[2]


def test_a_chain_applies_in_order(tiny_engine) -> None:  # type: ignore[no-untyped-def]
    """Extend then repaint inside the new part: the repaint is checked against, and applied to, the longer track."""
    extended = tiny_engine.generate([edited(EXTEND)])[0]
    chained = tiny_engine.generate([edited(EXTEND, Edit("repaint", seed=3, start=4.5, end=5.2))])[0]
    keep, _ = editing.range_frames(4.5, 5.2, chained.shape[-1], tiny_engine.latent_rate)
    assert np.array_equal(chained[..., :keep], extended[..., :keep]) and not np.array_equal(chained, extended)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_twice_alone_batched_and_threads(tiny_engine, kind: str) -> None:  # type: ignore[no-untyped-def]
    r = edited(KINDS[kind])
    alone = digest(tiny_engine.generate([r])[0])
    assert digest(tiny_engine.generate([r])[0]) == alone
    batch = tiny_engine.generate([dataclasses.replace(BASE, seed=5), r, edited(VARY, seed=11, duration=3.0)])
    assert digest(batch[1]) == alone
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = digest(tiny_engine.generate([r])[0])
        torch.set_num_threads(2)
        two = digest(tiny_engine.generate([r])[0])
    finally:
        torch.set_num_threads(before)
    assert one == two == alone


_CHILD = """
import hashlib, sys, torch
from acegit.edits import Edit
from acegit.engine.inference import Engine
from acegit.engine.request import GenerationRequest
torch.set_num_threads(int(sys.argv[2]))
engine = Engine.load(sys.argv[1], device="cpu")
fields = eval(sys.argv[3])
fields["edits"] = tuple(Edit(**e) for e in fields["edits"])
for latent in engine.generate([GenerationRequest(**fields)]):
    print(hashlib.sha256(latent.tobytes()).hexdigest(), hashlib.sha256(engine.decode(latent).tobytes()).hexdigest())
"""


def test_two_separate_processes_at_one_and_two_threads(tiny_engine, tiny_random_checkpoint: Path) -> None:  # type: ignore[no-untyped-def]
    """The whole chain (repaint, extend, vary) in two fresh processes at 1 and 2 threads equals this process."""
    from acegit.engine import numerics

    r = edited(REPAINT, EXTEND, VARY)
    fields = repr(dataclasses.asdict(r))
    env = {k: v for k, v in os.environ.items() if k not in numerics.PINNED_ENV}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(tiny_random_checkpoint), str(threads), fields],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**env, "OMP_NUM_THREADS": str(threads)},
        )
        for threads in (1, 2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
    latent = tiny_engine.generate([r])[0]
    here = f"{digest(latent)} {hashlib.sha256(tiny_engine.decode(latent).tobytes()).hexdigest()}"
    assert {out.strip() for out, _ in outs} == {here}


def test_a_repainted_loop_stays_a_loop(tiny_engine) -> None:  # type: ignore[no-untyped-def]
    """A loop's first bar repainted: the rest of the loop keeps its bits, the latent keeps the loop's length."""
    loop = dataclasses.replace(BASE, loop=True)
    before = tiny_engine.generate([loop])[0]
    after = tiny_engine.generate([dataclasses.replace(loop, edits=(Edit("repaint", seed=2, start=0.0, end=1.0),))])[0]
    lo, hi = editing.range_frames(0.0, 1.0, before.shape[-1], tiny_engine.latent_rate)
    assert after.shape == before.shape and lo == 0
    assert np.array_equal(after[..., hi:], before[..., hi:]) and not np.array_equal(after[..., :hi], before[..., :hi])
