"""Helpers for the server tests: a real `acegit serve` process on 127.0.0.1 for a real project, and httpx."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

TOKEN = "test-token-0123456789"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "acegit tests",
    "GIT_COMMITTER_NAME": "acegit tests",
    "GIT_AUTHOR_EMAIL": "tests@acegit.invalid",
    "GIT_COMMITTER_EMAIL": "tests@acegit.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}
FAST_TRACK = (
    'prompt = "calm solo piano in A minor"\nseed = 1234\nduration = 2.0\nbpm = 80\nkey = "A minor"\nsteps = 3\n'
)


def env(**extra: str) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("ACEGIT_")}
    return {**out, **GIT_ENV, "COLUMNS": "200", "NO_COLOR": "1", **extra}


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, env=env(), check=True, capture_output=True, text=True).stdout


def make_project(root: Path, tracks: dict[str, str] | None = None) -> Path:
    """A committed project whose tracks use the built-in tiny model, 2 s and 3 steps each."""
    from acegit.scaffold import new_project

    new_project(root)
    (root / "tracks" / "example.toml").unlink()
    for name, text in (tracks or {"song": FAST_TRACK}).items():
        (root / "tracks" / f"{name}.toml").write_text(text, encoding="utf-8")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "tracks")
    return root


def acegit(root: Path, *args: str, timeout: float = 300, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "acegit", *args],
        cwd=root,
        env=env(**extra),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@dataclass
class Server:
    root: Path
    proc: subprocess.Popen[str]
    url: str
    token: str

    def client(self, token: str | None = TOKEN, **kw: object) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kw)  # type: ignore[arg-type]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode


def start_server(root: Path, *args: str, token: str = TOKEN, wait: float = 90) -> Server:
    """`acegit serve --port 0` in `root`; returns once it has written its server-info file (it listens)."""
    info = root / ".acegit" / "serve.json"
    info.unlink(missing_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "acegit", "serve", "--port", "0", "--device", "cpu", *args],
        cwd=root,
        env=env(ACEGIT_TOKEN=token),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"acegit serve exited ({proc.returncode}): {proc.stdout.read() if proc.stdout else ''}"
            )
        try:
            data = json.loads(info.read_text(encoding="utf-8"))
            if data["pid"] == proc.pid:
                return Server(root, proc, data["url"], token)
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("acegit serve did not start")


def events(client: httpx.Client, job_id: str) -> list[dict[str, object]]:
    """Every Server-Sent Event of a job, read over the wire until the job ends."""
    out = []
    with client.stream("GET", f"/v1/jobs/{job_id}/events") as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        for line in resp.iter_lines():
            if line.startswith("data: "):
                out.append(json.loads(line[6:]))
    return out


def run_job(client: httpx.Client, path: str, body: object) -> dict[str, object]:
    """Submit, follow to the end, return the result (asserting it finished)."""
    resp = client.post(path, json=body)
    assert resp.status_code == 202, resp.text
    evs = events(client, resp.json()["id"])
    assert evs[-1]["event"] == "done", evs[-1]
    result = client.get(f"/v1/jobs/{resp.json()['id']}/result")
    assert result.status_code == 200
    return result.json()["result"]  # type: ignore[no-any-return]
