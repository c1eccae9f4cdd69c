"""Seamless loops: a circular DiT, periodic beat features, and a decoder that treats the seam as an interior point."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from acegit.engine.conditioning import Conditions
from acegit.engine.request import GenerationRequest
from acegit.loopseam import seam_report


def _request(**kw: object) -> GenerationRequest:
    base = dict(
        prompt="ambient pad loop",
        negative_prompt="",
        seed=3,
        duration=4.0,
        bpm=100.0,
        key="A minor",
        time_signature="4/4",
        steps=3,
        guidance=3.0,
        sampler="euler",
        loop=True,
    )
    base.update(kw)
    return GenerationRequest(**base)  # type: ignore[arg-type]


def _roll(c: Conditions, s: int) -> Conditions:
    return dataclasses.replace(c, melody=torch.roll(c.melody, s, -1), beats=torch.roll(c.beats, s, 1))


def test_circular_dit_is_shift_equivariant(tiny_engine) -> None:  # type: ignore[no-untyped-def]
    r = _request()
    cond, _ = tiny_engine.conditions(r)
    x = torch.randn((1, 8, 16, tiny_engine.frames(r)), generator=torch.Generator().manual_seed(0))
    sigma = torch.tensor([0.7])
    dit = tiny_engine.model.dit
    with torch.inference_mode():
        shifted_in = dit(torch.roll(x, 5, -1), sigma, _roll(cond, 5), circular=True)
        shifted_out = torch.roll(dit(x, sigma, cond, circular=True), 5, -1)
        plain = dit(torch.roll(x, 5, -1), sigma, _roll(cond, 5))
    assert torch.allclose(shifted_in, shifted_out, atol=1e-5)
    # Without wrap-around the edges see zeros: the model is not equivariant, which is what made seams audible.
    assert not torch.allclose(plain, shifted_out, atol=1e-5)


def test_loop_beats_wrap_and_length_is_one_period(tiny_engine) -> None:  # type: ignore[no-untyped-def]
    r = _request(bpm=97.0, duration=10.0)  # 4.04 bars: the loop gets exactly 4, at 96.x BPM
    frames = tiny_engine.frames(r)
    assert frames == round(10.0 * tiny_engine.latent_rate)
    bpm = tiny_engine.loop_bpm(r)
    bars = bpm * (frames / tiny_engine.latent_rate) / 60 / 4
    assert bars == pytest.approx(4.0) and abs(bpm - 97.0) / 97.0 < 0.02
    cond, _ = tiny_engine.conditions(r)
    # One more frame past the end has the phase of frame 0: the beat grid is periodic with the loop.
    nxt = cond.beats[0, -1] + (cond.beats[0, 1] - cond.beats[0, 0])
    assert torch.allclose(nxt[:2], cond.beats[0, 0, :2], atol=0.2)


def test_loop_render_is_deterministic_and_decodes_to_the_asked_length(tiny_engine) -> None:  # type: ignore[no-untyped-def]
    r = _request()
    a, b = tiny_engine.generate([r]), tiny_engine.generate([_request(seed=9), r])
    assert np.array_equal(a[0], b[1])
    n = round(4.0 * tiny_engine.sample_rate)
    wave = tiny_engine.decode(a[0], n, loop=True)
    assert wave.shape == (n,) and np.isfinite(wave).all()
    assert np.array_equal(wave, tiny_engine.decode(a[0], n, loop=True))


def test_loop_decode_seam_is_within_the_tracks_own_variation(tiny_engine) -> None:  # type: ignore[no-untyped-def]
    """The decoder side alone: the same latent decoded as a loop has a far smaller seam than decoded plainly."""
    latent = tiny_engine.generate([_request(duration=6.0)])[0]
    sr = tiny_engine.sample_rate
    looped = seam_report(tiny_engine.decode(latent, loop=True), sr)
    plain = seam_report(tiny_engine.decode(latent, latent.shape[-1] * 2048), sr)
    assert looped.seamless
    assert looped.flux_db < plain.flux_db
