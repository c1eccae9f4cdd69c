"""The shared render cache: the local render cache (acegit/cache.py) in front of a remote store at any fsspec URL.

A remote holds the local cache's entries (same key, same two files), laid out as
    <url>/v1/<key[:2]>/<key>/snapshot-<sha256>.lock.toml and audio-<sha256>.wav   the files, named by their own hash
    <url>/v1/<key[:2]>/<key>/entry.json                                           the commit marker, written last
    <url>/v1/tmp/<key>.<random>/...                                               uploads in flight
A writer uploads each file under a temporary key, moves it to its hashed name, then writes the marker (through a
temporary key too), so a reader, which starts from the marker, never sees half an entry, and two writers of one key
are harmless. What a reader downloads is hostile: sizes are capped (acegit/limits.py) before and while reading, each
file must hash to the marker's sha256, the snapshot must parse as a lock whose fingerprints give the key, and the audio
must be the float WAV of that lock's rate and duration. A refused entry is reported and rendered again, never used.
No torch here: a restore from the remote is as light as one from the local cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from acegit import __version__, limits
from acegit.cache import AUDIO, SNAPSHOT, CacheEntry, RenderCache, cache_key
from acegit.cachesettings import CacheSettings
from acegit.errors import AcegitError, InputError, UsageError

if TYPE_CHECKING:
    from acegit.project import Project

REMOTE_ENV = "ACEGIT_CACHE_REMOTE"  # a URL (wins over acegit.toml), or "off": no remote in this run
READ_ONLY_ENV = "ACEGIT_CACHE_READ_ONLY"  # "1": look in the remote, never write to it (CI jobs)
LAYOUT = "v1"
MARKER = "entry.json"
MARKER_SCHEMA = 1
STALE_UPLOAD_SECONDS = 3600.0  # a temporary upload older than this belongs to a killed writer: gc removes it
_FILES = {SNAPSHOT: ("snapshot-", ".lock.toml"), AUDIO: ("audio-", ".wav")}  # entry file -> hashed remote name
_FOLDER_PROTOCOLS = {"file", "local", "sftp", "ssh", "ftp", "smb", "webdav"}  # object stores have no folders to make
_HEX64 = re.compile(r"[0-9a-f]{64}")
# --- settings: the environment (acegit.toml's [cache] is acegit/cachesettings.py) ------------------------------


def _env_flag(name: str) -> bool | None:
    value = os.environ.get(name)
    if value is None or value == "":
        return None
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise UsageError(f"{name}={value!r} must be 1 or 0 (true or false)")


def remote_url(settings: CacheSettings) -> str | None:
    """The remote of this run: ACEGIT_CACHE_REMOTE when set ("off": none), else acegit.toml's."""
    env = os.environ.get(REMOTE_ENV)
    if env is not None and env != "":
        if env.lower() == "off":
            return None
        if "://" not in env:
            raise UsageError(f'{REMOTE_ENV}={env!r} must be an fsspec URL (e.g. "s3://bucket/acegit-cache") or "off"')
        return env
    return settings.remote


# --- the remote store -------------------------------------------------------------------------------------------


class RemoteUnavailable(AcegitError):
    """The remote cannot be reached or refused an operation (the render goes on without it)."""


class RemoteRefused(AcegitError):
    """An entry on the remote failed verification: corrupt, truncated, too large, or not the key's render."""


@dataclass(frozen=True)
class RemoteObject:
    path: str
    size: int
    mtime: float | None  # seconds since the epoch, when the back-end says


def _mtime(info: Mapping[str, Any]) -> float | None:
    """When an object was written, from whichever field the fsspec back-end reports."""
    import datetime as dt

    for k in ("LastModified", "last_modified", "mtime", "modified", "created", "updated", "timeCreated"):
        v = info.get(k)
        if isinstance(v, int | float):
            return float(v)
        if isinstance(v, dt.datetime):
            return v.timestamp()
        if isinstance(v, str):
            try:
                return dt.datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp()
            except ValueError:
                continue
    return None


