"""A snapshot's audio: the models of one process, and the audio of a lock file (render, export, diff, show, status).

`Models` resolves each model name once and loads each engine once, whatever its backend. `Snapshots.audio(lock)` is
the audio of a lock file: from the render cache when that very render is there, else decoded from its latent with
the model that made it — a loop track as one period of a loop, as `acegit render` decodes it (docs/export.md) —
and that decode kept in the render cache's `decoded/` folder, so the same snapshot is decoded once per machine.
Torch is imported only when something has to be decoded or sampled.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from acegit.cache import CacheEntry, RenderCache, cache_key, decoded_key
from acegit.engine.registry import ModelRef, resolve_model
from acegit.errors import AcegitError, InputError
from acegit.fingerprint import RENDER_FORMAT_VERSION
from acegit.lockfile import Lock, LockEnvironment, as_stored, decode_latent, read_lock
from acegit.project import Project

if TYPE_CHECKING:
    import numpy as np

    from acegit.engine.backend import Backend

CACHE, SNAPSHOT = "cache", "snapshot"  # where a snapshot's audio came from
KEEP_WAVES = 4  # decoded waves Snapshots keeps (30 s of audio is 2.6 MB): A and B of a track, and a rename's twin


class Models:
    """The models of one run: each name resolved once (errors too), each engine and environment computed once."""

    def __init__(self, project: Project, device: str = "auto") -> None:
        self.project, self.device = project, device
        self._refs: dict[str, ModelRef | AcegitError] = {}
        self._engines: dict[str, Backend] = {}
        self._decoders: dict[str, Backend] = {}  # decode-only engines (no DiT), for models this run never samples
        self._envs: dict[str, LockEnvironment] = {}
        self._rates: dict[tuple[str, str], float | None] = {}
        self._decoder: dict[str, dict[str, Any]] = {}

    def ref(self, name: str) -> ModelRef:
        """The resolved model (weights folder and hash, read from its small `sha256` file: no torch)."""
        if name not in self._refs:
            try:
                self._refs[name] = resolve_model(name, self.project.models)
            except AcegitError as e:
                self._refs[name] = e
        found = self._refs[name]
        if isinstance(found, AcegitError):
            raise found
        return found

    def environment(self, name: str) -> LockEnvironment:
        """Where model `name` renders: the device, torch, and the backend's own libraries (ace-step: diffusers)."""
        if name not in self._envs:
            from acegit.engine.backend import backend_libraries
            from acegit.engine.device import environment

            e, libraries = environment(self.device), backend_libraries(self.ref(name).backend)
            self._envs[name] = LockEnvironment.make(
                e["device_class"], e["torch"], e["dtype"], e["deterministic"], libraries=libraries
            )
        return self._envs[name]

    def decoder(self, backend: str) -> dict[str, Any]:
        """Where this process decodes, as the key of a decoded snapshot names it. On the CPU without torch: the
        machine and its CPU's class (vendor and instruction set), the installed torch build, the pinned code paths
        (`engine/numerics.py`) and a backend's own libraries — what the CPU environment class of a decode follows from
        on one machine; on another device, the environment fingerprint's fields (which starts torch)."""
        if backend not in self._decoder:
            from acegit.engine.backend import backend_libraries

            build, cpu_only = _torch_build()
            if self.device != "cpu" and not (self.device == "auto" and cpu_only):  # "auto" is the CPU without CUDA
                from acegit.engine.device import environment

                e = environment(self.device)
                found = {"device_class": e["device_class"], "torch": e["torch"], "dtype": e["dtype"]}
            else:
                from acegit.engine.numerics import PINNED_ENV, pinned_class

                found = {
                    "device": "cpu",
                    "machine": platform.machine().lower(),
                    "class": pinned_class(),  # MKL's kernels: by vendor and instruction set (engine/numerics.py)
                    "torch": build,
                    "pinned": {k: os.environ.get(k, "") for k in sorted(PINNED_ENV)},
                }
            found["libraries"] = backend_libraries(backend)
            self._decoder[backend] = found
        return self._decoder[backend]

    def engine(self, name: str) -> Backend:
        """The loaded engine of model `name`, either backend."""
        if name not in self._engines:
            from acegit.engine.backend import load_engine

            self._engines[name] = load_engine(self.ref(name), self.device)
        return self._engines[name]

    def engine_of(self, lock: Lock, shown: str) -> Backend:
        """The engine of the model that made a snapshot; an error when that model (with those weights) is not here."""
        name = lock.input.model
        try:
            ref = self.ref(name)
        except AcegitError as e:
            raise AcegitError(f"{shown}: cannot decode: the model that made it is not available: {e.message}") from None
        if ref.weights_hash != lock.input.weights:
            raise AcegitError(
                f"{shown}: cannot decode: it was made by model {name!r} with weights {lock.input.weights[:19]}…, "
                f"but the installed {name!r} has {ref.weights_hash[:19]}…",
                hint=f"Point [models.{name}] in acegit.toml at the weights that made it.",
            )
        return self.decoding_engine(name)

    def decoding_engine(self, name: str) -> Backend:
        """An engine that decodes model `name`'s latents: the loaded one when this run samples with it too, else
        one loaded to decode only (the DCAE and vocoder; the weights hash still checked over the whole file)."""
        if name in self._engines:
            return self._engines[name]
        if name not in self._decoders:
            from acegit.engine.backend import load_engine

            self._decoders[name] = load_engine(self.ref(name), self.device, decode_only=True)
        return self._decoders[name]

    def latent_rate(self, lock: Lock) -> float | None:
        """Latent frames per second of a snapshot's model, from its config.json (no torch); None when unknown."""
        key = (lock.input.model, lock.input.weights)
        if key not in self._rates:
            rate = None
            try:
                ref = self.ref(lock.input.model)
                if ref.weights_hash == lock.input.weights:
                    cfg = json.loads((ref.path / "config.json").read_text(encoding="utf-8"))
                    hop = cfg["audio"]["hop_length"] * 2 ** len(cfg["dcae"]["widths"])
                    rate = cfg["audio"]["sample_rate"] / hop
            except (AcegitError, OSError, ValueError, KeyError, TypeError):
                rate = None  # not available: the snapshot's own shape and duration give it within a frame
            self._rates[key] = rate
        return self._rates[key]


