"""The determinism contract on CPU: bit-identical latents across runs, processes, batch neighbours and thread counts."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
from childproc import outputs_at_one_and_two_threads

from acegit.engine.request import GenerationRequest

BASE = GenerationRequest(
    prompt="dark synthwave with driving bass",
    negative_prompt="",
    seed=1234,
    duration=3.0,
    bpm=110.0,
    key="A minor",
    time_signature="4/4",
    steps=3,
    guidance=3.0,
    sampler="euler",
)


# The contract holds per sampler — each is its own arithmetic (dpm++2m keeps the previous step's data prediction) —
# and per guidance path: two branches in one batch of two, or a guidance-distilled student's one evaluation; and for
# the shipped step-distilled `tiny-turbo` (its 5 Euler steps only).
CASES = [("euler", "two-branch"), ("dpm++2m", "two-branch"), ("euler", "distilled"), ("euler", "turbo")]
ENGINES = {"two-branch": ("tiny_engine", "tiny_random_checkpoint"),
           "distilled": ("student_engine", "tiny_random_student_checkpoint"),
           "turbo": ("turbo_engine", "turbo_checkpoint")}  # fmt: skip
TURBO_STEPS = 5


def engine_of(request: pytest.FixtureRequest, guidance: str):  # type: ignore[no-untyped-def]
    return request.getfixturevalue(ENGINES[guidance][0])


def with_sampler(sampler: str, guidance: str) -> GenerationRequest:
    """BASE with the sampler; dpm++2m's second-order update first runs at the third of five steps (the first two and
    the last are first order), so it gets 5 steps; tiny-turbo renders with its own 5."""
    steps = 5 if sampler == "dpm++2m" else TURBO_STEPS if guidance == "turbo" else BASE.steps
    return dataclasses.replace(BASE, sampler=sampler, steps=steps)


def digest(latent: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(latent, dtype=np.float32).tobytes()).hexdigest()


@pytest.mark.parametrize(("sampler", "guidance"), CASES)
def test_same_process_twice(request: pytest.FixtureRequest, sampler: str, guidance: str) -> None:
    engine = engine_of(request, guidance)
    r = with_sampler(sampler, guidance)
    a, b = engine.generate([r])[0], engine.generate([r])[0]
    assert a.shape == (8, 16, engine.latent_frames(3.0)) and a.dtype == np.float32
    assert digest(a) == digest(b)
    assert np.abs(a).max() > 0.1  # a real latent, not a constant


def test_seed_and_prompt_change_the_result(tiny_engine) -> None:
    a = tiny_engine.generate([BASE])[0]
    b = tiny_engine.generate([dataclasses.replace(BASE, seed=1235)])[0]
    c = tiny_engine.generate([dataclasses.replace(BASE, prompt="bright ukulele")])[0]
    assert digest(a) != digest(b) and digest(a) != digest(c)


@pytest.mark.parametrize(("sampler", "guidance"), CASES)
def test_alone_equals_inside_a_batch_of_eight_different_requests(
    request: pytest.FixtureRequest, sampler: str, guidance: str
) -> None:
    tiny_engine = engine_of(request, guidance)
    base = with_sampler(sampler, guidance)
    others = [
        dataclasses.replace(BASE, seed=7, duration=2.0),
        dataclasses.replace(BASE, prompt="ambient pads", bpm=70.0, key="D major"),
        dataclasses.replace(BASE, sampler="heun", steps=2, duration=1.5),
        dataclasses.replace(BASE, negative_prompt="" if guidance != "two-branch" else "drums", guidance=5.0),
        dataclasses.replace(BASE, time_signature="3/4", duration=4.0),
        dataclasses.replace(BASE, guidance=1.0, seed=99),
        dataclasses.replace(BASE, prompt="", key="", bpm=0.0, time_signature="", sampler="dpm++2m", steps=6),
    ]
    if guidance == "turbo":
        others = [dataclasses.replace(r, sampler="euler", steps=TURBO_STEPS) for r in others]
    alone = tiny_engine.generate([base])[0]
    batch = tiny_engine.generate(others[:3] + [base] + others[3:])
    assert len(batch) == 8
    assert digest(batch[3]) == digest(alone)
    for r, latent in zip(others, batch[:3] + batch[4:], strict=True):
        assert latent.shape[-1] == tiny_engine.latent_frames(r.duration)


@pytest.mark.parametrize(("sampler", "guidance"), CASES)
def test_one_thread_equals_two(request: pytest.FixtureRequest, sampler: str, guidance: str) -> None:
    tiny_engine = engine_of(request, guidance)
    r = with_sampler(sampler, guidance)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = tiny_engine.generate([r])[0]
        torch.set_num_threads(2)
        two = tiny_engine.generate([r])[0]
    finally:
        torch.set_num_threads(before)
    assert digest(one) == digest(two)


_CHILD = """
import hashlib, sys, numpy as np, torch
from acegit.engine.inference import Engine
from acegit.engine.request import GenerationRequest
torch.set_num_threads(int(sys.argv[2]))
engine = Engine.load(sys.argv[1], device="cpu")
r = GenerationRequest(**eval(sys.argv[3]))
latent = engine.generate([r])[0]
print(hashlib.sha256(latent.tobytes()).hexdigest(), hashlib.sha256(engine.decode(latent).tobytes()).hexdigest())
"""


@pytest.mark.parametrize(("sampler", "guidance"), CASES)
def test_two_separate_processes(request: pytest.FixtureRequest, sampler: str, guidance: str) -> None:
    """Generate and decode in two fresh processes at 1 and 2 threads, neither given the pinned environment: each pins
    its own CPU numerics (acegit/engine/numerics.py), so latents and audio agree with this process bit for bit."""
    tiny_engine = engine_of(request, guidance)
    checkpoint: Path = request.getfixturevalue(ENGINES[guidance][1])
    r = with_sampler(sampler, guidance)
    outs = outputs_at_one_and_two_threads(_CHILD, str(checkpoint), repr(dataclasses.asdict(r)))
    latent = tiny_engine.generate([r])[0]
    here = f"{digest(latent)} {hashlib.sha256(tiny_engine.decode(latent).tobytes()).hexdigest()}"
    assert outs == {here}


def test_decode_is_deterministic_and_has_the_asked_length(tiny_engine) -> None:
    latent = tiny_engine.generate([BASE])[0]
    a = tiny_engine.decode(latent, num_samples=3 * tiny_engine.sample_rate)
    b = tiny_engine.decode(latent, num_samples=3 * tiny_engine.sample_rate)
    assert a.shape == (3 * tiny_engine.sample_rate,) and a.dtype == np.float32
    assert np.isfinite(a).all() and a.tobytes() == b.tobytes()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_batch_and_repeat(tiny_random_checkpoint: Path) -> None:
    from acegit.engine.inference import Engine

    engine = Engine.load(tiny_random_checkpoint, device="cuda")
    alone = engine.generate([BASE])[0]
    batch = engine.generate([dataclasses.replace(BASE, seed=s) for s in range(3)] + [BASE])
    assert digest(batch[-1]) == digest(alone) == digest(engine.generate([BASE])[0])


_DECODE_ONLY_CHILD = """
import hashlib, sys, numpy as np, torch
from acegit.engine.inference import Engine
torch.set_num_threads(int(sys.argv[2]))
engine = Engine.load(sys.argv[1], device="cpu", decode_only=True)
latent = np.random.default_rng(int(sys.argv[3])).standard_normal((8, 16, 24)).astype(np.float32)
print(*(hashlib.sha256(engine.decode(latent, loop=loop).tobytes()).hexdigest() for loop in (False, True)))
"""


def test_a_decode_only_engine_decodes_what_the_full_engine_does(tiny_engine, tiny_random_checkpoint: Path) -> None:
    """Diff, show and export decode with an engine loaded without its DiT (issue 19): the same samples as the full
    engine's, twice in one process, in two processes at 1 and 2 threads; and it refuses to sample."""
    from acegit.engine.inference import Engine
    from acegit.errors import AcegitError

    decoder = Engine.load(tiny_random_checkpoint, device="cpu", decode_only=True)
    latent = np.random.default_rng(3).standard_normal((8, 16, 24)).astype(np.float32)
    here = [hashlib.sha256(tiny_engine.decode(latent, loop=loop).tobytes()).hexdigest() for loop in (False, True)]
    for _ in range(2):
        assert [
            hashlib.sha256(decoder.decode(latent, loop=loop).tobytes()).hexdigest() for loop in (False, True)
        ] == here
    assert outputs_at_one_and_two_threads(_DECODE_ONLY_CHILD, str(tiny_random_checkpoint), "3") == {" ".join(here)}
    with pytest.raises(AcegitError, match="decode only"):
        decoder.generate([dataclasses.replace(BASE, duration=1.0, steps=1)])
