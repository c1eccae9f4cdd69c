from __future__ import annotations

import base64
import zlib
from pathlib import Path

import numpy as np
import pytest

from acegit.engine.registry import resolve_model
from acegit.errors import InputError
from acegit.fingerprint import RENDER_FORMAT_VERSION
from acegit.lockfile import (
    BASE64_LINE,
    AudioStats,
    LockEnvironment,
    build_lock,
    decode_latent,
    dumps_lock,
    encode_latent,
    latent_sha256,
    lock_path,
    read_lock,
    read_lock_head,
    write_lock,
)
from acegit.project import Project
from acegit.track import load_track


def _lock(project: Project, seed: int = 0):  # noqa: ANN202
    track = load_track(project.tracks_dir / "example.toml", project)
    model = resolve_model(track.model, project.models)
    latent = np.random.default_rng(seed).standard_normal((8, 16, 40)).astype(np.float32)
    env = LockEnvironment.make("cpu-x86_64", "2.13.0", "float32", True)
    wave = np.sin(np.linspace(0, 100, 44100)).astype(np.float32) * 0.5
    return build_lock(track, model, latent, env, AudioStats.of(wave, 44100)), latent


def test_round_trip_bytes_and_latent(project: Project, tmp_path: Path) -> None:
    lock, latent = _lock(project)
    path = tmp_path / "example.lock.toml"
    write_lock(path, lock)
    again = read_lock(path)
    assert again == lock
    write_lock(tmp_path / "again.lock.toml", again)
    assert (tmp_path / "again.lock.toml").read_bytes() == path.read_bytes()
    decoded = decode_latent(again)
    assert decoded.dtype == np.float32 and decoded.shape == latent.shape
    np.testing.assert_allclose(decoded, latent, rtol=1e-3, atol=1e-3)  # float16 precision
    # sha256 is of the exact float32 latent, not of its float16 rounding.
    assert again.latent.sha256 == latent_sha256(latent)
    assert latent_sha256(decoded) != latent_sha256(latent)


def test_backend_libraries_round_trip_and_stay_out_of_built_in_locks(project: Project, tmp_path: Path) -> None:
    import dataclasses

    lock, _ = _lock(project)
    assert "libraries" not in dumps_lock(lock)
    env = LockEnvironment.make("cpu-x86_64", "2.13.0", "float32", True, libraries="diffusers 0.42.1")
    ace = dataclasses.replace(lock, environment=env)
    write_lock(tmp_path / "ace.lock.toml", ace)
    again = read_lock(tmp_path / "ace.lock.toml")
    assert again == ace and again.environment.fingerprint != lock.environment.fingerprint


def test_same_render_same_bytes(project: Project) -> None:
    assert dumps_lock(_lock(project)[0]) == dumps_lock(_lock(project)[0])
    assert dumps_lock(_lock(project, seed=1)[0]) != dumps_lock(_lock(project)[0])


def test_latent_sha256_is_layout_independent() -> None:
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    assert latent_sha256(a) == latent_sha256(np.asfortranarray(a)) == latent_sha256(a.astype(">f4"))
    b = a.copy()
    b[1, 2, 3] = np.nextafter(b[1, 2, 3], np.float32(100))
    assert latent_sha256(a) != latent_sha256(b)


def test_file_layout(project: Project) -> None:
    text = dumps_lock(_lock(project)[0])
    lines = text.splitlines()
    assert lines[:2] == ["format = 1", 'track = "example"']
    sections = [ln for ln in lines if ln.startswith("[")]
    assert sections == ["[input]", "[environment]", "[audio]", "[latent]"]
    data = text.split('data = """\n')[1].split('"""')[0].splitlines()
    assert all(len(ln) == BASE64_LINE for ln in data[:-1]) and 0 < len(data[-1]) <= BASE64_LINE
    assert "time" not in text.replace("timbre", "")  # no timestamps


def test_head_reads_input_without_latent(project: Project, tmp_path: Path) -> None:
    lock, _ = _lock(project)
    path = tmp_path / "example.lock.toml"
    write_lock(path, lock)
    # A broken latent does not matter to status, which only needs [input].
    path.write_text(path.read_text().replace('data = """\n', 'data = """\n!!!'), encoding="utf-8")
    assert read_lock_head(path) == ("example", lock.input)


def test_encode_rejects_values_float16_cannot_hold() -> None:
    with pytest.raises(ValueError, match="not finite"):
        encode_latent(np.array([1.0, 1e6], dtype=np.float32))
    with pytest.raises(ValueError, match="non-empty"):
        encode_latent(np.zeros((0,), dtype=np.float32))


def test_audio_stats_are_rounded() -> None:
    stats = AudioStats.of(np.array([0.123456789, -0.5, 0.25]), 3)
    assert stats == AudioStats(1.0, 3, 0.5, round(float(np.sqrt((0.123456789**2 + 0.25 + 0.0625) / 3)), 6))


def test_lock_path() -> None:
    assert lock_path(Path("tracks/boss.toml")) == Path("tracks/boss.lock.toml")


