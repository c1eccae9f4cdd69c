"""What every router shares: the server's state (project, worker, warm models) and how to run blocking work."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from acegit.project import Project
from acegit.server.core import WarmEngines
from acegit.server.worker import Worker
from acegit.snapshots import Snapshots

T = TypeVar("T")


@dataclass
class State:
    project: Project
    device: str
    worker: Worker
    engines: WarmEngines
    snapshots: Snapshots
    stopping: threading.Event = field(default_factory=threading.Event)

    async def on_worker(self, fn: Callable[..., T], *args: Any) -> T:
        """Run device work (decoding, keeping a candidate) on the render worker and wait for it."""
        return await asyncio.wrap_future(self.worker.call(functools.partial(fn, *args)))


def state(request: Request) -> State:
    server: State = request.app.state.server
    return server


async def run_blocking(fn: Callable[..., T], *args: Any) -> T:
    """File and Git work off the event loop, so status stays responsive while others wait."""
    return await run_in_threadpool(fn, *args)
