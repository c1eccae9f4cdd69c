"""The render cache shared through a remote (acegit/remotecache.py), against a real S3 API server started here (moto's
server mode, through s3fs), with real renders of the built-in tiny model (2-s tracks, 3 steps)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from acegit.errors import InputError
from acegit.project import PROJECT_FILE, Project, load_project, parse_project
from acegit.remotecache import (
    MARKER,
    READ_ONLY_ENV,
    REMOTE_ENV,
    RemoteRefused,
    RemoteStore,
    SharedCache,
    open_cache,
)

if os.environ.get("CI"):  # CI installs them (the `test` extra): there a missing one fails, never skips
    import boto3
    import moto.moto_server.threaded_moto_server as moto_server
    import s3fs  # noqa: F401
else:
    moto_server = pytest.importorskip("moto.moto_server.threaded_moto_server", reason="the `test` extra installs moto")
    pytest.importorskip("s3fs", reason="the `test` extra installs s3fs")
    boto3 = pytest.importorskip("boto3")

BUCKET = "acegit-team"
TRACKS = {
    "song": 'prompt = "calm piano in A minor"\nseed = 1234\nduration = 2.0\nbpm = 80\nkey = "A minor"\nsteps = 3\n',
    "drone": 'prompt = "dark ambient drone"\nseed = 77\nduration = 2.0\nbpm = 60\nkey = "D minor"\nsteps = 3\n',
}
GIT_ENV = {
    "GIT_AUTHOR_NAME": "acegit tests",
    "GIT_COMMITTER_NAME": "acegit tests",
    "GIT_AUTHOR_EMAIL": "tests@acegit.invalid",
    "GIT_COMMITTER_EMAIL": "tests@acegit.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}
AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def _env(**extra: str) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith(("ACEGIT_", "AWS_"))}
    return {**out, **GIT_ENV, **AWS_ENV, "COLUMNS": "200", "NO_COLOR": "1", **extra}


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, env=_env(), check=True, capture_output=True)


def _acegit(root: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "acegit", *args],
        cwd=root,
        env=_env(**extra),
        capture_output=True,
        text=True,
        timeout=300,
    )


def _cache_toml(endpoint: str, prefix: str) -> str:
    # Short timeouts and no retries: a dead server is given up on in seconds (docs/scale.md shows the same table).
    return (
        f'\n[cache]\nremote = "s3://{BUCKET}/{prefix}"\n\n[cache.storage_options]\nendpoint_url = "{endpoint}"\n'
        "\n[cache.storage_options.config_kwargs]\nconnect_timeout = 2\nread_timeout = 10\n\n"
        "[cache.storage_options.config_kwargs.retries]\nmax_attempts = 1\n"
    )


def _set_remote(root: Path, endpoint: str, prefix: str) -> Project:
    """Point a clone's acegit.toml at `prefix` on `endpoint` (in place of the [cache] it has)."""
    text = (root / PROJECT_FILE).read_text(encoding="utf-8")
    text = text.split("\n[cache]\n")[0] + _cache_toml(endpoint, prefix)
    (root / PROJECT_FILE).write_text(text, encoding="utf-8")
    return load_project(root)


@pytest.fixture(scope="module")
def s3() -> Iterator[dict[str, Any]]:
    """A moto S3 server on 127.0.0.1 with one bucket; its URL and a boto3 client to look at it directly."""
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    os.environ.update(AWS_ENV)  # boto3 and in-process s3fs; subprocesses get them from _env
    client = boto3.client("s3", endpoint_url=url, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    try:
        yield {"url": url, "client": client}
    finally:
        server.stop()


@pytest.fixture(scope="module")
def models() -> Any:
    """One warm tiny engine for every in-process render of this module."""
    from acegit.snapshots import Models

    return Models(Project(Path("/"), "shared"), "cpu")


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory, s3: dict[str, Any]) -> Path:
    """A committed project rendered once (through the CLI), its renders uploaded under s3://bucket/seed/."""
    from acegit.scaffold import new_project

    root = tmp_path_factory.mktemp("origin") / "proj"
    new_project(root)
    (root / "tracks" / "example.toml").unlink()
    for name, text in TRACKS.items():
        (root / "tracks" / f"{name}.toml").write_text(text, encoding="utf-8")
    _set_remote(root, s3["url"], "seed")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "tracks")
    done = _acegit(root, "render", "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert [t["result"] for t in doc["tracks"]] == ["rendered", "rendered"]
    remote = doc["cache_remote"]
    assert remote["uploaded"] == 2 and remote["unavailable"] is None, json.dumps(remote)
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "render")
    return root


