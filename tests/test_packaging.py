"""The wheel carries what the installed tool needs at run time: the shipped weights and nothing of model/'s scripts."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    pytest.importorskip("hatchling", reason="building the wheel needs hatchling (the `test` extra installs it)")
    out = tmp_path_factory.mktemp("wheel")
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(REPO)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    (path,) = out.glob("acegit-*.whl")
    return zipfile.ZipFile(path)


def test_wheel_ships_weights_not_training_code(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    assert "acegit/cli/__init__.py" in names and "acegit/engine/inference.py" in names
    assert not any(n.startswith("model/") for n in names), "model/ must not become a top-level package"
    for hook in ("pre-commit", "pre-commit-config.yaml"):
        assert f"acegit/_hooks/{hook}" in names  # `acegit install` and `acegit new` read these at run time
    for asset in ("index.html", "main.js", "api.js", "studio.css", "player.js"):
        assert f"acegit/server/static/{asset}" in names  # the studio, served by `acegit serve`
    for folder in sorted(p for p in (REPO / "model" / "weights").iterdir() if p.is_dir()):
        for f in ("model.safetensors", "config.json", "sha256"):
            assert f"acegit/_weights/{folder.name}/{f}" in names


def test_wheel_entry_point(wheel: zipfile.ZipFile) -> None:
    (ep,) = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    assert "acegit = acegit.cli:run" in wheel.read(ep).decode()