class RemoteStore:
    """Render-cache entries at an fsspec URL. The file system is opened on first use (fsspec and s3fs are not light)."""

    def __init__(self, url: str, storage_options: Mapping[str, Any] | None = None, read_only: bool = False) -> None:
        self.url, self.read_only = url.rstrip("/"), read_only
        self.storage_options = dict(storage_options or {})
        self._fs: Any = None
        self._root = ""
        self._folders = False  # a file system with real folders, made before and removed after an upload

    @property
    def fs(self) -> Any:
        if self._fs is None:
            try:
                from fsspec.core import url_to_fs

                # A fresh instance: fsspec caches them per process, and a long-lived one (acegit serve) would keep a
                # dead connection.
                self._fs, root = url_to_fs(self.url, skip_instance_cache=True, **self.storage_options)
            except ImportError as e:
                raise RemoteUnavailable(
                    f"cache remote {self.url}: {e}",
                    hint="Install the back-end for this URL, e.g. pip install 'acegit[s3]' for s3:// (docs/scale.md).",
                ) from None
            except (ValueError, TypeError, OSError) as e:
                raise RemoteUnavailable(f"cache remote {self.url}: {e}", hint="Check [cache] in acegit.toml.") from None
            self._root = f"{root.rstrip('/')}/{LAYOUT}"
            protocols = self._fs.protocol if isinstance(self._fs.protocol, tuple) else (self._fs.protocol,)
            self._folders = bool(set(protocols) & _FOLDER_PROTOCOLS)
        return self._fs

    @property
    def root(self) -> str:
        _ = self.fs
        return self._root

    def _entry(self, key: str) -> str:
        assert _HEX64.fullmatch(key), key
        return f"{self.root}/{key[:2]}/{key}"

    def _call(self, what: str, fn: Any, *args: Any, missing: bool = False, **kw: Any) -> Any:
        """One operation on the remote. Any failure of the foreign system (connection, permissions, its own exception
        types) becomes RemoteUnavailable; with `missing`, an absent object stays FileNotFoundError (a miss)."""
        try:
            return fn(*args, **kw)
        except FileNotFoundError:
            if missing:
                raise
            raise RemoteUnavailable(f"cache remote {self.url}: cannot {what}: not found") from None
        except Exception as e:  # noqa: BLE001 - every back-end raises its own types; none may crash a render
            raise RemoteUnavailable(f"cache remote {self.url}: cannot {what}: {type(e).__name__}: {e}") from None

    def _read(self, path: str, cap: int, what: str) -> bytes:
        """At most `cap` bytes of an object; one byte more refuses it (a ranged read: never more is downloaded)."""
        data = self._call(f"read {path}", self.fs.cat_file, path, start=0, end=cap + 1, missing=True)
        if len(data) > cap:
            raise RemoteRefused(f"{self.url}: {path}: {what} is larger than acegit's limit of {cap // 1024} KiB")
        return bytes(data)

    def _write(self, path: str, data: bytes, tmp: str) -> None:
        """Upload under a temporary key, then move it to `path`: `path` only ever holds a complete object."""
        name = f"{tmp}/{path.rsplit('/', 1)[-1]}"
        if self._folders:
            for folder in (tmp, path.rsplit("/", 1)[0]):
                self._call(f"create {folder}", self.fs.makedirs, folder, exist_ok=True)
        self._call(f"upload {name}", self.fs.pipe_file, name, data)
        self._call(f"move {name}", self.fs.mv, name, path)

    # entries

    def has(self, key: str) -> bool:
        return bool(self._call("look up an entry", self.fs.exists, f"{self._entry(key)}/{MARKER}"))

    def fetch(self, key: str) -> tuple[bytes, bytes] | None:
        """An entry's (snapshot, audio) bytes, verified; None when the remote has no (complete) entry for `key`.
        RemoteRefused when what is there fails verification."""
        entry = self._entry(key)
        try:
            raw = self._read(f"{entry}/{MARKER}", limits.MAX_CACHE_MARKER_BYTES, "the commit marker")
        except FileNotFoundError:
            return None
        hashes, sizes = self._marker(entry, key, raw)
        caps = {SNAPSHOT: limits.MAX_LOCK_BYTES, AUDIO: limits.MAX_CACHE_AUDIO_BYTES}
        out: dict[str, bytes] = {}
        for name, (stem, suffix) in _FILES.items():
            path = f"{entry}/{stem}{hashes[name]}{suffix}"  # named from the hash, never from a path in the marker
            if sizes[name] > caps[name]:
                raise RemoteRefused(f"{self.url}: {path}: declares {sizes[name]} bytes, past the limit {caps[name]}")
            try:
                data = self._read(path, sizes[name], name)
            except FileNotFoundError:
                return None  # removed by a gc since the marker was read: a miss
            digest = hashlib.sha256(data).hexdigest()
            if len(data) != sizes[name] or digest != hashes[name]:
                raise RemoteRefused(
                    f"{self.url}: {path}: {len(data)} bytes with sha256 {digest[:16]}..., but the entry records "
                    f"{sizes[name]} bytes with sha256 {hashes[name][:16]}...: a corrupt or truncated object"
                )
            out[name] = data
        check_entry(key, out[SNAPSHOT], out[AUDIO], f"{self.url}: {entry}")
        return out[SNAPSHOT], out[AUDIO]

    def _marker(self, entry: str, key: str, raw: bytes) -> tuple[dict[str, str], dict[str, int]]:
        shown = f"{self.url}: {entry}/{MARKER}"
        try:
            doc = json.loads(raw.decode("utf-8"))
            if doc["schema"] != MARKER_SCHEMA or doc["key"] != key:
                raise ValueError("schema or key")
            hashes = {n: str(doc["files"][n]["sha256"]) for n in _FILES}
            sizes = {n: doc["files"][n]["size"] for n in _FILES}
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            raise RemoteRefused(f"{shown}: not a commit marker of entry {key[:12]}") from None
        if not all(_HEX64.fullmatch(h) for h in hashes.values()) or not all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in sizes.values()
        ):
            raise RemoteRefused(f"{shown}: its hashes or sizes are malformed")
        return hashes, sizes

    def publish(self, key: str, snapshot: bytes, audio: bytes, track: str = "") -> None:
        """Upload an entry: its files under temporary keys moved to their hashed names, then the commit marker."""
        if self.read_only:
            raise AcegitError(f"internal: publish to the read-only cache remote {self.url}")
        entry, tmp = self._entry(key), f"{self.root}/tmp/{key}.{uuid.uuid4().hex}"
        files: dict[str, Any] = {}
        for name, data in ((SNAPSHOT, snapshot), (AUDIO, audio)):
            digest = hashlib.sha256(data).hexdigest()
            stem, suffix = _FILES[name]
            self._write(f"{entry}/{stem}{digest}{suffix}", data, tmp)
            files[name] = {"sha256": digest, "size": len(data)}
        marker = {"schema": MARKER_SCHEMA, "key": key, "files": files, "track": track, "acegit": __version__}
        self._write(f"{entry}/{MARKER}", json.dumps(marker, sort_keys=True).encode("utf-8"), tmp)
        if self._folders:  # the emptied folder
            with contextlib.suppress(RemoteUnavailable, FileNotFoundError):
                self._call(f"remove {tmp}", self.fs.rm, tmp, recursive=True, missing=True)

    def remove(self, key: str) -> None:
        """Delete an entry: the marker first, so no reader starts on a half-deleted one."""
        entry = self._entry(key)
        with contextlib.suppress(FileNotFoundError):
            self._call(f"delete {entry}/{MARKER}", self.fs.rm_file, f"{entry}/{MARKER}", missing=True)
        self.remove_objects(self.objects(entry))

    def remove_objects(self, objects: Iterable[RemoteObject]) -> None:
        paths = [o.path for o in objects]
        if paths:
            self._call("delete objects", self.fs.rm, paths)

    def objects(self, under: str | None = None) -> list[RemoteObject]:
        """Every object under the store (or one of its folders)."""
        try:
            found = self._call("list the cache", self.fs.find, under or self.root, detail=True, missing=True)
        except FileNotFoundError:
            return []
        return [
            RemoteObject(str(info.get("name", p)), int(info.get("size") or 0), _mtime(info))
            for p, info in found.items()
            if info.get("type", "file") != "directory"
        ]