def _copy_prefix(s3: dict[str, Any], src: str, dst: str) -> None:
    client = s3["client"]
    for obj in client.list_objects_v2(Bucket=BUCKET, Prefix=f"{src}/").get("Contents", []):
        client.copy_object(
            Bucket=BUCKET, Key=dst + obj["Key"][len(src) :], CopySource={"Bucket": BUCKET, "Key": obj["Key"]}
        )


def _keys(s3: dict[str, Any], prefix: str) -> list[str]:
    return sorted(
        o["Key"] for o in s3["client"].list_objects_v2(Bucket=BUCKET, Prefix=f"{prefix}/").get("Contents", [])
    )


def _clone(origin: Path, dest: Path, s3: dict[str, Any], prefix: str) -> Project:
    subprocess.run(["git", "clone", "-q", str(origin), str(dest)], env=_env(), check=True, capture_output=True)
    return _set_remote(dest, s3["url"], prefix)


def test_two_clones_share_the_cache(origin: Path, s3: dict[str, Any], tmp_path: Path) -> None:
    """A second clone renders nothing: with the committed locks (no torch: the pinned entries) and without them."""
    _copy_prefix(s3, "seed", "shared")
    clone = _clone(origin, tmp_path / "b", s3, "shared")
    done = _acegit(clone.root, "render", "--all", "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert [t["result"] for t in doc["tracks"]] == ["cached", "cached"]
    assert doc["cache_remote"]["downloaded"] == 2 and doc["cache_remote"]["uploaded"] == 0
    for name in TRACKS:
        assert (clone.build_dir / f"{name}.wav").read_bytes() == (origin / "build" / f"{name}.wav").read_bytes()
        assert (clone.tracks_dir / f"{name}.lock.toml").read_bytes() == (
            origin / "tracks" / f"{name}.lock.toml"
        ).read_bytes()

    # A clone whose tracks have no snapshot yet looks the renders up under this machine's environment.
    bare = _clone(origin, tmp_path / "c", s3, "shared")
    for name in TRACKS:
        (bare.tracks_dir / f"{name}.lock.toml").unlink()
    done = _acegit(bare.root, "render", "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert [t["result"] for t in doc["tracks"]] == ["cached", "cached"]
    assert doc["cache_remote"]["downloaded"] == 2
    for name in TRACKS:
        assert (bare.tracks_dir / f"{name}.lock.toml").read_bytes() == (
            origin / "tracks" / f"{name}.lock.toml"
        ).read_bytes()


def _entry_objects(s3: dict[str, Any], prefix: str, track: str) -> dict[str, str]:
    """The remote objects of a track's entry, as its commit marker names them (marker, snapshot, audio)."""
    client = s3["client"]
    for key in _keys(s3, prefix):
        if key.endswith(MARKER):
            marker = json.loads(client.get_object(Bucket=BUCKET, Key=key)["Body"].read())
            if marker["track"] == track:
                folder, files = key.rsplit("/", 1)[0], marker["files"]
                return {
                    "marker": key,
                    "snapshot": f"{folder}/snapshot-{files['snapshot.lock.toml']['sha256']}.lock.toml",
                    "audio": f"{folder}/audio-{files['audio.wav']['sha256']}.wav",
                }
    raise AssertionError(f"no entry of {track} under {prefix}")


def test_an_object_corrupted_on_the_server_is_refused_and_rendered_again(
    origin: Path,
    s3: dict[str, Any],
    tmp_path: Path,
    models: Any,
    cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from acegit.render import render_tracks, select_tracks

    _copy_prefix(s3, "seed", "corrupt")
    song = _entry_objects(s3, "corrupt", "song")
    client = s3["client"]
    good = client.get_object(Bucket=BUCKET, Key=song["audio"])["Body"].read()
    client.put_object(Bucket=BUCKET, Key=song["audio"], Body=good[: len(good) // 2])  # truncated on the server

    clone = _clone(origin, tmp_path / "b", s3, "corrupt")
    monkeypatch.chdir(clone.root)
    pulled = cli("cache", "pull", "--json")
    assert pulled.exit_code == 1
    assert "corrupt or truncated" in pulled.output and song["audio"] in pulled.output
    assert json.loads(pulled.output[: pulled.output.rindex("}") + 1])["copied"] == 1  # drone's entry is fine

    cache = open_cache(clone)
    assert isinstance(cache, SharedCache)
    outcomes = render_tracks(clone, select_tracks(clone), force=True, models=models, cache=cache)
    assert {o.name: o.action for o in outcomes} == {"drone": "cached", "song": "rendered"}
    assert len(cache.report.refused) == 1 and "corrupt or truncated" in cache.report.refused[0]
    assert cache.report.uploaded == 1  # the re-render published a good entry in place of the damaged one
    assert (clone.tracks_dir / "song.lock.toml").read_bytes() == (origin / "tracks" / "song.lock.toml").read_bytes()
    import io

    import soundfile as sf

    # Float WAVs carry libsndfile's PEAK chunk, with a time stamp: the same samples, other bytes, so another name.
    healed = _entry_objects(s3, "corrupt", "song")
    mine = sf.read(io.BytesIO(client.get_object(Bucket=BUCKET, Key=healed["audio"])["Body"].read()))[0]
    assert (mine == sf.read(io.BytesIO(good))[0]).all()
    assert RemoteStore(f"s3://{BUCKET}/corrupt", {"endpoint_url": s3["url"]}).fetch(_song_key(clone)) is not None


class _CuttingProxy:
    """A TCP proxy in front of the S3 server that dies (drops every connection, refuses new ones) once one connection
    has carried `cut_after` bytes from the client: the server killed mid-upload, as the client sees it, while the
    server's own state stays there to be inspected."""

    def __init__(self, port: int, cut_after: int) -> None:
        self.port, self.cut_after = port, cut_after
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.dead = threading.Event()
        self.socks: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.dead.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.port))
            self.socks += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, upload: bool) -> None:
        sent = 0
        try:
            while data := src.recv(16384):
                if upload and sent + len(data) > self.cut_after:
                    dst.sendall(data[: self.cut_after - sent])  # part of the body reaches the server, then it dies
                    self.die()
                    return
                sent += len(data)
                dst.sendall(data)
        except OSError:
            pass

    def die(self) -> None:
        self.dead.set()
        self.listener.close()
        for s in self.socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()


def test_a_server_killed_mid_upload_leaves_no_visible_entry(
    origin: Path, s3: dict[str, Any], tmp_path: Path, models: Any
) -> None:
    from acegit.render import render_tracks, select_tracks

    port = int(s3["url"].rsplit(":", 1)[1])
    proxy = _CuttingProxy(port, cut_after=64 << 10)  # past the snapshot (8 kB), inside the audio (176 kB)
    clone = _clone(origin, tmp_path / "b", s3, "killed")
    clone = _set_remote(clone.root, proxy.url, "killed")
    cache = open_cache(clone)
    assert isinstance(cache, SharedCache)
    outcomes = render_tracks(clone, select_tracks(clone, ["song"]), force=True, models=models, cache=cache)
    assert [o.action for o in outcomes] == ["rendered"]  # the render itself is whole, here
    assert proxy.dead.is_set() and cache.report.uploaded == 0 and cache.report.unavailable
    assert "warning" not in cache.report.unavailable and cache.report.warnings()

    left = _keys(s3, "killed")
    assert not any(k.endswith(MARKER) for k in left), left  # no commit marker: no entry
    assert all("/audio-" not in k for k in left if "/tmp/" not in k), left  # the cut object never got its name
    direct = _set_remote(clone.root, s3["url"], "killed")
    from acegit.remotecache import stats

    remote = stats(direct)["remote"]
    assert isinstance(remote, dict) and remote["entries"] == 0
    key = _song_key(clone)
    assert RemoteStore(f"s3://{BUCKET}/killed", {"endpoint_url": s3["url"]}).fetch(key) is None


def _song_key(project: Project) -> str:
    from acegit.remotecache import pinned_keys

    return pinned_keys(project, ["song"])["song"]


def test_the_read_only_switch_writes_nothing(
    origin: Path,
    s3: dict[str, Any],
    tmp_path: Path,
    models: Any,
    cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from acegit.render import render_tracks, select_tracks

    clone = _clone(origin, tmp_path / "b", s3, "readonly")
    for how in ("env", "config"):
        if how == "env":
            monkeypatch.setenv(READ_ONLY_ENV, "1")
            project = clone
        else:
            monkeypatch.delenv(READ_ONLY_ENV)
            path = clone.root / PROJECT_FILE
            path.write_text(path.read_text().replace("\n[cache]\n", "\n[cache]\nread_only = true\n"))
            project = load_project(clone.root)
        cache = open_cache(project)
        assert isinstance(cache, SharedCache) and cache.remote.read_only
        outcomes = render_tracks(project, select_tracks(project, ["song"]), force=True, models=models, cache=cache)
        assert [o.action for o in outcomes] == ["rendered"] and cache.report.uploaded == 0
        assert _keys(s3, "readonly") == []
        (project.cache_dir).rename(project.root / f"old-cache-{how}")  # the next round renders again

    monkeypatch.chdir(clone.root)
    path = clone.root / PROJECT_FILE
    path.write_text(path.read_text().replace("read_only = true\n", ""))
    refused = cli("cache", "push")
    assert refused.exit_code == 0  # writable again: push works (nothing is in the local cache)
    monkeypatch.setenv(READ_ONLY_ENV, "1")
    refused = cli("cache", "push")
    assert refused.exit_code == 1 and "read-only" in refused.output
    assert _keys(s3, "readonly") == []


def test_the_cli_flag_is_read_only_too(origin: Path, s3: dict[str, Any], tmp_path: Path) -> None:
    """`render --cache-read-only` through the real command: a stale track renders, the bucket stays empty."""
    clone = _clone(origin, tmp_path / "b", s3, "flag")
    (clone.tracks_dir / "drone.toml").unlink()
    (clone.tracks_dir / "drone.lock.toml").unlink()
    (clone.tracks_dir / "song.lock.toml").unlink()
    done = _acegit(clone.root, "render", "--cache-read-only", "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["cache_remote"]["read_only"] is True and doc["cache_remote"]["uploaded"] == 0
    assert [t["result"] for t in doc["tracks"]] == ["rendered"]
    assert _keys(s3, "flag") == []


# --- the store on its own (fsspec's memory and local file systems: no server needed) -----------------------------


def _entry(project: Project, cache_render: Callable[..., Path]) -> tuple[str, bytes, bytes]:
    from acegit.cache import RenderCache
    from acegit.remotecache import pinned_keys

    cache_render(project, "example")
    key = pinned_keys(project)["example"]
    entry = RenderCache(project.cache_dir).get(key)
    assert entry is not None
    return key, entry.snapshot.read_bytes(), entry.audio.read_bytes()


def test_two_writers_of_one_key_are_harmless(
    project: Project, cache_render: Callable[..., Path], tmp_path: Path
) -> None:
    key, snapshot, audio = _entry(project, cache_render)
    url = f"file://{tmp_path / 'remote'}"
    threads = [threading.Thread(target=RemoteStore(url).publish, args=(key, snapshot, audio)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert RemoteStore(url).fetch(key) == (snapshot, audio)
    assert not list((tmp_path / "remote" / "v1" / "tmp").glob("*/*"))  # every temporary upload was moved away


def test_a_store_refuses_what_does_not_verify(
    project: Project, cache_render: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from acegit import limits

    key, snapshot, audio = _entry(project, cache_render)
    root = tmp_path / "remote"
    store = RemoteStore(f"file://{root}")
    store.publish(key, snapshot, audio)
    folder = root / "v1" / key[:2] / key
    marker = json.loads((folder / MARKER).read_text())

    def refused(match: str) -> None:
        with pytest.raises(RemoteRefused, match=match):
            RemoteStore(f"file://{root}").fetch(key)

    # A marker that declares more than the limit is refused before anything is downloaded.
    big = {**marker, "files": {**marker["files"], "audio.wav": {**marker["files"]["audio.wav"], "size": 1 << 40}}}
    (folder / MARKER).write_text(json.dumps(big))
    refused("past the limit")
    # A marker that is not one, or names another key.
    (folder / MARKER).write_text(json.dumps({**marker, "key": "0" * 64}))
    refused("not a commit marker")
    (folder / MARKER).write_text("{" * 5000)
    refused("larger than acegit's limit")
    # Files that hash right but are not the key's render: a snapshot of another input, its marker forged to match.
    i = snapshot.index(b'fingerprint = "sha256:') + len(b'fingerprint = "sha256:')
    wrong = snapshot[:i] + b"0" * 64 + snapshot[i + 64 :]
    wrong_hash = hashlib.sha256(wrong).hexdigest()
    (folder / f"snapshot-{wrong_hash}.lock.toml").write_bytes(wrong)
    forged = {**marker, "files": {**marker["files"], "snapshot.lock.toml": {"sha256": wrong_hash, "size": len(wrong)}}}
    (folder / MARKER).write_text(json.dumps(forged))
    refused("another input or environment")
    # An object changed after its marker was written: refused by its hash.
    (folder / MARKER).write_text(json.dumps(marker))
    audio_file = next(folder.glob("audio-*.wav"))
    audio_file.write_bytes(audio[:-1] + bytes([audio[-1] ^ 1]))
    refused("corrupt or truncated")
    audio_file.write_bytes(audio)
    assert RemoteStore(f"file://{root}").fetch(key) == (snapshot, audio)
    # The audio is capped while it is read, whatever the marker says.
    (root / "v1" / key[:2] / key / MARKER).write_text(json.dumps(marker))
    monkeypatch.setattr(limits, "MAX_CACHE_AUDIO_BYTES", len(audio) - 1)
    refused("past the limit")


def test_credentials_in_acegit_toml_are_refused(tmp_path: Path) -> None:
    for option in ("secret", "key", "aws_secret_access_key", "password", "client_kwargs.token"):
        table, _, name = option.rpartition(".")
        section = "[cache.storage_options" + (f".{table}" if table else "") + "]"
        data = {"cache": {"remote": "s3://b/p", "storage_options": {}}}
        target = data["cache"]["storage_options"]
        if table:
            target[table] = {}
            target = target[table]
        target[name] = "hunter2"
        with pytest.raises(InputError, match="credentials never live in acegit.toml") as e:
            parse_project(data, tmp_path)
        assert e.value.field == f"cache.storage_options.{option}", section
    ok = parse_project(
        {"cache": {"remote": "s3://b/p", "storage_options": {"endpoint_url": "http://x", "anon": True}}}, tmp_path
    )
    assert ok.cache.remote == "s3://b/p" and ok.cache.storage_options["anon"] is True
    with pytest.raises(InputError, match="cache.remote"):
        parse_project({"cache": {"remote": "bucket/prefix"}}, tmp_path)


def test_the_environment_names_or_disables_the_remote(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    from acegit.errors import UsageError
    from acegit.remotecache import remote_store

    assert remote_store(project) is None
    monkeypatch.setenv(REMOTE_ENV, "memory://team")
    store = remote_store(project)
    assert store is not None and store.url == "memory://team" and not store.read_only
    monkeypatch.setenv(READ_ONLY_ENV, "true")
    assert remote_store(project).read_only  # type: ignore[union-attr]
    monkeypatch.setenv(READ_ONLY_ENV, "maybe")
    with pytest.raises(UsageError, match=READ_ONLY_ENV):
        remote_store(project)
    monkeypatch.setenv(REMOTE_ENV, "off")
    assert remote_store(project) is None
