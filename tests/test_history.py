"""acegit.history: a track's log across commits (renames followed) and `show` of a past version."""

from __future__ import annotations

import dataclasses
import math
import shutil
import subprocess
from collections.abc import Callable

import numpy as np
import pytest
import soundfile as sf
from test_diff import RATE, commit, dproject, latent_for, write_snapshot, write_track  # noqa: F401  (fixture)
from typer.testing import Result

from acegit.errors import AcegitError, GitError, UsageError
from acegit.lockfile import decode_latent, encode_latent, read_lock, write_lock
from acegit.log import track_log
from acegit.project import Project
from acegit.show import decode_version, split_spec


def test_log_follows_renames_and_says_what_changed(dproject: Project) -> None:  # noqa: F811
    p = dproject
    write_track(p, "boss", "dark synth", 7, 5.0)
    write_snapshot(p, "boss", latent_for(7, 5.0))
    c1 = commit(p.root, "add boss")
    (p.tracks_dir / "boss.toml").write_text((p.tracks_dir / "boss.toml").read_text() + 'tags = ["x"]\n')
    commit(p.root, "tag boss")
    write_track(p, "boss", "dark synth", 8, 5.0)
    write_snapshot(p, "boss", latent_for(8, 5.0))
    commit(p.root, "reseed boss")
    lock_file = p.tracks_dir / "boss.lock.toml"
    lock = read_lock(lock_file)
    z = decode_latent(lock).copy()
    z[:, :, math.ceil(2 * RATE) : math.ceil(3 * RATE)] += np.float32(3.0)
    write_lock(lock_file, dataclasses.replace(lock, latent=encode_latent(z)))
    commit(p.root, "touch up second 2")
    write_track(p, "other", "calm piano", 1, 3.0)  # an unrelated commit is not in boss's history
    commit(p.root, "other")
    subprocess.run(["git", "mv", "tracks/boss.toml", "tracks/final-boss.toml"], cwd=p.root, check=True)
    subprocess.run(["git", "mv", "tracks/boss.lock.toml", "tracks/final-boss.lock.toml"], cwd=p.root, check=True)
    renamed = p.tracks_dir / "final-boss.lock.toml"
    renamed.write_text(renamed.read_text().replace('track = "boss"', 'track = "final-boss"'))
    commit(p.root, "rename")

    log = track_log(p, "final-boss").entries
    assert [e.commit["subject"] for e in log] == ["rename", "touch up second 2", "reseed boss", "tag boss", "add boss"]
    assert [e.name for e in log] == ["final-boss", "boss", "boss", "boss", "boss"]
    assert [e.changes for e in log] == [
        ["renamed from boss"],
        ["snapshot only"],
        ["seed", "tags"],  # write_track drops the tag again
        ["tags"],
        ["new track"],
    ]
    assert [e.verdict for e in log] == [
        "identical",
        "changed seconds 2–3",
        "entirely different",
        "identical",
        "new track",
    ]
    assert log[0].latent_change == 0.0 and log[2].latent_change is not None and log[2].latent_change > 0.9
    assert log[-1].latent_change is None and log[-1].commit["sha"] == c1
    assert [e.commit["subject"] for e in track_log(p, "final-boss", limit=2).entries] == ["rename", "touch up second 2"]
    assert track_log(p, "final-boss", limit=2).entries[1].changes == [
        "snapshot only"
    ]  # compared with the commit before
    assert track_log(p, "boss", "HEAD~1").entries[0].commit["subject"] == "touch up second 2"

    with pytest.raises(AcegitError, match="no commit reachable from HEAD changed a track named 'ghost'"):
        track_log(p, "ghost")
    with pytest.raises(GitError, match="unknown revision"):
        track_log(p, "boss", "no-such-branch")


def test_show_decodes_a_past_version(dproject: Project) -> None:  # noqa: F811
    p = dproject
    write_track(p, "theme", "lo-fi beat", 5, 3.0)
    write_snapshot(p, "theme", latent_for(5, 3.0))
    commit(p.root, "v1")
    write_snapshot(p, "theme", latent_for(6, 3.0))
    commit(p.root, "v2")
    out, png = p.root / "old.wav", p.root / "old.png"
    shown = decode_version(p, "HEAD~1:theme", out, png)
    assert shown.written == [str(out), str(png)]
    wave, sr = sf.read(out)
    assert sr == 22050 and len(wave) == 3 * 22050 and np.max(np.abs(wave)) > 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "acegit snapshot of track theme" in shown.summary
    assert (
        shown.version.lock is not None
        and shown.version.lock.latent.sha256 != read_lock(p.tracks_dir / "theme.lock.toml").latent.sha256
    )
    # A bare name is the working tree's version; summaries need no decoding.
    assert decode_version(p, "theme").written == []

    with pytest.raises(AcegitError, match="no track named 'ghost' at HEAD"):
        decode_version(p, "HEAD:ghost")
    with pytest.raises(GitError, match="unknown revision"):
        decode_version(p, "nope:theme")
    write_track(p, "fresh", "new idea", 2, 3.0)
    with pytest.raises(AcegitError, match="no snapshot named 'fresh' in the working tree"):
        decode_version(p, "fresh")
    with pytest.raises(UsageError):
        split_spec("HEAD:")
    assert split_spec("v1.0:boss") == ("v1.0", "boss") and split_spec(":boss") == ("HEAD", "boss")


def test_show_decodes_like_render_also_for_loops(dproject: Project, cli: Callable[..., Result]) -> None:  # noqa: F811
    """Without the render cache, `show` decodes the snapshot as `render` did (a loop as one period of a loop)."""
    r = cli("add", "theme", "--prompt", "lo-fi loop", "--seed", "9", "--duration", "2", "--steps", "2", "--loop")
    assert r.exit_code == 0, r.output
    assert cli("render").exit_code == 0
    commit(dproject.root, "loop")
    shutil.rmtree(dproject.cache_dir)  # as in a fresh clone
    out = dproject.root / "shown.wav"
    decode_version(dproject, "HEAD:theme", out)
    rendered, _ = sf.read(dproject.build_dir / "theme.wav")
    shown, _ = sf.read(out)
    assert len(shown) == len(rendered) == 2 * 22050
    # The snapshot stores the latent in float16 and the files are 16-bit: close, not bit-equal.
    assert np.corrcoef(shown, rendered)[0, 1] > 0.999
