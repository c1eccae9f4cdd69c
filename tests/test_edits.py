"""The edit chain in track files: validation, canonical bytes, fingerprints, `acegit edit` and the merge driver."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

from acegit.errors import InputError
from acegit.fingerprint import source_fingerprint
from acegit.merge import merge_files
from acegit.project import Project
from acegit.status import project_status
from acegit.track import dumps_track, load_track

TRACK = 'prompt = "epic boss"\nseed = 3\nduration = 20.0\n'


def write(project: Project, text: str, name: str = "boss") -> Path:
    path = project.tracks_dir / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_round_trip_is_byte_stable_and_canonical(project: Project) -> None:
    path = write(
        project,
        TRACK + '[[edits]]\nseed = 7\nend = 15\nkind = "repaint"\nstart = 10\n\n'
        '[[edits]]\nkind = "extend"\nseconds = 5\nseed = 2\nprompt = "a long fade to silence over the last bars"\n'
        '[[edits]]\nkind = "vary"\namount = 0.25\nseed = 1\n',
    )
    track = load_track(path, project)
    assert [e.kind for e in track.edits] == ["repaint", "extend", "vary"] and track.length == 25.0
    text = dumps_track(track)
    assert text.endswith(
        "edits = [\n"
        '    { kind = "repaint", start = 10.0, end = 15.0, seed = 7 },\n'
        '    { kind = "extend", seconds = 5.0, seed = 2, prompt = "a long fade to silence over the last bars" },\n'
        '    { kind = "vary", amount = 0.25, seed = 1 },\n'
        "]\n"
    )
    path.write_text(text, encoding="utf-8")
    again = load_track(path, project)
    assert again == track and dumps_track(again) == text


def test_fingerprints_cover_the_chain_and_ignore_an_empty_one(project: Project) -> None:
    plain = load_track(write(project, TRACK), project)
    empty = load_track(write(project, TRACK + "edits = []\n"), project)
    one = load_track(write(project, TRACK + 'edits = [{ kind = "vary", amount = 0.3, seed = 1 }]\n'), project)
    other_seed = load_track(write(project, TRACK + 'edits = [{ kind = "vary", amount = 0.3, seed = 2 }]\n'), project)
    assert source_fingerprint(plain) == source_fingerprint(empty)  # tracks without edits keep their old locks
    assert len({source_fingerprint(t) for t in (plain, one, other_seed)}) == 3


@pytest.mark.parametrize(
    ("edits", "message"),
    [
        ('{ kind = "repaint", start = 10, end = 25, seed = 1 }', "edits[1].end = 25 is outside the track"),
        ('{ kind = "repaint", start = 10, end = 10.2, seed = 1 }', "must be at least 0.5 s after start"),
        ('{ kind = "repaint", start = 1, end = 3, seed = 1, strength = 0 }', "edits[1].strength = 0 repaints nothing"),
        ('{ kind = "repaint", start = 1, end = 3, seed = 1, strength = 1.5 }', "strength = 1.5 is out of range 0–1"),
        ('{ kind = "repaint", start = 1, end = 3 }', "edits[1].seed is missing"),
        (
            '{ kind = "extend", to = 15, seed = 1 }',
            "edits[1].to = 15 must be longer than the track at this edit (20 s)",
        ),
        ('{ kind = "extend", to = 25, seconds = 5, seed = 1 }', "must set exactly one of `to`"),
        ('{ kind = "extend", to = 700, seed = 1 }', "edits[1].to = 700 is out of range 0–600"),
        ('{ kind = "vary", seed = 1 }', "edits[1].amount is missing"),
        ('{ kind = "vary", amount = 2, seed = 1 }', "edits[1].amount = 2 is out of range 0–1"),
        ('{ kind = "vary", amount = 0.3, seed = 1, start = 2 }', "edits[1].start is not a known key"),
        ('{ kind = "paint", seed = 1 }', 'edits[1].kind = "paint" must be one of "repaint", "extend", "vary"'),
        ("3", "edits[1] = 3 must be a table"),
        # checked against the track as the edits before it leave it: 20 s, extended to 30 s, then 25–35 is outside
        (
            '{ kind = "extend", to = 30, seed = 1 }, { kind = "repaint", start = 25, end = 35, seed = 2 }',
            "edits[2].end = 35 is outside the track as it stands at this edit (0–30 s)",
        ),
    ],
)
def test_bad_edits_name_the_edit_and_field(project: Project, edits: str, message: str) -> None:
    path = write(project, TRACK + f"edits = [{edits}]\n")
    with pytest.raises(InputError) as e:
        load_track(path, project)
    assert "tracks/boss.toml" in str(e.value) and message in str(e.value)


def test_an_extend_of_a_loop_and_too_many_edits_are_refused(project: Project) -> None:
    with pytest.raises(InputError, match="does not apply to a loop"):
        load_track(write(project, TRACK + 'loop = true\nedits = [{ kind = "extend", to = 30, seed = 1 }]\n'), project)
    many = ", ".join('{ kind = "vary", amount = 0.1, seed = 1 }' for _ in range(17))
    with pytest.raises(InputError, match="has 17 edits; at most 16"):
        load_track(write(project, TRACK + f"edits = [{many}]\n"), project)


def test_edits_are_refused_for_an_ace_step_model(project: Project, fake_weights: Callable[..., str]) -> None:
    fake_weights(project.root / "weights" / "ace")
    toml = project.root / "acegit.toml"
    toml.write_text(toml.read_text() + '\n[models.ace]\npath = "weights/ace"\nbackend = "ace-step"\n')
    from acegit.project import load_project

    project = load_project(project.root)
    path = write(project, TRACK + 'model = "ace"\nedits = [{ kind = "vary", amount = 0.3, seed = 1 }]\n')
    with pytest.raises(InputError, match=r"edits are not supported by model = \"ace\" \(ace-step backend\)"):
        load_track(path, project)


def test_edit_commands_write_the_track_file_and_keep_its_comments(project: Project, cli: Callable[..., Result]) -> None:
    path = write(project, "# the boss fight\n" + TRACK + "bpm = 140  # fast\n")
    r = cli("edit", "repaint", "boss", "10", "15", "--seed", "7")
    assert r.exit_code == 0, r.output
    assert "edit 1: repaint 10–15 s (seed 7)" in r.output
    assert cli("edit", "extend", "boss", "--to", "30", "--prompt", "outro").exit_code == 0
    assert cli("edit", "vary", "boss", "--amount", "0.2").exit_code == 0
    text = path.read_text()
    assert text.startswith("# the boss fight\n") and "bpm = 140  # fast\n" in text
    edits = tomllib.loads(text)["edits"]
    assert [e["kind"] for e in edits] == ["repaint", "extend", "vary"]
    assert isinstance(edits[1]["seed"], int) and edits[1]["prompt"] == "outro"  # a drawn seed is written down
    listed = cli("edit", "list", "boss")
    assert "1. repaint 10–15 s (seed 7)" in listed.output and "= 30 s" in listed.output
    assert project_status(project).tracks[0].state == "stale"

    bad = cli("edit", "repaint", "boss", "25", "35")
    assert (
        bad.exit_code == 1 and "edits[4].end = 35 is outside the track as it stands at this edit (0–30 s)" in bad.output
    )
    assert path.read_text() == text  # nothing written

    # dropping the extend would leave no room for a repaint inside 20–30 s
    assert cli("edit", "repaint", "boss", "22", "28", "--seed", "1").exit_code == 0
    refused = cli("edit", "drop", "boss", "2")
    assert refused.exit_code == 1 and "dropping edit 2 would leave the chain invalid" in refused.output
    assert cli("edit", "drop", "boss", "4").exit_code == 0
    assert cli("edit", "drop", "boss", "9").exit_code == 1
    assert [e["kind"] for e in tomllib.loads(path.read_text())["edits"]] == ["repaint", "extend", "vary"]
    for n in (3, 2, 1):
        assert cli("edit", "drop", "boss", str(n)).exit_code == 0
    assert "edits" not in path.read_text() and "# the boss fight" in path.read_text()


def test_extend_needs_exactly_one_length(project: Project, cli: Callable[..., Result]) -> None:
    write(project, TRACK)
    r = cli("edit", "extend", "boss")
    assert r.exit_code == 2 and "exactly one of --to SECONDS or --seconds SECONDS" in r.output


def _merge(tmp_path: Path, base: str, ours: str, theirs: str) -> tuple[bool, str, str]:
    files = []
    for name, text in (("O", base), ("A", ours), ("B", theirs)):
        (tmp_path / name).write_text(text, encoding="utf-8")
        files.append(tmp_path / name)
    result = merge_files(files[0], files[1], files[2], "tracks/boss.toml")
    return result.clean, files[1].read_text(encoding="utf-8"), "\n".join(result.messages)


def test_merge_takes_one_sides_new_edit_and_conflicts_on_two(tmp_path: Path) -> None:
    one = '    { kind = "repaint", start = 1.0, end = 3.0, seed = 7 },\n'
    base = TRACK + f"edits = [\n{one}]\n"
    ours = TRACK.replace("seed = 3", "seed = 4") + f"edits = [\n{one}]\n"
    theirs = base.replace("]\n", '    { kind = "vary", amount = 0.3, seed = 1 },\n]\n')
    clean, text, _ = _merge(tmp_path, base, ours, theirs)
    assert clean and tomllib.loads(text)["seed"] == 4 and len(tomllib.loads(text)["edits"]) == 2

    ours = base.replace("]\n", '    { kind = "extend", to = 30.0, seed = 2 },\n]\n')
    clean, text, messages = _merge(tmp_path, base, ours, theirs)
    assert not clean and "both sides changed edits" in messages
    assert "ours added 1 edit(s) and theirs 1 to the same chain" in messages
    assert "<<<<<<< ours" in text and 'kind = "extend"' in text and 'kind = "vary"' in text
