"""`acegit install`: git config for the textconv and merge drivers, and the native pre-commit hook."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from acegit.cli.app import app


@app.command("install")
def install(
    uninstall: Annotated[
        bool, typer.Option("--uninstall", help="Remove the hook and the git config that `acegit install` set.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Move a pre-commit hook acegit did not write aside (it still runs first).")
    ] = False,
    hook: Annotated[
        str, typer.Option("--hook", help="What the pre-commit hook runs: render (staged tracks) or check (fast).")
    ] = "render",
    no_hook: Annotated[
        bool, typer.Option("--no-hook", help="Only set the git config (e.g. when the pre-commit framework runs hooks).")
    ] = False,
) -> None:
    """Set this clone's diff/merge drivers (git config) and write .git/hooks/pre-commit; safe to run again."""
    from rich.console import Console
    from rich.markup import escape

    from acegit import install as core

    if uninstall:
        result = core.uninstall(Path.cwd())
    else:
        result = core.install(Path.cwd(), hook=None if no_hook else hook, force=force)
    out = Console(highlight=False, soft_wrap=True)
    for line in result.changed:
        out.print(escape(line))
    for line in result.notes:
        out.print(f"[yellow]note:[/] {escape(line)}")
    if not result.changed:
        out.print("Nothing to do: " + ("acegit is not installed here." if uninstall else "already installed."))
