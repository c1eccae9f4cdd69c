"""acegit render / --check / status through the ace-step backend, on a tiny random AceStepPipeline saved to a
temporary folder and loaded by the real code (no download); and the CLI without diffusers installed."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

from acegit.engine.registry import ACE_STEP_PATH_ENV
from acegit.lockfile import read_lock
from acegit.project import PROJECT_FILE, Project, load_project

HAS_DIFFUSERS = importlib.util.find_spec("diffusers") is not None
SKIP_REASON = "diffusers not installed: pip install -e '.[ace-step]' to test the ace-step backend"
MODEL = "ace-step-1.5"

# Run acegit in a fresh process with the network cut off: loading must never reach for the hub.
NO_NETWORK = textwrap.dedent(
    """
    import socket, sys

    def refuse(*args, **kwargs):
        raise OSError("acegit tried to reach the network")

    socket.socket.connect = refuse
    socket.create_connection = refuse
    from acegit.cli import main
    sys.argv = ["acegit", *sys.argv[1:]]
    main()
    """
)
# Several commands in one process with diffusers and transformers unimportable (a core install without the extra);
# prints each command's exit code and output, and whether torch was imported by then.
WITHOUT_DIFFUSERS = textwrap.dedent(
    """
    import json, sys

    sys.modules["diffusers"] = None
    sys.modules["transformers"] = None
    from typer.testing import CliRunner

    from acegit.cli import app

    out = []
    for args in json.loads(sys.argv[1]):
        r = CliRunner().invoke(app, args)
        out.append({"code": r.exit_code, "stdout": r.stdout, "stderr": r.stderr, "torch": "torch" in sys.modules})
    print(json.dumps(out))
    """
)


@pytest.fixture(scope="session")
def tiny_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not HAS_DIFFUSERS:
        pytest.skip(SKIP_REASON)
    from acegit.engine.acestep import build_tiny

    return build_tiny(tmp_path_factory.mktemp("ace-step") / "tiny")


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Own weights-hash cache, no inherited weights path; also the environment of child processes."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.delenv(ACE_STEP_PATH_ENV, raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # local_files_only alone must keep loading offline
    return {**os.environ, "NO_COLOR": "1", "COLUMNS": "300"}


def _with_ace_step(project: Project, folder: Path | None) -> Project:
    """Add [models."ace-step-1.5"] backend = "ace-step" (with a path when given) to the project."""
    if folder is not None:
        shutil.copytree(folder, project.root / "weights" / "ace")
    path = '\npath = "weights/ace"' if folder is not None else ""
    with open(project.root / PROJECT_FILE, "a", encoding="utf-8") as f:
        f.write(f'\n[models."{MODEL}"]\nbackend = "ace-step"{path}\n')
    (project.root / "tracks" / "example.toml").unlink()
    return load_project(project.root)


def _track(project: Project, name: str, seed: int, prompt: str, extra: str = "") -> None:
    text = f'prompt = "{prompt}"\nseed = {seed}\nduration = 2.0\nmodel = "{MODEL}"\nsteps = 2\n{extra}'
    (project.tracks_dir / f"{name}.toml").write_text(text, encoding="utf-8")


def _ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def _run(root: Path, env: dict[str, str], script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", script, *args], cwd=root, env=env, capture_output=True, text=True)


def test_render_snapshot_check_batch_and_two_processes(
    project: Project, tiny_pipeline: Path, env: dict[str, str], cli: Callable[..., Result]
) -> None:
    project = _with_ace_step(project, tiny_pipeline)
    _track(project, "solo", 5, "march with brass", 'lyrics = "[verse]\\nla la la"\nshift = 2.0\n')
    _track(
        project, "pad", 6, "a much longer prompt: ambient pad with slow strings and a distant choir", "loop = true\n"
    )

    out = json.loads(_ok(cli("render", "--json")).stdout)
    assert sorted(t["result"] for t in out["tracks"]) == ["rendered"] * 2
    lock_file = project.tracks_dir / "solo.lock.toml"
    lock = read_lock(lock_file)
    assert lock.input.model == MODEL and lock.latent.shape == (8, 50)  # (latent channels, 25 Hz × 2 s)
    assert lock.audio.sample_rate == 4800 and lock.audio.duration == pytest.approx(2.0)
    # diffusers and transformers compute the render too: their versions are part of the environment fingerprint.
    from importlib.metadata import version

    libs = f"diffusers {version('diffusers')}, transformers {version('transformers')}"
    assert lock.environment.libraries == libs and f'libraries = "{libs}"' in lock_file.read_text()
    assert (project.root / "build" / "solo.wav").is_file()
    status = json.loads(_ok(cli("status", "--json")).stdout)
    assert {t["state"] for t in status["tracks"]} == {"fresh"}

    # Alone (CPU renders one track per batch) vs batched beside a much longer prompt: the same bits.
    alone = lock_file.read_bytes()
    _ok(cli("render", "--all", "--force", "--no-cache", "--batch-size", "2"))
    assert lock_file.read_bytes() == alone

    # Another process (its own torch and diffusers, no network) re-renders the same bits.
    proc = _run(project.root, env, NO_NETWORK, "render", "--check", "--json")
    assert proc.returncode == 0, proc.stderr
    assert {t["verdict"] for t in json.loads(proc.stdout)["tracks"]} == {"exact"}

    # A changed parameter is caught by --check as stale, and renders to a different latent.
    track = project.tracks_dir / "solo.toml"
    track.write_text(track.read_text().replace("shift = 2.0", "shift = 1.0"))
    stale = cli("render", "--check", "--json")
    assert stale.exit_code == 1 and "stale" in stale.stdout
    _ok(cli("render", "solo"))
    assert read_lock(lock_file).latent.sha256 != lock.latent.sha256


def test_weights_path_from_the_environment(
    project: Project,
    tiny_pipeline: Path,
    env: dict[str, str],
    cli: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = _with_ace_step(project, None)
    _track(project, "solo", 5, "march")
    missing = cli("render", "solo")
    assert missing.exit_code == 1 and ACE_STEP_PATH_ENV in missing.stderr and "never downloads" in missing.stderr
    monkeypatch.setenv(ACE_STEP_PATH_ENV, str(tiny_pipeline))
    _ok(cli("render", "solo"))
    assert read_lock(project.tracks_dir / "solo.lock.toml").input.model == MODEL


def test_switching_backend_reads_as_model_changed(
    project: Project,
    tiny_pipeline: Path,
    tiny_checkpoint: Path,
    env: dict[str, str],
    cli: Callable[..., Result],
    render_fake: Callable,
) -> None:
    shutil.rmtree(project.root / "weights" / "test")  # a decodable built-in model (random tiny) for side A
    shutil.copytree(tiny_checkpoint, project.root / "weights" / "test")
    project = load_project(project.root)
    (project.tracks_dir / "boss.toml").write_text('prompt = "boss"\nseed = 1\nduration = 2.0\nsteps = 2\n')
    render_fake(project, "boss")  # a snapshot made by the built-in backend ("test" model)
    project = _with_ace_step(project, tiny_pipeline)
    for args in (["add", "-A"], ["commit", "-qm", "built-in"]):
        subprocess.run(["git", *args], cwd=project.root, check=True, capture_output=True)
    track = project.tracks_dir / "boss.toml"
    track.write_text(track.read_text() + f'model = "{MODEL}"\n')
    status = json.loads(_ok(cli("status", "--json")).stdout)
    (boss,) = [t for t in status["tracks"] if t["name"] == "boss"]
    assert boss["state"] == "stale" and boss["reasons"] == ["model changed"]
    _ok(cli("render", "boss"))
    # The diff says so: the model parameter; latents of two models do not compare, their decoded audio does (B is
    # resampled to A's rate when the models' rates differ).
    (changed,) = json.loads(_ok(cli("diff", "--no-audio", "--json")).stdout)["tracks"]
    assert {"field": "model", "old": "test", "new": MODEL} in changed["params"]
    assert changed["verdict"] == "another model" and changed["problems"] == [] and changed["latent"] is None
    (changed,) = json.loads(_ok(cli("diff", "--json")).stdout)["tracks"]
    assert changed["verdict"] == "another model" and changed["audio"]["lsd_db"] > 0
    assert "another model" in _ok(cli("diff")).stdout


def test_diff_and_show_decode_with_the_ace_step_vae(
    project: Project, tiny_pipeline: Path, env: dict[str, str], cli: Callable[..., Result]
) -> None:
    project = _with_ace_step(project, tiny_pipeline)
    _track(project, "solo", 5, "march")
    _ok(cli("render", "solo"))
    for args in (["add", "-A"], ["commit", "-qm", "solo"]):
        subprocess.run(["git", *args], cwd=project.root, check=True, capture_output=True)
    track = project.tracks_dir / "solo.toml"
    track.write_text(track.read_text().replace("march", "quiet march"))
    _ok(cli("render", "solo"))
    shutil.rmtree(project.cache_dir)  # as in a fresh clone: the audio must come from the snapshots' latents
    out = json.loads(_ok(cli("diff", "--json")).stdout)
    assert [t["name"] for t in out["tracks"]] == ["solo"]
    _ok(cli("show", "HEAD:solo", "-o", str(project.root / "old.wav")))
    assert (project.root / "old.wav").is_file()


def _fake_pipeline_folder(folder: Path) -> None:
    """The files of an AceStepPipeline folder (arbitrary bytes): enough to resolve, not to load."""
    from acegit.engine.registry import ACE_STEP_COMPONENTS

    folder.mkdir(parents=True)
    (folder / "model_index.json").write_text(json.dumps({"_class_name": "AceStepPipeline"}))
    for comp, (marker, weights, _) in ACE_STEP_COMPONENTS.items():
        (folder / comp).mkdir()
        (folder / comp / marker).write_text("{}")
        if weights:
            (folder / comp / "diffusion_pytorch_model.safetensors").write_bytes(b"weights")


def test_cli_without_diffusers(project: Project, env: dict[str, str]) -> None:
    """--help, status and the built-in model work without diffusers; an ace-step render says what to install."""
    from acegit.engine.checkpoint import build_model, save_checkpoint

    shutil.rmtree(project.root / "weights" / "test")
    save_checkpoint(build_model("tiny", seed=0), project.root / "weights" / "test")  # the built-in backend, random
    _fake_pipeline_folder(project.root / "weights" / "fake-ace")
    with open(project.root / PROJECT_FILE, "a", encoding="utf-8") as f:
        f.write(f'\n[models."{MODEL}"]\nbackend = "ace-step"\npath = "weights/fake-ace"\n')
    (project.tracks_dir / "example.toml").unlink()
    (project.tracks_dir / "builtin.toml").write_text('prompt = "piano"\nseed = 1\nduration = 2.0\nsteps = 2\n')
    _track(project, "ace", 2, "piano", 'lyrics = "la"\n')

    commands = [["--help"], ["status", "--json"], ["render", "builtin", "--json"], ["render", "ace"]]
    proc = _run(project.root, env, WITHOUT_DIFFUSERS, json.dumps(commands))
    assert proc.returncode == 0, proc.stderr
    helped, status, built, refused = json.loads(proc.stdout)
    assert helped["code"] == 0 and "render" in helped["stdout"] and not helped["torch"]
    assert status["code"] == 0 and not status["torch"], status["stderr"]
    assert {t["name"]: t["state"] for t in json.loads(status["stdout"])["tracks"]} == {
        "ace": "stale",
        "builtin": "stale",
    }
    assert built["code"] == 0, built["stderr"]
    assert refused["code"] == 1 and "Traceback" not in refused["stderr"]
    assert "needs diffusers" in refused["stderr"] and "pip install 'acegit[ace-step]'" in refused["stderr"]
