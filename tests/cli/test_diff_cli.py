"""`acegit diff`, `log` and `show` through the CLI: exit codes, stdout, stderr."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from test_diff import commit, dproject, latent_for, write_snapshot, write_track  # noqa: F401  (fixture)
from typer.testing import Result

from acegit.project import Project


@pytest.fixture
def two_commits(dproject: Project) -> Project:  # noqa: F811
    p = dproject
    write_track(p, "boss", "epic orchestral boss battle", 7, 3.0)
    write_snapshot(p, "boss", latent_for(7, 3.0))
    write_track(p, "intro", "calm piano", 1, 3.0)
    write_snapshot(p, "intro", latent_for(1, 3.0))
    commit(p.root, "v1")
    write_track(p, "boss", "epic synth boss battle", 8, 3.0)
    write_snapshot(p, "boss", latent_for(8, 3.0))
    commit(p.root, "v2")
    return p


def test_diff_views(two_commits: Project, cli: Callable[..., Result]) -> None:
    page = two_commits.root / "review.html"
    r = cli("diff", "HEAD~1", "HEAD", "--html", str(page))
    assert r.exit_code == 0, r.output
    assert f"wrote {page}" in r.stderr and page.read_text().count("<audio") == 2
    assert "boss  modified  entirely different" in r.stdout
    assert "epic [-orchestral-] {+synth+} boss battle" in r.stdout
    assert "seed            7 → 8" in r.stdout
    assert "change map      ███" in r.stdout and "log-spectral distance" in r.stdout and "LUFS" in r.stdout
    assert "intro" not in r.stdout  # unchanged tracks are not listed

    stat = cli("diff", "HEAD~1", "HEAD", "--stat", "--all")
    assert stat.exit_code == 0
    assert stat.stdout.splitlines() == [
        "boss  modified  change 1.000 ███ entirely different".replace("1.000", stat.stdout.split("change ")[1][:5]),
        "intro unchanged change 0.000 ··· identical",
    ]

    data = json.loads(cli("diff", "HEAD~1", "HEAD", "boss", "--json", "--no-audio").stdout)
    assert data["schema"] == 1 and data["a"] == "HEAD~1" and data["b"] == "HEAD"
    (boss,) = data["tracks"]
    assert boss["verdict"] == "entirely different" and boss["audio"] is None
    assert {p["field"] for p in boss["params"]} == {"prompt", "seed"}
    assert len(boss["latent"]["per_second"]) == 3

    nothing = cli("diff")  # HEAD vs the working tree
    assert nothing.exit_code == 0 and "No track changed between HEAD and working tree." in nothing.stdout


def test_diff_errors(
    two_commits: Project, cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = cli("diff", "nope")
    assert r.exit_code == 1 and "unknown revision or track 'nope'" in r.stderr
    r = cli("diff", "HEAD~7")
    assert r.exit_code == 1 and "unknown revision 'HEAD~7'" in r.stderr
    r = cli("diff", "HEAD~1", "HEAD", "ghost")
    assert r.exit_code == 1 and "no track named 'ghost' at HEAD~1 or at HEAD" in r.stderr

    # The model that made the snapshots is gone: parameters and latents still shown, the failure said, exit 1.
    shutil.rmtree(two_commits.root / "weights" / "test")
    r = cli("diff", "HEAD~1", "HEAD")
    assert r.exit_code == 1
    assert "entirely different" in r.stdout and "change map" in r.stdout
    assert "cannot decode: the model that made it is not available" in r.stderr
    assert cli("diff", "HEAD~1", "HEAD", "--no-audio").exit_code == 0

    outside = tmp_path / "plain"
    shutil.copytree(two_commits.root, outside, ignore=shutil.ignore_patterns(".git"))
    monkeypatch.chdir(outside)
    r = cli("diff")
    assert r.exit_code == 1 and "not inside a Git repository" in r.stderr


def test_log_and_show(two_commits: Project, cli: Callable[..., Result]) -> None:
    r = cli("log", "boss")
    assert r.exit_code == 0
    assert "prompt, seed" in r.stdout and "entirely different" in r.stdout and "new track" in r.stdout
    data = json.loads(cli("log", "boss", "--json", "-n", "1").stdout)
    assert [c["subject"] for c in data["commits"]] == ["v2"]
    assert cli("log", "ghost").exit_code == 1

    out = two_commits.root / "v1.wav"
    r = cli("show", "HEAD~1:boss", "-o", str(out))
    assert r.exit_code == 0 and out.is_file() and "acegit snapshot of track boss" in r.stdout
    bad = cli("show", "HEAD~1:boss", "-o", str(two_commits.root / "v1.mp3"))
    assert bad.exit_code == 2 and "unsupported audio format" in bad.stderr
    assert cli("show", "HEAD~9:boss").exit_code == 1


def test_textconv_through_git_log(two_commits: Project) -> None:
    """`git log -p` of a lock file with the driver installed shows summaries, not base64."""
    import sys

    script = Path(sys.executable).with_name("acegit")
    command = f"{script} textconv" if script.exists() else f"{sys.executable} -m acegit textconv"
    subprocess.run(["git", "config", "diff.acegit.textconv", command], cwd=two_commits.root, check=True)
    out = subprocess.run(
        ["git", "log", "-p", "--", "tracks/boss.lock.toml"], cwd=two_commits.root, capture_output=True, text=True
    ).stdout
    assert out.count("acegit snapshot of track boss") >= 2 and 'data = """' not in out


def test_real_renders_seed_change(dproject: Project, cli: Callable[..., Result]) -> None:  # noqa: F811
    """Snapshots made by `acegit render` itself: an unrendered edit is flagged, a new seed is entirely different."""

    def ok(*args: str) -> Result:
        r = cli(*args)
        assert r.exit_code == 0, r.output
        return r

    ok("add", "boss", "--prompt", "dark synth", "--seed", "3", "--duration", "2", "--steps", "2")
    ok("render")
    commit(dproject.root, "v1")
    track = dproject.tracks_dir / "boss.toml"
    track.write_text(track.read_text().replace("seed = 3", "seed = 4"))
    r = ok("diff", "--no-audio")
    assert "boss  modified  identical" in r.stdout and "seed            3 → 4" in r.stdout
    assert "not rendered    the snapshot predates these changes: run `acegit render boss`" in r.stdout
    ok("render")
    data = json.loads(ok("diff", "--json").stdout)["tracks"][0]
    assert data["verdict"] == "entirely different" and not data["not_rendered"]
    assert data["latent"]["change"] > 0.5 and data["audio"]["lsd_db"] > 1.0
    commit(dproject.root, "v2")
    ok("render", "--force", "--no-cache")  # the same inputs again: the same bits, so nothing to show
    assert "No track changed" in ok("diff").stdout
