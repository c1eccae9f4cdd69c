"""The render cache: finished renders, content-addressed by input fingerprint + environment class.

Each entry is a folder published with one atomic rename, so a reader sees either no entry or a complete one.
Switching branches back and forth, or reverting an edit, restores audio and snapshot without sampling again.

Beside the renders, `decoded/` keeps the audio diff, show and export had to decode from a snapshot (a commit's lock
file rendered elsewhere): one verified file per decode, so the same snapshot is never decoded twice on this machine.
Those files stay local: `acegit cache push` sends renders only.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from acegit.fsutil import atomic_write_bytes

SNAPSHOT = "snapshot.lock.toml"
AUDIO = "audio.wav"
DECODED = "decoded"  # the folder of decoded snapshots, beside the render entries' `??/` folders
_DECODED_MAGIC = b"acegit decoded audio 1\n"  # then one JSON line (the header), then float32 little-endian samples
_DECODED_HEADER_BYTES = 1024  # the header line is ~200 bytes; a longer one is not a file acegit wrote
_STALE_TMP_SECONDS = 3600.0


def cache_key(input_fingerprint: str, environment_class: str) -> str:
    """The entry name: sha256 over the input fingerprint and the class of machine that rendered it."""
    return hashlib.sha256(f"{input_fingerprint}\n{environment_class}".encode()).hexdigest()


@dataclass(frozen=True)
class CacheEntry:
    key: str
    path: Path

    @property
    def snapshot(self) -> Path:
        return self.path / SNAPSHOT

    @property
    def audio(self) -> Path:
        return self.path / AUDIO

    def midi(self, transcriber_hash: str) -> Path:
        """The render's notes as a transcriber wrote them; named by its weights hash, so new weights transcribe anew."""
        return self.path / f"notes-{transcriber_hash.removeprefix('sha256:')[:16]}.mid"

    def add_midi(self, transcriber_hash: str, data: bytes) -> Path:
        """Add the .mid to a published entry (temp file + rename: a reader sees none or all of it)."""
        path = self.midi(transcriber_hash)
        atomic_write_bytes(path, data)
        return path


def decoded_key(fields: Mapping[str, Any]) -> str:
    """The name of a decoded snapshot: sha256 over the canonical JSON of what the decode depends on."""
    text = json.dumps(dict(fields), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class RenderCache:
    """A folder of entries `<key[:2]>/<key>/{snapshot.lock.toml,audio.wav}`, shared safely between processes."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _dir(self, key: str) -> Path:
        return self.root / key[:2] / key

    def get(self, key: str) -> CacheEntry | None:
        entry = CacheEntry(key, self._dir(key))
        if entry.snapshot.is_file() and entry.audio.is_file():
            return entry
        return None

    def put(self, key: str, snapshot: bytes, audio: bytes) -> CacheEntry:
        """Publish an entry (snapshot and audio file bytes); an existing entry wins."""
        final = self._dir(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{key[:12]}-", dir=final.parent))
        try:
            (tmp / SNAPSHOT).write_bytes(snapshot)
            (tmp / AUDIO).write_bytes(audio)
            for name in (SNAPSHOT, AUDIO):
                with open(tmp / name, "rb") as f:
                    os.fsync(f.fileno())
            try:
                os.rename(tmp, final)
            except OSError:
                if not self.get(key):  # not a lost race with another writer: a real failure
                    raise
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        entry = self.get(key)
        assert entry is not None
        return entry

    def _decoded(self, key: str) -> Path:
        return self.root / DECODED / key[:2] / f"{key}.f32"

    def get_decoded(self, key: str, sample_rate: int, samples: int) -> bytes | None:
        """The float32 samples decoded under `key`, or None: no file, or one that fails a check (then it is decoded
        again and replaced). The size the caller expects (from the lock, not the file) is read and no more; the
        header must name this key and rate, and the samples must hash to what it says (truncated or damaged: refused).
        """
        from acegit.limits import MAX_CACHE_AUDIO_BYTES

        want = samples * 4
        if not 0 < want <= MAX_CACHE_AUDIO_BYTES:
            return None
        try:
            with open(self._decoded(key), "rb") as f:
                if f.read(len(_DECODED_MAGIC)) != _DECODED_MAGIC:
                    return None
                line = f.readline(_DECODED_HEADER_BYTES)
                data = f.read(want + 1)
        except OSError:
            return None
        try:
            header = json.loads(line)
        except ValueError:
            return None
        expected = {"key": key, "sample_rate": sample_rate, "samples": samples}
        if (
            not isinstance(header, dict)
            or any(header.get(k) != v for k, v in expected.items())
            or len(data) != want
            or header.get("sha256") != hashlib.sha256(data).hexdigest()
        ):
            return None
        return data

    def put_decoded(self, key: str, sample_rate: int, data: bytes, environment: str = "") -> Path:
        """Publish decoded float32 samples under `key` atomically (a reader sees the old file or the whole new one);
        `environment` records where they were decoded (the environment fingerprint), for whoever inspects the file."""
        header = {
            "key": key,
            "sample_rate": sample_rate,
            "samples": len(data) // 4,
            "sha256": hashlib.sha256(data).hexdigest(),
            "environment": environment,
        }
        path = self._decoded(key)
        atomic_write_bytes(path, _DECODED_MAGIC + json.dumps(header, sort_keys=True).encode() + b"\n" + data)
        return path

    def decoded_files(self) -> Iterator[Path]:
        """Every decoded snapshot's file, in key order (half-written ones are dot files, never listed)."""
        folder = self.root / DECODED
        if folder.is_dir():
            yield from (p for p in sorted(folder.glob("??/*.f32")) if len(p.stem) == 64 and p.stem[:2] == p.parent.name)

    def entries(self) -> Iterator[CacheEntry]:
        """Every complete entry, in key order (half-written ones live in `.tmp-*` folders and are never listed)."""
        if not self.root.is_dir():
            return
        for folder in sorted(self.root.glob("??/*")):
            if len(folder.name) == 64 and folder.name[:2] == folder.parent.name and (entry := self.get(folder.name)):
                yield entry

    def remove(self, key: str) -> None:
        """Delete an entry (a reader that already opened its files keeps them; a new one sees a miss)."""
        final = self._dir(key)
        if final.is_dir():
            # Renamed away first, so no reader sees it half-deleted.
            doomed = final.with_name(f".tmp-{key[:12]}-gc-{os.getpid()}-{time.monotonic_ns()}")
            os.rename(final, doomed)
            shutil.rmtree(doomed, ignore_errors=True)

    def clean_stale_tmp(self, older_than: float = _STALE_TMP_SECONDS) -> int:
        """Remove half-written entries left by killed renders; returns how many."""
        if not self.root.is_dir():
            return 0
        now, removed = time.time(), 0
        for tmp in [*self.root.glob("*/.tmp-*"), *self.root.glob(f"{DECODED}/*/.*.tmp")]:
            with contextlib.suppress(OSError):
                if now - tmp.stat().st_mtime > older_than:
                    if tmp.is_dir():
                        shutil.rmtree(tmp)
                    else:
                        tmp.unlink()
                    removed += 1
        return removed
