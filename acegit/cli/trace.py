"""`acegit trace FILE`: which commit and track made an exported file, and whether it is still current."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from acegit.cli.app import app

if TYPE_CHECKING:
    from acegit.trace import Trace

_STYLE = {"current": "green", "outdated": "yellow"}


def _commit_line(t: Trace) -> str:
    from rich.markup import escape

    p = t.tags.provenance
    assert p is not None
    if p.commit is None:
        text = "none (exported outside Git or before the first commit)"
    else:
        text = p.commit[:12]
        if t.commit_subject is not None:
            text += f' "{escape(t.commit_subject)}"'
            text += "" if t.commit_in_history else " [yellow](not in the history of HEAD)[/]"
        else:
            text += " [yellow](not in this repository)[/]"
    if p.dirty:
        text += " [yellow]+ uncommitted changes[/]"
    return text


@app.command("trace")
def trace(
    file: Annotated[Path, typer.Argument(help="An audio file written by `acegit export`.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON object on stdout (docs/export.md).")] = False,
    check: Annotated[bool, typer.Option("--check", help="Exit 1 unless the file is still current.")] = False,
) -> None:
    """Say which commit and track made an exported file, and whether the track still renders the same."""
    from rich.console import Console
    from rich.markup import escape

    from acegit.errors import CheckFailed
    from acegit.project import find_project, find_project_root
    from acegit.trace import CURRENT, trace_file

    project = find_project() if find_project_root(Path.cwd()) is not None else None
    t = trace_file(file, project)
    if as_json:
        typer.echo(json.dumps(t.to_json(), indent=2, ensure_ascii=False))
    else:
        p = t.tags.provenance
        assert p is not None
        rows = [
            ("track", f"{escape(p.track)} (seed {p.seed})"),
            ("commit", _commit_line(t)),
            ("profile", escape(p.profile or "")),
            ("acegit", escape(p.acegit)),
            ("input", escape(p.fingerprint)),
        ]
        if t.tags.loop is not None:
            rows.append(("loop", f"samples {t.tags.loop.start}–{t.tags.loop.end} ({t.tags.loop.length})"))
        rows.append(("state", f"[{_STYLE.get(t.state, 'red')}]{t.state}[/]: {escape(t.detail)}"))
        lines = [escape(str(file))] + [f"  {k:<8} {v}" for k, v in rows]
        Console(highlight=False).print("\n".join(lines))
    if check and t.state != CURRENT:
        raise CheckFailed(f"{file}: {t.state}: {t.detail}")
