"""Rendering: choose the tracks, sample them through the engine, publish audio + lock file + cache entry.

Only this module and the engine import torch, and only once something really has to be sampled or decoded:
a render with nothing stale (or only cache hits) never loads the model.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from acegit.cache import RenderCache, cache_key
from acegit.engine.registry import BUILTIN, DISTILLED_SAMPLER, ModelRef, distilled_steps
from acegit.engine.request import GenerationRequest
from acegit.errors import AcegitError, InputError, UsageError
from acegit.fingerprint import input_fingerprint
from acegit.fsutil import atomic_open, atomic_write_bytes
from acegit.lockfile import (
    AudioStats,
    Lock,
    LockEnvironment,
    as_stored,
    build_lock,
    decode_latent,
    dumps_lock,
    latent_sha256,
    lock_path,
    read_lock,
)
from acegit.project import Project
from acegit.remotecache import open_cache
from acegit.snapshots import CachedRender, Models, cached_render_of, decode, read_cached
from acegit.status import FRESH, INVALID, TrackStatus, project_status
from acegit.track import Track, load_tracks, track_named
from acegit.transcribe import publish_midi

if TYPE_CHECKING:
    import numpy as np

    from acegit.engine.backend import Backend

DEVICES = ("auto", "cpu", "cuda")
GPU_BATCH = 8  # tracks handed to the engine per call on a GPU (each is still sampled on its own)
# `render --check` across device classes: the re-rendered latent must match the snapshot to this SNR (docs/render.md).
TOLERANCE_SNR_DB = 20.0

RENDERED, CACHED, SKIPPED = "rendered", "cached", "fresh"
EXACT, TOLERANT, MISMATCH, STALE, MISSING, CORRUPT = (
    "exact",
    "within tolerance",
    "mismatch",
    "stale",
    "missing",
    "corrupt",
)
CHECK_PASSES = (EXACT, TOLERANT)


class RenderProgress(Protocol):
    """What the CLI shows while rendering; the core never prints."""

    def batch(self, names: Sequence[str], steps: int) -> None: ...
    def step(self, done: int, total: int) -> None: ...
    def finished(self, outcome: Outcome) -> None: ...


class SilentProgress:
    def batch(self, names: Sequence[str], steps: int) -> None:
        pass

    def step(self, done: int, total: int) -> None:
        pass

    def finished(self, outcome: Outcome) -> None:
        pass


@dataclass(frozen=True)
class Outcome:
    """What happened to one track: rendered, restored from the cache, or skipped because it is fresh."""

    name: str
    action: str
    seconds: float = 0.0
    audio: str | None = None  # relative to the project root
    lock: str | None = None
    fingerprint: str | None = None
    lock_changed: bool = False
    warning: str | None = None  # e.g. a loop that does not hold whole bars (Track.uneven_loop)


@dataclass(frozen=True)
class CheckResult:
    """How a re-render compares with the committed snapshot."""

    name: str
    verdict: str
    detail: str = ""
    max_abs: float | None = None
    snr_db: float | None = None
    device_class: str | None = None  # where the snapshot was rendered

    @property
    def ok(self) -> bool:
        return self.verdict in CHECK_PASSES


# --- choosing tracks -------------------------------------------------------------------------------------------


def parse_shard(text: str) -> tuple[int, int]:
    """ "2/4" -> (2, 4): the second of four shares, 1-based."""
    try:
        k_text, n_text = text.split("/")
        k, n = int(k_text), int(n_text)
    except ValueError:
        raise UsageError(f"--shard {text!r} must look like K/N, e.g. --shard 2/4") from None
    if not 1 <= k <= n:
        raise UsageError(f"--shard {text}: K must be between 1 and N (got K={k}, N={n})")
    return k, n


def in_shard(name: str, shard: tuple[int, int]) -> bool:
    """Stable by track name alone: N jobs with shards 1/N..N/N cover every track exactly once."""
    k, n = shard
    return int(hashlib.sha256(name.encode("utf-8")).hexdigest()[:16], 16) % n == k - 1


def _changed_since(project: Project, rev: str, statuses: list[TrackStatus]) -> set[str]:
    """Tracks whose track file, lock file or melody file differs between `rev` and the working tree."""
    from acegit.gitrepo import GitRepo

    repo = GitRepo.discover(project.root)
    changed = {(repo.root / f).resolve() for f in repo.changed_files(rev, None)}
    names = set()
    for st in statuses:
        track_file = (project.root / st.path).resolve()
        files = {track_file, lock_path(track_file)}
        if st.state != INVALID:
            melody = track_named(project, st.name).melody_path
            if melody is not None:
                files.add(melody.resolve())
        if files & changed:
            names.add(st.name)
    return names


def select_tracks(
    project: Project,
    names: Sequence[str] = (),
    *,
    changed_since: str | None = None,
    shard: tuple[int, int] | None = None,
) -> list[TrackStatus]:
    """The tracks a command works on, with their status; named tracks must exist."""
    statuses = project_status(project).tracks
    if names:
        by_name = {st.name: st for st in statuses}
        load_tracks(project, [n for n in names if n not in by_name])  # raises "no track named ..." with a hint
        statuses = [by_name[n] for n in dict.fromkeys(names)]
    if changed_since is not None:
        keep = _changed_since(project, changed_since, statuses)
        statuses = [st for st in statuses if st.name in keep]
    if shard is not None:
        statuses = [st for st in statuses if in_shard(st.name, shard)]
    return statuses


def _load_valid(project: Project, statuses: Sequence[TrackStatus]) -> list[Track]:
    bad = [st for st in statuses if st.state == INVALID]
    if bad:
        lines = "\n".join(f"  {st.message}" for st in bad)
        raise AcegitError(f"{len(bad)} track(s) cannot be rendered:\n{lines}", hint="Fix them, then render again.")
    tracks = load_tracks(project, [st.name for st in statuses]) if statuses else []
    _check_distilled(project, tracks)
    return tracks


def _check_distilled(project: Project, tracks: Sequence[Track]) -> None:
    """A step-distilled model renders with its own steps and Euler only (the engine refuses the rest): name the
    track files that ask otherwise before anything loads or samples."""
    fixed: dict[str, int] = {}
    bad = []
    for t in tracks:
        if t.model not in fixed:
            fixed[t.model] = distilled_steps(t.model, project.models)
        n = fixed[t.model]
        if n and (t.steps != n or t.sampler != DISTILLED_SAMPLER):
            bad.append(
                f'  {project.display(t.path)}: steps = {t.steps}, sampler = "{t.sampler}": model {t.model!r} '
                f'is distilled for steps = {n}, sampler = "{DISTILLED_SAMPLER}" and renders with no other'
            )
    if bad:
        raise AcegitError(
            f"{len(bad)} track(s) cannot be rendered:\n" + "\n".join(bad),
            hint="Set those in the track files (or in acegit.toml [defaults]), or give the tracks another model.",
        )


# --- engine plumbing -------------------------------------------------------------------------------------------


def _warning(project: Project, track: Track, ref: ModelRef) -> str | None:
    """What a user should know about a render that is not an error: a built-in loop that is not whole bars."""
    note = track.uneven_loop() if ref.backend == BUILTIN else None
    return f"{project.display(track.path)}: {note}" if note else None


def request_for(track: Track) -> GenerationRequest:
    """The engine's view of a track: every render field, nothing else."""
    return GenerationRequest(
        prompt=track.prompt,
        negative_prompt=track.negative_prompt,
        seed=track.seed,
        duration=track.duration,
        bpm=track.bpm,
        key=track.key,
        time_signature=track.time_signature,
        steps=track.steps,
        guidance=track.guidance,
        sampler=track.sampler,
        melody=track.melody_path,
        loop=track.loop,
        lyrics=track.lyrics or "",
        shift=track.shift,
        edits=track.edits,
        vocoder=track.vocoder,
    )


