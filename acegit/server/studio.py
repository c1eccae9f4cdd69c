"""The studio: the browser panel at `/`, plain ES modules and CSS shipped in the package (acegit/server/static/).

The page and its assets are the package's own files and carry no project data, so they are served without the token;
every request the page makes for data goes to /v1 and needs it (the cookie, or a bearer token the page was handed in
its URL fragment when a cookie cannot work, as inside VS Code's webview). The page may reach this server only (CSP).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse

from acegit.server.auth import Security

STATIC = Path(__file__).resolve().parent / "static"
_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html", ".svg": "image/svg+xml"}

# Self only: scripts, styles, fetches, media (fetched, then played from blob: URLs) and images from this server.
# No frame-ancestors: a page framed by another site gets no cookie (SameSite=Strict) and so no authority; VS Code's
# webview frames it with the token in the fragment.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' blob: data:; media-src 'self' blob:; base-uri 'none'; form-action 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

router = APIRouter(include_in_schema=False)


def _error(status: int, message: str, field: str | None = None) -> JSONResponse:
    body = {"error": {"status": status, "message": message, "field": field, "hint": None}}
    return JSONResponse(body, status, headers=HEADERS)


@router.get("/")
async def home(request: Request, token: str | None = None) -> Any:
    """Jupyter's handshake: `/?token=…` sets an HttpOnly cookie and redirects to a URL without the token; else the
    studio page (which asks for the URL with the token when its first /v1 request is refused)."""
    security: Security = request.app.state.security
    if token is not None:
        if not security.token_ok(token):
            return _error(401, "wrong token", "token")
        back = RedirectResponse("/", status_code=303)
        back.set_cookie(security.cookie_name, security.cookie_value, httponly=True, samesite="strict")
        return back
    return FileResponse(STATIC / "index.html", media_type="text/html", headers=HEADERS)


@router.get("/studio/{name}")
async def asset(name: str) -> Any:
    """One of the studio's files (a flat folder: a name with a slash or a dot in front is never a file here)."""
    path = STATIC / name
    if "/" in name or "\\" in name or name.startswith(".") or path.suffix not in _TYPES or not path.is_file():
        return _error(404, f"no studio file {name!r}", "name")
    return FileResponse(path, media_type=_TYPES[path.suffix], headers=HEADERS)