def _torch_build() -> tuple[str, bool]:
    """The installed torch build, without importing it: sha256 of its `torch/version.py` (version, git commit, CUDA
    or CPU build; "missing" without torch), and whether that build has neither CUDA nor ROCm (then device "auto" is
    the CPU, as `engine.device.resolve_device` resolves it)."""
    import hashlib
    import importlib.util
    import re

    spec = importlib.util.find_spec("torch")
    if spec is None or spec.origin is None:
        return "missing", False
    try:
        with open(os.path.join(os.path.dirname(spec.origin), "version.py"), "rb") as f:
            text = f.read(64 << 10)
    except OSError:
        return "unknown", False
    cpu_only = all(re.search(rb"^%s(: [^=\n]+)? = None$" % name, text, re.M) for name in (b"cuda", b"hip"))
    return hashlib.sha256(text).hexdigest(), cpu_only


def decode(engine: Backend, latent: np.ndarray, duration: float, loop: bool, vocoder: str | None = None) -> np.ndarray:
    """A latent's waveform as `acegit render` publishes it: `duration` seconds; a loop as one period of a loop;
    with the track's vocoder (None: the model's default, which the weights hash pins).

    Decoded from the latent as its lock stores it (float16), so the audio of a render and the audio later decoded
    from its snapshot (show, diff, export on a fresh clone) are the same samples (render format 3)."""
    n = round(duration * engine.sample_rate)
    return engine.decode(as_stored(latent), num_samples=n, loop=loop, vocoder=vocoder)


def decoded_fields(lock: Lock, loop: bool, decoder: dict[str, Any]) -> dict[str, Any]:
    """What the audio decoded from a snapshot depends on, hashed into its name in the render cache: the render
    format of this acegit (the decode's maths), the snapshot's own fingerprints, model, weights and latent (the stored
    float16 payload and its shape), the length, rate and vocoder its lock records, loop or not, and where it is
    decoded (`Models.decoder`)."""
    return {
        "kind": "decoded snapshot",
        "render_format": RENDER_FORMAT_VERSION,
        "input": lock.input.fingerprint,
        "environment": lock.environment.fingerprint,
        "model": lock.input.model,
        "backend": lock.input.backend,
        "weights": lock.input.weights,
        "latent": {
            "shape": list(lock.latent.shape),
            "sha256": lock.latent.sha256,
            "payload_sha256": lock.latent.payload_sha256,
            "dtype": lock.latent.dtype,
            "encoding": lock.latent.encoding,
        },
        "duration": lock.audio.duration,
        "sample_rate": lock.audio.sample_rate,
        "vocoder": lock.audio.vocoder,
        "loop": loop,
        "decoder": decoder,
    }


