"""The render cache: finished renders, content-addressed by input fingerprint + environment class.

Each entry is a folder published with one atomic rename, so a reader sees either no entry or a complete one.
Switching branches back and forth, or reverting an edit, restores audio and snapshot without sampling again.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from acegit.fsutil import atomic_write_bytes

SNAPSHOT = "snapshot.lock.toml"
AUDIO = "audio.wav"
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
        for tmp in self.root.glob("*/.tmp-*"):
            with contextlib.suppress(OSError):
                if now - tmp.stat().st_mtime > older_than:
                    shutil.rmtree(tmp)
                    removed += 1
        return removed
