"""The security model, after jupyter_server: a token for every request (bearer header for API clients; for a
browser, `/?token=…` exchanged for an HttpOnly cookie), a Host allow-list against DNS rebinding, an Origin check on
every state-changing request, and no CORS. Tokens are compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import socket
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request

from acegit.errors import AcegitError

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
COOKIE_PREFIX = "acegit-token-"


class Unauthorized(AcegitError):
    """No token, or a wrong one (HTTP 401)."""


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and localhost; every other bind is reachable from other machines."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _hostname(host_header: str) -> str:
    """ "127.0.0.1:8765" -> "127.0.0.1", "[::1]:8765" -> "::1", "Example.COM" -> "example.com"."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


@dataclass
class Security:
    token: str
    port: int
    allowed_hosts: set[str] = field(default_factory=set)  # hostnames; "*" allows any
    cookie_name: str = ""

    @classmethod
    def make(cls, token: str, bind: str, port: int, extra_hosts: Iterable[str] = ()) -> Security:
        """Loopback names always; the bind address and this machine's names when bound to another interface."""
        hosts = set(LOOPBACK_NAMES) | {h.lower() for h in extra_hosts}
        if not is_loopback(bind):
            hosts |= {bind.lower(), socket.gethostname().lower(), socket.getfqdn().lower()}
        return cls(token, port, hosts, f"{COOKIE_PREFIX}{port}")

    def token_ok(self, candidate: str | None) -> bool:
        return candidate is not None and hmac.compare_digest(candidate.encode(), self.token.encode())

    @property
    def cookie_value(self) -> str:
        """Derived from the token, so the cookie never holds the token itself."""
        return hmac.new(self.token.encode(), b"acegit-serve-cookie", hashlib.sha256).hexdigest()

    def cookie_ok(self, candidate: str | None) -> bool:
        return candidate is not None and hmac.compare_digest(candidate.encode(), self.cookie_value.encode())

    def host_ok(self, host_header: str | None) -> bool:
        if "*" in self.allowed_hosts:
            return True
        return host_header is not None and _hostname(host_header) in self.allowed_hosts

    def origin_ok(self, origin: str | None, host_header: str | None) -> bool:
        """No Origin (curl, the CLI) passes: the token still guards it. A browser's must be this very server."""
        if origin is None:
            return True
        parts = urlsplit(origin)
        return parts.scheme == "http" and host_header is not None and parts.netloc.lower() == host_header.lower()


def bearer(request: Request) -> str | None:
    """`Authorization: Bearer T` (or `token T`, as Jupyter accepts)."""
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() in ("bearer", "token") and token.strip() else None


def require_token(request: Request) -> None:
    """The dependency every API route has: a valid bearer token or the browser's cookie."""
    sec: Security = request.app.state.security
    if sec.token_ok(bearer(request)) or sec.cookie_ok(request.cookies.get(sec.cookie_name)):
        return
    raise Unauthorized(
        "missing or wrong token",
        hint="Send `Authorization: Bearer <token>` (the token `acegit serve` printed), or open the URL it printed.",
    )


def _refuse(status: int, message: str) -> tuple[dict[str, Any], list[tuple[bytes, bytes]], bytes]:
    body = json.dumps({"error": {"status": status, "message": message, "field": None, "hint": None}}).encode()
    return (
        {"status": status},
        [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        body,
    )


class HostOriginMiddleware:
    """Checks Host on every request and Origin on every state-changing one, before any route runs."""

    def __init__(self, app: ASGIApp, security: Security) -> None:
        self.app, self.security = app, security

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Any]], send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host, origin = headers.get("host"), headers.get("origin")
        problem = None
        if not self.security.host_ok(host):
            problem = f"Host {host!r} is not allowed (DNS rebinding protection); see `acegit serve --allow-host`"
        elif scope["method"] not in SAFE_METHODS and not self.security.origin_ok(origin, host):
            problem = f"Origin {origin!r} may not change anything on this server (cross-site request refused)"
        if problem is None:
            await self.app(scope, receive, send)
            return
        start, head, body = _refuse(403, problem)
        await send({"type": "http.response.start", **start, "headers": head})
        await send({"type": "http.response.body", "body": body})
