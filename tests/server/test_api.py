"""The API of a real `acegit serve` over HTTP: status, tracks, render jobs with SSE progress, audio, history, sketch."""

from __future__ import annotations

import concurrent.futures
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from serverkit import FAST_TRACK, TOKEN, Server, acegit, events, git, make_project, start_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for this module's tests (each test leaves the project as it found it, or uses its own tracks)."""
    root = make_project(tmp_path_factory.mktemp("api") / "proj")
    s = start_server(root)
    try:
        yield s
    finally:
        s.stop()
        if s.proc.stdout:
            s.proc.stdout.close()


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


def test_status_is_the_cli_json(server: Server, client: httpx.Client) -> None:
    resp = client.get("/v1/status")
    assert resp.status_code == 200
    cli = json.loads(acegit(server.root, "status", "--json").stdout)
    assert resp.json() == cli
    assert resp.json()["tracks"][0]["name"] == "song"


def test_models_lists_what_a_track_can_name_with_a_distilled_models_settings(client: httpx.Client) -> None:
    answer = client.get("/v1/models").json()
    models = {m["name"]: m for m in answer["models"]}
    assert answer["default"] == "tiny"
    assert models["tiny"] == {"name": "tiny", "steps": None, "sampler": None}
    assert models["tiny-turbo"] == {"name": "tiny-turbo", "steps": 5, "sampler": "euler"}  # its config.json's