def check_entry(key: str, snapshot: bytes, audio: bytes, shown: str) -> None:
    """A downloaded entry holds the render of `key`: a lock (fully verified, within limits) whose fingerprints give
    the key, and a float WAV of that lock's sample rate and duration. RemoteRefused otherwise."""
    import soundfile as sf

    from acegit.lockfile import loads_lock

    try:
        lock = loads_lock(snapshot, "cached", f"{shown}/{SNAPSHOT}")
    except InputError as e:
        raise RemoteRefused(f"refused: {e.message}") from None
    if cache_key(lock.input.fingerprint, lock.environment.fingerprint) != key:
        raise RemoteRefused(f"{shown}: its snapshot is the render of another input or environment, not of this key")
    try:
        info = sf.info(io.BytesIO(audio))
    except (RuntimeError, TypeError, ValueError) as e:
        raise RemoteRefused(f"{shown}/{AUDIO}: not a readable audio file ({e})") from None
    expected = round(lock.audio.duration * lock.audio.sample_rate)
    if (
        info.format != "WAV"
        or info.subtype != "FLOAT"
        or info.channels != 1
        or info.samplerate != lock.audio.sample_rate
        or abs(info.frames - expected) > 1
    ):
        raise RemoteRefused(
            f"{shown}/{AUDIO}: {info.format} {info.subtype}, {info.channels} channel(s), {info.frames} frames at "
            f"{info.samplerate} Hz; its snapshot needs mono float WAV, {expected} frames at {lock.audio.sample_rate} Hz"
        )


