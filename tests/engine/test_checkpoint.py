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


def test_a_decode_only_build_draws_no_random_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    """The decode-only model is built on the meta device and then given the loaded tensors, so nothing in it may
    initialise randomly: a meta-device randn or division costs ~2 s on its first use (measured: a cold `acegit diff`
    of the neural vocoder's weights spent 2.7 s building the vocoder)."""
    from acegit.engine.model import MusicModel

    shipped = ModelConfig.from_json((Path(__file__).parents[2] / "model/weights/tiny/config.json").read_text())
    assert shipped.vocoder.neural  # the decode path the shipped weights take

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("random initialisation in a decode-only build")

    monkeypatch.setattr(torch, "randn", refuse)
    monkeypatch.setattr(torch.Tensor, "normal_", refuse)
    with torch.device("meta"):
        model = MusicModel(shipped, dit=False)
    assert model.vocoder is not None
