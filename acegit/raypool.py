"""Rendering on a Ray cluster (`acegit render --ray ADDRESS`): actors that each hold one warm engine on one GPU (or
one CPU).

It plugs into the core as a `Models`, as `--remote` does (acegit/server/client.py): model references and weights
hashes stay here; `generate_each` hands the tracks to the actors, the next track to whichever is free, and reports each
as it ends, so `render_tracks` publishes audio, lock and cache entry exactly as a local render, with the workers'
environment in the lock. A worker that dies (or fails) on a track is replaced and the track tried once more; a track
that fails twice is reported by name once every other track is published. Ray is imported only here, and only with
--ray; the actors run this module's `EngineWorker` on the cluster's own acegit install (the same version).
"""

from __future__ import annotations

import collections
import dataclasses
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from acegit.errors import AcegitError, UsageError
from acegit.lockfile import LockEnvironment, as_stored, latent_sha256, latent_shape_problem
from acegit.project import Project
from acegit.snapshots import Models

if TYPE_CHECKING:
    import numpy as np

    from acegit.engine.backend import Backend
    from acegit.engine.request import GenerationRequest
    from acegit.render import RenderProgress
    from acegit.track import Track

NAMESPACE = "acegit"
LOCAL = "local"  # --ray local: start a cluster on this machine (all its CPUs and GPUs)
START_TIMEOUT = 300.0  # seconds for an actor to start (a fresh worker imports torch and acegit)


class EngineWorker:
    """One Ray actor: the driver's model table, each engine loaded once, on this worker's device."""

    def __init__(self, models: dict[str, str | None], backends: dict[str, str], device: str) -> None:
        from acegit.engine.registry import LocalModels

        folders = {k: Path(v) if v is not None else None for k, v in models.items()}
        table = LocalModels(folders, backends)
        self.models = Models(Project(Path.cwd(), "ray-worker", models=table, model_backends=backends), device)
        self.scratch = Path(tempfile.mkdtemp(prefix="acegit-ray-"))

    def pid(self) -> int:
        return os.getpid()

    def describe(self, model: str, weights: str) -> dict[str, Any]:
        """This worker's environment and sample rate for a model; an error unless it has exactly those weights."""
        ref = self.models.ref(model)
        if ref.weights_hash != weights:
            raise AcegitError(
                f"Ray worker {os.uname().nodename}: model {model!r} has weights {ref.weights_hash[:19]}..., "
                f"the driver's has {weights[:19]}...",
                hint="Install the same weights on every node (a shared disk, or the same acegit version).",
            )
        engine = self.models.engine(model)
        return {"environment": dataclasses.asdict(self.models.environment(model)), "sample_rate": engine.sample_rate}

    def render(
        self, model: str, request: GenerationRequest, melody: bytes | None, length: float
    ) -> tuple[np.ndarray, np.ndarray, str]:
        """(final latent, its audio decoded as render publishes it — `length` seconds, with the request's vocoder —,
        this worker's environment fingerprint)."""
        from acegit.snapshots import decode

        if melody is not None:  # the driver's path means nothing here: the bytes travel, kept under their hash
            import hashlib

            path = self.scratch / f"{hashlib.sha256(melody).hexdigest()}.mid"
            path.write_bytes(melody)
            request = dataclasses.replace(request, melody=path)
        engine = self.models.engine(model)
        latent = engine.generate([request])[0]
        wave = decode(engine, latent, length, request.loop, request.vocoder)
        return latent, wave, self.models.environment(model).fingerprint


@dataclass
class Worker:
    handle: Any  # the Ray actor
    index: int
    pid: int


@dataclass(frozen=True)
class _Device:
    type: str  # what render.py reads of a device: "cpu" or "cuda"


