"""Running the app under uvicorn as `acegit serve`: bind checks, the server-info file, graceful shutdown."""

from __future__ import annotations

import os
import secrets
import signal
import sys
from types import FrameType
from typing import Any

import uvicorn

from acegit.errors import AcegitError, UsageError
from acegit.project import Project
from acegit.server.app import create_app
from acegit.server.auth import is_loopback
from acegit.server.info import ServerInfo, read_info, remove_info, write_info

GRACE_SECONDS = 5  # open connections (event streams) get this long to finish once shutdown starts


class _Server(uvicorn.Server):
    """uvicorn's server, which also tells the app when shutdown begins and announces itself once it listens."""

    def __init__(self, config: uvicorn.Config, project: Project, token: str, device: str) -> None:
        super().__init__(config)
        self.project, self.token, self.device = project, token, device

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets)
        if self.should_exit or not self.servers:
            return
        host, port = self.servers[0].sockets[0].getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        url = f"http://{shown}:{port}"
        security = _find_state(self.config.loaded_app).security
        security.port, security.cookie_name = port, f"acegit-token-{port}"  # --port 0: the port it got
        write_info(self.project, ServerInfo(url, self.token, os.getpid(), self.device, str(self.project.root)))
        print(f"acegit serve: {self.project.name} at {url}/?token={self.token}", file=sys.stderr, flush=True)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        st = _find_state(self.config.loaded_app).server
        st.stopping.set()  # event streams end, the running job is cancelled at its next step
        for job in st.worker.list():
            if not job.done:
                st.worker.cancel(job)
        if sig == signal.SIGTERM and not self.should_exit:
            self.should_exit = True  # a service manager's stop: shut down gracefully and exit 0
            return
        super().handle_exit(sig, frame)


def _find_state(app: Any) -> Any:
    """The FastAPI app inside uvicorn's wrappers (proxy headers, message logger)."""
    while not hasattr(app, "state") and hasattr(app, "app"):
        app = app.app
    return app.state


def resolve_device(device: str) -> str:
    """ "auto" -> "cuda" or "cpu", as the engine will choose (torch is loaded anyway: the server renders)."""
    from acegit.engine.device import resolve_device as engine_device

    return engine_device(device).type


def serve(
    project: Project,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    token: str | None = None,
    device: str = "auto",
    allow_hosts: tuple[str, ...] = (),
) -> None:
    """Serve `project` until SIGTERM or Ctrl-C; the running job is cancelled, no file is left half-written."""
    if not is_loopback(host) and not token:
        raise UsageError(
            f"--host {host} is reachable from other machines: it needs a token",
            hint="Pass --token T (or set ACEGIT_TOKEN); clients send it as `Authorization: Bearer T`.",
        )
    running = read_info(project)
    if running is not None:
        raise AcegitError(f"acegit serve already runs for this project at {running.url} (pid {running.pid})")
    token = token or secrets.token_urlsafe(32)
    dev = resolve_device(device)
    app = create_app(project, token=token, host=host, port=port, device=dev, allow_hosts=allow_hosts)
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=GRACE_SECONDS, access_log=False
    )
    server = _Server(config, project, token, dev)
    try:
        server.run()
    finally:
        remove_info(project, os.getpid())
