from __future__ import annotations

from pathlib import Path

from acegit.cache import RenderCache, cache_key


def test_key_depends_on_fingerprint_and_environment() -> None:
    a = cache_key("sha256:aa", "cpu|torch-2.13.0|float32")
    assert a == cache_key("sha256:aa", "cpu|torch-2.13.0|float32")
    assert a != cache_key("sha256:ab", "cpu|torch-2.13.0|float32")
    assert a != cache_key("sha256:aa", "cuda-sm90|torch-2.13.0|float32")


def test_put_then_get_round_trip(tmp_path: Path) -> None:
    cache = RenderCache(tmp_path / "cache")
    audio = b"RIFF-audio"
    key = cache_key("sha256:x", "cpu")
    assert cache.get(key) is None
    entry = cache.put(key, b"snapshot", audio)
    assert entry.snapshot.read_bytes() == b"snapshot"
    assert entry.audio.read_bytes() == b"RIFF-audio"
    assert cache.get(key) == entry


def test_existing_entry_wins_and_no_tmp_left(tmp_path: Path) -> None:
    cache = RenderCache(tmp_path / "cache")
    audio = b"1"
    key = cache_key("sha256:x", "cpu")
    cache.put(key, b"first", audio)
    cache.put(key, b"second", audio)
    entry = cache.get(key)
    assert entry is not None and entry.snapshot.read_bytes() == b"first"
    assert not list((tmp_path / "cache").glob("*/.tmp-*"))


def test_half_written_entry_is_invisible_and_cleaned(tmp_path: Path) -> None:
    cache = RenderCache(tmp_path / "cache")
    key = cache_key("sha256:x", "cpu")
    # What a render killed mid-publish leaves behind: a temp folder, never the final name.
    tmp = tmp_path / "cache" / key[:2] / f".tmp-{key[:12]}-abc"
    tmp.mkdir(parents=True)
    (tmp / "snapshot.lock.toml").write_bytes(b"half")
    assert cache.get(key) is None
    assert cache.clean_stale_tmp(older_than=-1) == 1
    assert not tmp.exists()
