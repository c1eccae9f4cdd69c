"""Edits through `acegit render`, `render --check`, `diff --json` and `log`: a repaint's diff shows its range and
nothing else, an extend keeps every original frame, and the commits name their edits."""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
from test_diff import commit, dproject  # noqa: F401  (fixture)
from typer.testing import Result

from acegit.engine import editing
from acegit.lockfile import decode_latent, read_lock
from acegit.project import Project

TRACK = 'prompt = "epic boss"\nseed = 3\nduration = 8.0\nsteps = 2\n'


def _latent(p: Project) -> np.ndarray:
    return decode_latent(read_lock(p.tracks_dir / "boss.lock.toml"))


def test_repaint_and_extend_render_check_diff_and_log(dproject: Project, cli: Callable[..., Result]) -> None:  # noqa: F811
    p = dproject
    (p.tracks_dir / "boss.toml").write_text(TRACK, encoding="utf-8")
    assert cli("render").exit_code == 0
    before = _latent(p)
    commit(p.root, "boss")

    assert cli("edit", "repaint", "boss", "3", "5", "--seed", "5").exit_code == 0
    assert "stale    boss  (source changed)" in cli("status").output
    r = cli("render", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["tracks"][0]["result"] == "rendered", r.output
    after = _latent(p)
    lo, hi = editing.range_frames(3.0, 5.0, before.shape[-1], 10.7666)
    assert np.array_equal(after[..., :lo], before[..., :lo]) and np.array_equal(after[..., hi:], before[..., hi:])
    assert not np.array_equal(after[..., lo:hi], before[..., lo:hi])
    check = cli("render", "--check", "--json")
    assert check.exit_code == 0 and json.loads(check.stdout)["tracks"][0]["verdict"] == "exact"

    diff = json.loads(cli("diff", "HEAD", "boss", "--json", "--no-audio").stdout)["tracks"][0]
    assert diff["params"] == [{"field": "edits", "old": [], "new": ["repaint 3–5 s (seed 5)"]}]
    assert diff["latent"]["changed_seconds"] == [[3, 5]]
    assert all(x == 0 for i, x in enumerate(diff["latent"]["per_second"]) if not 3 <= i < 5)
    assert diff["verdict"] == "changed seconds 3–5"
    text = cli("diff", "HEAD", "boss", "--no-audio").stdout
    assert "edits" in text and "+ repaint 3–5 s (seed 5)" in text
    commit(p.root, "repaint the middle")

    assert cli("edit", "extend", "boss", "--seconds", "2", "--seed", "6").exit_code == 0
    assert cli("render").exit_code == 0
    extended = _latent(p)
    assert extended.shape[-1] > after.shape[-1] and np.array_equal(extended[..., : after.shape[-1]], after)
    lock = read_lock(p.tracks_dir / "boss.lock.toml")
    assert lock.audio.duration == 10.0
    commit(p.root, "longer")

    log = json.loads(cli("log", "boss", "--json").stdout)["commits"]
    assert log[0]["changes"] == ["edit +extend by 2 s (seed 6)"]
    assert log[1]["changes"] == ["edit +repaint 3–5 s (seed 5)"]
