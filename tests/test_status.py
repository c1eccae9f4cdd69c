from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from acegit.gitrepo import GitRepo
from acegit.project import Project, load_project
from acegit.status import project_status


def states(project: Project) -> dict[str, tuple[str, tuple[str, ...]]]:
    return {t.name: (t.state, t.reasons) for t in project_status(project).tracks}


def edit(project: Project, name: str, old: str, new: str) -> None:
    path = project.tracks_dir / f"{name}.toml"
    path.write_text(path.read_text().replace(old, new), encoding="utf-8")


def test_lifecycle_in_a_git_repo(project: Project, render_fake: Callable[..., Path]) -> None:
    repo = GitRepo.discover(project.root)
    assert states(project) == {"example": ("stale", ("no snapshot",))}
    render_fake(project, "example")
    repo.commit("render", ["acegit.toml", "tracks", "weights"])
    assert states(project) == {"example": ("fresh", ())}
    assert [f for f in repo.changed_files("HEAD") if f.startswith("tracks/")] == []

    edit(project, "example", '"example"', '"example", "menu"')  # tags only
    assert states(project)["example"] == ("fresh", ())
    edit(project, "example", "bpm = 80", "bpm = 81")
    assert states(project)["example"] == ("stale", ("source changed",))
    assert [f for f in repo.changed_files("HEAD") if f.startswith("tracks/")] == ["tracks/example.toml"]
    edit(project, "example", "bpm = 81", "bpm = 80")
    assert states(project)["example"] == ("fresh", ())


def test_model_changed(project: Project, fake_weights: Callable[..., str], render_fake: Callable[..., Path]) -> None:
    render_fake(project, "example")
    fake_weights(project.root / "weights" / "test", b"retrained")
    assert states(project)["example"] == ("stale", ("model changed",))

    fake_weights(project.root / "weights" / "other")
    cfg = project.path.read_text() + '[models.other]\npath = "weights/other"\n'
    project.path.write_text(cfg, encoding="utf-8")
    project = load_project(project.root)
    render_fake(project, "example")
    edit(project, "example", "seed = 1234", 'seed = 1234\nmodel = "other"')
    assert states(project)["example"] == ("stale", ("model changed",))
    edit(project, "example", "seed = 1234", "seed = 1")
    assert states(project)["example"] == ("stale", ("source changed", "model changed"))


def test_render_format_changed(
    project: Project, monkeypatch: pytest.MonkeyPatch, render_fake: Callable[..., Path]
) -> None:
    """A snapshot from an older render format (same track, same weights) is stale."""
    import acegit.fingerprint
    import acegit.lockfile

    with monkeypatch.context() as m:
        m.setattr(acegit.fingerprint, "RENDER_FORMAT_VERSION", 0)
        m.setattr(acegit.lockfile, "RENDER_FORMAT_VERSION", 0)
        render_fake(project, "example")
    assert states(project)["example"] == ("stale", ("render format changed",))


def test_invalid_tracks_do_not_hide_others(project: Project, render_fake: Callable[..., Path]) -> None:
    (project.tracks_dir / "bad.toml").write_text('prompt = "x"\nseed = -1\n', encoding="utf-8")
    (project.tracks_dir / "good.toml").write_text('prompt = "x"\nseed = 1\n', encoding="utf-8")
    render_fake(project, "good")
    result = {t.name: t for t in project_status(project).tracks}
    assert result["bad"].state == "invalid" and "tracks/bad.toml: seed = -1 is out of range" in str(
        result["bad"].message
    )
    assert result["good"].state == "fresh" and result["example"].state == "stale"


def test_lock_problems_are_invalid(project: Project, render_fake: Callable[..., Path]) -> None:
    (project.tracks_dir / "two.toml").write_text('prompt = "x"\nseed = 1\n', encoding="utf-8")
    shutil.copy(render_fake(project, "example"), project.tracks_dir / "two.lock.toml")
    render_fake(project, "example")
    lock = project.tracks_dir / "example.lock.toml"
    lock.write_text(lock.read_text().replace("[input]", "[inptu]"), encoding="utf-8")
    result = {t.name: t for t in project_status(project).tracks}
    assert result["two"].state == "invalid" and "belongs to track 'example'" in str(result["two"].message)
    assert result["example"].state == "invalid" and "[input] is missing" in str(result["example"].message)


def test_unresolvable_model_is_invalid_once_rendered(project: Project, render_fake: Callable[..., Path]) -> None:
    render_fake(project, "example")
    shutil.rmtree(project.root / "weights" / "test")
    (t,) = project_status(project).tracks
    assert t.state == "invalid" and "weights folder" in str(t.message)


def test_json_schema(project: Project, render_fake: Callable[..., Path]) -> None:
    render_fake(project, "example")
    doc = project_status(project).to_json()
    assert doc["schema"] == 1 and doc["project"] == "proj" and doc["summary"] == {"fresh": 1, "stale": 0, "invalid": 0}
    (entry,) = doc["tracks"]  # type: ignore[misc]
    assert set(entry) == {"name", "path", "state", "reasons", "message", "lock", "fingerprint"}
    assert entry["lock"] == "tracks/example.lock.toml" and entry["fingerprint"].startswith("sha256:")


def test_empty_project(project: Project) -> None:
    (project.tracks_dir / "example.toml").unlink()
    assert project_status(project).tracks == []


def test_stat_cache_hits_and_misses(
    project: Project, render_fake: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import acegit.status

    monkeypatch.setattr(acegit.status, "RACY_NS", -(10**18))  # treat every file as old enough to cache
    midi = project.root / "theme.mid"
    midi.write_bytes(b"MThd-1")
    edit(project, "example", "seed = 1234", 'seed = 1234\nmelody = "theme.mid"')
    render_fake(project, "example")
    assert states(project)["example"] == ("fresh", ())
    assert (project.root / acegit.status.STAT_CACHE).is_file()

    real_load = acegit.status.load_track
    monkeypatch.setattr(acegit.status, "load_track", lambda *a: pytest.fail("cache missed"))
    assert states(project)["example"] == ("fresh", ())  # served from the cache

    monkeypatch.setattr(acegit.status, "load_track", real_load)
    track = project.tracks_dir / "example.toml"
    edit(project, "example", "bpm = 80", "bpm = 81")  # same size: only the timestamps tell
    st = track.stat()
    os.utime(track, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert states(project)["example"] == ("stale", ("source changed",))
    edit(project, "example", "bpm = 81", "bpm = 80")
    assert states(project)["example"] == ("fresh", ())
    midi.write_bytes(b"MThd-22")  # a dependency of the cached track entry
    assert states(project)["example"] == ("stale", ("source changed",))
    midi.write_bytes(b"MThd-1")
    assert states(project)["example"] == ("fresh", ())
    project.path.write_text(project.path.read_text().replace("steps = 20", "steps = 21"), encoding="utf-8")
    project = load_project(project.root)
    assert states(project)["example"] == ("stale", ("source changed",))


def test_racy_files_are_not_cached(project: Project, render_fake: Callable[..., Path]) -> None:
    import acegit.status

    render_fake(project, "example")  # just written: within RACY_NS of now
    assert states(project)["example"] == ("fresh", ())
    assert not (project.root / acegit.status.STAT_CACHE).exists()
