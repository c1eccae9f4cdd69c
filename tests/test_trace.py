"""acegit trace: an exported file names the commit and track that made it, and whether the track still renders it."""

from __future__ import annotations

import io
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from acegit.errors import AcegitError
from acegit.export import export_tracks
from acegit.project import PROJECT_FILE, Project, load_project
from acegit.tags import Provenance, tag_audio
from acegit.trace import CURRENT, NO_TRACK, OUTDATED, UNKNOWN, trace_file


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def exported(project: Project, cli: Callable[..., object], cache_render: Callable[..., Path]) -> tuple[Project, Path]:
    """A committed track exported as Ogg; returns the project and the file."""
    (project.root / PROJECT_FILE).write_text(
        (project.root / PROJECT_FILE).read_text() + '\n[export.game]\nformat = "ogg"\nloudness = -16.0\n'
    )
    p = load_project(project.root)
    cli("add", "boss", "--prompt", "dark synth", "--seed", "3", "--duration", "3")
    cache_render(p, "boss")
    _git(p.root, "add", "-A")
    _git(p.root, "commit", "-qm", "Boss: darker strings")
    (result,) = export_tracks(p, "game", ["boss"])
    return p, result.path


def test_trace_identifies_the_commit_and_track(exported: tuple[Project, Path]) -> None:
    project, path = exported
    t = trace_file(path, project)
    prov = t.tags.provenance
    assert prov is not None
    assert prov.track == "boss" and prov.commit == _git(project.root, "rev-parse", "HEAD") and prov.dirty is False
    assert prov.seed == 3 and prov.profile == "game" and prov.project == project.name
    assert t.commit_subject == "Boss: darker strings" and t.commit_in_history is True
    assert t.state == CURRENT and t.current_fingerprint == prov.fingerprint


def test_trace_after_edits(exported: tuple[Project, Path]) -> None:
    project, path = exported
    track = project.tracks_dir / "boss.toml"
    track.write_text(track.read_text() + 'tags = ["combat"]\n')  # tags never reach the audio
    assert trace_file(path, project).state == CURRENT
    track.write_text(track.read_text().replace("seed = 3", "seed = 4"))
    t = trace_file(path, project)
    assert t.state == OUTDATED and "tracks/boss.toml" in t.detail
    assert t.current_fingerprint != t.tags.provenance.fingerprint  # type: ignore[union-attr]
    track.unlink()
    assert trace_file(path, project).state == NO_TRACK
    assert trace_file(path, None).state == UNKNOWN


def test_commit_from_another_history(exported: tuple[Project, Path], tmp_path: Path) -> None:
    project, path = exported
    buf = io.BytesIO()
    sf.write(buf, np.zeros(22050, np.float32), 22050, format="WAV", subtype="PCM_16")
    prov = Provenance("boss", "f" * 40, True, "sha256:" + "0" * 64, 3, "0.1.0", "game", project.name)
    other = tmp_path / "other.wav"
    other.write_bytes(tag_audio(buf.getvalue(), "wav", prov))
    t = trace_file(other, project)
    assert t.commit_subject is None and t.commit_in_history is None and t.state == "outdated"


def test_untagged_and_missing_files(project: Project, tmp_path: Path) -> None:
    plain = tmp_path / "plain.wav"
    sf.write(str(plain), np.zeros(100, np.float32), 22050)
    with pytest.raises(AcegitError, match="has no acegit provenance tags"):
        trace_file(plain, project)
    with pytest.raises(AcegitError, match="cannot read it"):
        trace_file(tmp_path / "missing.ogg", project)
