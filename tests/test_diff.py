"""acegit.diff against real temporary git repos with several commits; snapshots written directly (no sampling)."""

from __future__ import annotations

import dataclasses
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from acegit.diff import (
    DIFFERENT,
    DRIFT,
    IDENTICAL,
    compare_latents,
    diff_tracks,
    loudness_lufs,
    param_changes,
    split_args,
    verdict,
    word_diff,
)
from acegit.errors import AcegitError, GitError
from acegit.lockfile import AudioStats, LockEnvironment, build_lock, decode_latent, encode_latent, read_lock, write_lock
from acegit.project import Project, load_project
from acegit.track import load_track

RATE = 22050 / 2048  # latent frames per second of the tiny preset


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


def commit(root: Path, message: str) -> str:
    git(root, "add", "-A")
    git(root, "commit", "-qm", message)
    return git(root, "rev-parse", "HEAD").strip()


def write_track(project: Project, name: str, prompt: str, seed: int, duration: float) -> None:
    text = f'prompt = "{prompt}"\nseed = {seed}\nduration = {duration}\nsteps = 2\n'
    (project.tracks_dir / f"{name}.toml").write_text(text, encoding="utf-8")


def write_snapshot(project: Project, name: str, latent: np.ndarray) -> Path:
    """The lock `acegit render` would write for the track, holding the given latent."""
    from acegit.engine.registry import resolve_model

    track = load_track(project.tracks_dir / f"{name}.toml", project)
    ref = resolve_model(track.model, project.models)
    env = LockEnvironment.make("cpu", "2.13.0", "float32", True)
    stats = AudioStats(track.duration, 22050, 0.5, 0.1)
    path = project.tracks_dir / f"{name}.lock.toml"
    write_lock(path, build_lock(track, ref, latent, env, stats))
    return path


def latent_for(seed: int, seconds: float) -> np.ndarray:
    frames = int(seconds * 22050) // 2048 + 1
    return np.random.default_rng(seed).standard_normal((8, 16, frames)).astype(np.float32)


@pytest.fixture
def dproject(project: Project, tiny_checkpoint: Path) -> Project:
    """The shared project with a real (random) tiny checkpoint as its "test" model, the example track removed."""
    shutil.rmtree(project.root / "weights" / "test")
    shutil.copytree(tiny_checkpoint, project.root / "weights" / "test")
    (project.root / "tracks" / "example.toml").unlink()
    commit(project.root, "project")
    return load_project(project.root)


def test_identical_seed_change_and_partial_edit(dproject: Project) -> None:
    p = dproject
    write_track(p, "boss", "epic orchestral boss battle", 7, 20.0)
    write_snapshot(p, "boss", latent_for(7, 20.0))
    v1 = commit(p.root, "boss v1")

    # Tags only: the track file changes, the snapshot does not → identical audio.
    (p.tracks_dir / "boss.toml").write_text((p.tracks_dir / "boss.toml").read_text() + 'tags = ["boss"]\n')
    v2 = commit(p.root, "tag")
    r = diff_tracks(p, v1, v2, audio=False)
    assert [t.name for t in r.tracks] == ["boss"]
    assert r.tracks[0].verdict == IDENTICAL
    assert [c.field for c in r.tracks[0].params] == ["tags"]

    # Seconds 10–15 of the latent replaced: the change map must find exactly those seconds.
    lock_file = p.tracks_dir / "boss.lock.toml"
    lock = read_lock(lock_file)
    z = decode_latent(lock).copy()
    lo, hi = math.ceil(10 * RATE), math.ceil(15 * RATE)
    z[:, :, lo:hi] = np.random.default_rng(99).standard_normal(z[:, :, lo:hi].shape)
    write_lock(lock_file, dataclasses.replace(lock, latent=encode_latent(z)))
    v3 = commit(p.root, "edit seconds 10-15")
    t = diff_tracks(p, v2, v3, audio=False).tracks[0]
    assert t.latent is not None
    assert t.latent.changed_seconds == [(10, 15)]
    assert t.verdict == "changed seconds 10–15"
    assert len(t.latent.per_second) == 20  # 216 frames at 10.77 fps: the last one at 19.97 s
    assert max(t.latent.per_second[:10] + t.latent.per_second[15:]) < 0.01  # float16 rounding only

    # A new seed (a new latent): entirely different.
    write_track(p, "boss", "epic orchestral boss battle", 8, 20.0)
    write_snapshot(p, "boss", latent_for(8, 20.0))
    v4 = commit(p.root, "new seed")
    t = diff_tracks(p, v3, v4, audio=False).tracks[0]
    assert t.verdict == DIFFERENT
    assert [c.field for c in t.params] == ["seed", "tags"]
    assert t.latent is not None and 0.9 < t.latent.change < 1.1 and abs(t.latent.cosine) < 0.05

    # Defaults: no revision = HEAD vs the working tree (nothing changed → nothing listed); one = REV vs working tree.
    assert diff_tracks(p, audio=False).tracks == []
    assert diff_tracks(p, v3, audio=False).tracks[0].verdict == DIFFERENT
    assert diff_tracks(p, v1, v2, ["boss"], audio=False).tracks[0].verdict == IDENTICAL