@dataclass(frozen=True)
class CachedRender:
    """A render cache entry, read: its snapshot and its exact float audio."""

    lock: Lock
    wave: np.ndarray
    sample_rate: int


def read_cached(cache: RenderCache, key: str) -> CachedRender | None:
    """The render cached under `key`, or None (no entry, or an unreadable one: it is rendered again)."""
    entry: CacheEntry | None = cache.get(key)
    if entry is None:
        return None
    try:
        import soundfile as sf

        lock = read_lock(entry.snapshot, f"cache entry {entry.key[:12]}")
        wave, sr = sf.read(entry.audio, dtype="float32")
    except (InputError, OSError, RuntimeError):
        return None
    return CachedRender(lock, wave, int(sr))


def cached_render_of(cache: RenderCache, lock: Lock) -> CachedRender | None:
    """The cached render a lock file pins (same inputs, environment and latent), or None."""
    cached = read_cached(cache, cache_key(lock.input.fingerprint, lock.environment.fingerprint))
    # Same inputs and environment promise the same latent; check it rather than trust it.
    return cached if cached is not None and cached.lock.latent.sha256 == lock.latent.sha256 else None


@dataclass(frozen=True)
class Audio:
    """A snapshot's mono audio and where it came from (CACHE or SNAPSHOT)."""

    wave: np.ndarray
    sample_rate: int
    source: str


class Snapshots:
    """The audio of lock files: each from the render cache or decoded, the last few kept."""

    def __init__(self, project: Project, device: str = "auto", models: Models | None = None) -> None:
        self.project = project
        self.models = models or Models(project, device)
        self.cache = RenderCache(project.cache_dir)
        self._audio: dict[tuple[str, str, bool, str | None], Audio] = {}

    def audio(self, lock: Lock, shown: str, loop: bool = False) -> Audio:
        """The audio of a snapshot (`shown` names it in errors; `loop`: the track is a loop)."""
        key = (lock.latent.sha256, lock.input.weights, loop, lock.audio.vocoder)
        if key not in self._audio:
            cached = cached_render_of(self.cache, lock)
            audio = (
                Audio(cached.wave, cached.sample_rate, CACHE)
                if cached is not None
                else self._decoded(lock, shown, loop)
            )
            while len(self._audio) >= KEEP_WAVES:  # bounded for a diff of a thousand tracks
                del self._audio[next(iter(self._audio))]
            self._audio[key] = audio
        return self._audio[key]

    def _decoded(self, lock: Lock, shown: str, loop: bool) -> Audio:
        """A snapshot's audio decoded from its latent: kept from an earlier decode on this machine (verified), else
        decoded now and kept (a cache that cannot be written only costs the next run a decode)."""
        import numpy as np

        key = decoded_key(decoded_fields(lock, loop, self.models.decoder(lock.input.backend)))
        rate, samples = lock.audio.sample_rate, round(lock.audio.duration * lock.audio.sample_rate)
        kept = self.cache.get_decoded(key, rate, samples)
        if kept is not None:
            return Audio(np.frombuffer(bytearray(kept), dtype="<f4"), rate, SNAPSHOT)
        engine = self.models.engine_of(lock, shown)
        wave = decode(engine, decode_latent(lock), lock.audio.duration, loop, lock.audio.vocoder)
        if engine.sample_rate == rate and wave.dtype == np.float32 and wave.shape == (samples,):
            environment = self.models.environment(lock.input.model).fingerprint
            with contextlib.suppress(OSError):
                self.cache.put_decoded(key, rate, np.ascontiguousarray(wave, "<f4").tobytes(), environment)
        return Audio(wave, engine.sample_rate, SNAPSHOT)