class RayEngine:
    """One model on the pool: `generate_each` samples there; `decode` returns the audio the worker decoded."""

    def __init__(self, pool: RayEngines, model: str, weights: str, sample_rate: int, device: str) -> None:
        self.pool, self.model, self.weights = pool, model, weights
        self.sample_rate, self.device = sample_rate, _Device(device)
        self.waves: dict[str, np.ndarray] = {}  # latent sha256 (as the lock stores it) -> the worker's audio of it

    def generate(
        self, requests: Sequence[GenerationRequest], progress: Callable[[int, int], None] | None = None
    ) -> list[np.ndarray]:
        raise AcegitError("internal: a Ray pool samples through generate_each")

    def decode(
        self, latent: np.ndarray, num_samples: int | None = None, loop: bool = False, vocoder: str | None = None
    ) -> np.ndarray:
        wave = self.waves.pop(latent_sha256(latent), None)
        if wave is None or (num_samples is not None and len(wave) != num_samples):
            raise AcegitError("internal: a Ray worker's audio is missing or has the wrong length")
        return wave

    def generate_each(
        self,
        tracks: Sequence[Track],
        requests: Sequence[GenerationRequest],
        progress: RenderProgress,
        on_latent: Callable[[Track, np.ndarray, float], None],
    ) -> None:
        """Sample every track on the pool, the next one to whichever worker is free; `on_latent` as each ends."""
        ray = self.pool.ray
        env = self.pool.environment(self.model).fingerprint
        queue = collections.deque(range(len(tracks)))
        tries = [0] * len(tracks)
        failed: dict[str, str] = {}
        inflight: dict[Any, tuple[int, Worker, float]] = {}
        while queue or inflight:
            while queue and self.pool.idle:
                i, worker = queue.popleft(), self.pool.idle.popleft()
                melody = self.pool.melody(requests[i])
                ref = worker.handle.render.remote(self.model, requests[i], melody, tracks[i].length)
                inflight[ref] = (i, worker, time.perf_counter())
                self.pool.running[tracks[i].name] = worker.pid
                progress.batch([tracks[i].name], tracks[i].steps)
            if not inflight:  # every worker is gone: what is left fails
                for i in queue:
                    failed[tracks[i].name] = "no Ray worker left to render it"
                break
            [ref], _ = ray.wait(list(inflight), num_returns=1)
            i, worker, start = inflight.pop(ref)
            track = tracks[i]
            self.pool.running.pop(track.name, None)
            try:
                latent, wave, worker_env = ray.get(ref)
                problem = _result_problem(latent, wave, worker_env, env, round(track.length * self.sample_rate))
            except (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError) as e:  # it died: replace it
                problem = f"worker {worker.index} (pid {worker.pid}) died: {_first_line(e)}"
                self.pool.replace(worker)
            except ray.exceptions.RayTaskError as e:  # the worker raised: it is still fine
                problem = f"worker {worker.index} failed: {_cause(e)}"
                self.pool.idle.append(worker)
            else:
                self.pool.idle.append(worker)
            if problem is None:
                self.waves[latent_sha256(as_stored(latent))] = wave
                on_latent(track, latent, time.perf_counter() - start)
                continue
            tries[i] += 1
            if tries[i] == 1:
                self.pool.notices.append(f"{track.name}: {problem}; tried again")
                queue.append(i)
            else:
                failed[track.name] = problem
        if failed:
            lines = "\n".join(f"  {name}: {why}" for name, why in failed.items())
            raise AcegitError(
                f"{len(failed)} track(s) failed on the Ray workers, each tried twice:\n{lines}",
                hint="The other tracks are published. Fix the cause (the worker logs: ray logs), then render again.",
            )


def _result_problem(latent: Any, wave: Any, worker_env: str, env: str, samples: int) -> str | None:
    """What is wrong with a worker's result, or None (a cluster is trusted, but a mixed one must not slip through)."""
    import numpy as np

    if worker_env != env:
        return f"the worker renders in another environment ({worker_env[:19]}..., the pool's is {env[:19]}...)"
    if not isinstance(latent, np.ndarray) or latent.dtype != np.float32 or latent_shape_problem(latent.shape):
        return "the worker returned a malformed latent"
    if not isinstance(wave, np.ndarray) or wave.ndim != 1 or len(wave) != samples:
        return "the worker returned audio of the wrong length"
    return None


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:200]


def _cause(e: Any) -> str:
    cause = getattr(e, "cause", None)
    if isinstance(cause, AcegitError):
        return cause.message
    return _first_line(cause or e)


