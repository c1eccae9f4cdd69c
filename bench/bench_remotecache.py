"""Time one shared-render-cache entry of a 30-s track going up (publish) and down (fetch + verify) per back-end.

Usage: python bench/bench_remotecache.py [--seconds 30] [--runs 7]
The entry is what `acegit render` caches for a 30-s built-in render: its lock (a random (8, 16, 323) latent) and a
44.1 kHz mono float WAV. Back-ends: file:// (a local folder) and s3:// against moto's S3 server on 127.0.0.1 (through
s3fs), interleaved run by run. Prints a markdown table (median, min, max wall time); asserts nothing.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import soundfile as sf

from acegit.cache import cache_key
from acegit.lockfile import AudioStats, Lock, LockEnvironment, LockInput, dumps_lock, encode_latent
from acegit.remotecache import RemoteStore


def entry(seconds: float) -> tuple[str, bytes, bytes]:
    rng = np.random.default_rng(0)
    sr = 44100
    wave = (0.1 * rng.standard_normal(round(seconds * sr))).astype(np.float32)
    latent = rng.standard_normal((8, 16, round(seconds * 10.77))).astype(np.float32)
    env = LockEnvironment.make("cpu:x86-64-avx2", "2.13.0+cpu", "float32", True)
    lin = LockInput("sha256:" + "1" * 64, "sha256:" + "2" * 64, "tiny", "sha256:" + "3" * 64, 3)
    lock = Lock("bench", lin, env, encode_latent(latent), AudioStats.of(wave, sr))
    buf = io.BytesIO()
    sf.write(buf, wave, sr, format="WAV", subtype="FLOAT")
    return cache_key(lin.fingerprint, env.fingerprint), dumps_lock(lock).encode(), buf.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    import boto3
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="bench")
    key, snapshot, audio = entry(args.seconds)
    times: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.runs + 1):  # the first round warms connections and imports; not counted
            for name, url, opts in (
                ("file://", f"file://{Path(tmp) / uuid.uuid4().hex}", {}),
                ("s3:// (moto)", f"s3://bench/{uuid.uuid4().hex}", {"endpoint_url": endpoint}),
            ):
                store = RemoteStore(url, opts)
                t0 = time.perf_counter()
                store.publish(key, snapshot, audio)
                t1 = time.perf_counter()
                got = RemoteStore(url, opts).fetch(key)
                t2 = time.perf_counter()
                assert got == (snapshot, audio)
                if run:
                    times.setdefault(name, {"up": [], "down": []})
                    times[name]["up"].append(t1 - t0)
                    times[name]["down"].append(t2 - t1)
    server.stop()
    mb = (len(snapshot) + len(audio)) / 1e6
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; entry {mb:.2f} MB "
          f"(lock {len(snapshot) / 1e3:.0f} kB + audio {len(audio) / 1e6:.2f} MB), {args.runs} runs\n")  # fmt: skip
    print("| back-end | publish median (min–max) | fetch + verify median (min–max) |")
    print("| --- | --- | --- |")
    for name, t in times.items():
        cells = [f"{statistics.median(v) * 1e3:.0f} ms ({min(v) * 1e3:.0f}–{max(v) * 1e3:.0f})" for v in t.values()]
        print(f"| {name} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    main()
