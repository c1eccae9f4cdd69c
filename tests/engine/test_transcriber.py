"""The transcriber: its checkpoint format (verified, no pickle), its decoding, and the determinism contract."""

from __future__ import annotations

import dataclasses
import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from acegit.engine.registry import transcriber_ref
from acegit.engine.transcriber import (
    TranscriberConfig,
    activations,
    build_transcriber,
    load_transcriber,
    notes_from_activations,
    save_transcriber,
    transcribe,
    transcribe_batch,
)
from acegit.errors import AcegitError

SR = 22050


def tones(seconds: float, notes: list[tuple[float, float, int]], seed: int = 0) -> np.ndarray:
    """A test signal: harmonic tones with a decay, plus a little noise."""
    t = np.arange(int(seconds * SR)) / SR
    out = np.random.default_rng(seed).standard_normal(len(t)) * 1e-3
    for start, end, pitch in notes:
        f = 440.0 * 2 ** ((pitch - 69) / 12)
        on = (t >= start) & (t < end)
        env = np.exp(-3 * (t - start)) * on
        out += sum(0.2 / k * np.sin(2 * np.pi * k * f * t) for k in (1, 2, 3)) * env
    return out.astype(np.float32)


@pytest.fixture(scope="module")
def shipped():
    ref = transcriber_ref()
    model, digest = load_transcriber(ref.path, ref.weights_hash)
    return model


def digest(x: tuple[np.ndarray, np.ndarray]) -> str:
    return hashlib.sha256(x[0].tobytes() + x[1].tobytes()).hexdigest()


def test_shipped_weights_load_and_verify(shipped) -> None:
    ref = transcriber_ref()
    assert ref.weights_hash.startswith("sha256:") and (ref.path / "model.safetensors").is_file()
    assert shipped.cfg.roles == ("melody", "chords", "bass")
    on, fr = activations(shipped, tones(1.0, [(0.1, 0.6, 60)]))
    assert on.shape == fr.shape == (3, 88, 1 * SR // 256 + 1)
    assert on.min() >= 0 and on.max() <= 1


def test_checkpoint_round_trip_and_tamper(tmp_path: Path) -> None:
    cfg = dataclasses.replace(TranscriberConfig(), hidden=32, dilations=(1, 2))
    model = build_transcriber(cfg, seed=3)
    digest_ = save_transcriber(model, tmp_path / "t")
    again, got = load_transcriber(tmp_path / "t", "sha256:" + digest_)
    assert got == digest_ and again.cfg == cfg
    for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert TranscriberConfig.from_json(cfg.to_json()) == cfg
    with pytest.raises(AcegitError, match="expected"):
        load_transcriber(tmp_path / "t", "sha256:" + "0" * 64)
    weights = tmp_path / "t" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-8] + b"\0" * 8)
    with pytest.raises(AcegitError, match="damaged"):
        load_transcriber(tmp_path / "t")
    (tmp_path / "t" / "config.json").write_text('{"hidden": 32, "widths": 3}')
    with pytest.raises(AcegitError):
        load_transcriber(tmp_path / "t")


def test_decoding_an_onset_and_its_frames() -> None:
    cfg = TranscriberConfig()
    on = np.zeros((3, 88, 100), np.float32)
    fr = np.zeros_like(on)
    on[0, 39, 10], on[0, 39, 11] = 0.9, 0.6  # melody C4 (60): one peak at frame 10
    fr[0, 39, 10:40] = 0.8
    on[2, 7, 50] = 0.95  # bass E1: held to the end
    fr[2, 7, 50:] = 0.9
    on[1, 20, 70] = 0.3  # under the onset threshold: no note
    fr[1, 20, 70:90] = 0.9
    notes = notes_from_activations(on, fr, cfg)
    rate = cfg.frame_rate
    assert [(n.pitch, n.start, n.end) for n in notes["melody"]] == [(60, round(10 / rate, 4), round(40 / rate, 4))]
    assert [(n.pitch, n.end) for n in notes["bass"]] == [(28, round(100 / rate, 4))]
    assert notes["chords"] == []


def test_same_result_twice_threads_and_batched(shipped) -> None:
    a = tones(3.0, [(0.2, 1.0, 64), (1.0, 2.5, 48)])
    b = tones(2.0, [(0.5, 1.5, 72)], seed=1)
    first = digest(activations(shipped, a))
    assert digest(activations(shipped, a)) == first
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = digest(activations(shipped, a))
        torch.set_num_threads(2)
        two = digest(activations(shipped, a))
    finally:
        torch.set_num_threads(before)
    assert one == two == first
    assert transcribe_batch(shipped, [b, a], SR)[1] == transcribe(shipped, a, SR)


def test_long_audio_is_cut_into_windows_without_a_seam(shipped) -> None:
    """A clip longer than one window is transcribed window by window; each window sees its context, so a note
    across the window edge comes out whole, as in a clip that holds it inside one window."""
    cfg = dataclasses.replace(shipped.cfg, window=128, context=64)
    small = type(shipped)(cfg)
    small.load_state_dict(shipped.state_dict())
    wave = tones(4.0, [(1.2, 2.0, 60)])
    on_w, fr_w = activations(small.eval(), wave)
    on, fr = activations(shipped, wave)
    assert on_w.shape == on.shape
    np.testing.assert_allclose(on_w, on, atol=1e-5)
    np.testing.assert_allclose(fr_w, fr, atol=1e-5)


_CHILD = """
import hashlib, sys
import numpy as np, torch
import acegit.engine
from acegit.engine.registry import transcriber_ref
from acegit.engine.transcriber import activations, load_transcriber
torch.set_num_threads(int(sys.argv[1]))
ref = transcriber_ref()
model, _ = load_transcriber(ref.path, ref.weights_hash)
wave = np.load(sys.argv[2])
on, fr = activations(model, wave)
print(hashlib.sha256(on.tobytes() + fr.tobytes()).hexdigest())
"""


def test_two_processes_agree(shipped, tmp_path: Path) -> None:
    wave = tones(2.0, [(0.3, 1.2, 67)])
    np.save(tmp_path / "w.npy", wave)
    outs = [
        subprocess.run(
            [sys.executable, "-c", _CHILD, threads, str(tmp_path / "w.npy")], capture_output=True, text=True, check=True
        ).stdout.strip()
        for threads in ("1", "2")
    ]
    assert outs[0] == outs[1] == digest(activations(shipped, wave))


def test_wrong_sample_rate_is_refused(shipped) -> None:
    with pytest.raises(AcegitError, match="22050 Hz"):
        transcribe(shipped, np.zeros(44100, np.float32), 44100)
