"""`acegit status`: which tracks are fresh, stale (why) or invalid — without loading torch."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from acegit.cli import app

_STYLE = {"fresh": "green", "stale": "yellow", "invalid": "red"}


@app.command("status")
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print the documented JSON object (docs/cli.md).")] = False,
) -> None:
    """List every track as fresh, stale (and why) or invalid. Exit 1 when a track is invalid."""
    from acegit.project import find_project
    from acegit.status import INVALID, project_status

    result = project_status(find_project())
    if as_json:
        typer.echo(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        from rich.console import Console
        from rich.markup import escape

        out = Console(highlight=False)
        if not result.tracks:
            out.print('No tracks yet. Create one with `acegit add NAME --prompt "..."`.')
        for t in result.tracks:
            style = _STYLE[t.state]
            detail = ", ".join(t.reasons) if t.reasons else (t.message or "")
            line = f"[{style}]{t.state:<8}[/] {escape(t.name)}"
            if detail:
                line += f"  [dim]({escape(detail)})[/]" if t.state != INVALID else f"\n         {escape(detail)}"
            out.print(line)
        counts = ", ".join(f"{result.count(s)} {s}" for s in ("fresh", "stale", "invalid"))
        out.print(f"[dim]{len(result.tracks)} tracks: {counts}[/]")
    if result.count(INVALID):
        raise typer.Exit(1)
