"""acegit.snapshots: a snapshot's audio is the same from the render cache and decoded from its latent (loops too)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

from acegit.export import export_tracks
from acegit.lockfile import lock_path, read_lock
from acegit.project import PROJECT_FILE, load_project
from acegit.render import render_tracks, select_tracks
from acegit.scaffold import add_track, new_project
from acegit.snapshots import CACHE, SNAPSHOT, Snapshots

RAW = '\n[export.raw]\nformat = "wav"\nbit_depth = 24\n'


def _snr_db(reference: np.ndarray, other: np.ndarray) -> float:
    ref, oth = np.asarray(reference, np.float64), np.asarray(other, np.float64)
    return float(10 * np.log10(np.sum(ref * ref) / max(float(np.sum((ref - oth) ** 2)), 1e-30)))


def test_a_loop_exported_from_a_fresh_clone_equals_the_rendered_loop(tmp_path: Path) -> None:
    """A CI clone has no render cache: export decodes the snapshot as a loop, as render decoded it.

    Not bit for bit: the lock stores the latent in float16 (docs/format.md), and Griffin-Lim turns that rounding into
    phase changes: 14 dB SNR against the rendered file here (log-spectral distance 1.8 dB). Decoding the loop as a
    plain track (the old bug) gives −3.5 dB (7.8 dB): a different signal with an unfolded seam.
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

    # The snapshot's audio decoded in the clone is the rendered file's, to the float16 rounding of the latent.
    lock = read_lock(lock_path(ci.tracks_dir / "loop.toml"))
    decoded = Snapshots(ci, "cpu").audio(lock, "loop", loop=True)
    assert decoded.source == SNAPSHOT
    file, rate = sf.read(project.build_dir / "loop.wav", dtype="float32")
    assert rate == decoded.sample_rate and file.shape == decoded.wave.shape
    assert _snr_db(file, decoded.wave) > 10.0
    assert Snapshots(project, "cpu").audio(lock, "loop", loop=True).source == CACHE

    # So the exported files agree too: from the render cache here, from the snapshot in the clone.
    (here,) = export_tracks(project, "raw", ["loop"], device="cpu")
    (there,) = export_tracks(ci, "raw", ["loop"], device="cpu")
    assert (here.source, there.source) == ("cache", "snapshot")
    a, _ = sf.read(here.path, dtype="float64")
    b, _ = sf.read(there.path, dtype="float64")
    assert a.shape == b.shape and here.loop == there.loop
    assert _snr_db(a, b) > 10.0
