"""acegit export: the signal chain on known signals; whole projects exported and read back by independent readers."""

from __future__ import annotations

import math
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from acegit.errors import AcegitError, InputError
from acegit.export import (
    apply_fades,
    export_tracks,
    integrated_loudness,
    limit,
    load_profiles,
    loop_body,
    master,
    parse_profile,
    resample,
    true_peak_db,
)
from acegit.loopseam import seam_report
from acegit.project import PROJECT_FILE, Project, load_project
from acegit.tags import LoopPoints, read_tags
from acegit.track import Track

RATE = 22050


def _independent_true_peak(y: np.ndarray) -> float:
    """dBTP by FFT interpolation (8x), a different method from the exporter's 4x polyphase filter."""
    from scipy.signal import resample

    y2 = y.reshape(len(y), -1)
    return 20 * math.log10(float(np.abs(resample(y2, len(y2) * 8, axis=0)).max()))


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout.strip()


def _track(duration: float = 4.2, loop: bool = True, bpm: float = 120.0, ts: str = "4/4") -> Track:
    return Track("t", Path("t.toml"), "p", 1, duration=duration, bpm=bpm, time_signature=ts, loop=loop)


# --- the signal chain -------------------------------------------------------------------------------------------


def test_resample_keeps_pitch_level_and_length() -> None:
    t = np.arange(RATE * 2) / RATE
    tone = 0.5 * np.sin(2 * np.pi * 1000.0 * t)
    for out in (44100, 48000, 16000):
        y = resample(tone, RATE, out)
        assert abs(len(y) - 2 * out) <= 1
        spectrum = np.abs(np.fft.rfft(y[out // 4 : out // 4 + out] * np.hanning(out)))
        assert abs(np.argmax(spectrum) - 1000) <= 1  # 1 Hz bins: still 1 kHz
        assert np.sqrt(np.mean(y[out // 4 : -out // 4] ** 2)) == pytest.approx(0.5 / math.sqrt(2), rel=0.01)


def test_circular_resampling_keeps_a_loop_seamless() -> None:
    t = np.arange(RATE * 2) / RATE
    tone = np.sin(2 * np.pi * 441.0 * t)  # 882 whole periods: a perfect loop at 22,050 Hz
    y = resample(tone, RATE, 48000, circular=True)
    assert len(y) == 96000
    assert seam_report(y, 48000).seamless
    # Without wrapping, the resampler's edges are not the continuation of each other.
    assert not seam_report(resample(tone, RATE, 48000), 48000).seamless


def test_true_peak_sees_between_samples() -> None:
    n = np.arange(4096)
    x = np.sin(np.pi / 2 * n + np.pi / 4)  # fs/4 sine sampled at ±0.707 only
    assert 20 * math.log10(np.abs(x).max()) == pytest.approx(-3.01, abs=0.01)
    assert true_peak_db(x, circular=True) == pytest.approx(0.0, abs=0.05)  # periodic: no edge ringing


def test_limiter_and_loudness_targets(music_like: Callable[..., Any]) -> None:
    x = music_like(4.0, 48000)[:, None].astype(np.float64)
    limited = limit(x * 4.0, 48000, -1.0)
    assert true_peak_db(limited) <= -1.0 + 1e-6
    for target in (-23.0, -16.0, -10.0):
        y = master(x, 48000, target, -1.0, circular=False)
        assert integrated_loudness(y, 48000) == pytest.approx(target, abs=0.05)
        assert true_peak_db(y) <= -1.0 + 1e-6


def test_loop_body_whole_bars_and_crossfade() -> None:
    wave = np.random.default_rng(0).standard_normal(round(4.2 * RATE))
    full = parse_profile("a", {})
    assert len(loop_body(wave, RATE, _track(), full)) == len(wave)
    bars = parse_profile("a", {"loop_trim": "bars"})
    assert len(loop_body(wave, RATE, _track(), bars)) == 2 * 2 * RATE  # 2 bars of 4/4 at 120 BPM
    assert len(loop_body(wave, RATE, _track(bpm=60, ts="3/4"), bars)) == 3 * RATE  # one 3 s bar fits in 4.2 s
    xf = parse_profile("a", {"loop_trim": "bars", "loop_crossfade": 0.2})  # 4.2 s - 0.2 s = exactly 2 bars
    body = loop_body(wave, RATE, _track(), xf)
    assert len(body) == 4 * RATE
    # The loop's last sample is followed by what followed it in the render (the tail), not by a jump.
    assert body[0] == pytest.approx(wave[4 * RATE], abs=1e-3)
    assert np.array_equal(body[RATE:], wave[RATE : 4 * RATE])


def test_fades() -> None:
    y = apply_fades(np.ones(RATE), RATE, 0.1, 0.2)
    assert y[0] < 1e-3 and y[-1] < 1e-3 and y[RATE // 2] == 1.0
    assert np.all(np.diff(y[: round(0.1 * RATE)]) > 0)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"format": "mp3"}, 'export.game.format = "mp3" is not supported: use one of wav, ogg, flac'),
        ({"sample_rate": 44000}, "export.game.sample_rate = 44000 is not supported"),
        ({"channels": 6}, "export.game.channels = 6 is not supported"),
        ({"loudness": -80}, "export.game.loudness = -80 is out of range -70…0"),
        ({"loudness": 3.0}, "export.game.loudness = 3 is out of range -70…0"),
        ({"loudness": "loud"}, 'export.game.loudness = "loud" must be a number'),
        ({"true_peak": 1.0}, "export.game.true_peak = 1 is out of range -20…0"),
        ({"format": "ogg", "bit_depth": 24}, "export.game.bit_depth does not apply to ogg"),
        ({"name": "{track}.{format}"}, "uses unknown placeholder {format}"),
        ({"name": "music.ogg"}, "must contain {track}"),
        ({"name": "../{track}.ogg"}, "must be a relative file name"),
        ({"sample_rte": 48000}, "did you mean 'sample_rate'"),
        ({"name": "{track}-{sample_rate}.{ext}"}, "uses {sample_rate}, so set sample_rate too"),
    ],
)
def test_bad_profiles(table: dict[str, object], message: str) -> None:
    with pytest.raises(InputError) as e:
        parse_profile("game", table)
    assert message in str(e.value) and "acegit.toml" in str(e.value)


def test_profile_lookup(project: Project) -> None:
    with pytest.raises(InputError, match="has no export profile"):
        load_profiles(project)
    (project.root / PROJECT_FILE).write_text(
        (project.root / PROJECT_FILE).read_text() + '\n[export.game]\nformat = "ogg"\n'
    )
    p = load_project(project.root)
    assert [x.name for x in load_profiles(p)] == ["game"]
    with pytest.raises(InputError, match="Did you mean 'game'"):
        load_profiles(p, "gmae")


# --- whole projects ---------------------------------------------------------------------------------------------

PROFILES = """
[export.godot]
format = "ogg"
sample_rate = 44100
channels = 2
loudness = -16.0
true_peak = -1.0

[export.unity]
format = "wav"
sample_rate = 48000
loudness = -18.0
true_peak = -2.0
loop_trim = "bars"
loop_crossfade = 0.1
fade_out = 0.5

[export.master]
format = "flac"
sample_rate = 48000
bit_depth = 24
loudness = -23.0
true_peak = -1.0
folder = "build/masters"
name = "{project}-{track}-{sample_rate}.{ext}"
"""


@pytest.fixture
def eproject(project: Project, cli: Callable[..., object], cache_render: Callable[..., Path]) -> Project:
    """Two fresh tracks (one looped) whose audio sits in the render cache, committed; three export profiles."""
    (project.tracks_dir / "example.toml").unlink()
    (project.root / PROJECT_FILE).write_text((project.root / PROJECT_FILE).read_text() + PROFILES)
    p = load_project(project.root)
    cli("add", "boss", "--prompt", "dark synth", "--seed", "3", "--duration", "3")
    cli("add", "loopy", "--prompt", "calm loop", "--seed", "5", "--duration", "4.2", "--bpm", "120", "--loop")
    for name in ("boss", "loopy"):
        cache_render(p, name)
    _git(p.root, "add", "-A")
    _git(p.root, "commit", "-qm", "two tracks")
    return p


def test_export_every_format_and_read_it_all_back(eproject: Project) -> None:
    import pyloudnorm

    results = export_tracks(eproject)
    head = _git(eproject.root, "rev-parse", "HEAD")
    assert len(results) == 6 and {r.source for r in results} == {"cache"}
    files = {(r.track, r.profile): r.path for r in results}
    assert files[("boss", "master")] == eproject.root / "build" / "masters" / "proj-boss-48000.flac"
    expect = {
        "godot": ("ogg", 44100, 2, -16.0, -1.0),
        "unity": ("wav", 48000, 1, -18.0, -2.0),
        "master": ("flac", 48000, 1, -23.0, -1.0),
    }
    for (track, profile), path in files.items():
        fmt, rate, channels, lufs, ceiling = expect[profile]
        info = sf.info(str(path))
        assert info.samplerate == rate and info.channels == channels
        assert info.format == {"ogg": "OGG", "wav": "WAV", "flac": "FLAC"}[fmt]
        y, _ = sf.read(str(path), dtype="float64", always_2d=True)
        duration = len(y) / rate
        if track == "boss":
            assert duration == pytest.approx(3.0, abs=1e-3)
        elif profile == "unity":
            assert duration == pytest.approx(4.0, abs=1e-3)  # trimmed to 2 whole bars at 120 BPM
        else:
            assert duration == pytest.approx(4.2, abs=1e-3)
        assert pyloudnorm.Meter(rate).integrated_loudness(y) == pytest.approx(lufs, abs=0.5)
        assert _independent_true_peak(y) <= ceiling + 0.1  # FFT interpolation overshoots a little at the edges
        assert true_peak_db(y) <= ceiling
        tags = read_tags(path)
        prov = tags.provenance
        assert prov is not None
        assert (prov.track, prov.commit, prov.dirty, prov.profile) == (track, head, False, profile)
        assert prov.seed == {"boss": 3, "loopy": 5}[track] and prov.fingerprint.startswith("sha256:")
        if track == "loopy":
            assert tags.loop == LoopPoints(0, len(y))
        else:
            assert tags.loop is None
    # What export reports is what the files hold.
    for r in results:
        assert sf.info(str(r.path)).frames == r.frames
        assert r.loudness == pytest.approx(pyloudnorm.Meter(r.sample_rate).integrated_loudness(sf.read(str(r.path))[0]))
    # The loop points in Vorbis comments, read by mutagen itself.
    from mutagen.oggvorbis import OggVorbis

    ogg = OggVorbis(str(files[("loopy", "godot")]))
    assert ogg.tags["LOOPSTART"] == ["0"] and ogg.tags["LOOPLENGTH"] == [str(round(4.2 * 44100))]


def test_exports_are_reproducible_and_seamless_loops_stay_seamless(
    eproject: Project, cache_render: Callable[..., Path]
) -> None:
    first = {r.path: r.path.read_bytes() for r in export_tracks(eproject, "unity")}
    again = {r.path: r.path.read_bytes() for r in export_tracks(eproject, "unity")}
    assert first == again  # no timestamps or temp names inside the files
    # A loop render whose end flows into its start stays seamless through trim-free export at another rate.
    t = np.arange(round(4.2 * RATE)) / RATE
    (eproject.root / PROJECT_FILE).write_text(
        (eproject.root / PROJECT_FILE).read_text() + "\n[export.raw]\nsample_rate = 48000\nloudness = -20.0\n"
    )
    p = load_project(eproject.root)
    periodic = (0.3 * np.sin(2 * np.pi * 250.0 * t) * (1 + 0.5 * np.sin(2 * np.pi * t / 4.2))).astype(np.float32)
    cache_render(p, "loopy", periodic)
    (r,) = export_tracks(p, "raw", ["loopy"])
    y, rate = sf.read(str(r.path))
    assert seam_report(y, rate).seamless
    # The exporter measures the written file's seam itself, against its hops and beats (8 at 120 BPM in 4.2 s).
    assert r.seam is not None and r.seam.seamless and r.seam.beats is not None and r.seam.beats.count == 7
    cache_render(p, "loopy", periodic * np.linspace(1.0, 0.01, len(t)).astype(np.float32))  # fades out, loops back loud
    (r,) = export_tracks(p, "raw", ["loopy"])
    assert r.seam is not None and not r.seam.seamless and r.seam.level_jump_db > 20
    assert all(r.seam is None for r in export_tracks(p, "raw", ["boss"]))


def test_dirty_flag_and_no_git(eproject: Project) -> None:
    track = eproject.tracks_dir / "boss.toml"
    track.write_text(track.read_text() + "# a comment: same audio, but not what HEAD holds\n")
    (r,) = export_tracks(eproject, "godot", ["boss"])
    assert r.provenance.dirty is True and r.provenance.commit == _git(eproject.root, "rev-parse", "HEAD")
    shutil.rmtree(eproject.root / ".git")
    (r,) = export_tracks(eproject, "godot", ["boss"])
    assert r.provenance.commit is None and r.provenance.dirty is None


def test_bad_input_writes_nothing(eproject: Project) -> None:
    out = eproject.root / "build"
    before = sorted(out.rglob("*"))
    short = eproject.tracks_dir / "loopy.toml"
    short.write_text(short.read_text().replace("duration = 4.2", "duration = 1.5"))
    with pytest.raises(InputError, match=r"loop = true but duration = 1.5 s is shorter than one bar \(2 s"):
        export_tracks(eproject)
    short.write_text(short.read_text().replace("duration = 1.5", "duration = 2.05"))
    with pytest.raises(InputError, match="plus the 0.1 s loop_crossfade"):
        export_tracks(eproject, "unity")  # 2.05 s minus a 0.1 s crossfade is less than a 2 s bar
    short.write_text(short.read_text().replace("duration = 2.05", "duration = 4.2"))
    text = (eproject.root / PROJECT_FILE).read_text()
    (eproject.root / PROJECT_FILE).write_text(text.replace('folder = "build/masters"', 'folder = "../elsewhere"'))
    with pytest.raises(InputError, match="is outside the project") as e:
        export_tracks(load_project(eproject.root), "master")
    assert "--out" in str(e.value)
    (eproject.root / PROJECT_FILE).write_text(text)
    (eproject.root / "build" / "export").mkdir(parents=True, exist_ok=True)
    (eproject.root / "build" / "export" / "godot").write_text("a file, not a folder")
    with pytest.raises(AcegitError, match="is a file"):
        export_tracks(eproject)
    assert sorted(out.rglob("*")) == [*before, out / "export", out / "export" / "godot"]


def test_out_folder_outside_the_project(eproject: Project, tmp_path: Path) -> None:
    text = (eproject.root / PROJECT_FILE).read_text()
    (eproject.root / PROJECT_FILE).write_text(text.replace('folder = "build/masters"', 'folder = "../elsewhere"'))
    game = tmp_path / "game" / "music"
    results = export_tracks(load_project(eproject.root), "master", ["boss"], out=game)
    assert [r.path for r in results] == [game / "proj-boss-48000.flac"]
    assert results[0].shown == str(game / "proj-boss-48000.flac")


def test_renders_stale_tracks_and_decodes_snapshots_without_a_cache(
    project: Project, cli: Callable[..., object], tiny_checkpoint: Path
) -> None:
    """With a real (random) tiny model: a stale track is rendered first; without a cache, the snapshot is decoded."""
    shutil.rmtree(project.root / "weights" / "test")
    shutil.copytree(tiny_checkpoint, project.root / "weights" / "test")
    (project.tracks_dir / "example.toml").unlink()
    (project.root / PROJECT_FILE).write_text(
        (project.root / PROJECT_FILE).read_text() + '\n[export.game]\nformat = "wav"\nloudness = -20.0\n'
    )
    p = load_project(project.root)
    cli("add", "loopy", "--prompt", "calm piano loop", "--seed", "2", "--duration", "2", "--steps", "2", "--loop")
    (rendered,) = export_tracks(p, device="cpu")
    assert rendered.source == "rendered" and (p.tracks_dir / "loopy.lock.toml").is_file()
    assert rendered.loop == LoopPoints(0, 2 * RATE)
    shutil.rmtree(p.cache_dir)
    (decoded,) = export_tracks(p, device="cpu")
    assert decoded.source == "snapshot" and decoded.frames == rendered.frames
    a, _ = sf.read(str(decoded.path))
    assert integrated_loudness(a, RATE) == pytest.approx(-20.0, abs=0.5)


def test_no_loudness_target_keeps_the_level_under_the_ceiling(music_like: Callable[..., Any]) -> None:
    from acegit.export import decode, process

    wave = music_like(3.0, RATE) * 3.0  # peaks far over 0 dBFS
    quiet = music_like(3.0, RATE) * 0.1
    track = _track(duration=3.0, loop=False)
    loud = process(wave, RATE, track, parse_profile("p", {"true_peak": -3.0}))
    assert loud.true_peak <= -3.0
    kept = process(quiet, RATE, track, parse_profile("p", {}))
    y, _ = decode(kept.data)
    assert kept.loudness == pytest.approx(integrated_loudness(quiet, RATE), abs=0.05)  # level untouched
    assert np.allclose(y[:, 0], quiet, atol=1 / 32768)  # 16-bit rounding only
