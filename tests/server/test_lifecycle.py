"""Starting and stopping `acegit serve`: bind rules, SIGTERM, and SIGKILL in the middle of a render."""

from __future__ import annotations

import signal
import stat
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from serverkit import FAST_TRACK, Server, acegit, make_project, run_job

SLOW = FAST_TRACK.replace("steps = 3", "steps = 200").replace("duration = 2.0", "duration = 8.0")


def _start_slow_job(s: Server, c: httpx.Client) -> str:
    """Make the track slow to render, queue it, and return once it is sampling (past its second step)."""
    (s.root / "tracks" / "song.toml").write_text(SLOW.replace("calm", "stormy"))
    job = c.post("/v1/jobs", json={"tracks": ["song"], "cache": False}).json()["id"]
    with c.stream("GET", f"/v1/jobs/{job}/events") as resp:
        for line in resp.iter_lines():
            if '"event": "progress"' in line and '"step": 2,' in line:
                break
    return str(job)


def _render_first(s: Server, c: httpx.Client) -> dict[str, bytes]:
    run_job(c, "/v1/jobs", {"tracks": ["song"]})
    return {rel: (s.root / rel).read_bytes() for rel in ("tracks/song.lock.toml", "build/song.wav")}


def test_sigkill_mid_render_keeps_the_previous_lock_and_audio(tmp_path: Path, serve: Callable[..., Server]) -> None:
    s = serve(make_project(tmp_path / "proj"))
    with s.client() as c:
        before = _render_first(s, c)
        _start_slow_job(s, c)
    s.proc.kill()
    s.proc.wait(10)
    for rel, data in before.items():
        assert (s.root / rel).read_bytes() == data, rel
    status = acegit(s.root, "status", "--json")
    assert '"stale"' in status.stdout  # the edited track, with its old snapshot: stale, never falsely fresh
    # The stale server-info file (its process is gone) does not stop a local render nor a new server.
    out = acegit(s.root, "render", "--json")
    assert out.returncode == 0, out.stderr
    assert '"rendered"' in out.stdout


def test_sigterm_cancels_the_running_job_and_exits_cleanly(tmp_path: Path, serve: Callable[..., Server]) -> None:
    root = make_project(tmp_path / "proj")
    s = serve(root)
    info = root / ".acegit" / "serve.json"
    assert stat.S_IMODE(info.stat().st_mode) == 0o600  # it holds the token
    with s.client() as c:
        before = _render_first(s, c)
        job = _start_slow_job(s, c)
        start = time.monotonic()
        s.proc.send_signal(signal.SIGTERM)
        assert s.proc.wait(30) == 0
    assert time.monotonic() - start < 15
    assert not info.exists()
    for rel, data in before.items():
        assert (root / rel).read_bytes() == data, rel
    assert not list((root / "tracks").glob(".*.tmp")) and not list((root / "build").glob(".*.tmp"))
    assert job


def test_non_loopback_bind_needs_a_token(tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj")
    out = acegit(root, "serve", "--host", "0.0.0.0", "--port", "0", timeout=60)
    assert out.returncode == 2
    assert "needs a token" in out.stderr
    assert not (root / ".acegit" / "serve.json").exists()


def test_one_server_per_project(tmp_path: Path, serve: Callable[..., Server]) -> None:
    s = serve(make_project(tmp_path / "proj"))
    out = acegit(s.root, "serve", "--port", "0", timeout=60)
    assert out.returncode == 1 and "already runs" in out.stderr
