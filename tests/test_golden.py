"""The golden project (tests/golden/): locks rendered once with the shipped `tiny` and `tiny-turbo` weights, reproduced
bit for bit by every CI run on an Intel x86-64 CPU, with any thread count. This is what proves cross-machine exactness:
the locks were made on one machine (an Intel Xeon with AVX-512) and each later CI run checks them on its own. On another
class (an AMD CPU, ARM) they are judged by the tolerance, and the machine's own render must check exact at another
thread count."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import soundfile as sf

from acegit.engine import numerics

GOLDEN = Path(__file__).parent / "golden"
TRACKS = ("golden", "golden-loop", "golden-turbo")  # tiny at Euler 8 and Heun (a loop); tiny-turbo


def _copy(tmp_path: Path, name: str) -> Path:
    root = tmp_path / name
    shutil.copytree(GOLDEN, root, ignore=shutil.ignore_patterns("build", ".acegit"))
    return root


def _acegit(root: Path, threads: int, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "NO_COLOR": "1"}
    cmd = [sys.executable, "-m", "acegit", *args]
    return subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _lock_fields(path: Path) -> dict[str, object]:
    """A lock file's content without the acegit version that wrote it (a release bump is not a numerics change)."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    data["environment"].pop("acegit")
    return data


def _samples_sha256(path: Path) -> str:
    samples, _ = sf.read(path, dtype="int16")
    return hashlib.sha256(samples.tobytes()).hexdigest()


def test_golden_locks_and_audio_reproduce_at_one_and_two_threads(tmp_path: Path) -> None:
    """`render --force --no-cache` at 1 thread and `render --check` at 2 threads, in two processes at once."""
    rerender, check = _copy(tmp_path, "rerender"), _copy(tmp_path, "check")
    procs = [
        _acegit(rerender, 1, "render", "--all", "--force", "--no-cache", "--json"),
        _acegit(check, 2, "render", "--check", "--json"),
    ]
    outs = [p.communicate(timeout=600) for p in procs]
    pinned = numerics.cpu_class() == numerics.PINNED_CLASS
    committed = tomllib.loads((GOLDEN / "tracks" / "golden.lock.toml").read_text(encoding="utf-8"))
    assert committed["environment"]["device_class"] == numerics.PINNED_CLASS

    verdicts = {t["name"]: t["verdict"] for t in json.loads(outs[1][0])["tracks"]}
    if pinned:  # the same class as the machine that made the locks: nothing is tolerated
        assert procs[1].returncode == 0, outs[1]
        assert verdicts == dict.fromkeys(TRACKS, "exact")
        assert procs[0].returncode == 0, outs[0]
        audio = tomllib.loads((GOLDEN / "audio.toml").read_text(encoding="utf-8"))
        for name in TRACKS:
            lock = f"tracks/{name}.lock.toml"
            assert _lock_fields(rerender / lock) == _lock_fields(GOLDEN / lock), f"{lock} no longer reproduces"
            assert _samples_sha256(rerender / "build" / f"{name}.wav") == audio[name], f"audio of {name} differs"
    else:  # another CPU class (AMD, ARM, Apple): judged by the documented tolerance; exact within itself
        assert procs[1].returncode == 0, outs[1]
        assert verdicts == dict.fromkeys(TRACKS, "within tolerance")
        assert procs[0].returncode == 0, outs[0]
        own = _acegit(rerender, 2, "render", "--check", "--json")
        out, err = own.communicate(timeout=600)
        assert own.returncode == 0, (out, err)
        assert {t["name"]: t["verdict"] for t in json.loads(out)["tracks"]} == dict.fromkeys(TRACKS, "exact")


def test_golden_tracks_are_fresh_against_the_shipped_weights(tmp_path: Path) -> None:
    """A change of the shipped weights or the render format must come with re-rendered golden locks (see
    tests/golden/acegit.toml), or the check above would compare against a stale snapshot."""
    root = _copy(tmp_path, "status")
    proc = _acegit(root, 1, "status", "--json")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    states = {t["name"]: t["state"] for t in json.loads(out)["tracks"]}
    assert states == dict.fromkeys(TRACKS, "fresh"), "re-render the golden project: python tests/golden/regenerate.py"


def test_check_proves_the_stored_latent_not_only_the_declared_hash(tmp_path: Path) -> None:
    """A snapshot that lies: its stored latent replaced by silence, payload_sha256 updated, the declared latent sha256
    kept. `render --check` used to report it exact; show, diff and export would decode the silence."""
    import base64
    import re
    import zlib

    root = _copy(tmp_path, "tampered")
    lock = root / "tracks" / "golden.lock.toml"
    text = lock.read_text(encoding="utf-8")
    shape = [int(d) for d in re.search(r"shape = \[([^\]]*)\]", text, re.S).group(1).replace(",", " ").split()]
    payload = zlib.compress(bytes(2 * shape[0] * shape[1] * shape[2]), 9)
    b64 = base64.b64encode(payload).decode()
    text = re.sub(r'data = """.*"""', lambda _: f'data = """\n{b64}\n"""', text, flags=re.S)
    text = re.sub(r'payload_sha256 = "[0-9a-f]+"', f'payload_sha256 = "{hashlib.sha256(payload).hexdigest()}"', text)
    lock.write_text(text, encoding="utf-8")
    proc = _acegit(root, 2, "render", "--check", "golden", "--json")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, (out, err)
    (result,) = json.loads(out)["tracks"]
    if numerics.cpu_class() == numerics.PINNED_CLASS:  # the render matches the declared hash: the data is what lies
        assert result["verdict"] == "corrupt" and "does not hold the render" in result["detail"]
    else:  # another class renders other bits: the stored silence is judged as drift, and far outside the tolerance
        assert result["verdict"] == "mismatch" and "below the 20 dB tolerance" in result["detail"]
