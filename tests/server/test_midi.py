"""GET /v1/tracks/{name}/midi on a real `acegit serve`: the .mid `acegit render` wrote, at the working tree or a rev."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pretty_midi
from serverkit import FAST_TRACK, Server, acegit, git, make_project


def test_midi_download_is_what_render_wrote(tmp_path: Path, serve: Callable[..., Server]) -> None:
    root = make_project(tmp_path / "proj", {"song": FAST_TRACK + "\n[audio]\nmidi = true\n"})
    done = acegit(root, "render")
    assert done.returncode == 0, done.stderr
    written = (root / "build" / "song.mid").read_bytes()
    git(root, "add", "-A")
    git(root, "commit", "-qm", "render")
    server = serve(root)
    with server.client() as client:
        for params in ({}, {"rev": "HEAD"}):
            resp = client.get("/v1/tracks/song/midi", params=params)
            assert resp.status_code == 200, resp.text
            assert resp.headers["content-type"] == "audio/midi"
            assert 'filename="song.mid"' in resp.headers["content-disposition"]
            assert resp.content == written
            pm = pretty_midi.PrettyMIDI(io.BytesIO(resp.content))
            assert pm.get_tempo_changes()[1][0] == 80.0  # FAST_TRACK's bpm
        assert client.get("/v1/tracks/nosuch/midi").status_code == 404
        assert client.get("/v1/tracks/song/midi", params={"rev": "no-such-rev"}).status_code in (400, 404)
    with server.client(token=None) as anonymous:
        assert anonymous.get("/v1/tracks/song/midi").status_code == 401