def _tamper(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def _payload_line(path: Path) -> str:
    return path.read_text(encoding="utf-8").split('data = """\n')[1].splitlines()[2]


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        ("truncate", "invalid TOML"),
        ("flip", "payload_sha256"),
        ("bad_base64", "base64"),
        ("drop_line", "payload_sha256"),
        ("newer", "newer acegit"),
        ("no_format", "format"),
        ("shape", "needs"),
        ("missing_table", "[environment] is missing"),
        ("wrong_type", "input.render_format"),
        ("bad_zlib", "decompress"),
    ],
)
def test_damaged_lock_is_a_clear_error(project: Project, tmp_path: Path, damage: str, expected: str) -> None:
    lock, _ = _lock(project)
    path = tmp_path / "example.lock.toml"
    write_lock(path, lock)
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    elif damage == "flip":
        line = _payload_line(path)
        _tamper(path, line, line[:10] + ("A" if line[10] != "A" else "B") + line[11:])
    elif damage == "bad_base64":
        line = _payload_line(path)
        _tamper(path, line, line[:10] + "*" + line[11:])
    elif damage == "drop_line":
        _tamper(path, _payload_line(path) + "\n", "")
    elif damage == "newer":
        _tamper(path, "format = 1", "format = 2")
    elif damage == "no_format":
        _tamper(path, "format = 1\n", "")
    elif damage == "shape":
        _tamper(path, "    40,\n", "    41,\n")
    elif damage == "missing_table":
        _tamper(path, "[environment]", "[environmnt]")
    elif damage == "wrong_type":
        _tamper(path, f"render_format = {RENDER_FORMAT_VERSION}", f'render_format = "{RENDER_FORMAT_VERSION}"')
    elif damage == "bad_zlib":
        payload = b"definitely not zlib"
        import hashlib

        text = path.read_text(encoding="utf-8")
        data = text.split('data = """\n')[1].split('"""')[0]
        text = text.replace(data, base64.b64encode(payload).decode() + "\n")
        text = text.replace(lock.latent.payload_sha256, hashlib.sha256(payload).hexdigest())
        path.write_text(text, encoding="utf-8")
        with pytest.raises(zlib.error):
            zlib.decompress(payload)
    with pytest.raises(InputError) as info:
        read_lock(path)
    msg = str(info.value)
    assert expected in msg and str(path) in msg
    assert ("upgrade acegit" in msg.lower()) if damage == "newer" else ("acegit render example --force" in msg)


def test_lock_records_the_backend_and_reads_old_locks_without_it(project: Project, tmp_path: Path) -> None:
    import dataclasses

    from acegit.lockfile import LockInput, dumps_lock

    path = tmp_path / "t.lock.toml"
    path.write_text(dumps_lock(_lock(project)[0]))
    assert 'backend = "builtin"' in path.read_text()
    lock = read_lock(path)
    moved = dataclasses.replace(lock, input=dataclasses.replace(lock.input, backend="ace-step"))
    path.write_text(dumps_lock(moved))
    assert read_lock(path).input.backend == "ace-step"
    path.write_text(dumps_lock(lock).replace('backend = "builtin"\n', ""))
    assert read_lock(path).input.backend == "builtin"
    assert LockInput("f", "s", "m", "w", 1).backend == "builtin"


@pytest.mark.parametrize(
    "variant",
    ["as written", "literal string", "escaped data", "data not last", "another table after", "two data keys", "crlf"],
)
def test_the_sliced_data_string_reads_as_tomllib_reads_it(project: Project, tmp_path: Path, variant: str) -> None:
    """The reader slices the base64 `data` out of a lock as write_lock lays it out (issue 19: tomllib spent ~15 ms of
    a 30-s lock in that string); any other layout is parsed whole, so every file reads as tomllib reads it."""
    import tomllib

    from acegit.lockfile import _parse, _split_data, loads_lock

    lock, _ = _lock(project)
    text = dumps_lock(lock)
    data = lock.latent.data
    if variant == "literal string":
        text = text.replace(f'"""\n{data}"""', f"'''\n{data}'''")
    elif variant == "escaped data":  # the same string, a character of it written as an escape
        text = text.replace(f'"""\n{data[:5]}', f'"""\n{data[:4]}\\u{ord(data[4]):04X}')
    elif variant == "data not last":
        text = text.replace(f'data = """\n{data}"""\n', f'data = """\n{data}"""\nzzz = 1\n')
    elif variant == "another table after":
        text = text.replace(f'data = """\n{data}"""\n', f'data = ""\n\n[extra]\ndata = """\n{data}"""\n')
    elif variant == "two data keys":
        text = text.replace("[latent]\n", '[latent]\ndata = ""\n')
    elif variant == "crlf":
        text = text.replace("\n", "\r\n")
    raw = text.encode()
    # (Two data keys: sliced, then the rest has a duplicate key, and tomllib judges the whole file.)
    assert (_split_data(raw) is not None) == (variant in ("as written", "two data keys"))
    from acegit.lockfile import _LockErrors

    err = _LockErrors("example.lock.toml", "example")
    try:
        expected = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        with pytest.raises(InputError, match="invalid TOML"):
            _parse(raw, err)
        return
    assert _parse(raw, err) == expected
    if variant in ("as written", "literal string", "escaped data", "crlf"):
        assert loads_lock(raw, "example", "example.lock.toml") == lock