def test_added_removed_renamed(dproject: Project) -> None:
    p = dproject
    write_track(p, "intro", "calm piano", 1, 3.0)
    write_snapshot(p, "intro", latent_for(1, 3.0))
    write_track(p, "boss", "dark synth", 2, 3.0)
    write_snapshot(p, "boss", latent_for(2, 3.0))
    v1 = commit(p.root, "two tracks")

    # Rename intro → opening (same content under a new name), remove boss, add credits.
    for suffix in (".toml", ".lock.toml"):
        (p.tracks_dir / f"intro{suffix}").rename(p.tracks_dir / f"opening{suffix}")
        (p.tracks_dir / f"boss{suffix}").unlink()
    write_track(p, "credits", "warm strings", 3, 3.0)
    write_snapshot(p, "credits", latent_for(3, 3.0))

    # Working tree (untracked files included), then the committed version.
    for rev_b in (None, "commit"):
        b = commit(p.root, "rename") if rev_b else None
        by_name = {t.name: t for t in diff_tracks(p, v1, b, audio=False).tracks}
        assert {n: t.status for n, t in by_name.items()} == {
            "boss": "removed",
            "credits": "added",
            "opening": "renamed",
        }
        assert by_name["opening"].old_name == "intro"
        # The lock's `track` field differs but the latent is the same: the audio did not change.
        assert by_name["opening"].verdict == IDENTICAL
        assert by_name["credits"].verdict == "new track"
        assert [c.field for c in by_name["credits"].params][:2] == ["prompt", "negative_prompt"]


def test_audio_metrics_from_decoded_snapshots(dproject: Project) -> None:
    p = dproject
    write_track(p, "theme", "lo-fi beat", 5, 3.0)
    write_snapshot(p, "theme", latent_for(5, 3.0))
    v1 = commit(p.root, "v1")
    write_track(p, "theme", "lo-fi beat with drums", 6, 3.0)
    write_snapshot(p, "theme", latent_for(6, 3.0) * 2.0)
    v2 = commit(p.root, "v2")
    r = diff_tracks(p, v1, v2, keep_waves=True)
    t = r.tracks[0]
    assert r.problems == []
    assert t.audio is not None and t.wave_a is not None and t.wave_b is not None
    assert len(t.wave_a) == len(t.wave_b) == 3 * 22050
    assert t.audio.lsd_db > 0.5 and t.audio.mrstft > 0.05
    assert t.audio.loudness_a is not None and t.audio.loudness_b is not None
    assert t.audio.tempo_a > 0 and t.audio.key_a.endswith(("major", "minor"))
    prompt = next(c for c in t.params if c.field == "prompt")
    assert prompt.words == ((" ", "lo-fi beat"), ("+", "with drums"))

    # The same version against itself decodes nothing and reports identical.
    assert diff_tracks(p, v1, v1, unchanged=True).tracks[0].verdict == IDENTICAL


def test_model_unavailable_still_compares_latents(dproject: Project) -> None:
    p = dproject
    write_track(p, "theme", "lo-fi beat", 5, 3.0)
    write_snapshot(p, "theme", latent_for(5, 3.0))
    v1 = commit(p.root, "v1")
    write_snapshot(p, "theme", latent_for(6, 3.0))
    v2 = commit(p.root, "v2")
    # Other weights under the same model name: the snapshots' weights hash no longer matches.
    from acegit.engine.checkpoint import build_model, save_checkpoint

    save_checkpoint(build_model("tiny", seed=1), p.root / "weights" / "test")
    t = diff_tracks(p, v1, v2).tracks[0]
    assert t.verdict == DIFFERENT and t.latent is not None and t.audio is None
    assert len(t.problems) == 1 and "cannot decode" in t.problems[0] and "weights" in t.problems[0]


