"""Every user mistake is one clear message naming the file and field, exit 1, and never a traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

from acegit.project import Project

GOOD = 'prompt = "x"\nseed = 1\n'
LONG = "a" * 65

# (id, files to write relative to the project root, command, substrings the output must contain)
CASES: list[tuple[str, dict[str, str | bytes], list[str], list[str]]] = [
    # track files: syntax
    ("toml-unclosed-string", {"tracks/bad.toml": 'prompt = "x\nseed = 1\n'}, ["status"], ["tracks/bad.toml", "line 1"]),
    (
        "toml-bare-word",
        {"tracks/bad.toml": "seed = 1\nprompt = x\n"},
        ["status"],
        ["tracks/bad.toml", "line 2, column 10"],
    ),
    ("toml-not-utf8", {"tracks/bad.toml": b'prompt = "\xff"\n'}, ["status"], ["tracks/bad.toml", "UTF-8"]),
    # unknown and missing keys
    ("unknown-key-bmp", {"tracks/bad.toml": GOOD + "bmp = 90\n"}, ["status"], ["tracks/bad.toml: bmp", "'bpm'"]),
    ("unknown-key-promt", {"tracks/bad.toml": 'promt = "x"\nseed = 1\n'}, ["status"], ["tracks/bad.toml", "'prompt'"]),
    ("missing-prompt", {"tracks/bad.toml": "seed = 1\n"}, ["status"], ["tracks/bad.toml: prompt is missing"]),
    ("missing-seed", {"tracks/bad.toml": 'prompt = "x"\n'}, ["status"], ["tracks/bad.toml: seed is missing"]),
    # wrong types
    (
        "prompt-empty",
        {"tracks/bad.toml": 'prompt = "  "\nseed = 1\n'},
        ["status"],
        ["tracks/bad.toml: prompt is empty"],
    ),
    (
        "prompt-int",
        {"tracks/bad.toml": "prompt = 3\nseed = 1\n"},
        ["status"],
        ["tracks/bad.toml: prompt = 3 must be a"],
    ),
    ("seed-float", {"tracks/bad.toml": GOOD.replace("1", "1.5")}, ["status"], ["tracks/bad.toml: seed = 1.5 must be"]),
    ("seed-string", {"tracks/bad.toml": GOOD.replace("1", '"12"')}, ["status"], ['tracks/bad.toml: seed = "12" must']),
    ("seed-bool", {"tracks/bad.toml": GOOD.replace("1", "true")}, ["status"], ["tracks/bad.toml: seed = true must be"]),
    ("duration-str", {"tracks/bad.toml": GOOD + 'duration = "long"\n'}, ["status"], ['bad.toml: duration = "long"']),
    ("steps-float", {"tracks/bad.toml": GOOD + "steps = 20.5\n"}, ["status"], ["tracks/bad.toml: steps = 20.5 must"]),
    ("key-int", {"tracks/bad.toml": GOOD + "key = 5\n"}, ["status"], ["tracks/bad.toml: key = 5 must be a string"]),
    (
        "loop-string",
        {"tracks/bad.toml": GOOD + 'loop = "yes"\n'},
        ["status"],
        ["tracks/bad.toml: loop", "true or false"],
    ),
    ("tags-string", {"tracks/bad.toml": GOOD + 'tags = "boss"\n'}, ["status"], ["tracks/bad.toml: tags", "list of"]),
    ("tags-ints", {"tracks/bad.toml": GOOD + "tags = [1, 2]\n"}, ["status"], ["tracks/bad.toml: tags = [1, 2]"]),
    ("model-empty", {"tracks/bad.toml": GOOD + 'model = ""\n'}, ["status"], ["tracks/bad.toml: model is empty"]),
    ("model-unknown", {"tracks/bad.toml": GOOD + 'model = "tiyn"\n'}, ["status"], ['bad.toml: model = "tiyn"', "tiny"]),
    (
        "steps-for-a-step-distilled-model",
        {"tracks/bad.toml": GOOD + 'model = "tiny-turbo"\nsteps = 20\n'},
        ["render", "bad"],
        ['tracks/bad.toml: steps = 20, sampler = "euler"', "'tiny-turbo' is distilled for steps = 5"],
    ),
    # out of range
    (
        "seed-negative",
        {"tracks/bad.toml": GOOD.replace("1", "-1")},
        ["status"],
        ["bad.toml: seed = -1 is out of range"],
    ),
    ("seed-2^32", {"tracks/bad.toml": GOOD.replace("1", "4294967296")}, ["status"], ["range 0–4294967295"]),
    ("duration-short", {"tracks/bad.toml": GOOD + "duration = 0.5\n"}, ["status"], ["bad.toml: duration = 0.5 is out"]),
    (
        "duration-long",
        {"tracks/bad.toml": GOOD + "duration = 601\n"},
        ["status"],
        ["duration = 601 is out of range 1–600"],
    ),
    (
        "bpm-900",
        {"tracks/bad.toml": GOOD + "bpm = 900\n"},
        ["status"],
        ["tracks/bad.toml: bpm = 900 is out of range 20–300"],
    ),
    ("bpm-10", {"tracks/bad.toml": GOOD + "bpm = 10\n"}, ["status"], ["tracks/bad.toml: bpm = 10 is out of range"]),
    ("bpm-nan", {"tracks/bad.toml": GOOD + "bpm = nan\n"}, ["status"], ["tracks/bad.toml: bpm = nan is out of range"]),
    (
        "steps-0",
        {"tracks/bad.toml": GOOD + "steps = 0\n"},
        ["status"],
        ["tracks/bad.toml: steps = 0 is out of range 1–200"],
    ),
    ("steps-500", {"tracks/bad.toml": GOOD + "steps = 500\n"}, ["status"], ["tracks/bad.toml: steps = 500 is out"]),
    ("guidance-neg", {"tracks/bad.toml": GOOD + "guidance = -1\n"}, ["status"], ["tracks/bad.toml: guidance = -1 is"]),
    ("guidance-25", {"tracks/bad.toml": GOOD + "guidance = 25\n"}, ["status"], ["guidance = 25 is out of range 0–20"]),
    # choices and keys
    ("key-H", {"tracks/bad.toml": GOOD + 'key = "H major"\n'}, ["status"], ['tracks/bad.toml: key = "H major" is not']),
    (
        "key-mode",
        {"tracks/bad.toml": GOOD + 'key = "C dorian"\n'},
        ["status"],
        ["tracks/bad.toml: key", "unknown mode"],
    ),
    (
        "time-sig",
        {"tracks/bad.toml": GOOD + 'time_signature = "5/4"\n'},
        ["status"],
        ["bad.toml: time_signature", "4/4"],
    ),
    (
        "sampler",
        {"tracks/bad.toml": GOOD + 'sampler = "ddim"\n'},
        ["status"],
        ['tracks/bad.toml: sampler = "ddim"', "heun"],
    ),
    # melody
    (
        "melody-missing",
        {"tracks/bad.toml": GOOD + 'melody = "midi/x.mid"\n'},
        ["status"],
        ["bad.toml: melody", "not exist"],
    ),
    ("melody-escape", {"tracks/bad.toml": GOOD + 'melody = "../../etc/passwd"\n'}, ["status"], ["melody", "outside"]),
    (
        "melody-absolute",
        {"tracks/bad.toml": GOOD + 'melody = "/etc/passwd"\n'},
        ["status"],
        ["bad.toml: melody", "relative"],
    ),
    (
        "melody-not-midi",
        {"tracks/bad.toml": GOOD + 'melody = "notes.txt"\n', "notes.txt": "hi"},
        ["status"],
        ["tracks/bad.toml: melody", "not a MIDI file"],
    ),
    # track names
    ("name-space", {"tracks/Boss Fight.toml": GOOD}, ["status"], ["tracks/Boss Fight.toml", "not a safe file name"]),
    ("name-dash", {"tracks/-x.toml": GOOD}, ["status"], ["tracks/-x.toml", "not a safe file name"]),
    ("name-long", {f"tracks/{LONG}.toml": GOOD}, ["status"], [f"tracks/{LONG}.toml", "at most 64"]),
    (
        "name-twice",
        {"tracks/Boss.toml": GOOD, "tracks/boss.toml": GOOD},
        ["status"],
        ["tracks/Boss.toml and", "same name"],
    ),
    # acegit add
    ("add-unsafe-name", {}, ["add", "Boss", "--prompt", "x"], ["tracks/Boss.toml", "not a safe file name", "'boss'"]),
    ("add-existing", {}, ["add", "example", "--prompt", "x"], ["tracks/example.toml already exists"]),
    ("add-bpm", {}, ["add", "b", "--prompt", "x", "--bpm", "900"], ["tracks/b.toml: bpm = 900 is out of range 20–300"]),
    ("add-key", {}, ["add", "b", "--prompt", "x", "--key", "X"], ['tracks/b.toml: key = "X" is not']),
    ("add-seed", {}, ["add", "b", "--prompt", "x", "--seed", "-5"], ["tracks/b.toml: seed = -5 is out of range"]),
    ("add-melody", {}, ["add", "b", "-p", "x", "--melody", "../../etc/passwd"], ["tracks/b.toml: melody", "outside"]),
    ("add-empty-prompt", {}, ["add", "b", "--prompt", ""], ["tracks/b.toml: prompt is empty"]),
    ("add-sampler", {}, ["add", "b", "--prompt", "x", "--sampler", "ddim"], ["tracks/b.toml: sampler"]),
    # the project file
    ("project-toml", {"acegit.toml": "[project\n"}, ["status"], ["acegit.toml", "line 1"]),
    ("project-unknown", {"acegit.toml": "[defaults]\ntempo = 1\n"}, ["status"], ["acegit.toml: defaults.tempo", "bpm"]),
    ("project-range", {"acegit.toml": "[defaults]\nbpm = 900\n"}, ["status"], ["acegit.toml: defaults.bpm = 900"]),
    (
        "project-paths",
        {"acegit.toml": '[paths]\ntracks = "../x"\n'},
        ["status"],
        ["acegit.toml: paths.tracks", "outside"],
    ),
    ("new-existing", {}, ["new", "."], ["already an acegit project"]),
    ("new-under-a-file", {"afile": "x"}, ["new", "afile/sub"], ["cannot create the project in afile/sub", "afile"]),
    # lock files (status reads their head)
    (
        "lock-newer",
        {"tracks/example.lock.toml": 'format = 2\ntrack = "example"\n'},
        ["status"],
        ["newer acegit", "pgrade"],
    ),
    ("lock-garbage", {"tracks/example.lock.toml": b"\x00\xff\x00"}, ["status"], ["example.lock.toml", "damaged"]),
    (
        "lock-truncated",
        {"tracks/example.lock.toml": 'format = 1\ntrack = "exa'},
        ["status"],
        ["example.lock.toml", "TOML"],
    ),
    (
        "lock-no-input",
        {"tracks/example.lock.toml": 'format = 1\ntrack = "example"\n'},
        ["status"],
        ["tracks/example.lock.toml", "[input] is missing", "acegit render example --force"],
    ),
    (
        "lock-other-track",
        {
            "tracks/example.lock.toml": 'format = 1\ntrack = "boss"\n[input]\nfingerprint = "a"\nsource = "b"\n'
            'model = "test"\nweights = "c"\nrender_format = 1\n'
        },
        ["status"],
        ["tracks/example.lock.toml", "belongs to track 'boss'"],
    ),
]


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize(("files", "args", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input(
    project: Project, cli: Callable[..., Result], files: dict[str, str | bytes], args: list[str], expected: list[str]
) -> None:
    for rel, content in files.items():
        path = project.root / rel
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    result = cli(*args)
    out = _flat(result.output)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    for part in expected:
        assert _flat(part) in out, f"{part!r} not in {result.output!r}"


def test_status_outside_a_project(tmp_path: Path, cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli("status")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "not inside an acegit project" in result.output and "acegit new" in result.output


def test_enough_cases() -> None:
    assert len(CASES) + 1 >= 30