class RayEngines(Models):
    """The models of a project, sampled by a pool of Ray actors; references (and weights hashes) stay local."""

    def __init__(self, project: Project, address: str, workers: int | None = None, device: str = "auto") -> None:
        super().__init__(project, "ray")
        try:
            import ray
        except ImportError:
            raise UsageError(
                "--ray needs Ray: pip install 'acegit[ray]'", hint="Or render here, without --ray (docs/scale.md)."
            ) from None
        self.ray, self.address, self.requested, self.worker_device = ray, address, workers, device
        self.workers: list[Worker] = []
        self.idle: collections.deque[Worker] = collections.deque()
        self.running: dict[str, int] = {}  # track being rendered -> the pid of its worker
        self.notices: list[str] = []  # per-track failures that were retried
        self._described: dict[str, dict[str, Any]] = {}
        self._melodies: dict[Path, bytes] = {}
        self._next_index = 0

    # the pool

    def _connect(self) -> None:
        if self.workers:
            return
        ray = self.ray
        if not ray.is_initialized():
            try:
                if self.address == LOCAL:
                    ray.init(namespace=NAMESPACE, include_dashboard=False, logging_level="WARNING")
                else:
                    ray.init(address=self.address, namespace=NAMESPACE, logging_level="WARNING")
            except (ConnectionError, ValueError, RuntimeError) as e:
                raise AcegitError(
                    f"--ray {self.address}: cannot connect to a Ray cluster: {_first_line(e)}",
                    hint="Start one (`ray start --head`, docs/scale.md) and pass its address, or use --ray local.",
                ) from None
        resources = ray.cluster_resources()
        gpus, cpus = int(resources.get("GPU", 0)), int(resources.get("CPU", 0))
        self.use_gpu = self.worker_device != "cpu" and gpus > 0
        if self.worker_device == "cuda" and not gpus:
            raise UsageError(f"--ray {self.address} --device cuda: the cluster has no GPU")
        count = self.requested or (gpus if self.use_gpu else max(1, cpus))
        for _ in range(count):
            self._start()
        if not self.workers:
            raise AcegitError(f"--ray {self.address}: no Ray worker could be started")

    def _start(self) -> Worker | None:
        ray = self.ray
        resources = {"num_gpus": 1, "num_cpus": 1} if self.use_gpu else {"num_cpus": 1}
        actor = ray.remote(**resources)(EngineWorker)
        models = {k: str(v) if v is not None else None for k, v in self.project.models.items()}
        device = "cuda" if self.use_gpu else "cpu"
        handle = actor.options(max_restarts=0).remote(models, dict(self.project.model_backends), device)
        index, self._next_index = self._next_index, self._next_index + 1
        try:
            pid = ray.get(handle.pid.remote(), timeout=START_TIMEOUT)
        except (ray.exceptions.GetTimeoutError, ray.exceptions.RayActorError):
            ray.kill(handle)
            return None
        worker = Worker(handle, index, pid)
        self.workers.append(worker)
        self.idle.append(worker)
        return worker

    def replace(self, dead: Worker) -> None:
        """A worker died: another in its place (its engine loads on its first track)."""
        self.workers.remove(dead)
        self._start()

    def melody(self, r: GenerationRequest) -> bytes | None:
        if r.melody is None:
            return None
        if r.melody not in self._melodies:
            from acegit.midi import read_midi

            self._melodies[r.melody] = read_midi(r.melody)
        return self._melodies[r.melody]

    def shutdown(self) -> None:
        """Stop the actors (and the local cluster this run started)."""
        for w in self.workers:
            self.ray.kill(w.handle)
        self.workers.clear()
        self.idle.clear()
        if self.address == LOCAL and self.ray.is_initialized():
            self.ray.shutdown()

    # Models

    def _describe(self, name: str) -> dict[str, Any]:
        if name not in self._described:
            self._connect()
            ref = self.ref(name)
            try:
                self._described[name] = self.ray.get(self.workers[0].handle.describe.remote(name, ref.weights_hash))
            except self.ray.exceptions.RayTaskError as e:
                raise AcegitError(f"--ray {self.address}: {_cause(e)}") from None
        return self._described[name]

    def environment(self, name: str) -> LockEnvironment:
        if name not in self._envs:
            self._envs[name] = LockEnvironment(**self._describe(name)["environment"])
        return self._envs[name]

    def engine(self, name: str) -> Backend:
        if name not in self._engines:
            info = self._describe(name)
            device = "cuda" if self.use_gpu else "cpu"
            engine = RayEngine(self, name, self.ref(name).weights_hash, int(info["sample_rate"]), device)
            self._engines[name] = cast("Backend", engine)
        return self._engines[name]

    def report(self) -> dict[str, object]:
        return {"address": self.address, "workers": len(self.workers), "retried": list(self.notices)}


def ray_engines(project: Project, address: str, workers: int | None, device: str) -> RayEngines:
    if workers is not None and workers < 1:
        raise UsageError(f"--ray-workers {workers} must be at least 1")
    return RayEngines(project, address, workers, device)
