from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from acegit.engine import registry
from acegit.engine.registry import ModelRef, builtin_weights_dir, resolve_model, weights_hash_of
from acegit.errors import AcegitError


def test_local_model_reads_sha256_file(tmp_path: Path, fake_weights: Callable[..., str]) -> None:
    expected = fake_weights(tmp_path / "w")
    ref = resolve_model("mine", {"mine": tmp_path / "w"})
    assert ref == ModelRef("mine", tmp_path / "w", expected, "builtin")
    assert "sha256:" + weights_hash_of(tmp_path / "w") == expected


def test_local_model_wins_over_builtin(tmp_path: Path, fake_weights: Callable[..., str]) -> None:
    fake_weights(tmp_path / "w")
    assert resolve_model("tiny", {"tiny": tmp_path / "w"}).path == tmp_path / "w"


@pytest.mark.parametrize("missing", ["model.safetensors", "config.json", "sha256"])
def test_missing_file_says_which_and_how(tmp_path: Path, fake_weights: Callable[..., str], missing: str) -> None:
    fake_weights(tmp_path / "w")
    (tmp_path / "w" / missing).unlink()
    with pytest.raises(AcegitError) as info:
        resolve_model("mine", {"mine": tmp_path / "w"})
    assert missing in str(info.value) and "[models.mine] path" in str(info.value)


def test_bad_hash_file(tmp_path: Path, fake_weights: Callable[..., str]) -> None:
    fake_weights(tmp_path / "w")
    (tmp_path / "w" / "sha256").write_text("not a hash\n")
    with pytest.raises(AcegitError, match="sha256 hex digest"):
        resolve_model("mine", {"mine": tmp_path / "w"})


def test_missing_folder_and_unknown_name(tmp_path: Path, fake_weights: Callable[..., str]) -> None:
    with pytest.raises(AcegitError, match="does not exist"):
        resolve_model("mine", {"mine": tmp_path / "nope"})
    with pytest.raises(AcegitError, match=r"(?s)unknown model 'bogus'.*\[models\.bogus\]"):
        resolve_model("bogus", {})


def test_builtin_lookup_prefers_installed_package(
    tmp_path: Path, fake_weights: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pkg = tmp_path / "site" / "acegit"
    monkeypatch.setattr(registry, "_package_root", lambda: pkg)
    with pytest.raises(AcegitError, match="Reinstall acegit"):
        builtin_weights_dir("tiny")
    checkout = tmp_path / "site" / "model" / "weights" / "tiny"
    fake_weights(checkout)
    assert builtin_weights_dir("tiny") == checkout
    installed = pkg / "_weights" / "tiny"
    fake_weights(installed)
    assert builtin_weights_dir("tiny") == installed
    assert resolve_model("tiny", {}).path == installed