def test_openapi_and_docs(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    assert "/v1/status" in spec["paths"] and "/v1/jobs/{job_id}/events" in spec["paths"]
    assert "InlineRender" in spec["components"]["schemas"]
    assert "swagger" in client.get("/docs").text.lower()


def test_write_render_progress_done(server: Server, client: httpx.Client) -> None:
    fields = {"prompt": "bright synth arpeggio", "seed": 42, "duration": 2, "steps": 3, "bpm": 120, "key": "Am"}
    resp = client.put("/v1/tracks/arp", json={"fields": fields})
    assert resp.status_code == 201, resp.text
    track_file = server.root / "tracks" / "arp.toml"
    # Canonical, normalised TOML: what `acegit add` would write for the same fields.
    assert 'key = "A minor"' in track_file.read_text() and resp.json()["toml"] == track_file.read_text()
    assert client.get("/v1/tracks/arp").json()["fields"]["seed"] == 42

    job = client.post("/v1/jobs", json={"tracks": ["arp"]})
    assert job.status_code == 202
    evs = events(client, job.json()["id"])
    kinds = [e["event"] for e in evs]
    assert kinds[0] == "queued" and kinds[-1] == "done"
    steps = [e["step"] for e in evs if e["event"] == "progress"]
    assert steps == [1, 2, 3]
    assert {"event": "track", "name": "arp", "result": "rendered"}.items() <= next(
        e for e in evs if e["event"] == "track"
    ).items()
    result = client.get(f"/v1/jobs/{job.json()['id']}/result").json()["result"]
    assert result["command"] == "render" and result["tracks"][0]["lock"] == "tracks/arp.lock.toml"
    assert (server.root / "tracks" / "arp.lock.toml").is_file() and (server.root / "build" / "arp.wav").is_file()
    status = {t["name"]: t["state"] for t in client.get("/v1/status").json()["tracks"]}
    assert status["arp"] == "fresh"
    # The track's audio, decoded from its snapshot, with byte ranges for a player.
    full = client.get("/v1/tracks/arp/audio")
    assert full.status_code == 200 and full.content[:4] == b"RIFF"
    part = client.get("/v1/tracks/arp/audio", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == full.content[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(full.content)}"
    png = client.get("/v1/tracks/arp/spectrogram.png")
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    # The waveform a player draws: min/max per slice of the same audio.
    peaks = client.get("/v1/tracks/arp/peaks", params={"bins": 50}).json()
    assert len(peaks["min"]) == len(peaks["max"]) == 50 and peaks["duration"] == 2.0
    assert all(-1 <= lo <= hi <= 1 for lo, hi in zip(peaks["min"], peaks["max"], strict=True)) and max(peaks["max"]) > 0
    # Nothing here wrote to Git.
    assert "arp" in git(server.root, "status", "--porcelain") and "arp" not in git(server.root, "log", "--stat")


def test_concurrent_status_while_two_jobs_queue(server: Server) -> None:
    (server.root / "tracks" / "q1.toml").write_text(FAST_TRACK.replace("1234", "11").replace("3\n", "12\n"))
    (server.root / "tracks" / "q2.toml").write_text(FAST_TRACK.replace("1234", "12").replace("3\n", "12\n"))
    with server.client() as c:
        jobs = [c.post("/v1/jobs", json={"tracks": [n], "force": True}).json() for n in ("q1", "q2")]
        assert jobs[1]["state"] == "queued"

        def reader(_: int) -> list[int]:
            with server.client() as mine:
                return [mine.get("/v1/status").status_code for _ in range(5)]

        with concurrent.futures.ThreadPoolExecutor(10) as pool:
            codes = [code for batch in pool.map(reader, range(10)) for code in batch]
        assert codes == [200] * 50
        states = [events(c, j["id"])[-1]["event"] for j in jobs]
        assert states == ["done", "done"]
        listed = {j["id"]: j for j in c.get("/v1/jobs").json()["jobs"]}
        first, second = (listed[j["id"]] for j in jobs)
        assert second["started"] >= first["finished"]  # one job on the device at a time, in order


def test_sketch_and_keep_equal_a_hand_edit(server: Server, client: httpx.Client, tmp_path: Path) -> None:
    track = server.root / "tracks" / "song.toml"
    original = track.read_bytes()
    resp = client.post("/v1/tracks/song/sketch", json={"seeds": [7, 8]})
    assert resp.status_code == 202, resp.text
    evs = events(client, resp.json()["id"])
    assert evs[-1]["event"] == "done"
    result = client.get(f"/v1/jobs/{resp.json()['id']}/result").json()["result"]
    assert [c["seed"] for c in result["candidates"]] == [7, 8]
    assert track.read_bytes() == original  # sketching leaves the track alone
    assert all(c["audio"].startswith(".acegit/sketch/") for c in result["candidates"])
    # Each candidate can be auditioned (the studio's grid): exactly the bytes the scratch render wrote.
    for c in result["candidates"]:
        heard = client.get(f"/v1/tracks/song/sketch/{result['sketch']}/{c['seed']}/audio")
        assert heard.status_code == 200 and heard.content == (server.root / c["audio"]).read_bytes()
    assert client.get(f"/v1/tracks/song/sketch/{result['sketch']}/9/audio").status_code == 404

    kept = client.post("/v1/tracks/song/keep", json={"sketch": result["sketch"], "seed": 8})
    assert kept.status_code == 200, kept.text
    got = {p: (server.root / p).read_bytes() for p in ("tracks/song.toml", "tracks/song.lock.toml", "build/song.wav")}

    # By hand: write seed 8 into the track through the same API, render it with the CLI (no server, no cache).
    hand = make_project(tmp_path / "hand")
    (hand / "tracks" / "song.toml").write_bytes(original)
    fields = json.loads(json.dumps(client.get("/v1/tracks/song").json()["fields"]))
    fields["seed"] = 8
    from acegit.project import load_project
    from acegit.track import dumps_track, parse_track

    p = load_project(hand)
    t = parse_track(fields, "song", hand / "tracks" / "song.toml", p)
    (hand / "tracks" / "song.toml").write_text(dumps_track(t))
    out = acegit(hand, "render", "--no-cache", "--no-server")
    assert out.returncode == 0, out.stderr
    for rel, data in got.items():
        assert (hand / rel).read_bytes() == data, rel
    # The kept candidate is a complete render: the server's project reads fresh.
    status = {t["name"]: t["state"] for t in client.get("/v1/status").json()["tracks"]}
    assert status["song"] == "fresh"
    # A second keep of a sketch made before an edit is refused rather than undoing the edit.
    again = client.post("/v1/tracks/song/keep", json={"sketch": result["sketch"], "seed": 7})
    assert again.status_code == 409 and "changed since" in again.json()["error"]["message"]


def test_history_and_diff_are_the_cli_json(server: Server, client: httpx.Client) -> None:
    log = client.get("/v1/tracks/song/log")
    assert log.status_code == 200
    assert log.json() == json.loads(acegit(server.root, "log", "song", "--json").stdout)
    diff = client.get("/v1/diff", params={"track": ["song"]})
    assert diff.status_code == 200
    assert diff.json() == json.loads(acegit(server.root, "diff", "song", "--json", "--no-audio").stdout)
    assert client.get("/v1/tracks/song/audio", params={"rev": "no-such-rev"}).status_code in (400, 404)


# --- security -----------------------------------------------------------------------------------------------


def test_auth_refusals(server: Server) -> None:
    with server.client(token=None) as anon:
        assert anon.get("/v1/status").status_code == 401
        assert anon.get("/openapi.json").status_code == 401
        assert anon.get("/v1/status", headers={"Authorization": "Bearer wrong"}).status_code == 401
        err = anon.get("/v1/status").json()["error"]
        assert err["status"] == 401 and "token" in err["message"]
    with server.client() as c:
        foreign = c.get("/v1/status", headers={"Host": "evil.example"})
        assert foreign.status_code == 403 and "Host" in foreign.json()["error"]["message"]
        origin = c.put(
            "/v1/tracks/x", json={"fields": {"prompt": "p", "seed": 1}}, headers={"Origin": "http://evil.example"}
        )
        assert origin.status_code == 403 and "Origin" in origin.json()["error"]["message"]
        assert not (server.root / "tracks" / "x.toml").exists()
        same = c.get("/v1/status", headers={"Origin": server.url})
        assert same.status_code == 200 and "access-control-allow-origin" not in same.headers  # CORS closed
        pre = c.options("/v1/jobs", headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"})
        assert "access-control-allow-origin" not in pre.headers


def test_browser_token_becomes_an_httponly_cookie(server: Server) -> None:
    with server.client(token=None, follow_redirects=False) as browser:
        assert browser.get("/?token=wrong").status_code == 401
        resp = browser.get(f"/?token={TOKEN}")
        assert resp.status_code == 303 and resp.headers["location"] == "/"
        cookie = resp.headers["set-cookie"]
        assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower() and TOKEN not in cookie
        assert browser.get("/v1/status").status_code == 200  # the cookie alone now authenticates
        assert "acegit serve" in browser.get("/").text


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "field"),
    [
        ("put", "/v1/tracks/song2", {"fields": {"prompt": "x", "seed": 1, "bpm": 900}}, 422, "bpm"),
        ("put", "/v1/tracks/song2", {"fields": {"prompt": "x", "seed": 1, "tempo": 90}}, 422, "tempo"),
        ("put", "/v1/tracks/song2", {"fields": {"prompt": "x"}}, 422, "seed"),
        ("put", "/v1/tracks/song2", {"fields": {"prompt": "x", "seed": 1}, "extra": 1}, 422, "extra"),
        ("put", "/v1/tracks/song2", {"fields": {"prompt": "x", "seed": 1, "melody": "../../etc/x.mid"}}, 422, "melody"),
        ("put", "/v1/tracks/..%2Fescape", {"fields": {"prompt": "x", "seed": 1}}, 404, None),  # matches no route
        ("put", "/v1/tracks/..escape", {"fields": {"prompt": "x", "seed": 1}}, 422, "name"),
        ("put", "/v1/tracks/UPPER", {"fields": {"prompt": "x", "seed": 1}}, 422, "name"),
        ("get", "/v1/tracks/nope", None, 404, None),
        ("post", "/v1/jobs", {"tracks": ["nope"]}, 404, None),
        ("post", "/v1/jobs", {"tracks": ["../x"]}, 422, "name"),
        ("post", "/v1/jobs", {"tracks": "song"}, 422, "tracks"),
        ("post", "/v1/tracks/song/sketch", {"count": 99}, 422, "count"),
        ("post", "/v1/tracks/song/keep", {"sketch": "../../x", "seed": 1}, 422, "sketch"),
        ("get", "/v1/jobs/nope/events", None, 404, None),
        ("get", "/v1/tracks/song/log?limit=0", None, 422, "limit"),
        ("get", "/v1/tracks/song/peaks?bins=0", None, 422, "bins"),
        ("get", "/v1/tracks/song/sketch/..%2Fx/1/audio", None, 404, None),
        ("get", "/v1/tracks/song/sketch/zzz/1/audio", None, 422, "sketch"),
        ("get", "/v1/tracks/song/sketch/abcdefabcdef/x/audio", None, 422, "seed"),
    ],
)
def test_bad_requests_get_4xx_json(
    client: httpx.Client, method: str, path: str, body: object, status: int, field: str | None
) -> None:
    resp = client.request(method, path, json=body)
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert err["status"] == status and err["message"]
    if field is not None:
        assert err["field"] is not None and field in err["field"], err


def test_malformed_and_oversized_bodies(server: Server, client: httpx.Client) -> None:
    bad = client.put("/v1/tracks/song2", content=b"{not json", headers={"Content-Type": "application/json"})
    assert bad.status_code == 422 and bad.json()["error"]["message"]
    big = client.put("/v1/tracks/song2", content=b"{" + b" " * (300 * 1024) + b"}")
    assert big.status_code == 413 and "body" in big.json()["error"]["field"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"fields": {"prompt": "'
        for _ in range(40):
            yield b"x" * 10_000
        yield b'", "seed": 1}}'

    chunked = client.put("/v1/tracks/song2", content=chunks(), headers={"Content-Type": "application/json"})
    assert chunked.status_code == 413
    assert not (server.root / "tracks" / "song2.toml").exists()
    # An inline render for other weights is refused, naming the model and both hashes.
    body = {
        "model": "tiny",
        "weights": "sha256:" + "0" * 64,
        "request": {
            "prompt": "x", "seed": 1, "duration": 2.0, "bpm": 90.0, "key": "C major", "time_signature": "4/4",
            "steps": 2, "guidance": 4.0, "sampler": "euler",
        },
    }  # fmt: skip
    other = client.post("/v1/render", json=body)
    assert other.status_code == 409
    message = other.json()["error"]["message"]
    assert "'tiny'" in message and "sha256:" + "0" * 64 in message and message.count("sha256:") == 2


def test_an_inline_melody_past_the_midi_limits_is_refused(client: httpx.Client) -> None:
    """The server applies the project's untrusted-content limits (acegit/limits.py) to request bodies too."""
    import base64
    import struct

    from acegit.engine.registry import resolve_model

    notes = b"\x00\x90\x3c\x40\x10\x3c\x00" + b"\x00\x3c\x40\x10\x3c\x00" * 20_000  # 20,001 notes, 117 kB
    track = notes + b"\x00\xff\x2f\x00"
    smf = b"MThd" + struct.pack(">IHHH", 6, 0, 1, 480) + b"MTrk" + struct.pack(">I", len(track)) + track
    body = {
        "model": "tiny",
        "weights": resolve_model("tiny", {}).weights_hash,
        "melody": base64.b64encode(smf).decode(),
        "request": {
            "prompt": "x", "seed": 1, "duration": 2.0, "bpm": 90.0, "key": "C major", "time_signature": "4/4",
            "steps": 2, "guidance": 4.0, "sampler": "euler",
        },
    }  # fmt: skip
    resp = client.post("/v1/render", json=body)
    assert resp.status_code == 422, resp.text
    error = resp.json()["error"]
    assert error["field"] == "melody" and "more than 20,000 notes" in error["message"]


def test_edits_are_appended_and_dropped_as_the_cli_does(server: Server, client: httpx.Client) -> None:
    path = server.root / "tracks" / "song.toml"
    before = path.read_text()
    try:
        r = client.post("/v1/tracks/song/edits", json={"kind": "repaint", "start": 0.5, "end": 1.5, "seed": 4})
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["number"] == 1 and body["edit"] == {"kind": "repaint", "start": 0.5, "end": 1.5, "seed": 4}
        assert body["track"]["resolved"]["edits"][0]["description"] == "repaint 0.5–1.5 s (seed 4)"
        assert 'edits = [\n    { kind = "repaint", start = 0.5, end = 1.5, seed = 4 },\n]\n' in path.read_text()
        states = {t["name"]: t["state"] for t in client.get("/v1/status").json()["tracks"]}
        assert states["song"] == "stale"

        for bad, field in (
            ({"kind": "repaint", "start": 0.5, "end": 9.0, "seed": 1}, "edits[2].end"),
            ({"kind": "paint", "seed": 1}, "kind"),
            ({"kind": "vary", "amount": 0.3, "start": 1.0}, "start"),
            ({"kind": "vary", "amount": "lots"}, None),
        ):
            r = client.post("/v1/tracks/song/edits", json=bad)
            assert 400 <= r.status_code < 500, r.text
            assert r.json()["error"]["message"]
            if field:
                assert r.json()["error"]["field"] == field, r.json()
        assert client.post("/v1/tracks/nothere/edits", json={"kind": "vary", "amount": 0.2}).status_code == 404
        assert client.delete("/v1/tracks/song/edits/3").status_code == 422
        r = client.delete("/v1/tracks/song/edits/1")
        assert r.status_code == 200 and r.json()["edit"]["kind"] == "repaint"
        assert path.read_text() == before
    finally:
        path.write_text(before)