def _check_device(device: str) -> None:
    if device not in DEVICES:
        raise UsageError(f"--device {device!r} must be one of {', '.join(DEVICES)}")


def sample_track(models: Models, track: Track, progress: RenderProgress | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Sample and decode one track exactly as `render_tracks` does, writing nothing: (final latent, audio).

    For a render server that returns the result to the machine that asked (`acegit render --remote`).
    """
    engine = models.engine(track.model)
    progress = progress or SilentProgress()
    progress.batch([track.name], track.steps)
    latent = engine.generate([request_for(track)], progress=progress.step)[0]
    return latent, decode(engine, latent, track.length, track.loop, track.vocoder)


def _batches(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _sample(
    engine: Backend,
    tracks: list[Track],
    progress: RenderProgress,
    on_latent: Callable[[Track, np.ndarray, float], None],
    batch_size: int | None = None,
) -> None:
    """Hand the tracks to the engine in groups of `batch_size` (default: one GPU batch, or 1 on CPU).

    Both engines sample every request as its own batch of one (docs/render.md), so a track's result never depends on
    its group; a group only sets how often progress and results are reported. A sampler that really batches across
    tracks must pad each group to a fixed shape before this may change.
    """
    pool = getattr(engine, "generate_each", None)
    if pool is not None:  # a pool of workers (acegit/raypool.py) schedules the tracks itself, each reported as it ends
        pool(tracks, [request_for(t) for t in tracks], progress, on_latent)
        return
    size = batch_size or (GPU_BATCH if engine.device.type == "cuda" else 1)
    for batch in _batches(tracks, size):
        progress.batch([t.name for t in batch], max(t.steps for t in batch))
        start = time.perf_counter()
        latents = engine.generate([request_for(t) for t in batch], progress=progress.step)
        per_track = (time.perf_counter() - start) / len(batch)
        for track, latent in zip(batch, latents, strict=True):
            on_latent(track, latent, per_track)


# --- writing results -------------------------------------------------------------------------------------------

_SUBTYPES = {"wav": "PCM_16", "flac": "PCM_16", "ogg": "VORBIS"}


def audio_bytes(wave: np.ndarray, sample_rate: int, fmt: str) -> bytes:
    """Encode mono float audio as a wav / flac / ogg file's bytes."""
    import numpy as np
    import soundfile as sf

    buf = io.BytesIO()
    data = np.clip(np.asarray(wave, dtype=np.float32), -1.0, 1.0)
    subtype = "FLOAT" if fmt == "cache" else _SUBTYPES[fmt]
    sf.write(buf, data, sample_rate, format="WAV" if fmt == "cache" else fmt.upper(), subtype=subtype)
    return buf.getvalue()


def audio_path(project: Project, name: str) -> Path:
    return project.build_dir / f"{name}.{project.audio_format}"


def _write_if_changed(path: Path, data: bytes) -> bool:
    """Atomic write, skipped when the bytes are already there (a re-render leaves Git and mtimes untouched)."""
    with contextlib.suppress(OSError):
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    atomic_write_bytes(path, data)
    return True


def _publish(
    project: Project, track: Track, lock: Lock, wave: np.ndarray, sample_rate: int, snapshot: bytes | None = None
) -> tuple[Path, bool]:
    """Audio (and notes) first, lock last: if killed in between, the old lock makes the track read as stale, never as
    fresh. `snapshot`: the lock's text, when the caller has it already."""
    out = audio_path(project, track.name)
    _write_if_changed(out, audio_bytes(wave, sample_rate, project.audio_format))
    publish_midi(project, track, lock, wave, sample_rate)  # build/<name>.mid when [audio] midi = true
    changed = _write_if_changed(lock_path(track.path), snapshot or dumps_lock(lock).encode("utf-8"))
    return out, changed


def _sweep_tmp(project: Project) -> None:
    """Remove temp files that a killed render left beside its outputs (we hold the project lock: none is live)."""
    for folder in (project.tracks_dir, project.build_dir):
        if folder.is_dir():
            for tmp in folder.glob(".*.tmp"):
                tmp.unlink(missing_ok=True)


def _project_lock(project: Project) -> Any:
    """One render per project at a time; a second one is told who holds it instead of corrupting files."""
    from filelock import FileLock, Timeout

    lock_file = project.root / ".acegit" / "render.lock"
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    flock = FileLock(str(lock_file))
    try:
        flock.acquire(timeout=0)
    except Timeout:
        raise AcegitError(
            f"another acegit render is running in {project.root} (it holds {project.display(lock_file)})",
            hint="Wait for it to finish, then run the command again.",
        ) from None
    return flock


def render_tracks(
    project: Project,
    statuses: Sequence[TrackStatus],
    *,
    force: bool = False,
    device: str = "auto",
    use_cache: bool = True,
    batch_size: int | None = None,
    progress: RenderProgress | None = None,
    models: Models | None = None,
    cache: RenderCache | None = None,
) -> list[Outcome]:
    """Render the stale tracks among `statuses` (all of them with `force`); publish audio, lock and cache entry.
    `models`: the caller's loaded models, when it decodes with them afterwards (export). `cache`: the caller's
    render cache (the CLI's, to report on its remote); default: the project's, with its remote (docs/scale.md)."""
    _check_device(device)
    progress = progress or SilentProgress()
    outcomes: dict[str, Outcome] = {}
    for st in statuses:
        if st.state == FRESH and not force:  # status already knows: no need to parse the track again
            outcomes[st.name] = Outcome(st.name, SKIPPED, lock=st.lock)
            progress.finished(outcomes[st.name])
    order = [st.name for st in statuses]
    todo = _load_valid(project, [st for st in statuses if st.name not in outcomes])
    if not todo:
        return [outcomes[n] for n in order]

    flock = _project_lock(project)
    try:
        models = models or Models(project, device)
        _sweep_tmp(project)
        cache = open_cache(project) if cache is None else cache
        cache.clean_stale_tmp()

        def done(track: Track, action: str, seconds: float, audio: Path, changed: bool, fp: str) -> None:
            o = Outcome(
                track.name,
                action,
                seconds,
                project.display(audio),
                project.display(lock_path(track.path)),
                fp,
                changed,
                _warning(project, track, models.ref(track.model)),
            )
            outcomes[track.name] = o
            progress.finished(o)

        by_model: dict[str, list[Track]] = {}
        for t in todo:
            start = time.perf_counter()
            fp = input_fingerprint(t, models.ref(t.model))
            cached = _from_cache(project, cache, models, t, fp) if use_cache else None
            if cached is not None:
                lock = dataclasses.replace(cached.lock, track=t.name)
                audio, changed = _publish(project, t, lock, cached.wave, cached.sample_rate)
                done(t, CACHED, time.perf_counter() - start, audio, changed, fp)
            else:
                by_model.setdefault(t.model, []).append(t)

        for model_name, group in by_model.items():
            engine, ref, env = models.engine(model_name), models.ref(model_name), models.environment(model_name)

            def publish(
                track: Track,
                latent: np.ndarray,
                seconds: float,
                engine: Backend = engine,
                ref: ModelRef = ref,
                env: LockEnvironment = env,
            ) -> None:
                start = time.perf_counter()
                # Loops decode as one period of a periodic signal (built-in engine; docs/export.md).
                wave = decode(engine, latent, track.length, track.loop, track.vocoder)
                lock = build_lock(track, ref, latent, env, AudioStats.of(wave, engine.sample_rate, track.vocoder))
                snapshot = dumps_lock(lock).encode("utf-8")
                if use_cache:
                    key = cache_key(lock.input.fingerprint, env.fingerprint)
                    cache.put(key, snapshot, audio_bytes(wave, engine.sample_rate, "cache"))
                audio, changed = _publish(project, track, lock, wave, engine.sample_rate, snapshot)
                seconds += time.perf_counter() - start
                done(track, RENDERED, seconds, audio, changed, lock.input.fingerprint)

            _sample(engine, group, progress, publish, batch_size)
    finally:
        flock.release()
    return [outcomes[n] for n in order]


def _from_cache(project: Project, cache: RenderCache, models: Models, track: Track, fp: str) -> CachedRender | None:
    """The cached render of a track's inputs on this machine.

    The render its lock file pins (a fresh track under `--force`) is restored without torch: its environment is the
    lock's. Any other lookup needs this machine's environment, which torch computes.
    """
    lpath = lock_path(track.path)
    if lpath.is_file():
        try:
            pinned = read_lock(lpath, project.display(lpath))
        except InputError:
            pinned = None  # a damaged lock: it is rendered again, or restored under this machine's environment
        if pinned is not None and pinned.input.fingerprint == fp:
            cached = cached_render_of(cache, pinned)
            if cached is not None:
                return cached
    return read_cached(cache, cache_key(fp, models.environment(track.model).fingerprint))


# --- results as JSON -------------------------------------------------------------------------------------------


def render_json(outcomes: Sequence[Outcome], elapsed: float) -> dict[str, object]:
    """The documented `acegit render --json` object (schema 1, docs/cli.md)."""
    return {
        "schema": 1,
        "command": "render",
        "seconds": round(elapsed, 3),
        "tracks": [
            {
                "name": o.name,
                "result": o.action,
                "seconds": round(o.seconds, 3),
                "audio": o.audio,
                "lock": o.lock,
                "lock_changed": o.lock_changed,
                "fingerprint": o.fingerprint,
                "warning": o.warning,
            }
            for o in outcomes
        ],
    }


def check_json(results: Sequence[CheckResult]) -> dict[str, object]:
    """The documented `acegit render --check --json` object (schema 1, docs/cli.md)."""

    def num(x: float | None) -> float | str | None:
        return None if x is None else (str(x) if x in (float("inf"), float("-inf")) else round(x, 6))

    return {
        "schema": 1,
        "command": "render --check",
        "ok": all(r.ok for r in results),
        "tracks": [
            {
                "name": r.name,
                "verdict": r.verdict,
                "ok": r.ok,
                "detail": r.detail,
                "max_abs": num(r.max_abs),
                "snr_db": num(r.snr_db),
                "snapshot_device_class": r.device_class,
            }
            for r in results
        ],
    }


# --- verifying -------------------------------------------------------------------------------------------------


def latent_error(new: np.ndarray, snapshot: np.ndarray) -> tuple[float, float]:
    """(max |Δ|, SNR in dB of the snapshot against the difference); SNR is inf when they are equal."""
    import numpy as np

    if new.shape != snapshot.shape:
        return math.inf, -math.inf
    diff = new.astype(np.float64) - snapshot.astype(np.float64)
    noise = float(np.sum(diff * diff))
    signal = float(np.sum(snapshot.astype(np.float64) ** 2))
    snr = math.inf if noise == 0 else 10 * math.log10(max(signal, 1e-30) / noise)
    return float(np.max(np.abs(diff))) if diff.size else 0.0, snr


def _judge(name: str, latent: np.ndarray, lock: Lock, env: LockEnvironment) -> CheckResult:
    import numpy as np

    where = lock.environment.device_class
    stored = decode_latent(lock)  # what show, diff and export decode: the check proves it, not only the hash
    if latent_sha256(latent) == lock.latent.sha256:
        if not np.array_equal(as_stored(latent), stored):
            detail = "the stored latent does not hold the render: its declared sha256 matches, its data does not"
            return CheckResult(name, CORRUPT, detail, device_class=where)
        return CheckResult(name, EXACT, "bit-identical latent", 0.0, math.inf, where)
    if latent.shape != tuple(lock.latent.shape):
        detail = f"latent shape {latent.shape} ≠ snapshot {tuple(lock.latent.shape)}"
        return CheckResult(name, MISMATCH, detail, device_class=where)
    max_abs, snr = latent_error(latent, stored)
    figures = f"max |Δ| {max_abs:.3g}, latent SNR {snr:.1f} dB"
    if lock.environment.fingerprint == env.fingerprint:
        detail = f"same environment ({where}) but different bits: {figures}"
        return CheckResult(name, MISMATCH, detail, max_abs, snr, where)
    if snr >= TOLERANCE_SNR_DB:
        detail = f"{figures} (rendered on {where}, now {env.device_class}; tolerance ≥ {TOLERANCE_SNR_DB:g} dB)"
        return CheckResult(name, TOLERANT, detail, max_abs, snr, where)
    detail = f"{figures}, below the {TOLERANCE_SNR_DB:g} dB tolerance (snapshot from {where}, now {env.device_class})"
    return CheckResult(name, MISMATCH, detail, max_abs, snr, where)


def check_tracks(
    project: Project,
    statuses: Sequence[TrackStatus],
    *,
    device: str = "auto",
    batch_size: int | None = None,
    progress: RenderProgress | None = None,
    models: Models | None = None,
) -> list[CheckResult]:
    """Re-render every selected track that has a lock file and compare; writes nothing.

    `models`: warm models of the caller's (`acegit serve`), or ones that sample elsewhere (`--remote`)."""
    _check_device(device)
    progress = progress or SilentProgress()
    results: dict[str, CheckResult] = {}
    models = models or Models(project, device)
    to_sample: dict[str, list[tuple[Track, Lock]]] = {}
    names = [st.name for st in statuses]
    for st in statuses:
        if st.state == INVALID:
            results[st.name] = CheckResult(st.name, CORRUPT, st.message or "invalid track")
            continue
        track = track_named(project, st.name)
        lpath = lock_path(track.path)
        if not lpath.is_file():
            results[st.name] = CheckResult(st.name, MISSING, f"no {project.display(lpath)}: run `acegit render`")
            continue
        try:
            lock = read_lock(lpath, project.display(lpath))
        except InputError as e:
            results[st.name] = CheckResult(st.name, CORRUPT, str(e))
            continue
        if input_fingerprint(track, models.ref(track.model)) != lock.input.fingerprint:
            reasons = ", ".join(st.reasons) or "input changed"
            detail = f"{reasons} since the snapshot: run `acegit render {st.name}` and commit the lock file"
            results[st.name] = CheckResult(st.name, STALE, detail, device_class=lock.environment.device_class)
            continue
        to_sample.setdefault(track.model, []).append((track, lock))

    if to_sample:
        for model_name, pairs in to_sample.items():
            locks, env = {t.name: lk for t, lk in pairs}, models.environment(model_name)

            def judge(
                track: Track,
                latent: np.ndarray,
                seconds: float,
                locks: dict[str, Lock] = locks,
                env: LockEnvironment = env,
            ) -> None:
                results[track.name] = _judge(track.name, latent, locks[track.name], env)
                progress.finished(Outcome(track.name, results[track.name].verdict, seconds))

            _sample(models.engine(model_name), [t for t, _ in pairs], progress, judge, batch_size)
    return [results[n] for n in names]


def write_audio(path: Path, wave: np.ndarray, sample_rate: int) -> None:
    """Write decoded audio to a user-chosen file (format from the suffix), atomically."""
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in _SUBTYPES:
        raise UsageError(f"{path}: unsupported audio format {fmt!r}; use .wav, .flac or .ogg")
    with atomic_open(path) as f:
        f.write(audio_bytes(wave, sample_rate, fmt))