# --- the local cache in front of a remote -----------------------------------------------------------------------


@dataclass
class RemoteReport:
    """What one run did with the remote: entries downloaded and uploaded, refused ones, the failure that stopped it."""

    url: str
    read_only: bool
    downloaded: int = 0
    uploaded: int = 0
    refused: list[str] = field(default_factory=list)
    unavailable: str | None = None  # after the first failure to reach it, the run goes on without the remote

    def to_json(self) -> dict[str, object]:
        return {
            "url": self.url,
            "read_only": self.read_only,
            "downloaded": self.downloaded,
            "uploaded": self.uploaded,
            "refused": list(self.refused),
            "unavailable": self.unavailable,
        }

    def warnings(self) -> list[str]:
        out = [f"cache remote: entry refused, rendered again instead: {r}" for r in self.refused]
        if self.unavailable:
            out.append(f"cache remote unavailable, the rest of this run went without it: {self.unavailable}")
        return out


class SharedCache(RenderCache):
    """The local render cache, backed by a remote: a miss here is looked up there (and kept here once verified);
    what is put here is uploaded there too, unless read-only."""

    def __init__(self, root: Path, remote: RemoteStore) -> None:
        super().__init__(root)
        self.remote = remote
        self.report = RemoteReport(remote.url, remote.read_only)
        self._looked: set[str] = set()  # keys missed or refused on the remote in this run: asked once

    def get(self, key: str) -> CacheEntry | None:
        entry = super().get(key)
        if entry is not None or self.report.unavailable or key in self._looked:
            return entry
        self._looked.add(key)
        try:
            files = self.remote.fetch(key)
        except RemoteRefused as e:
            self.report.refused.append(e.message)
            return None
        except RemoteUnavailable as e:
            self.report.unavailable = e.message
            return None
        if files is None:
            return None
        self.report.downloaded += 1
        return super().put(key, *files)

    def put(self, key: str, snapshot: bytes, audio: bytes) -> CacheEntry:
        entry = super().put(key, snapshot, audio)
        if not self.remote.read_only and not self.report.unavailable:
            try:
                self.remote.publish(key, snapshot, audio, _track_of(snapshot))
                self.report.uploaded += 1
            except RemoteUnavailable as e:
                self.report.unavailable = e.message
        return entry


def _track_of(snapshot: bytes) -> str:
    """The track name a snapshot records (informational, in the marker)."""
    m = re.search(rb'^track = "([a-z0-9_-]{1,64})"$', snapshot[:4096], re.MULTILINE)
    return m.group(1).decode() if m else ""


def remote_store(project: Project, read_only: bool = False) -> RemoteStore | None:
    """The project's cache remote in this run (acegit.toml's [cache], ACEGIT_CACHE_REMOTE, ACEGIT_CACHE_READ_ONLY),
    read-only when any of the config, the environment or `read_only` (the CLI flag) says so; None without one."""
    settings = project.cache
    url = remote_url(settings)
    if url is None:
        return None
    env = _env_flag(READ_ONLY_ENV)
    return RemoteStore(url, settings.storage_options, read_only or settings.read_only or bool(env))


def open_cache(project: Project, read_only: bool = False) -> RenderCache:
    """The render cache of a run: the local one, behind which the remote when the project has one."""
    store = remote_store(project, read_only)
    return RenderCache(project.cache_dir) if store is None else SharedCache(project.cache_dir, store)


# --- acegit cache push | pull | stats | gc ----------------------------------------------------------------------


@dataclass
class SyncResult:
    """What `cache push` or `cache pull` did, by entry key."""

    command: str
    url: str
    copied: list[str] = field(default_factory=list)  # uploaded (push) or downloaded (pull)
    present: list[str] = field(default_factory=list)  # already where they were going
    missing: list[str] = field(default_factory=list)  # not at the source
    refused: list[str] = field(default_factory=list)  # pull: failed verification (the message)

    def to_json(self) -> dict[str, object]:
        return {
            "schema": 1,
            "command": f"cache {self.command}",
            "remote": self.url,
            "copied": len(self.copied),
            "present": len(self.present),
            "missing": len(self.missing),
            "refused": list(self.refused),
        }


