"""`acegit log TRACK`: the commits that changed a track, what changed, and how far its latent moved each time."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from acegit.cli.app import app


@app.command("log")
def log(
    track: Annotated[str, typer.Argument(help="Track name (its history follows renames).")],
    rev: Annotated[str, typer.Option("--rev", help="Start from this revision.")] = "HEAD",
    limit: Annotated[int | None, typer.Option("--limit", "-n", min=1, help="Show at most N commits.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (docs/diff.md).")] = False,
) -> None:
    """List the commits that changed a track, newest first, with what changed and the latent distance."""
    from acegit.log import track_log
    from acegit.project import find_project

    history = track_log(find_project(), track, rev, limit)
    if as_json:
        typer.echo(json.dumps(history.to_json(), indent=2, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(box=None, title=f"history of {track}", title_justify="left")
    for col in ("commit", "date", "track", "what changed", "latent change", "verdict", "subject"):
        table.add_column(col, overflow="fold")
    for e in history.entries:
        change = "" if e.latent_change is None else f"{e.latent_change:.3f}"
        table.add_row(
            f"[yellow]{e.commit['short']}[/]",
            e.commit["date"][:10],
            escape(e.name),
            escape(", ".join(e.changes)),
            change,
            escape(e.verdict),
            escape(e.commit["subject"]),
        )
    Console(highlight=False).print(table)
