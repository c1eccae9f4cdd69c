from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from acegit.engine import numerics
from acegit.engine.device import environment, resolve_device
from acegit.engine.inference import Engine
from acegit.engine.registry import ModelRef
from acegit.engine.request import GenerationRequest
from acegit.errors import AcegitError

REQ = GenerationRequest(
    prompt="warm lo-fi piano",
    negative_prompt="",
    seed=5,
    duration=2.0,
    bpm=80.0,
    key="F major",
    time_signature="3/4",
    steps=2,
    guidance=2.0,
    sampler="heun",
)


def test_environment_and_rates(tiny_engine: Engine) -> None:
    env = tiny_engine.environment()
    assert env == environment("cpu")
    assert env["device_class"] == numerics.cpu_class() and env["device_class"].startswith("cpu:")
    assert env["dtype"] == "float32" and env["deterministic"] is True
    assert set(env) == {"device_class", "torch", "dtype", "deterministic"}
    assert tiny_engine.sample_rate == 22050
    assert tiny_engine.latent_rate == pytest.approx(10.7666, abs=1e-3)
    assert tiny_engine.device.type == "cpu"


def test_load_through_a_model_ref_checks_its_hash(tiny_random_checkpoint: Path) -> None:
    digest = (tiny_random_checkpoint / "sha256").read_text().strip()
    engine = Engine.load(ModelRef("tiny", tiny_random_checkpoint, "sha256:" + digest), device="cpu")
    assert engine.weights_hash == digest
    with pytest.raises(AcegitError, match="expected"):
        Engine.load(ModelRef("tiny", tiny_random_checkpoint, "sha256:" + "0" * 64), device="cpu")


@pytest.mark.parametrize(
    "change",
    [
        {"duration": 0.0},
        {"duration": 10_000.0},
        {"steps": 0},
        {"sampler": "ddim"},
        {"guidance": -1.0},
        {"key": "Q"},
        {"shift": 0.0},
        {"lyrics": "la la"},
    ],
)
def test_bad_requests_are_user_errors(tiny_engine: Engine, change: dict) -> None:
    with pytest.raises(AcegitError):
        tiny_engine.generate([dataclasses.replace(REQ, **change)])


def test_progress_counts_every_step_of_every_request(tiny_engine: Engine) -> None:
    seen: list[tuple[int, int]] = []
    tiny_engine.generate(
        [REQ, dataclasses.replace(REQ, steps=3, sampler="euler")], progress=lambda d, t: seen.append((d, t))
    )
    assert seen == [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]


def test_melody_and_negative_prompt_change_the_result(tiny_engine: Engine, tmp_path: Path) -> None:
    pretty_midi = pytest.importorskip("pretty_midi")
    midi = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(program=0)
    inst.notes.append(pretty_midi.Note(velocity=100, pitch=64, start=0.0, end=1.5))
    midi.instruments.append(inst)
    midi.write(str(tmp_path / "m.mid"))
    base = tiny_engine.generate([REQ])[0]
    with_melody = tiny_engine.generate([dataclasses.replace(REQ, melody=tmp_path / "m.mid")])[0]
    negative = tiny_engine.generate([dataclasses.replace(REQ, negative_prompt="drums")])[0]
    assert not np.array_equal(base, with_melody) and not np.array_equal(base, negative)


def test_shift_changes_the_schedule(tiny_engine: Engine) -> None:
    default = tiny_engine.generate([REQ])[0]
    assert np.array_equal(tiny_engine.generate([dataclasses.replace(REQ, shift=3.0)])[0], default)  # the preset's
    assert not np.array_equal(tiny_engine.generate([dataclasses.replace(REQ, shift=1.0)])[0], default)


def test_decode_checks_the_latent_shape(tiny_engine: Engine) -> None:
    with pytest.raises(AcegitError, match="shape"):
        tiny_engine.decode(np.zeros((4, 16, 10), dtype=np.float32))
    wave = tiny_engine.decode(np.zeros((8, 16, 10), dtype=np.float32))
    assert wave.shape == (9 * 2048,) and np.isfinite(wave).all()


def test_devices() -> None:
    assert resolve_device("cpu").type == "cpu"
    with pytest.raises(AcegitError):
        resolve_device("tpu")


def test_guidance_branch_drops_the_prompt_and_the_key_and_keeps_the_rest(tiny_engine: Engine) -> None:
    from acegit.engine.conditioning import KEY_NULL, key_index

    cond, uncond = tiny_engine.conditions(REQ)
    assert int(cond.key[0]) == key_index("F major") and int(uncond.key[0]) == KEY_NULL
    assert bool(cond.text_mask.any()) and not bool(uncond.text_mask.any())  # the null prompt
    for name in ("bpm", "time_signature", "duration", "beats", "melody"):  # rhythm stays in both branches
        assert torch.equal(getattr(cond, name), getattr(uncond, name)), name
    _, negative = tiny_engine.conditions(dataclasses.replace(REQ, negative_prompt="harsh noise"))
    assert bool(negative.text_mask.any()) and int(negative.key[0]) == KEY_NULL


def test_a_distilled_student_uses_the_scale_and_refuses_a_negative_prompt(student_engine: Engine) -> None:
    r = dataclasses.replace(REQ, sampler="euler")
    a = student_engine.generate([r])[0]
    b = student_engine.generate([dataclasses.replace(r, guidance=5.0)])[0]
    assert a.shape == b.shape and not np.array_equal(a, b)
    with pytest.raises(AcegitError, match="negative_prompt") as e:
        student_engine.generate([dataclasses.replace(r, negative_prompt="drums")])
    assert "remove negative_prompt" in (e.value.hint or "")


def test_a_step_distilled_student_renders_with_its_steps_only(
    tiny_random_student_checkpoint: Path, tmp_path: Path
) -> None:
    """Weights distilled for n Euler steps (`sampling.steps`, model/train_student.py --jump) refuse other steps or
    samplers with the setting to change, and render with n."""
    from acegit.engine.checkpoint import load_checkpoint, save_checkpoint

    model, _ = load_checkpoint(tiny_random_student_checkpoint)
    model.cfg = dataclasses.replace(model.cfg, sampling=dataclasses.replace(model.cfg.sampling, steps=2))
    save_checkpoint(model, tmp_path / "turbo")
    engine = Engine.load(tmp_path / "turbo", device="cpu")
    r = dataclasses.replace(REQ, sampler="euler", steps=2)
    same_dit = Engine.load(tiny_random_student_checkpoint, device="cpu")  # the same weights, no step count
    assert np.array_equal(engine.generate([r])[0], same_dit.generate([r])[0])
    for wrong in (dataclasses.replace(r, steps=3), dataclasses.replace(r, sampler="heun")):
        with pytest.raises(AcegitError, match="distilled for 2 Euler steps") as e:
            engine.generate([wrong])
        assert 'set steps = 2 and sampler = "euler"' in (e.value.hint or "")
