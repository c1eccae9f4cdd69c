"""`acegit render --ray` (acegit/raypool.py) on a local Ray cluster of this machine's 2 CPUs: lock files byte-identical
to a local render, `--shard` still choosing, and a worker killed mid-track replaced and the track tried again."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from acegit.project import Project, load_project

if os.environ.get("CI"):  # CI installs it (the `test` extra): there a missing ray fails, never skips
    import ray
else:
    ray = pytest.importorskip("ray", reason="the `test` extra installs ray")

TRACKS = {
    name: f'prompt = "{prompt}"\nseed = {seed}\nduration = 2.0\nbpm = 90\nkey = "A minor"\nsteps = 2\n'
    for name, prompt, seed in (("a", "calm piano", 1), ("b", "dark drone", 2), ("d", "bright marimba", 3))
}
# One track with an extend edit (it renders longer than its duration) and a vocoder: workers decode as render does.
TRACKS["d"] += 'vocoder = "griffin-lim"\nedits = [{ kind = "extend", seconds = 1.0, seed = 5 }]\n'


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A Ray cluster started by this process (2 CPUs, no dashboard); its address for other drivers."""
    ray.init(
        num_cpus=2, include_dashboard=False, object_store_memory=100 << 20, namespace="acegit", log_to_driver=False
    )
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(a project rendered here, on this process's own engine; an unrendered copy of it)."""
    from acegit.render import render_tracks, select_tracks
    from acegit.scaffold import new_project

    base = tmp_path_factory.mktemp("ray")
    root = base / "local"
    new_project(root)
    (root / "tracks" / "example.toml").unlink()
    for name, text in TRACKS.items():
        (root / "tracks" / f"{name}.toml").write_text(text, encoding="utf-8")
    shutil.copytree(root, base / "pristine")
    project = load_project(root)
    assert all(o.action == "rendered" for o in render_tracks(project, select_tracks(project), device="cpu"))
    return root, base / "pristine"


def _copy(pristine: Path, dest: Path) -> Project:
    shutil.copytree(pristine, dest)
    return load_project(dest)


def _same_locks(a: Path, b: Path, names: Sequence[str]) -> None:
    for name in names:
        assert (b / "tracks" / f"{name}.lock.toml").read_bytes() == (a / "tracks" / f"{name}.lock.toml").read_bytes()
        assert (b / "build" / f"{name}.wav").read_bytes() == (a / "build" / f"{name}.wav").read_bytes()


def test_render_ray_writes_the_lock_files_a_local_render_writes(
    cluster: str, reference: tuple[Path, Path], tmp_path: Path
) -> None:
    """The real command, as a second driver on the cluster."""
    local, pristine = reference
    project = _copy(pristine, tmp_path / "p")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACEGIT_")}  # RAY_*: the cluster's auth token
    done = subprocess.run(
        [sys.executable, "-m", "acegit", "render", "--ray", cluster, "--no-cache", "--json"],
        cwd=project.root,
        env={**env, "COLUMNS": "200", "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert [t["result"] for t in doc["tracks"]] == ["rendered"] * 3
    assert doc["ray"]["workers"] == 2 and doc["ray"]["retried"] == []
    _same_locks(local, project.root, TRACKS)


def test_a_killed_worker_is_replaced_and_its_track_tried_again(
    cluster: str, reference: tuple[Path, Path], tmp_path: Path
) -> None:
    from acegit.raypool import RayEngines
    from acegit.render import SilentProgress, in_shard, render_tracks, select_tracks

    local, pristine = reference
    project = _copy(pristine, tmp_path / "p")
    pool = RayEngines(project, cluster)
    killed: list[int] = []

    class KillOnce(SilentProgress):
        """SIGKILLs the worker a track was just handed to, the first time that track starts."""

        def __init__(self, victim: str) -> None:
            self.victim = victim

        def batch(self, names: Sequence[str], steps: int) -> None:
            if list(names) == [self.victim] and not killed:
                killed.append(pool.running[self.victim])
                os.kill(killed[-1], signal.SIGKILL)

    try:
        # --shard keeps choosing: the first share only, then the second with a worker killed under one of its tracks.
        first = select_tracks(project, shard=(1, 2))
        outcomes = render_tracks(project, first, models=pool, use_cache=False)
        assert [o.name for o in outcomes] == [n for n in TRACKS if in_shard(n, (1, 2))]
        second = select_tracks(project, shard=(2, 2))
        assert second, "a, b | d: the names fall into both shares"
        victim = second[0].name
        outcomes = render_tracks(project, second, models=pool, use_cache=False, progress=KillOnce(victim))
        assert all(o.action == "rendered" for o in outcomes)
        assert killed and all(w.pid != killed[0] for w in pool.workers) and len(pool.workers) == 2
        assert len(pool.notices) == 1 and pool.notices[0].startswith(f"{victim}: worker ")
        assert "died" in pool.notices[0] and "tried again" in pool.notices[0]
    finally:
        pool.shutdown()
    _same_locks(local, project.root, TRACKS)


def test_a_track_that_fails_twice_is_reported_by_name(
    cluster: str, reference: tuple[Path, Path], tmp_path: Path
) -> None:
    """Every worker that takes track `b` is killed: `b` fails (named, with why), the others are published."""
    from acegit.errors import AcegitError
    from acegit.raypool import RayEngines
    from acegit.render import SilentProgress, render_tracks, select_tracks

    _, pristine = reference
    project = _copy(pristine, tmp_path / "p")
    pool = RayEngines(project, cluster)

    class KillB(SilentProgress):
        def batch(self, names: Sequence[str], steps: int) -> None:
            if list(names) == ["b"]:
                os.kill(pool.running["b"], signal.SIGKILL)

    try:
        with pytest.raises(AcegitError, match=r"1 track\(s\) failed on the Ray workers") as e:
            render_tracks(project, select_tracks(project), models=pool, use_cache=False, progress=KillB())
        assert "  b: worker" in e.value.message and "died" in e.value.message
    finally:
        pool.shutdown()
    assert (project.tracks_dir / "a.lock.toml").is_file() and (project.tracks_dir / "d.lock.toml").is_file()
    assert not (project.tracks_dir / "b.lock.toml").exists()
