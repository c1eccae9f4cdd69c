"""`acegit status`: which tracks are fresh, stale (why) or invalid — without loading torch."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from acegit.cli.app import app

_STYLE = {"fresh": "green", "stale": "yellow", "invalid": "red"}


@app.command("status")
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print the documented JSON object (docs/cli.md).")] = False,
    show_all: Annotated[bool, typer.Option("--all", "-a", help="List fresh tracks too.")] = False,
) -> None:
    """List stale (and why) and invalid tracks; fresh ones are counted. Exit 1 when a track is invalid."""
    from acegit.project import find_project
    from acegit.status import FRESH, INVALID, STALE, project_status

    result = project_status(find_project())
    if as_json:
        typer.echo(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        from rich.console import Console
        from rich.markup import escape

        # One print call: rich's per-call overhead is most of the time on a thousand-track project.
        lines = []
        for t in result.tracks:
            if t.state == FRESH and not show_all:
                continue
            line = f"[{_STYLE[t.state]}]{t.state:<8}[/] {escape(t.name)}"
            if t.reasons:
                line += f"  [dim]({escape(', '.join(t.reasons))})[/]"
            if t.message:
                line += "\n" + "\n".join(f"         {escape(m)}" for m in t.message.splitlines())
            lines.append(line)
        if not result.tracks:
            lines.append('No tracks yet. Create one with `acegit add NAME --prompt "..."`.')
        counts = ", ".join(f"{result.count(s)} {s}" for s in (FRESH, STALE, INVALID))
        lines.append(f"[dim]{len(result.tracks)} tracks: {counts}[/]")
        Console(highlight=False).print("\n".join(lines))
    if result.count(INVALID):
        raise typer.Exit(1)