def pinned_keys(project: Project, names: Sequence[str] = ()) -> dict[str, str]:
    """The cache key of the render each selected track's lock file pins (tracks without a readable lock: none)."""
    from acegit.lockfile import lock_path, read_lock
    from acegit.track import track_files

    wanted = set(names)
    keys: dict[str, str] = {}
    for path in track_files(project.tracks_dir):
        name = path.name.removesuffix(".toml")
        lpath = lock_path(path)
        if (wanted and name not in wanted) or not lpath.is_file():
            continue
        try:
            lock = read_lock(lpath, project.display(lpath))
        except InputError:
            continue
        keys[name] = cache_key(lock.input.fingerprint, lock.environment.fingerprint)
    missing = wanted - {p.name.removesuffix(".toml") for p in track_files(project.tracks_dir)}
    if missing:
        raise UsageError(f"no track named {', '.join(sorted(missing))} in {project.display(project.tracks_dir)}")
    return keys


def _need(project: Project, write: bool) -> RemoteStore:
    store = remote_store(project)
    if store is None:
        raise AcegitError(
            "no cache remote: acegit.toml has no [cache] remote and ACEGIT_CACHE_REMOTE is not set",
            hint='Add [cache] remote = "s3://bucket/prefix" to acegit.toml (docs/scale.md).',
        )
    if write and store.read_only:
        raise AcegitError(
            f"the cache remote {store.url} is read-only here ([cache] read_only or {READ_ONLY_ENV})",
            hint=f"Run it where writing is allowed, or unset {READ_ONLY_ENV}.",
        )
    return store


def push(project: Project, names: Sequence[str] = (), all_entries: bool = False) -> SyncResult:
    """Upload the local entries the remote lacks: those the selected tracks' locks pin, or all (`all_entries`)."""
    store = _need(project, write=True)
    local = RenderCache(project.cache_dir)
    keys = [e.key for e in local.entries()] if all_entries else sorted(set(pinned_keys(project, names).values()))
    result = SyncResult("push", store.url)
    for key in keys:
        entry = local.get(key)
        if entry is None:
            result.missing.append(key)
        elif store.has(key):
            result.present.append(key)
        else:
            snapshot = limits.read_capped(entry.snapshot, limits.MAX_LOCK_BYTES, entry.snapshot, "cached snapshot")
            audio = limits.read_capped(entry.audio, limits.MAX_CACHE_AUDIO_BYTES, entry.audio, "cached audio")
            store.publish(key, snapshot, audio, _track_of(snapshot))
            result.copied.append(key)
    return result


def pull(project: Project, names: Sequence[str] = (), all_entries: bool = False) -> SyncResult:
    """Download (and verify) the entries the selected tracks' lock files pin, or every one on the remote."""
    store = _need(project, write=False)
    local = RenderCache(project.cache_dir)
    if all_entries:
        keys = sorted({k for k, _ in _remote_entries(store.objects())})
    else:
        keys = sorted(set(pinned_keys(project, names).values()))
    result = SyncResult("pull", store.url)
    for key in keys:
        if local.get(key) is not None:
            result.present.append(key)
            continue
        try:
            files = store.fetch(key)
        except RemoteRefused as e:
            result.refused.append(e.message)
            continue
        if files is None:
            result.missing.append(key)
        else:
            local.put(key, *files)
            result.copied.append(key)
    return result


def _remote_entries(objects: Iterable[RemoteObject]) -> Iterable[tuple[str, RemoteObject]]:
    """(key, marker) of every committed entry among a listing."""
    for o in objects:
        parts = o.path.rsplit("/", 3)
        if len(parts) == 4 and parts[3] == MARKER and _HEX64.fullmatch(parts[2]) and parts[2][:2] == parts[1]:
            yield parts[2], o


def _key_of(path: str) -> str | None:
    """The entry key an object belongs to (None for a temporary upload or a stranger)."""
    parts = path.rsplit("/", 3)
    if len(parts) == 4 and _HEX64.fullmatch(parts[2]) and parts[2][:2] == parts[1]:
        return parts[2]
    return None


