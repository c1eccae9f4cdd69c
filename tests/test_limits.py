"""Untrusted content (acegit/limits.py, acegit/midi.py): bombs and damaged files from a pull request are refused fast,
within a memory bound, with an error naming the file and the limit; property-based fuzzing of the readers."""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import io
import re
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acegit import limits
from acegit.errors import AcegitError
from acegit.lockfile import read_lock
from acegit.midi import scan_midi
from acegit.project import Project

FUZZ = settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _bomb_lock(lock_file: Path, shape: list[int], inflated: int) -> None:
    """Replace a lock's latent with a zlib stream of `inflated` zero bytes, its payload hash updated to match (as a
    hostile contributor would)."""
    payload = zlib.compress(b"\0" * inflated, 9)
    text = lock_file.read_text(encoding="utf-8")
    b64 = base64.b64encode(payload).decode()
    data = "\n".join(b64[i : i + 76] for i in range(0, len(b64), 76))
    text = re.sub(r'data = """.*"""', lambda _: f'data = """\n{data}\n"""', text, flags=re.S)
    text = re.sub(r"shape = \[[^\]]*\]", f"shape = {shape}", text, flags=re.S)
    text = re.sub(r'payload_sha256 = "[0-9a-f]+"', f'payload_sha256 = "{hashlib.sha256(payload).hexdigest()}"', text)
    lock_file.write_text(text, encoding="utf-8")


def _limited(
    args: list[str], cwd: Path, mem_bytes: int, timeout: float = 60
) -> tuple[subprocess.CompletedProcess, float]:
    """Run `python -m acegit ARGS` with an address-space limit; returns the result and its wall time."""
    code = (
        "import resource, sys\n"
        f"resource.setrlimit(resource.RLIMIT_AS, ({mem_bytes}, {mem_bytes}))\n"
        "from acegit.cli import main\nsys.argv = ['acegit'] + sys.argv[1:]\nmain()\n"
    )
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    return proc, time.perf_counter() - start


GiB = 1 << 30


# --- lock files --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "inflated", "why"),
    [
        ([8, 16, 4194304], 1 << 30, "more frames than"),  # the 1-GiB bomb: refused from its declared shape
        ([8, 16, 1000], 1 << 30, "inflates past"),  # a plausible shape, a stream that inflates far past it
        ([8, 16, 4], 10, "holds 10 bytes"),  # short
    ],
)
def test_latent_bombs_are_refused_before_they_inflate(
    project: Project, render_fake: Callable[[Project, str], Path], shape: list[int], inflated: int, why: str
) -> None:
    lock_file = render_fake(project, "example")
    _bomb_lock(lock_file, shape, inflated)
    start = time.perf_counter()
    with pytest.raises(AcegitError, match=why) as info:
        read_lock(lock_file)
    assert time.perf_counter() - start < 2.0
    assert "snapshot is damaged" in str(info.value)


def test_textconv_and_status_on_a_bomb_stay_small_and_fast(
    project: Project, render_fake: Callable[[Project, str], Path]
) -> None:
    lock_file = render_fake(project, "example")
    _bomb_lock(lock_file, [8, 16, 1000], 1 << 30)
    proc, seconds = _limited(["textconv", str(lock_file)], project.root, 1 * GiB)
    assert proc.returncode == 0, proc.stderr  # git diff keeps working
    assert proc.stdout.count("\n") == 1 and "cannot be read" in proc.stdout and "inflates past" in proc.stdout
    assert seconds < 20
    proc, seconds = _limited(["status"], project.root, 1 * GiB)
    assert proc.returncode in (0, 1) and "Traceback" not in proc.stderr, proc.stderr
    assert seconds < 20


def test_an_oversized_lock_file_is_refused_unread(
    project: Project, render_fake: Callable[[Project, str], Path]
) -> None:
    lock_file = render_fake(project, "example")
    with open(lock_file, "a", encoding="utf-8") as f:
        f.write("# " + "x" * limits.MAX_LOCK_BYTES + "\n")
    with pytest.raises(AcegitError, match="larger than acegit's limit"):
        read_lock(lock_file)


def test_deeply_nested_toml_is_refused() -> None:
    with pytest.raises(ValueError, match="nested more than"):
        limits.loads_toml(b"a = " + b"[" * 5000 + b"]" * 5000)
    with pytest.raises(ValueError, match="nested more than"):
        limits.loads_toml(b"a = " + b"[" * 20 + b"]" * 20)
    with pytest.raises(ValueError, match="string of"):
        limits.loads_toml(b'a = "' + b"x" * (limits.MAX_TOML_STRING + 1) + b'"')
    assert limits.loads_toml(b'a = [[1, 2], {b = "c"}]') == {"a": [[1, 2], {"b": "c"}]}


