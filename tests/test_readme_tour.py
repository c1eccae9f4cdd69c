"""README.md's tour ("## A project"), run command by command as a new user would, with the real `acegit` command.

Only the lengths change: every track is made 2 s long with 2 sampling steps, so the built-in `tiny` model renders the
tour in seconds. The commands are read from the README itself, so the tour and this test cannot drift apart.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def tour_commands() -> list[list[str]]:
    """The bash block after "## A project", one argv per command (`a && b` is two; comments dropped)."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## A project") :]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block is not None, "README.md's tour has no ```bash block"
    commands = []
    for line in block.group(1).splitlines():
        line = line.split(" #", 1)[0].strip()
        for part in filter(None, (p.strip() for p in line.split("&&"))):
            commands.append(shlex.split(part))
    return commands


def _shorten(project: Path) -> None:
    """Tracks of 2 s sampled in 2 steps (the tour's own commands stay as written)."""
    toml = project / "acegit.toml"
    text = toml.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^duration = .*$", "duration = 2.0", text)
    toml.write_text(re.sub(r"(?m)^steps = .*$", "steps = 2", text), encoding="utf-8")
    for track in (project / "tracks").glob("*.toml"):
        track.write_text(re.sub(r"(?m)^duration = .*$", "duration = 2.0", track.read_text()), encoding="utf-8")


def _serve_as_a_user_would(argv: list[str], cwd: Path, env: dict[str, str]) -> None:
    """`acegit serve` runs until stopped: wait for the URL it prints, ask it for the project's status, stop it."""
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        found = re.search(r"(http://\S+)/\?token=(\S+)", line)
        assert found, f"`{shlex.join(argv)}` printed no URL: {line!r} (exit {proc.poll()})"
        url, token = found.groups()
        request = urllib.request.Request(f"{url}/v1/status", headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=120) as response:
            status = json.load(response)
        assert {t["name"] for t in status["tracks"]} >= {"boss"}, status
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_the_readme_tour_runs(tmp_path: Path) -> None:
    commands = tour_commands()
    assert commands[0][:2] == ["acegit", "new"] and ["acegit", "export", "-p", "game"] in commands
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", "NO_COLOR": "1"}
    env.pop("ACEGIT_ACE_STEP_PATH", None)
    cwd = tmp_path
    for argv in commands:
        if argv[0] == "cd":
            cwd = cwd / argv[1]
            _shorten(cwd)
            continue
        if argv[:2] == ["acegit", "serve"]:
            _serve_as_a_user_would(argv, cwd, env)
            continue
        run = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, f"`{shlex.join(argv)}` failed ({run.returncode}):\n{run.stdout}\n{run.stderr}"
    assert (cwd / "review.html").is_file()
    assert (cwd / "build" / "export" / "game" / "boss.ogg").is_file()
