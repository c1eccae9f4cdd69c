from __future__ import annotations

from pathlib import Path

import pytest

from acegit.errors import AcegitError, InputError
from acegit.project import PROJECT_FILE, Project, find_project, load_project


def test_find_project_walks_up(project: Project) -> None:
    deep = project.root / "a" / "b"
    deep.mkdir(parents=True)
    found = find_project(deep)
    assert found.root == project.root
    assert found.name == "proj"
    assert found.tracks_dir == project.root / "tracks"
    assert found.build_dir == project.root / "build"
    assert found.cache_dir == project.root / ".acegit" / "cache"
    assert found.models == {"test": project.root / "weights" / "test"}
    assert found.defaults["model"] == "test" and found.defaults["bpm"] == 120.0


def test_outside_a_project(tmp_path: Path) -> None:
    with pytest.raises(AcegitError, match="acegit new"):
        find_project(tmp_path)


def test_export_tables_are_kept(tmp_path: Path) -> None:
    (tmp_path / PROJECT_FILE).write_text(
        '[project]\nname = "g"\n[export.game]\nformat = "ogg"\nloudness = -16\n', encoding="utf-8"
    )
    assert load_project(tmp_path).export == {"game": {"format": "ogg", "loudness": -16}}


def test_minimal_file_uses_builtin_defaults(tmp_path: Path) -> None:
    (tmp_path / PROJECT_FILE).write_text("", encoding="utf-8")
    p = load_project(tmp_path)
    assert p.name == tmp_path.name and p.audio_format == "wav" and p.defaults == {} and p.models == {}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[defaults]\nbpm = 900\n", "acegit.toml: defaults.bpm = 900 is out of range 20–300"),
        ("[defaults]\ntempo = 90\n", "defaults.tempo is not a known key"),
        ('[paths]\nbuild = "../out"\n', "paths.build"),
        ('[audio]\nformat = "mp3"\n', "audio.format"),
        ('[models.x]\nfile = "w"\n', "[models.x] needs a `path`"),
        ("[project]\nname = 3\n", "project.name"),
        ('[projcet]\nname = "x"\n', "did you mean 'project'"),
    ],
)
def test_bad_project_file(tmp_path: Path, text: str, expected: str) -> None:
    (tmp_path / PROJECT_FILE).write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=None) as info:
        load_project(tmp_path)
    assert expected in str(info.value)


def test_remote_url_is_read_and_a_token_in_acegit_toml_is_refused(tmp_path: Path) -> None:
    from acegit.errors import InputError
    from acegit.project import parse_project

    assert parse_project({"remote": {"url": "http://gpu-box:8765"}}, tmp_path).remote == "http://gpu-box:8765"
    assert parse_project({}, tmp_path).remote is None
    with pytest.raises(InputError, match="credentials never live in acegit.toml") as info:
        parse_project({"remote": {"url": "http://gpu-box:8765", "token": "secret"}}, tmp_path)
    assert info.value.field == "remote.token" and "ACEGIT_TOKEN" in (info.value.hint or "")
    with pytest.raises(InputError, match="must be an http"):
        parse_project({"remote": {"url": "gpu-box:8765"}}, tmp_path)
