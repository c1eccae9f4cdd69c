"""The server path renders the same bits as the CLI: through a server job, `render --remote` and daemon use."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

from cliprobe import probe
from serverkit import FAST_TRACK, TOKEN, Server, acegit, make_project, run_job

OUTPUTS = ("tracks/song.lock.toml", "build/song.wav")


def _outputs(root: Path) -> dict[str, bytes]:
    return {rel: (root / rel).read_bytes() for rel in OUTPUTS}


def _clear(root: Path) -> None:
    for rel in OUTPUTS:
        (root / rel).unlink(missing_ok=True)
    shutil.rmtree(root / ".acegit" / "cache", ignore_errors=True)


def test_cli_server_and_remote_write_identical_files(tmp_path: Path, serve: Callable[..., Server]) -> None:
    server_root = make_project(tmp_path / "server")
    client_root = make_project(tmp_path / "client")

    out = acegit(client_root, "render", "--no-cache", "--no-server")
    assert out.returncode == 0, out.stderr
    by_cli = _outputs(client_root)

    s = serve(server_root)
    with s.client() as c:
        result = run_job(c, "/v1/jobs", {"tracks": ["song"], "cache": False})
    assert result["tracks"][0]["result"] == "rendered"
    assert _outputs(server_root) == by_cli

    _clear(client_root)
    out = acegit(client_root, "render", "--remote", s.url, "--no-cache", "--json", ACEGIT_TOKEN=TOKEN)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["tracks"][0]["result"] == "rendered"
    assert _outputs(client_root) == by_cli
    # The remote render also filled the client's render cache, as a local one does.
    _clear(client_root)
    out = acegit(client_root, "render", "--remote", s.url, "--json", ACEGIT_TOKEN=TOKEN)
    assert out.returncode == 0, out.stderr
    out = acegit(client_root, "render", "--force", "--json", "--no-server")
    assert [t["result"] for t in json.loads(out.stdout)["tracks"]] == ["cached"]
    assert _outputs(client_root) == by_cli
    # `render --check` of the remotely rendered lock, here on the same device class, is exact.
    check = acegit(client_root, "render", "--check", "--json", "--no-server")
    assert check.returncode == 0 and json.loads(check.stdout)["tracks"][0]["verdict"] == "exact"
    # The project may name its server in acegit.toml ([remote] url; the token stays in the environment).
    _clear(client_root)
    toml = client_root / "acegit.toml"
    toml.write_text(toml.read_text(encoding="utf-8") + f'\n[remote]\nurl = "{s.url}"\n', encoding="utf-8")
    out = acegit(client_root, "render", "--no-cache", "--json", ACEGIT_TOKEN=TOKEN)
    assert out.returncode == 0, out.stderr
    assert _outputs(client_root) == by_cli
    s.stop()
    _clear(client_root)  # --no-server renders here although [remote] names a server (now stopped)
    out = acegit(client_root, "render", "--no-cache", "--json", "--no-server")
    assert out.returncode == 0, out.stderr
    assert _outputs(client_root) == by_cli


def test_same_bits_twice_in_one_server_and_across_two(tmp_path: Path, serve: Callable[..., Server]) -> None:
    root = make_project(tmp_path / "proj", {"song": FAST_TRACK.replace("duration = 2.0", "duration = 3.0")})
    runs = []
    for _ in range(2):
        s = serve(root)
        with s.client() as c:
            for _ in range(2):
                _clear(root)
                run_job(c, "/v1/jobs", {"tracks": ["song"], "cache": False})
                runs.append(_outputs(root))
        assert s.stop() == 0
    assert all(r == runs[0] for r in runs[1:])


def test_daemon_use_renders_through_the_running_server(tmp_path: Path, serve: Callable[..., Server]) -> None:
    from serverkit import env

    root = make_project(tmp_path / "proj")
    s = serve(root)
    result = probe(root, "render", "--no-cache", "--json", modules=("torch",), env=env(), timeout=120)
    assert result.code in (0, None) and result.loaded == [], result.stderr  # the client side never imports torch
    with s.client() as c:
        jobs = c.get("/v1/jobs").json()["jobs"]
    assert [j["kind"] for j in jobs] == ["inline"]  # sampled by the server
    by_daemon = _outputs(root)

    _clear(root)
    out = acegit(root, "render", "--no-cache", "--no-server")
    assert out.returncode == 0, out.stderr
    assert _outputs(root) == by_daemon
    with s.client() as c:
        assert len(c.get("/v1/jobs").json()["jobs"]) == 1  # --no-server rendered here
    # A stopped server is not used: its info file is gone.
    assert s.stop() == 0
    assert not (root / ".acegit" / "serve.json").exists()
    _clear(root)
    assert acegit(root, "render", "--no-cache").returncode == 0
    assert _outputs(root) == by_daemon


EDITED = FAST_TRACK + (
    'edits = [\n    { kind = "repaint", start = 0.5, end = 1.5, seed = 5 },\n'
    '    { kind = "extend", seconds = 1.0, seed = 6 },\n]\n'
)


def test_an_edited_track_renders_the_same_bits_locally_in_a_server_job_and_remotely(
    tmp_path: Path, serve: Callable[..., Server]
) -> None:
    server_root = make_project(tmp_path / "server", {"song": EDITED})
    client_root = make_project(tmp_path / "client", {"song": EDITED})
    out = acegit(client_root, "render", "--no-cache", "--no-server")
    assert out.returncode == 0, out.stderr
    by_cli = _outputs(client_root)
    s = serve(server_root)
    with s.client() as c:
        run_job(c, "/v1/jobs", {"tracks": ["song"], "cache": False})
    assert _outputs(server_root) == by_cli
    _clear(client_root)
    out = acegit(client_root, "render", "--remote", s.url, "--no-cache", ACEGIT_TOKEN=TOKEN)
    assert out.returncode == 0, out.stderr
    assert _outputs(client_root) == by_cli
    check = acegit(client_root, "render", "--check", "--json", "--no-server")
    assert check.returncode == 0 and json.loads(check.stdout)["tracks"][0]["verdict"] == "exact"
