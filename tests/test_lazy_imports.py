"""`acegit --help`, `status` and a no-op `render` must never import torch (nor numpy or GitPython)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from cliprobe import HEAVY, probe

from acegit.project import Project


@pytest.fixture
def rendered(project: Project, render_fake: Callable[[Project, str], Path]) -> Project:
    render_fake(project, "example")
    return project


@pytest.mark.parametrize("args", [("--help",), ("status",), ("status", "--json"), ("render",), ("render", "--json")])
def test_no_heavy_imports(rendered: Project, args: tuple[str, ...]) -> None:
    result = probe(rendered.root, *args)
    assert result.code in (0, None)
    assert result.loaded == []


def test_help_imports_no_markdown_renderer(rendered: Project) -> None:
    """`acegit --help` is drawn without typer.rich_utils (it imports rich.markdown, markdown-it, rich.traceback and
    pygments: 60 ms) and without any command module."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "acegit", "--help"],
        cwd=rendered.root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Commands" in proc.stdout
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert "acegit.cli.roothelp" in imported
    heavy = {"typer.rich_utils", "rich.markdown", "markdown_it", "rich.traceback", "pygments"}
    assert imported.isdisjoint(heavy)
    assert not any(
        m.startswith("acegit.cli.") and m not in ("acegit.cli.app", "acegit.cli.commands", "acegit.cli.roothelp")
        for m in imported
    )


def test_importtime_has_no_torch(rendered: Project) -> None:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "acegit", "status"],
        cwd=rendered.root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "fresh" in proc.stdout
    imported = {line.split("|")[-1].strip().split(".")[0] for line in proc.stderr.splitlines() if "|" in line}
    assert "acegit" in imported and "tomllib" in imported  # the probe sees the real import list
    assert imported.isdisjoint(HEAVY)


def test_the_determinism_switches_do_not_load_torch_compile() -> None:
    """torch.use_deterministic_algorithms imports inductor and dynamo (1.6 s of start-up); the engine sets the eager
    switch itself, and deterministic mode is on all the same."""
    code = (
        "import sys, torch\n"
        "from acegit.engine.inference import set_deterministic\n"
        "set_deterministic(torch.device('cpu'))\n"
        "assert torch.are_deterministic_algorithms_enabled()\n"
        "assert not torch.is_deterministic_algorithms_warn_only_enabled()\n"
        "print(sorted(m for m in sys.modules if m.startswith(('torch._inductor', 'torch._dynamo'))))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_render_force_that_restores_from_the_cache_imports_no_torch(
    project: Project, cache_render: Callable[..., Path]
) -> None:
    """A fresh track whose render is in the cache: `render --force` copies it back (lock and audio), no model."""
    lock = cache_render(project, "example")
    before = lock.read_bytes()
    (project.build_dir / "example.wav").unlink(missing_ok=True)
    result = probe(project.root, "render", "--force", "--json")
    assert result.code in (0, None)
    assert "torch" not in result.loaded
    assert (project.build_dir / "example.wav").is_file() and lock.read_bytes() == before


def test_a_restore_from_the_cache_remote_imports_no_torch(
    project: Project, cache_render: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fresh clone (no local cache) restores a pinned render from the remote (acegit/remotecache.py): no model."""
    import shutil

    from acegit.remotecache import REMOTE_ENV, push

    lock = cache_render(project, "example")
    before = lock.read_bytes()
    monkeypatch.setenv(REMOTE_ENV, f"file://{tmp_path / 'team-cache'}")
    assert len(push(project).copied) == 1
    shutil.rmtree(project.cache_dir)
    result = probe(project.root, "render", "--force", "--json")
    assert result.code in (0, None)
    assert "torch" not in result.loaded
    assert (project.build_dir / "example.wav").is_file() and lock.read_bytes() == before
    assert any(project.cache_dir.glob("*/*/audio.wav"))  # downloaded into the local cache, verified


def test_looking_for_a_local_server_imports_no_http_client() -> None:
    """A render asks whether this project's `acegit serve` runs (a file read); http.client and urllib.request (27 ms
    of a cold render, measured) load only when there is one to talk to."""
    code = (
        "import sys, acegit.render, acegit.server.client\n"
        "print(sorted({'http.client', 'urllib.request'} & set(sys.modules)))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