@FUZZ
@given(data=st.data())
def test_fuzz_the_lock_reader(
    project: Project, render_fake: Callable[[Project, str], Path], data: st.DataObject
) -> None:
    """Mutated lock files (bytes flipped, cut, inserted) give a Lock or the project's own error, nothing else."""
    path = project.root / "tracks" / "example.lock.toml"
    if not path.exists():
        render_fake(project, "example")
    good = path.read_bytes()
    fuzzed = _mutate(good, data)
    target = project.root / "fuzz.lock.toml"
    target.write_bytes(fuzzed)
    with contextlib.suppress(AcegitError):  # the project's own error is the only one allowed out
        read_lock(target)


def _mutate(good: bytes, data: st.DataObject) -> bytes:
    out = bytearray(good)
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert", "truncate"]))
        at = data.draw(st.integers(0, max(len(out) - 1, 0)))
        if op == "flip" and out:
            out[at] = data.draw(st.integers(0, 255))
        elif op == "cut":
            del out[at : at + data.draw(st.integers(1, 64))]
        elif op == "insert":
            out[at:at] = data.draw(st.binary(min_size=1, max_size=32))
        else:
            del out[at:]
    return bytes(out)


# --- MIDI ----------------------------------------------------------------------------------------------------------


def _smf(events: bytes, resolution: int = 480, tracks: int = 1) -> bytes:
    header = b"MThd" + struct.pack(">IHHH", 6, 1, tracks, resolution)
    track = events + b"\x00\xff\x2f\x00"  # end of track
    return header + (b"MTrk" + struct.pack(">I", len(track)) + track) * tracks


def _notes(n: int) -> bytes:
    """n note-ons (running status after the first), each followed by its note-off as a velocity-0 note-on."""
    return b"\x00\x90\x3c\x40" + b"\x10\x3c\x00" + b"\x00\x3c\x40\x10\x3c\x00" * (n - 1)


@functools.cache
def _pretty_midi_file() -> bytes:
    import pretty_midi

    midi = pretty_midi.PrettyMIDI(initial_tempo=100)
    piano = pretty_midi.Instrument(program=0)
    for i in range(16):
        piano.notes.append(pretty_midi.Note(velocity=90, pitch=60 + i % 12, start=i * 0.5, end=i * 0.5 + 0.4))
    midi.instruments.append(piano)
    buf = io.BytesIO()
    midi.write(buf)
    return buf.getvalue()


def test_a_real_melody_passes_the_scan() -> None:
    summary = scan_midi(_pretty_midi_file())
    assert summary.notes == 16 and summary.tracks >= 1 and 7.0 < summary.seconds < 20.0


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (_smf(_notes(limits.MAX_MIDI_NOTES + 1)), "more than 20,000 notes"),
        (_smf(b"\x83\xff\xff\x7f\x90\x3c\x40"), "past tick"),  # one delta of ~8.4 M ticks
        (_smf(b"\x00\xff\x51\x03\xff\xff\xff" + b"\x83\xa0\x00\x90\x3c\x40"), "lasts up to"),  # 16.7 s per beat
        (_smf(b"", resolution=0), "time resolution"),
        (_smf(b"", tracks=limits.MAX_MIDI_TRACKS + 1), "more than 64 tracks"),
        (_smf(b"\x00\x90\x3c\x40")[:-6], "ends in the middle|runs past"),
        (b"RIFF" + b"\0" * 40, "not a standard MIDI file"),
    ],
    ids=["notes", "ticks", "seconds", "resolution", "tracks", "truncated", "not-midi"],
)
def test_midi_bombs_and_damage_are_refused(data: bytes, why: str) -> None:
    start = time.perf_counter()
    with pytest.raises(ValueError, match=why):
        scan_midi(data)
    assert time.perf_counter() - start < 2.0


def test_a_million_note_melody_is_refused_by_render_in_bounded_time_and_memory(project: Project) -> None:
    """The issue's MIDI bomb (a million notes: 25 s and 1 GB of pretty_midi before) through the real CLI."""
    (project.root / "midi").mkdir()
    (project.root / "midi" / "bomb.mid").write_bytes(_smf(_notes(1_000_000)))
    track = project.root / "tracks" / "example.toml"
    track.write_text(track.read_text(encoding="utf-8") + 'melody = "midi/bomb.mid"\n', encoding="utf-8")
    proc, seconds = _limited(["status"], project.root, 1 * GiB)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "midi/bomb.mid" in proc.stdout + proc.stderr and "larger than acegit's limit" in proc.stdout + proc.stderr
    assert seconds < 20


@FUZZ
@given(data=st.data())
def test_fuzz_the_midi_scanner(data: st.DataObject) -> None:
    """Mutated and random MIDI bytes: a summary within the limits or a ValueError, and pretty_midi never sees past
    a limit."""
    good = _pretty_midi_file()
    blob = _mutate(good, data) if data.draw(st.booleans()) else data.draw(st.binary(max_size=512))
    try:
        summary = scan_midi(blob)
    except ValueError:
        return
    assert summary.notes <= limits.MAX_MIDI_NOTES and summary.last_tick <= limits.MAX_MIDI_TICKS
    assert summary.seconds <= limits.MAX_MIDI_SECONDS


