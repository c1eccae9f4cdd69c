"""Fixtures of the server tests: every `acegit serve` a test starts is stopped when it ends."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from serverkit import TOKEN, Server, start_server


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    """`serve(root, *args)` starts a server; every one started is stopped (then killed) at the end of the test."""
    started: list[Server] = []

    def start(root: Path, *args: str, token: str = TOKEN) -> Server:
        s = start_server(root, *args, token=token)
        started.append(s)
        return s

    try:
        yield start
    finally:
        for s in started:
            s.stop(signal.SIGTERM, timeout=20)
            if s.proc.stdout:
                s.proc.stdout.close()
