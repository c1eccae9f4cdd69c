"""acegit.snapshots: a snapshot's audio is the same from the render cache and decoded from its latent (loops too)."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

from acegit.export import export_tracks
from acegit.lockfile import lock_path, read_lock
from acegit.project import PROJECT_FILE, load_project
from acegit.render import audio_bytes, render_tracks, select_tracks
from acegit.scaffold import add_track, new_project
from acegit.snapshots import CACHE, SNAPSHOT, Snapshots

RAW = '\n[export.raw]\nformat = "wav"\nbit_depth = 24\n'


def test_a_loop_exported_from_a_fresh_clone_equals_the_rendered_loop(tmp_path: Path) -> None:
    """A CI clone has no render cache: export decodes the snapshot as a loop, as render decoded it, sample for sample.

    Render decodes the latent as the lock stores it (float16; render format 3), so the snapshot's audio is the
    rendered audio exactly. (Decoding the float32 latent instead gave 14 dB SNR against it, Griffin-Lim turning the
    rounding into phase changes; decoding the loop as a plain track, the old bug, gave −3.5 dB.)
    """
    root = tmp_path / "music"
    new_project(root)
    (root / PROJECT_FILE).write_text((root / PROJECT_FILE).read_text() + RAW)
    project = load_project(root)
    fields = {"prompt": "a calm loop", "seed": 7, "duration": 2.0, "bpm": 120, "loop": True, "steps": 2}
    add_track(project, "loop", fields)  # one bar of 4/4 at 120 BPM, the built-in tiny model
    (rendered,) = render_tracks(project, select_tracks(project, ["loop"]), device="cpu")
    assert rendered.action == "rendered"
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "commit", "-qm", "loop"], cwd=root, check=True)
    clone = tmp_path / "ci"
    subprocess.run(["git", "clone", "-q", str(root), str(clone)], check=True)
    ci = load_project(clone)
    assert not ci.cache_dir.exists() and not (ci.build_dir / "loop.wav").exists()

    # The snapshot's audio decoded in the clone is the rendered audio (the render cache holds it exactly).
    lock = read_lock(lock_path(ci.tracks_dir / "loop.toml"))
    decoded = Snapshots(ci, "cpu").audio(lock, "loop", loop=True)
    assert decoded.source == SNAPSHOT
    cached = Snapshots(project, "cpu").audio(lock, "loop", loop=True)
    assert cached.source == CACHE and cached.sample_rate == decoded.sample_rate
    assert cached.wave.tobytes() == decoded.wave.tobytes()
    file, rate = sf.read(project.build_dir / "loop.wav", dtype="int16")
    assert np.array_equal(file, sf.read(io.BytesIO(audio_bytes(decoded.wave, rate, "wav")), dtype="int16")[0])

    # So the exported files agree too: from the render cache here, from the snapshot in the clone.
    (here,) = export_tracks(project, "raw", ["loop"], device="cpu")
    (there,) = export_tracks(ci, "raw", ["loop"], device="cpu")
    assert (here.source, there.source) == ("cache", "snapshot")
    a, _ = sf.read(here.path, dtype="float64")
    b, _ = sf.read(there.path, dtype="float64")
    assert a.shape == b.shape and here.loop == there.loop
    assert np.array_equal(a, b)
