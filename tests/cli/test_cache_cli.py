"""`acegit cache push | pull | stats | gc` through the CLI, against a remote on the local file system (file://)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from acegit.project import Project
from acegit.remotecache import REMOTE_ENV


def _json(result: object) -> dict[str, object]:
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    return json.loads(result.output)  # type: ignore[attr-defined]


def test_without_a_remote_the_commands_say_how_to_set_one(project: Project, cli: Callable[..., object]) -> None:
    result = cli("cache", "push")
    assert result.exit_code == 1  # type: ignore[attr-defined]
    assert "no cache remote" in result.output and "[cache] remote" in result.output  # type: ignore[attr-defined]
    stats = _json(cli("cache", "stats", "--json"))
    assert stats["remote"] is None and stats["local"]["entries"] == 0  # type: ignore[index]


def test_push_pull_stats_gc(
    project: Project,
    cli: Callable[..., object],
    cache_render: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import shutil

    lock = cache_render(project, "example")
    monkeypatch.setenv(REMOTE_ENV, f"file://{tmp_path / 'team'}")
    pushed = _json(cli("cache", "push", "--json"))
    assert pushed["copied"] == 1 and pushed["present"] == 0
    assert _json(cli("cache", "push", "--json"))["present"] == 1  # already there: nothing uploaded twice
    stats = _json(cli("cache", "stats", "--json"))
    assert stats["remote"]["entries"] == 1 and stats["remote"]["bytes"] > 0  # type: ignore[index]
    assert stats["local"]["entries"] == 1  # type: ignore[index]

    shutil.rmtree(project.cache_dir)
    pulled = _json(cli("cache", "pull", "example", "--json"))
    assert pulled["copied"] == 1 and pulled["missing"] == 0
    assert cli("cache", "pull", "nosuch").exit_code == 2  # type: ignore[attr-defined]

    # gc keeps what a lock pins, however old; removes the rest once older than --older-than.
    old = time.time() - 90 * 86400
    for path in (tmp_path / "team").rglob("entry.json"):
        os.utime(path, (old, old))
    for folder in project.cache_dir.glob("*/*"):
        os.utime(folder, (old, old))
    kept = _json(cli("cache", "gc", "--remote", "--json"))
    assert kept["removed"] == 0 and kept["kept"] == 1
    lock.unlink()
    dry = _json(cli("cache", "gc", "--remote", "--dry-run", "--json"))
    assert dry["removed"] == 1 and dry["dry_run"] is True
    assert _json(cli("cache", "stats", "--json"))["remote"]["entries"] == 1  # type: ignore[index]
    gone = _json(cli("cache", "gc", "--remote", "--json"))
    assert gone["removed"] == 1 and gone["freed_bytes"] > 0
    local = _json(cli("cache", "gc", "--json"))
    assert local["where"] == "local" and local["removed"] == 1
    stats = _json(cli("cache", "stats", "--json"))
    assert stats["remote"]["entries"] == 0 and stats["local"]["entries"] == 0  # type: ignore[index]