# --- the merge driver ----------------------------------------------------------------------------------------------

TRACK = b'prompt = "calm solo piano"\nseed = 7\nduration = 12.0\nbpm = 90\ntags = [\n    "a",\n    "b",\n]\n'


@settings(FUZZ, max_examples=250)  # each example runs `git merge-file`
@given(data=st.data())
def test_fuzz_the_merge_driver(tmp_path: Path, data: st.DataObject) -> None:
    """Mutated track files on any of the three sides: a merge result (clean or with conflicts), never a crash."""
    from acegit.merge import merge_files

    sides = {}
    for side in ("base", "ours", "theirs"):
        sides[side] = tmp_path / f"{side}.toml"
        sides[side].write_bytes(_mutate(TRACK, data) if data.draw(st.booleans()) else TRACK)
    result = merge_files(sides["base"], sides["ours"], sides["theirs"], "tracks/x.toml")
    assert isinstance(result.clean, bool)


def test_a_hostile_track_merges_in_linear_time(tmp_path: Path) -> None:
    """A 256-KiB file of lines that never parse: the statement search is bounded, so the merge falls back to git's
    text merge in well under a second instead of re-parsing the file once per line."""
    from acegit.merge import merge_files

    hostile = b'a = """\n' + b"x\n" * 100_000
    for side in ("base", "ours", "theirs"):
        (tmp_path / side).write_bytes(hostile if side != "theirs" else TRACK)
    start = time.perf_counter()
    merge_files(tmp_path / "base", tmp_path / "ours", tmp_path / "theirs", "tracks/x.toml")
    assert time.perf_counter() - start < 10


@pytest.mark.parametrize(
    "args",
    [
        ["textconv", "tracks/example.lock.toml"],
        ["status"],
        ["diff", "HEAD~1", "HEAD"],
        ["show", "HEAD:example", "-o", "old.wav"],
        ["export", "-p", "game"],
        ["render", "--check"],
    ],
    ids=lambda a: a[0],
)
def test_every_reader_of_a_committed_bomb_stays_bounded(
    project: Project, render_fake: Callable[[Project, str], Path], args: list[str]
) -> None:
    """A bomb lock committed as a pull request would: each command finishes within a 4-GiB address space (torch's own
    reservation included) and 60 s, with the project's own error or verdict, never a traceback."""
    lock_file = render_fake(project, "example")
    subprocess.run(["git", "add", "-A"], cwd=project.root, check=True, capture_output=True)
    subprocess.run(["git", "commit", "-qm", "good"], cwd=project.root, check=True, capture_output=True)
    _bomb_lock(lock_file, [8, 16, 1000], 1 << 30)
    game = '\n[export.game]\nformat = "wav"\n'
    if "[export.game]" not in (project.root / "acegit.toml").read_text(encoding="utf-8"):
        with open(project.root / "acegit.toml", "a", encoding="utf-8") as f:
            f.write(game)
    subprocess.run(["git", "add", "-A"], cwd=project.root, check=True, capture_output=True)
    subprocess.run(["git", "commit", "-qm", "bomb"], cwd=project.root, check=True, capture_output=True)
    proc, seconds = _limited(args, project.root, 4 * GiB)
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out and "MemoryError" not in out, out
    assert proc.returncode in (0, 1), out
    assert seconds < 60
    if args[0] != "status":
        assert "damaged" in out or "corrupt" in out or "cannot be read" in out, out


# --- track and project files ---------------------------------------------------------------------------------------


@FUZZ
@given(data=st.data())
def test_fuzz_the_track_reader(project: Project, data: st.DataObject) -> None:
    """Mutated track files (the shipped example, bytes flipped, cut, inserted): a Track or an InputError."""
    from acegit.track import load_track

    good = TRACK if data.draw(st.booleans()) else (project.tracks_dir / "example.toml").read_bytes()
    target = project.tracks_dir / "fuzz.toml"
    target.write_bytes(_mutate(good, data))
    with contextlib.suppress(AcegitError):
        load_track(target, project)


@FUZZ
@given(data=st.data())
def test_fuzz_the_project_reader(project: Project, data: st.DataObject) -> None:
    """Mutated acegit.toml files: a Project or an InputError, never another exception."""
    from acegit.project import PROJECT_FILE, load_project

    good = _good_project(project)
    (project.root / PROJECT_FILE).write_bytes(_mutate(good, data))
    with contextlib.suppress(AcegitError):
        load_project(project.root)


_PROJECT_TEXT: dict[Path, bytes] = {}


def _good_project(project: Project) -> bytes:
    from acegit.project import PROJECT_FILE

    if project.root not in _PROJECT_TEXT:
        _PROJECT_TEXT[project.root] = (project.root / PROJECT_FILE).read_bytes()
    return _PROJECT_TEXT[project.root]
