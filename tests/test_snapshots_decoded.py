"""Decoded snapshots in the render cache (issue 19): a commit's snapshot is decoded once per machine; what comes back
is the fresh decode byte for byte, a damaged file is refused and decoded again, and the key tells decodes apart."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cliprobe import Probe, probe

from acegit.cache import DECODED, RenderCache, decoded_key
from acegit.diff import diff_tracks
from acegit.lockfile import AudioStats, Lock, LockEnvironment, build_lock, read_lock, write_lock
from acegit.project import Project, load_project
from acegit.snapshots import SNAPSHOT, Models, Snapshots, decoded_fields
from acegit.track import load_track

SECONDS = 1.0


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


def _commit(root: Path, message: str) -> str:
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", message)
    return _git(root, "rev-parse", "HEAD").strip()


def _snapshot(p: Project, name: str, seed: int) -> Path:
    """A track and the lock `acegit render` would write for it, holding a random latent (no sampling)."""
    from acegit.engine.registry import resolve_model

    (p.tracks_dir / f"{name}.toml").write_text(f'prompt = "beat {seed}"\nseed = {seed}\nduration = {SECONDS}\n')
    track = load_track(p.tracks_dir / f"{name}.toml", p)
    frames = int(SECONDS * 22050) // 2048 + 1
    latent = np.random.default_rng(seed).standard_normal((8, 16, frames)).astype(np.float32)
    env = LockEnvironment.make("cpu:elsewhere", "2.13.0", "float32", True)  # rendered on another machine
    path = p.tracks_dir / f"{name}.lock.toml"
    write_lock(
        path, build_lock(track, resolve_model(track.model, p.models), latent, env, AudioStats(SECONDS, 22050, 0.5, 0.1))
    )
    return path


@pytest.fixture
def dproject(project: Project, tiny_checkpoint: Path) -> Project:
    shutil.rmtree(project.root / "weights" / "test")
    shutil.copytree(tiny_checkpoint, project.root / "weights" / "test")
    (project.root / "tracks" / "example.toml").unlink()
    return load_project(project.root)


def _decoded_files(p: Project) -> list[Path]:
    return sorted((p.cache_dir / DECODED).glob("*/*.f32"))


def test_a_kept_decode_is_the_fresh_decode_byte_for_byte(dproject: Project) -> None:
    p = dproject
    lock = read_lock(_snapshot(p, "theme", 5))
    first = Snapshots(p, "cpu")
    fresh = first.audio(lock, "theme")
    assert fresh.source == SNAPSHOT and first.models._decoders  # decoded
    (kept_file,) = _decoded_files(p)

    again = Snapshots(p, "cpu")
    kept = again.audio(lock, "theme")
    assert not again.models._decoders  # nothing loaded: the kept decode came back
    assert kept.source == SNAPSHOT and kept.sample_rate == fresh.sample_rate
    assert kept.wave.dtype == np.float32 and kept.wave.tobytes() == fresh.wave.tobytes()
    kept.wave[0] = 1.0  # as writable as a fresh decode's array, and the file does not change with it
    assert Snapshots(p, "cpu").audio(lock, "theme").wave.tobytes() == fresh.wave.tobytes()

    # Once more from nothing, in another process: the same bytes as what the cache gave back.
    kept_file.unlink()
    script = (
        "import sys\nfrom acegit.project import load_project\nfrom acegit.lockfile import read_lock\n"
        "from acegit.snapshots import Snapshots\n"
        "from pathlib import Path\n"
        "p = load_project(Path(sys.argv[1])); s = Snapshots(p, 'cpu')\n"
        "sys.stdout.buffer.write(s.audio(read_lock(p.tracks_dir / 'theme.lock.toml'), 'theme').wave.tobytes())\n"
    )
    out = subprocess.run([sys.executable, "-c", script, str(p.root)], capture_output=True, timeout=300)
    assert out.returncode == 0, out.stderr.decode()
    assert out.stdout == fresh.wave.tobytes()
    assert len(_decoded_files(p)) == 1  # that process kept its decode too


@pytest.mark.parametrize("damage", ["flip a sample", "truncate", "more samples", "other key", "no header", "rate"])
def test_a_damaged_decode_is_refused_and_decoded_again(dproject: Project, damage: str) -> None:
    p = dproject
    lock = read_lock(_snapshot(p, "theme", 5))
    fresh = Snapshots(p, "cpu").audio(lock, "theme").wave.tobytes()
    (path,) = _decoded_files(p)
    good = path.read_bytes()
    magic, header, data = good.split(b"\n", 2)
    meta = json.loads(header)
    if damage == "flip a sample":
        bad = good[:-7] + bytes([good[-7] ^ 0x40]) + good[-6:]
    elif damage == "truncate":
        bad = good[:-4]
    elif damage == "more samples":  # a header and hash that agree with the file, but not with the lock's length
        more = data + data[:4]
        import hashlib

        meta.update(samples=len(more) // 4, sha256=hashlib.sha256(more).hexdigest())
        bad = magic + b"\n" + json.dumps(meta).encode() + b"\n" + more
    elif damage == "other key":  # another snapshot's decode under this name
        meta["key"] = "0" * 64
        bad = magic + b"\n" + json.dumps(meta).encode() + b"\n" + data
    elif damage == "rate":
        meta["sample_rate"] = 44100
        bad = magic + b"\n" + json.dumps(meta).encode() + b"\n" + data
    else:
        bad = data
    path.write_bytes(bad)
    s = Snapshots(p, "cpu")
    assert s.audio(lock, "theme").wave.tobytes() == fresh
    assert s.models._decoders  # refused, so decoded again
    assert path.read_bytes() == good  # and replaced by the good file


def test_the_key_tells_decodes_apart(dproject: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    p = dproject
    lock = read_lock(_snapshot(p, "theme", 5))
    models = Models(p, "cpu")
    cpu = models.decoder(lock.input.backend)
    assert cpu["device"] == "cpu" and cpu["torch"]
    base = decoded_key(decoded_fields(lock, False, cpu))
    assert base == decoded_key(decoded_fields(read_lock(p.tracks_dir / "theme.lock.toml"), False, cpu))
    other_latent = read_lock(_snapshot(p, "other", 6))
    variants: list[Lock] = [
        dataclasses.replace(lock, latent=other_latent.latent),
        dataclasses.replace(lock, input=dataclasses.replace(lock.input, weights="sha256:" + "1" * 64)),
        dataclasses.replace(lock, input=dataclasses.replace(lock.input, model="other")),
        dataclasses.replace(lock, audio=dataclasses.replace(lock.audio, vocoder="griffin-lim")),
        dataclasses.replace(lock, audio=dataclasses.replace(lock.audio, duration=SECONDS - 0.5)),
        dataclasses.replace(lock, environment=LockEnvironment.make("cuda:9.0", "2.13.0", "float32", True)),
    ]
    keys = {base, decoded_key(decoded_fields(lock, True, cpu))}
    keys |= {decoded_key(decoded_fields(v, False, cpu)) for v in variants}
    keys.add(decoded_key(decoded_fields(lock, False, {**cpu, "torch": "2.14.0"})))
    keys.add(decoded_key(decoded_fields(lock, False, {**cpu, "machine": "aarch64"})))
    monkeypatch.setattr("acegit.snapshots.RENDER_FORMAT_VERSION", 99)  # the decode's maths changed
    keys.add(decoded_key(decoded_fields(lock, False, cpu)))
    assert len(keys) == 2 + len(variants) + 3


def test_a_loop_and_a_plain_decode_of_one_snapshot_are_kept_apart(dproject: Project) -> None:
    p = dproject
    lock = read_lock(_snapshot(p, "theme", 5))
    plain = Snapshots(p, "cpu").audio(lock, "theme").wave.tobytes()
    loop = Snapshots(p, "cpu").audio(lock, "theme", loop=True).wave.tobytes()
    assert plain != loop and len(_decoded_files(p)) == 2
    s = Snapshots(p, "cpu")
    assert s.audio(lock, "theme", loop=True).wave.tobytes() == loop
    assert s.audio(lock, "theme").wave.tobytes() == plain
    assert not s.models._decoders


def test_an_unwritable_cache_only_costs_a_decode(dproject: Project) -> None:
    p = dproject
    lock = read_lock(_snapshot(p, "theme", 5))
    p.cache_dir.mkdir(parents=True)
    (p.cache_dir / DECODED).write_text("a file where the folder goes")
    assert Snapshots(p, "cpu").audio(lock, "theme").wave.size == round(SECONDS * 22050)
    assert RenderCache(p.cache_dir).get_decoded("0" * 64, 22050, 10) is None


def test_the_second_diff_of_two_commits_decodes_nothing_and_imports_no_torch(dproject: Project) -> None:
    p = dproject
    _snapshot(p, "theme", 5)
    v1 = _commit(p.root, "v1")
    _snapshot(p, "theme", 6)
    v2 = _commit(p.root, "v2")

    def diff() -> tuple[dict[str, object], Probe]:
        result = probe(p.root, "diff", v1, v2, "--json", modules=("torch",), timeout=300)
        return json.loads(result.output), result

    first, result = diff()
    assert result.code in (0, None) and result.loaded  # the first diff decodes both snapshots
    assert len(_decoded_files(p)) == 2
    second, result = diff()
    assert result.code in (0, None) and result.loaded == []
    assert second == first and first["tracks"][0]["audio"] is not None  # type: ignore[index]
    # In process too: the metrics of kept decodes are the metrics of fresh ones.
    assert diff_tracks(p, v1, v2).to_json() == first


def test_decoding_loads_no_dit_unless_the_run_samples_with_that_model(dproject: Project) -> None:
    from acegit.engine.model import DecodeOnly

    models = Models(dproject, "cpu")
    decoder = models.decoding_engine("test")
    assert isinstance(decoder.model.dit, DecodeOnly)  # type: ignore[attr-defined]
    full = models.engine("test")  # a render in the same run (export of a stale track) loads the whole model
    assert not isinstance(full.model.dit, DecodeOnly)  # type: ignore[attr-defined]
    assert Models(dproject, "cpu").engine("test") is not full
    fresh = Models(dproject, "cpu")
    assert fresh.engine("test") is fresh.decoding_engine("test")  # and then decodes with it


@pytest.mark.parametrize(
    ("cuda", "hip", "cpu_only"), [("None", "None", True), ("'12.4'", "None", False), ("None", "'6.2'", False)]
)
def test_auto_is_the_cpu_for_a_cpu_only_torch_build_read_without_importing_it(
    tmp_path: Path, cuda: str, hip: str, cpu_only: bool
) -> None:
    """`--device auto` with a torch built without CUDA or ROCm decodes on the CPU: its kept decodes are found without
    starting torch (export's default device is auto). A build with either asks torch (`resolve_device`)."""
    fake = tmp_path / "site" / "torch"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('the fake torch is never imported')\n")
    (fake / "version.py").write_text(
        f"from typing import Optional\n__version__ = '2.13.0'\n"
        f"cuda: Optional[str] = {cuda}\nhip: Optional[str] = {hip}\n"
    )
    code = (
        "import sys\nfrom acegit.snapshots import _torch_build\n"
        "b, cpu = _torch_build()\nprint(len(b), cpu, 'torch' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["64", str(cpu_only), "False"]


def test_auto_and_cpu_name_one_decoder_here_when_torch_has_no_cuda(dproject: Project) -> None:
    from acegit.snapshots import _torch_build

    build, cpu_only = _torch_build()
    auto = Models(dproject, "auto").decoder("builtin")
    assert (auto == Models(dproject, "cpu").decoder("builtin")) == cpu_only
    assert auto["torch" if cpu_only else "device_class"] == (build if cpu_only else auto["device_class"])


def test_cache_gc_removes_old_decodes_and_keeps_recent_ones(dproject: Project) -> None:
    from acegit.remotecache import gc

    p = dproject
    cache = RenderCache(p.cache_dir)
    old = cache.put_decoded("a" * 64, 22050, b"\0" * 400)
    new = cache.put_decoded("b" * 64, 22050, b"\0" * 400)
    (old.parent / f".{old.name}.x.tmp").write_bytes(b"half")  # a killed writer's temp file
    day = 86400
    for f in (old, old.parent / f".{old.name}.x.tmp"):
        os.utime(f, (f.stat().st_mtime - 10 * day,) * 2)
    assert sorted(cache.decoded_files()) == [old, new]
    dry = gc(p, 7, dry_run=True)
    assert dry.removed == ["a" * 64] and old.exists()
    result = gc(p, 7)
    assert result.removed == ["a" * 64] and result.freed == dry.freed > 400 and result.kept == 1
    assert not old.exists() and new.exists() and not (old.parent / f".{old.name}.x.tmp").exists()
    assert cache.get_decoded("b" * 64, 22050, 100) == b"\0" * 400