def test_bad_input(dproject: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = dproject
    write_track(p, "theme", "lo-fi beat", 5, 3.0)
    lock_file = write_snapshot(p, "theme", latent_for(5, 3.0))
    v1 = commit(p.root, "v1")
    with pytest.raises(GitError, match="unknown revision 'nope'"):
        diff_tracks(p, "nope", audio=False)
    with pytest.raises(AcegitError, match="no track named 'ghost'"):
        diff_tracks(p, v1, None, ["ghost"], audio=False)
    with pytest.raises(GitError, match="unknown revision"):
        split_args(p, ["nope~3"])
    assert split_args(p, ["HEAD", "theme"]) == (["HEAD"], ["theme"])
    assert split_args(p, ["theme"]) == ([], ["theme"])

    # A newer lock format and a corrupted payload: reported with the file and the fix, latents not compared.
    lock_file.write_text(lock_file.read_text().replace("format = 1", "format = 99", 1))
    t = diff_tracks(p, audio=False).tracks[0]
    assert "newer acegit" in t.problems[0] and "theme.lock.toml" in t.problems[0]
    git(p.root, "checkout", "--", str(lock_file))
    text = lock_file.read_text()
    i = text.index('data = """') + 20
    lock_file.write_text(text[:i] + ("A" if text[i] != "A" else "B") + text[i + 1 :])
    t = diff_tracks(p, audio=False).tracks[0]
    assert "damaged" in t.problems[0] and "git checkout" in t.problems[0]

    # Not a repository.
    outside = tmp_path / "norepo"
    shutil.copytree(p.root, outside, ignore=shutil.ignore_patterns(".git"))
    with pytest.raises(GitError, match="not inside a Git repository"):
        diff_tracks(load_project(outside), audio=False)


def test_latent_and_param_helpers() -> None:
    a = latent_for(1, 5.0)
    same = compare_latents(a, a, RATE, identical=True)
    assert verdict(same) == IDENTICAL
    drift = compare_latents(a, a + np.float32(1e-3) * latent_for(2, 5.0), RATE)
    assert verdict(drift) == DRIFT and drift.change < 0.01
    b = latent_for(3, 8.0)
    longer = compare_latents(b[:, :, : a.shape[-1]], b, RATE)  # the same first 5 s, then 3 s more
    assert longer.changed_seconds == [(5, 8)] and verdict(longer) == "changed seconds 5–8"
    assert word_diff("calm solo piano", "calm piano with strings") == (
        (" ", "calm"),
        ("-", "solo"),
        (" ", "piano"),
        ("+", "with strings"),
    )
    changes = param_changes({"seed": 1, "bpm": 120.0}, {"seed": 2, "bpm": 120.0})
    assert [(c.field, c.old, c.new) for c in changes] == [("seed", 1, 2)]


def test_loudness_of_known_signals() -> None:
    sr = 22050
    t = np.arange(sr * 5) / sr
    tone = 0.5 * np.sin(2 * np.pi * 1000 * t)
    # BS.1770's calibration: a full-scale 1 kHz sine reads −3.01 LUFS, so one at half scale reads −9.03 LUFS.
    lufs = loudness_lufs(tone, sr)
    assert lufs is not None and abs(lufs - (-9.03)) < 0.2
    quieter = loudness_lufs(tone * 0.5, sr)
    assert quieter is not None and abs((lufs - quieter) - 6.02) < 0.05
    assert loudness_lufs(np.zeros(sr), sr) is None


def _bs1770_time_domain(x: np.ndarray, fs: int) -> float:
    """Reference: the K filter as two biquads run by scipy in the time domain, 400 ms blocks, both gates."""
    from scipy.signal import lfilter

    f0, g, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / fs)
    vh = 10 ** (g / 20)
    vb = vh**0.4996667741545416
    a0 = 1 + k / q + k * k
    b1 = [(vh + vb * k / q + k * k) / a0, 2 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0]
    a1 = [1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0]
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / fs)
    a0 = 1 + k / q + k * k
    y = lfilter([1.0, -2.0, 1.0], [1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0], lfilter(b1, a1, x))
    block, step = int(0.4 * fs), int(0.1 * fs)
    z = np.array([np.mean(y[s : s + block] ** 2) for s in range(0, len(y) - block + 1, step)])
    z = z[-0.691 + 10 * np.log10(z) > -70]
    z = z[-0.691 + 10 * np.log10(z) > -0.691 + 10 * np.log10(z.mean()) - 10]
    return float(-0.691 + 10 * np.log10(z.mean()))


def test_loudness_matches_a_time_domain_filter() -> None:
    sr = 22050
    rng = np.random.default_rng(0)
    noise = rng.standard_normal(sr * 10) * 0.1
    bursts = np.repeat(rng.uniform(0, 1, 20), sr // 2) * rng.standard_normal(sr * 10) * 0.3  # exercises the gates
    for x in (noise, bursts):
        got = loudness_lufs(x, sr)
        assert got is not None and abs(got - _bs1770_time_domain(x, sr)) < 0.1
