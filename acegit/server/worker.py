"""One render worker: a thread that owns the device and runs one job at a time from a queue (progress, cancel)."""

from __future__ import annotations

import itertools
import queue
import secrets
import sys
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from acegit.errors import AcegitError
from acegit.server.limits import MAX_JOBS_KEPT, MAX_RESULTS_KEPT

if TYPE_CHECKING:
    from acegit.render import Outcome

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
FINISHED = (DONE, FAILED, CANCELLED)


class Cancelled(Exception):
    """Raised inside a job (at its next sampling step) when it was cancelled; nothing half-written stays behind."""


@dataclass
class Job:
    """A unit of work for the device; `events` is what `GET /v1/jobs/{id}/events` streams."""

    id: str
    kind: str  # "render", "inline", "sketch"
    request: dict[str, Any]  # what was asked, as JSON
    run: Callable[[JobProgress], Any] = field(repr=False)
    state: str = QUEUED
    result: Any = None
    error: dict[str, Any] | None = None
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    progress: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    cancel_requested: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def emit(self, event: str, **data: Any) -> None:
        with self.lock:
            self.events.append({"event": event, "job": self.id, **data})

    def events_since(self, index: int) -> list[dict[str, Any]]:
        with self.lock:
            return self.events[index:]

    @property
    def done(self) -> bool:
        return self.state in FINISHED

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "state": self.state,
            "request": self.request,
            "progress": self.progress,
            "error": self.error,
            "created": self.created,
            "started": self.started,
            "finished": self.finished,
            "has_result": self.result is not None,
        }


class JobProgress:
    """The core's render Progress for a job: records steps as events and raises Cancelled when asked to stop."""

    def __init__(self, job: Job) -> None:
        self.job = job

    def _check(self) -> None:
        if self.job.cancel_requested.is_set():
            raise Cancelled()

    def batch(self, names: Sequence[str], steps: int) -> None:
        self._check()
        self.job.progress = {"tracks": list(names), "step": 0, "steps": steps}
        self.job.emit("batch", tracks=list(names), steps=steps)

    def step(self, done: int, total: int) -> None:
        self._check()
        self.job.progress = {**self.job.progress, "step": done, "steps": total}
        self.job.emit("progress", step=done, steps=total)

    def finished(self, outcome: Outcome) -> None:
        self.job.emit("track", name=outcome.name, result=outcome.action, seconds=round(outcome.seconds, 3))


_STOP = object()


class Worker:
    """The device's only user: jobs run in order; `call` runs short device work (decoding) before queued jobs."""

    def __init__(self) -> None:
        self.jobs: OrderedDict[str, Job] = OrderedDict()
        self.queue: queue.PriorityQueue[tuple[int, int, Any]] = queue.PriorityQueue()
        self.order = itertools.count()
        self.current: Job | None = None
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="acegit-render-worker", daemon=True)
        self.mutex = threading.Lock()

    def start(self) -> None:
        self.thread.start()

    def submit(self, kind: str, request: dict[str, Any], run: Callable[[JobProgress], Any]) -> Job:
        if self.stopping.is_set():
            raise AcegitError("the server is shutting down; no new jobs")
        job = Job(secrets.token_hex(8), kind, request, run)
        with self.mutex:
            self.jobs[job.id] = job
        job.emit("queued", position=self.queue.qsize())
        self.queue.put((1, next(self.order), job))
        return job

    def call(self, fn: Callable[[], Any]) -> Future[Any]:
        """Run `fn` on the worker thread (after the running job, before queued ones); its result as a Future."""
        fut: Future[Any] = Future()
        if self.stopping.is_set():
            fut.set_exception(AcegitError("the server is shutting down"))
        else:
            self.queue.put((0, next(self.order), (fn, fut)))
        return fut

    def get(self, job_id: str) -> Job | None:
        with self.mutex:
            return self.jobs.get(job_id)

    def list(self) -> list[Job]:
        with self.mutex:
            return list(self.jobs.values())

    def cancel(self, job: Job) -> None:
        """A queued job is dropped; the running one stops at its next sampling step."""
        job.cancel_requested.set()
        if job.state == QUEUED:
            self._finish(job, CANCELLED)

    def stop(self, timeout: float = 30.0) -> None:
        """Cancel everything, let the running job reach its next step, and wait for the thread."""
        self.stopping.set()
        for job in self.list():
            if not job.done:
                self.cancel(job)
        self.queue.put((-1, next(self.order), _STOP))
        if self.thread.is_alive():
            self.thread.join(timeout)

    def _finish(self, job: Job, state: str, error: dict[str, Any] | None = None) -> None:
        with job.lock:
            if job.state in FINISHED:
                return
            job.state, job.error, job.finished = state, error, time.time()
        job.emit(state, **({"error": error} if error else {}))
        self._prune()

    def _prune(self) -> None:
        with self.mutex:
            finished = [j for j in self.jobs.values() if j.done]
            for j in finished[: max(0, len(finished) - MAX_JOBS_KEPT)]:
                del self.jobs[j.id]
            held = [j for j in finished if j.result is not None and j.kind == "inline"]
            for j in held[: max(0, len(held) - MAX_RESULTS_KEPT)]:
                j.result = None

    def _loop(self) -> None:
        while True:
            _, _, item = self.queue.get()
            if item is _STOP:
                return
            if isinstance(item, tuple):
                fn, fut = item
                if fut.set_running_or_notify_cancel():
                    try:
                        fut.set_result(fn())
                    except BaseException as e:  # handed to the waiting request, which maps it to a response
                        fut.set_exception(e)
                continue
            self._run(item)

    def _run(self, job: Job) -> None:
        if job.done:  # cancelled while queued
            return
        self.current, job.state, job.started = job, RUNNING, time.time()
        job.emit("started")
        try:
            result = job.run(JobProgress(job))
        except Cancelled:
            self._finish(job, CANCELLED)
        except AcegitError as e:
            self._finish(job, FAILED, {"message": e.message, "hint": e.hint, "field": getattr(e, "field", None)})
        except Exception as e:
            traceback.print_exc(file=sys.stderr)
            self._finish(job, FAILED, {"message": f"internal error: {type(e).__name__}: {e}", "hint": None})
        else:
            job.result = result
            self._finish(job, DONE)
        finally:
            self.current = None
