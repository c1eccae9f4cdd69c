from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from acegit.engine.checkpoint import build_model, load_checkpoint, save_checkpoint, weights_hash
from acegit.engine.config import ModelConfig, preset
from acegit.engine.registry import weights_hash_of
from acegit.errors import AcegitError


def test_round_trip(tiny_random_checkpoint: Path, tmp_path: Path) -> None:
    model, digest = load_checkpoint(tiny_random_checkpoint)
    assert model.cfg == preset("tiny")
    assert digest == (tiny_random_checkpoint / "sha256").read_text().strip()
    assert digest == weights_hash_of(tiny_random_checkpoint)  # the torch-free rule of the registry agrees
    again = save_checkpoint(model, tmp_path)
    assert again == digest  # saving what was loaded reproduces the bytes
    reloaded, _ = load_checkpoint(tmp_path, expected_hash="sha256:" + digest)
    for (name, a), (_, b) in zip(model.state_dict().items(), reloaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), name


def test_build_model_is_seeded() -> None:
    a, b = build_model("tiny", seed=3), build_model("tiny", seed=3)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))
    with pytest.raises(AcegitError, match="unknown model preset"):
        build_model("huge")


def test_config_json_round_trip_and_validation() -> None:
    for name in ("tiny", "base"):
        cfg = preset(name)
        assert ModelConfig.from_json(cfg.to_json()) == cfg
        assert (Path(__file__).parents[2] / "model" / "configs" / f"{name}.json").read_text() == cfg.to_json()
    with pytest.raises(AcegitError, match="unknown"):
        ModelConfig.from_dict({"dit": {"hidden": 64, "wings": 2}})
    with pytest.raises(AcegitError, match="JSON"):
        ModelConfig.from_json("{")


@pytest.fixture
def copy(tiny_random_checkpoint: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(tiny_random_checkpoint, tmp_path / "ckpt"))


def test_wrong_hash_is_a_clear_error(copy: Path) -> None:
    (copy / "sha256").write_text("0" * 64 + "\n")
    with pytest.raises(AcegitError, match="damaged"):
        load_checkpoint(copy)


def test_expected_hash_mismatch(tiny_random_checkpoint: Path) -> None:
    with pytest.raises(AcegitError, match="expected"):
        load_checkpoint(tiny_random_checkpoint, expected_hash="sha256:" + "1" * 64)


def test_truncated_weights_are_a_clear_error(copy: Path) -> None:
    data = (copy / "model.safetensors").read_bytes()
    (copy / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(AcegitError, match="damaged"):
        load_checkpoint(copy)
    # even with a matching hash, a truncated file is refused by safetensors, not half-loaded
    (copy / "sha256").write_text(weights_hash(data[: len(data) // 2], (copy / "config.json").read_bytes()))
    with pytest.raises(AcegitError, match="safetensors"):
        load_checkpoint(copy)


def test_missing_file_and_mismatched_config(copy: Path) -> None:
    cfg = json.loads((copy / "config.json").read_text())
    cfg["dit"]["depth"] = 2
    config = (json.dumps(cfg) + "\n").encode()
    (copy / "config.json").write_bytes(config)
    (copy / "sha256").write_text(weights_hash((copy / "model.safetensors").read_bytes(), config))
    with pytest.raises(AcegitError, match="does not match its config"):
        load_checkpoint(copy)
    (copy / "sha256").unlink()
    with pytest.raises(AcegitError, match="missing"):
        load_checkpoint(copy)


def test_a_decode_only_load_skips_the_dit_and_still_checks_the_whole_file(copy: Path) -> None:
    from acegit.engine.checkpoint import DIT_PREFIX

    full, digest = load_checkpoint(copy)
    decoder, same = load_checkpoint(copy, decode_only=True)
    assert same == digest
    kept = decoder.state_dict()
    assert kept and not any(k.startswith(DIT_PREFIX) for k in kept)
    assert kept.keys() == {k for k in full.state_dict() if not k.startswith(DIT_PREFIX)}
    assert all(torch.equal(v, full.state_dict()[k]) for k, v in kept.items())
    with pytest.raises(AcegitError, match="decode only"):
        decoder.dit(torch.zeros(1))
    # A byte of the DiT's tensors changed: the decode-only load never uses it, and refuses the file all the same.
    data = bytearray((copy / "model.safetensors").read_bytes())
    data[-5] ^= 0x01
    (copy / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(AcegitError, match="damaged"):
        load_checkpoint(copy, decode_only=True)


def test_a_checkpoint_load_draws_no_random_weights(copy: Path) -> None:
    """A checkpoint's model is built without its random init (`_Unfilled`): the loaded tensors become the weights,
    so a load, full or decode-only, draws nothing from torch's generator, and every parameter is the file's tensor."""
    from safetensors.torch import load as load_safetensors

    stored = load_safetensors((copy / "model.safetensors").read_bytes())
    for decode_only in (False, True):
        before = torch.random.get_rng_state()
        model, _ = load_checkpoint(copy, decode_only=decode_only)
        assert torch.equal(torch.random.get_rng_state(), before)
        params = dict(model.named_parameters())
        assert params and all(torch.equal(p, stored[name]) for name, p in params.items())


def test_unfilled_skips_the_init_of_parameters_only() -> None:
    from torch import nn

    from acegit.engine.checkpoint import _Unfilled

    drawn = torch.random.get_rng_state()
    with _Unfilled():
        layer = nn.Linear(4, 3)  # its reset_parameters (kaiming_uniform_, uniform_) runs under the mode: no draw
        assert torch.equal(torch.random.get_rng_state(), drawn)
        kept = nn.Parameter(torch.full((3,), 7.0))
        nn.init.zeros_(kept)
        kept.fill_(1.0)
        plain = torch.empty(3)
        plain.fill_(2.0)  # not a parameter: computed as usual
        nn.init.ones_(plain)
        before = torch.random.get_rng_state()
        assert torch.randn(2, 3).shape == (2, 3)  # no draw
        assert torch.equal(torch.random.get_rng_state(), before)
    assert torch.equal(kept, torch.full((3,), 7.0))
    assert torch.equal(plain, torch.ones(3))
    assert layer.weight.shape == (3, 4)
    again = nn.Parameter(torch.zeros(2))
    nn.init.ones_(again)  # outside the mode: filled
    assert torch.equal(again, torch.ones(2))


def test_unfilled_leaves_other_threads_alone() -> None:
    """A server thread may load a checkpoint while another builds a fresh model to train: the mode is per thread."""
    import threading

    from torch import nn

    from acegit.engine.checkpoint import _Unfilled

    entered, built = threading.Event(), threading.Event()

    def hold() -> None:
        with _Unfilled():
            entered.set()
            built.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    entered.wait(10)
    try:
        p = nn.Parameter(torch.zeros(4))
        nn.init.ones_(p)  # this thread has no mode: filled
        assert torch.equal(p, torch.ones(4))
    finally:
        built.set()
        holder.join()
