"""docs/ci.md's recipe, run locally in sequence (no network): render, commit, `render --check`, the sharded CI job."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import Result

from acegit.project import PROJECT_FILE, Project, load_project
from acegit.render import in_shard

DOC = Path(__file__).resolve().parents[1] / "docs" / "ci.md"
MATRIX = "${{ matrix.shard }}"
TRACKS = ("boss", "intro")  # shards 2 and 4 of 4: two shards hold a track, two are empty


def _blocks() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def github_workflow() -> dict[str, Any]:
    (block,) = [b for b in _blocks() if "jobs:" in b]
    doc: dict[str, Any] = yaml.safe_load(block)
    return doc


def acegit_lines(steps: list[dict[str, Any]]) -> list[str]:
    """The shell lines of `run:` steps that call acegit, in order (installs and uploads are CI plumbing)."""
    lines = []
    for step in steps:
        for line in str(step.get("run", "")).splitlines():
            if "acegit " in line and not line.lstrip().startswith("pip "):
                lines.append(line.strip())
    return lines


def test_recipe_structure() -> None:
    wf = github_workflow()
    job = wf["jobs"]["audio"]
    shards = job["strategy"]["matrix"]["shard"]
    n = len(shards)
    assert shards == list(range(1, n + 1)) and job["needs"] == "snapshots"
    lines = acegit_lines(job["steps"])
    assert any("acegit render --check" in ln and f"--shard {MATRIX}/{n}" in ln for ln in lines)
    assert any("acegit export --profile game" in ln and f"--shard {MATRIX}/{n}" in ln for ln in lines)
    cached = {s["with"]["path"] for s in job["steps"] if str(s.get("uses", "")).startswith("actions/cache")}
    assert {"~/.cache/pip", ".acegit/cache", "models"} <= cached
    uploads = [s["with"]["path"] for s in job["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact")]
    assert "build/export/game/" in uploads
    # The GitLab job runs the same acegit commands, with GitLab's shard variables.
    (gitlab,) = [yaml.safe_load(b) for b in _blocks() if "parallel:" in b]
    gl = [ln for ln in gitlab["audio"]["script"] if "acegit " in ln and not ln.startswith("pip ")]
    ours = acegit_lines(wf["jobs"]["snapshots"]["steps"]) + lines
    assert gl == [
        ln.replace(f"{MATRIX}/{n}", "$CI_NODE_INDEX/$CI_NODE_TOTAL").replace(MATRIX, "$CI_NODE_INDEX") for ln in ours
    ]


class Recipe:
    """Runs recipe lines, `acegit ARGS [> FILE]`, in-process; records each call."""

    def __init__(self, root: Path, cli: Callable[..., Result]) -> None:
        self.root, self.cli = root, cli
        self.calls: list[tuple[list[str], Result]] = []

    def run(self, line: str) -> Result:
        words = shlex.split(line)
        assert words[0] == "acegit", f"the test cannot run this recipe line: {line}"
        target = None
        if ">" in words:
            words, target = words[: words.index(">")], words[words.index(">") + 1]
        result = self.cli(*words[1:])
        self.calls.append((words[1:], result))
        if target is not None:
            (self.root / target).write_text(result.stdout, encoding="utf-8")
        return result


def _ok(result: Result) -> None:
    assert result.exit_code == 0, result.output


@pytest.fixture
def tiny(project: Project, tiny_checkpoint: Path) -> Project:
    """The project on a real (random) tiny checkpoint, with a `game` export profile and two 2 s tracks."""
    text = (project.root / PROJECT_FILE).read_text()
    text = text.replace('path = "weights/test"', f'path = "{tiny_checkpoint}"')
    (project.root / PROJECT_FILE).write_text(text + '\n[export.game]\nformat = "ogg"\nloudness = -16.0\n')
    (project.tracks_dir / "example.toml").unlink()
    for seed, name in enumerate(TRACKS):
        (project.tracks_dir / f"{name}.toml").write_text(
            f'prompt = "{name} theme"\nseed = {seed}\nduration = 2.0\nsteps = 2\n', encoding="utf-8"
        )
    return load_project(project.root)


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def test_recipe_runs_locally_in_sequence(tiny: Project, cli: Callable[..., Result]) -> None:
    wf = github_workflow()
    n = len(wf["jobs"]["audio"]["strategy"]["matrix"]["shard"])
    assert {k for name in TRACKS for k in range(1, n + 1) if in_shard(name, (k, n))} == {2, 4}
    recipe = Recipe(tiny.root, cli)

    # A developer renders and commits (the hook would do it, docs/workflow.md).
    _ok(cli("render"))
    _git(tiny.root, "add", "-A")
    _git(tiny.root, "commit", "-qm", "tracks and snapshots")

    # CI: the fast job, then every shard of the matrix job (`render --check` over all shards = over every track).
    for line in acegit_lines(wf["jobs"]["snapshots"]["steps"]):
        _ok(recipe.run(line))
    checked: list[str] = []
    for k in range(1, n + 1):
        for line in acegit_lines(wf["jobs"]["audio"]["steps"]):
            _ok(recipe.run(line.replace(MATRIX, str(k))))
        report = json.loads((tiny.root / f"check-{k}.json").read_text())
        assert report["ok"] and all(t["verdict"] == "exact" for t in report["tracks"])
        checked += [t["name"] for t in report["tracks"]]
    assert sorted(checked) == sorted(TRACKS)  # the shards cover every track exactly once

    exports = [result for args, result in recipe.calls if args[0] == "export"]
    assert len(exports) == n and sum("No tracks to export." in r.stdout for r in exports) == 2  # two empty shards
    files = sorted(p.name for p in (tiny.root / "build" / "export" / "game").iterdir())
    assert files == sorted(f"{t}.ogg" for t in TRACKS)  # the shards exported every track

    # A track committed without rendering fails its shard's check (stale), without sampling.
    track = tiny.tracks_dir / "intro.toml"
    track.write_text(track.read_text().replace("seed = 1", "seed = 7"))
    _git(tiny.root, "commit", "-qam", "intro: new seed, not rendered")
    (line,) = [ln for ln in acegit_lines(wf["jobs"]["audio"]["steps"]) if "render --check" in ln]
    failed = recipe.run(line.replace(MATRIX, "4"))
    assert failed.exit_code == 1
    (intro,) = json.loads((tiny.root / "check-4.json").read_text())["tracks"]
    assert intro["name"] == "intro" and intro["verdict"] == "stale"
    assert recipe.run(acegit_lines(wf["jobs"]["snapshots"]["steps"])[0]).exit_code == 1  # acegit hook check
