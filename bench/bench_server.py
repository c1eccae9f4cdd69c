"""A warm 30-s render through `acegit serve` against a cold `acegit render --no-cache`, interleaved in one run;
and `GET /v1/status` of a 1000-track project over HTTP against `acegit status --json`.

Usage: python bench/bench_server.py [--runs 5] [--tracks 1000]
Prints markdown tables (median, min, max wall seconds; ratio of the medians); asserts nothing. Each round runs, in
this order: the cold CLI render (`--no-server`: import torch, load model and text encoder, sample, decode, write);
the same command with the server running (daemon use: the client process starts, the server samples warm); and the
render as an API job (`POST /v1/jobs`, following its events until done: no client process start at all).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from acegit.scaffold import new_project

TOKEN = "bench-token"
TRACK = 'prompt = "calm solo piano in A minor"\nseed = 1234\nduration = 30.0\nbpm = 80\nkey = "A minor"\n'


def acegit(root: Path, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACEGIT_")}
    subprocess.run([sys.executable, "-m", "acegit", *args], cwd=root, env=env, check=True, capture_output=True)


def start(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    info = root / ".acegit" / "serve.json"
    info.unlink(missing_ok=True)
    env = {**os.environ, "ACEGIT_TOKEN": TOKEN}
    proc = subprocess.Popen(
        [sys.executable, "-m", "acegit", "serve", "--port", "0", "--device", "cpu"],
        cwd=root, env=env, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    while not info.exists():
        assert proc.poll() is None, "acegit serve exited"
        time.sleep(0.05)
    return proc, json.loads(info.read_text())["url"]


def request(url: str, method: str = "GET", body: object = None) -> object:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Authorization": f"Bearer {TOKEN}"})
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=600) as resp:
        return json.loads(resp.read())


def api_render(url: str) -> None:
    job = request(f"{url}/v1/jobs", "POST", {"tracks": ["song"], "force": True, "cache": False})
    assert isinstance(job, dict)
    req = urllib.request.Request(f"{url}/v1/jobs/{job['id']}/events", headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(req, timeout=600) as resp:
        for line in resp:
            if line.startswith(b"data: ") and json.loads(line[6:])["event"] in ("done", "failed", "cancelled"):
                assert json.loads(line[6:])["event"] == "done"
                return


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def row(name: str, xs: list[float]) -> str:
    return f"| {name} | {statistics.median(xs):.2f} | {min(xs):.2f} | {max(xs):.2f} |"


def bench_render(tmp: Path, runs: int) -> None:
    root = tmp / "render"
    new_project(root)
    (root / "tracks" / "example.toml").unlink()
    (root / "tracks" / "song.toml").write_text(TRACK)
    acegit(root, "render", "--no-cache", "--no-server")  # page in the files once
    proc, url = start(root)
    try:
        request(f"{url}/v1/models/tiny")  # wait for the warm-up
        api_render(url)
        cold, daemon, api = [], [], []
        for _ in range(runs):
            cold.append(timed(lambda: acegit(root, "render", "--force", "--no-cache", "--no-server")))
            daemon.append(timed(lambda: acegit(root, "render", "--force", "--no-cache")))
            api.append(timed(lambda: api_render(url)))
    finally:
        proc.terminate()
        proc.wait(30)
    print(f"30-s track, `tiny`, 20 steps, CPU, {runs} interleaved rounds\n")
    print("| path | median s | min s | max s |\n| --- | --- | --- | --- |")
    print(row("cold `acegit render --force --no-cache --no-server`", cold))
    print(row("`acegit render --force --no-cache` with `acegit serve` running (daemon use)", daemon))
    print(row("`POST /v1/jobs` + events until done (warm server, no client start)", api))
    c, d, a = (statistics.median(xs) for xs in (cold, daemon, api))
    print(f"\nratio cold / daemon use: {c / d:.2f}x; cold / API job: {c / a:.2f}x")


def bench_status(tmp: Path, tracks: int, runs: int) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_cli import make_project  # the same 1000-track project as the CLI benchmark

    root = tmp / "status"
    make_project(root, tracks, 323)
    acegit(root, "status", "--json")  # warm the stat cache, as both paths then read it
    proc, url = start(root)
    try:
        request(f"{url}/v1/status")
        cli, http = [], []
        for _ in range(runs):
            cli.append(timed(lambda: acegit(root, "status", "--json")))
            http.append(timed(lambda: request(f"{url}/v1/status")))
    finally:
        proc.terminate()
        proc.wait(30)
    print(f"\nstatus of {tracks} fresh tracks, {runs} interleaved rounds\n")
    print("| path | median s | min s | max s |\n| --- | --- | --- | --- |")
    print(row("`acegit status --json` (process start + stat cache)", cli))
    print(row("`GET /v1/status` (warm server)", http))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--tracks", type=int, default=1000)
    args = ap.parse_args()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}\n")
    with tempfile.TemporaryDirectory() as tmp:
        bench_render(Path(tmp), args.runs)
        bench_status(Path(tmp), args.tracks, max(args.runs, 11))


if __name__ == "__main__":
    main()
