"""The ASGI app, built by a factory from a project, so tests and `acegit serve` start it the same way."""

from __future__ import annotations

import contextlib
import sys
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from acegit import __version__
from acegit.errors import AcegitError, InputError, UsageError
from acegit.project import Project
from acegit.server import audio, core, history, jobs, studio, tracks
from acegit.server.auth import HostOriginMiddleware, Security, Unauthorized, require_token
from acegit.server.deps import State
from acegit.server.limits import body_limit
from acegit.server.worker import Worker


def _error(status: int, message: str, field: str | None = None, hint: str | None = None) -> JSONResponse:
    return JSONResponse({"error": {"status": status, "message": message, "field": field, "hint": hint}}, status)


def _status_of(e: AcegitError) -> int:
    if isinstance(e, Unauthorized):
        return 401
    if isinstance(e, core.NotFound):
        return 404
    if isinstance(e, core.Conflict):
        return 409
    if isinstance(e, InputError):
        return 422
    return 400 if isinstance(e, UsageError) else 400


def _field_of(loc: tuple[Any, ...]) -> str:
    """pydantic's error location as a dotted field name: ("body", "fields", "bpm") -> "fields.bpm"."""
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or str(loc[-1] if loc else "body")


class BodyLimitMiddleware:
    """Refuses request bodies over the limit of their path (acegit/server/limits.py) with 413, chunked or not."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Callable[[], Awaitable[Any]], send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(scope["path"])
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await _error(413, f"request body over {limit} bytes", "body")(scope, receive, send)
            return
        seen = 0

        async def limited() -> Any:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise HTTPException(413, f"request body over {limit} bytes")
            return message

        await self.app(scope, limited, send)


def create_app(
    project: Project,
    *,
    token: str,
    host: str = "127.0.0.1",
    port: int = 8765,
    device: str = "auto",
    allow_hosts: tuple[str, ...] = (),
) -> FastAPI:
    """The server of one project: API under /v1, OpenAPI at /openapi.json, docs at /docs, all behind the token."""
    engines = core.WarmEngines(project, device)
    state = State(project, device, Worker(), engines, core.make_snapshots(project, engines))
    security = Security.make(token, host, port, allow_hosts)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        core.clean_scratch(project)
        state.worker.start()
        default = str(project.defaults.get("model", "tiny"))
        state.worker.call(lambda: _warm(engines, default))  # the first render finds the model loaded
        try:
            yield
        finally:
            state.stopping.set()
            state.worker.stop()

    app = FastAPI(
        title="acegit serve",
        version=__version__,
        description="A warm render server for one acegit project (docs/server.md).",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.server = state
    app.state.security = security
    guarded = [Depends(require_token)]
    for router in (tracks.router, jobs.router, audio.router, history.router):
        app.include_router(router, prefix="/v1", dependencies=guarded)

    @app.get("/openapi.json", include_in_schema=False, dependencies=guarded)
    async def openapi() -> dict[str, Any]:
        return app.openapi()

    @app.get("/docs", include_in_schema=False, dependencies=guarded)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="acegit serve: API")

    app.include_router(studio.router)  # `/` and /studio/: the page itself is public, its data needs the token

    @app.exception_handler(AcegitError)
    async def acegit_error(request: Request, e: AcegitError) -> JSONResponse:
        return _error(_status_of(e), str(e.message), getattr(e, "field", None), e.hint)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, e: RequestValidationError) -> JSONResponse:
        first = e.errors()[0] if e.errors() else {"loc": ("body",), "msg": "invalid request"}
        field = _field_of(tuple(first.get("loc", ())))
        return _error(422, f"{field}: {first.get('msg', 'invalid')}", field)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, e: StarletteHTTPException) -> JSONResponse:
        return _error(e.status_code, str(e.detail), "body" if e.status_code in (400, 413) else None)

    @app.exception_handler(Exception)
    async def bug(request: Request, e: Exception) -> JSONResponse:
        traceback.print_exc(file=sys.stderr)
        return _error(500, f"internal error ({type(e).__name__}); please report it with the request")

    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(HostOriginMiddleware, security=security)  # outermost: runs first
    return app


def _warm(engines: core.WarmEngines, model: str) -> None:
    """Load the default model and its text encoder now rather than on the first request."""
    with contextlib.suppress(AcegitError):
        engine = engines.engine(model)
        engines.environment(model)
        text = getattr(engine, "text", None)  # the built-in engine loads its text encoder lazily
        del text