@dataclass(frozen=True)
class StoreStats:
    entries: int
    bytes: int
    uploads_in_flight: int  # temporary objects: a writer at work, or one that was killed (gc removes them)

    def to_json(self) -> dict[str, int]:
        return {"entries": self.entries, "bytes": self.bytes, "uploads_in_flight": self.uploads_in_flight}


def stats(project: Project) -> dict[str, object]:
    """The documented `acegit cache stats --json` object: the local cache, and the remote when there is one."""
    local = RenderCache(project.cache_dir)
    n = size = 0
    for entry in local.entries():
        n += 1
        size += entry.snapshot.stat().st_size + entry.audio.stat().st_size
    tmp = sum(1 for _ in project.cache_dir.glob("*/.tmp-*")) if project.cache_dir.is_dir() else 0
    out: dict[str, object] = {
        "schema": 1,
        "command": "cache stats",
        "local": {"path": project.display(project.cache_dir), **StoreStats(n, size, tmp).to_json()},
        "remote": None,
    }
    store = remote_store(project)
    if store is not None:
        objects = store.objects()
        keys = {k for k, _ in _remote_entries(objects)}
        in_tmp = [o for o in objects if f"/{LAYOUT}/tmp/" in o.path]
        size = sum(o.size for o in objects if _key_of(o.path) in keys)
        counts = StoreStats(len(keys), size, len(in_tmp)).to_json()
        out["remote"] = {"url": store.url, "read_only": store.read_only, **counts}
    return out


@dataclass
class GcResult:
    where: str  # "local" or the remote's URL
    removed: list[str] = field(default_factory=list)  # entry keys
    freed: int = 0  # bytes
    kept: int = 0  # entries left
    debris: int = 0  # temporary uploads and incomplete entries removed
    dry_run: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            "schema": 1,
            "command": "cache gc",
            "where": self.where,
            "dry_run": self.dry_run,
            "removed": len(self.removed),
            "freed_bytes": self.freed,
            "kept": self.kept,
            "debris_removed": self.debris,
        }


def gc(project: Project, older_than_days: float, remote: bool = False, dry_run: bool = False) -> GcResult:
    """Remove the entries published more than `older_than_days` ago that no lock file in the working tree pins, and
    what killed writers left behind (older than STALE_UPLOAD_SECONDS); locally, or on the remote (`remote`)."""
    keep = set(pinned_keys(project).values())
    cutoff, debris_cutoff = time.time() - older_than_days * 86400, time.time() - STALE_UPLOAD_SECONDS
    if not remote:
        local = RenderCache(project.cache_dir)
        result = GcResult("local", dry_run=dry_run)
        for entry in list(local.entries()):
            if entry.key not in keep and entry.path.stat().st_mtime < cutoff:
                result.removed.append(entry.key)
                result.freed += entry.snapshot.stat().st_size + entry.audio.stat().st_size
                if not dry_run:
                    local.remove(entry.key)
            else:
                result.kept += 1
        for path in list(local.decoded_files()):  # decodes of snapshots (docs/diff.md): no lock pins them; by age
            with contextlib.suppress(OSError):
                stat = path.stat()
                if stat.st_mtime < cutoff:
                    if not dry_run:
                        path.unlink()
                    result.removed.append(path.stem)
                    result.freed += stat.st_size
                else:
                    result.kept += 1
        result.debris = 0 if dry_run else local.clean_stale_tmp(STALE_UPLOAD_SECONDS)
        return result
    store = _need(project, write=not dry_run)
    result = GcResult(store.url, dry_run=dry_run)
    objects = store.objects()
    markers = dict(_remote_entries(objects))
    by_key: dict[str, list[RemoteObject]] = {}
    debris: list[RemoteObject] = []
    for o in objects:
        key = _key_of(o.path)
        if key is not None:
            by_key.setdefault(key, []).append(o)
        elif f"/{LAYOUT}/tmp/" in o.path and o.mtime is not None and o.mtime < debris_cutoff:
            debris.append(o)
    for key, objs in sorted(by_key.items()):
        marker = markers.get(key)
        if marker is None:  # files without a marker: an upload in progress, or one whose writer was killed
            old = [o for o in objs if o.mtime is not None and o.mtime < debris_cutoff]
            debris.extend(old)
            continue
        if key not in keep and marker.mtime is not None and marker.mtime < cutoff:
            result.removed.append(key)
            result.freed += sum(o.size for o in objs)
            if not dry_run:
                store.remove(key)
        else:
            result.kept += 1
    result.debris = len(debris)
    if not dry_run:
        store.remove_objects(debris)
    return result
