"""`acegit hook render|check`: the entry points of the pre-commit hooks (native or through pre-commit)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from acegit.cli.app import app

hook_app = typer.Typer(
    no_args_is_help=True,
    help="Pre-commit hook entry points (called by .git/hooks/pre-commit or the pre-commit framework).",
)
app.add_typer(hook_app, name="hook")
# Git runs hooks at the work tree's root; a project in a subfolder of the repository is named with --project.
_PROJECT = typer.Option("--project", metavar="DIR", help="The project folder (default: found from the current one).")


@hook_app.command("render")
def render(
    files: Annotated[
        list[Path] | None, typer.Argument(help="Render the tracks of these files (as pre-commit passes them).")
    ] = None,
    staged: Annotated[
        bool, typer.Option("--staged", help="Render the tracks whose track, lock or melody files are staged.")
    ] = False,
    device: Annotated[str, typer.Option("--device", help="auto, cpu or cuda.")] = "auto",
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Neither read nor write the render cache.")] = False,
    project: Annotated[Path | None, _PROJECT] = None,
) -> None:
    """Render staged stale tracks; exit 1 when lock files changed, so they are reviewed and staged (`git add`)."""
    from rich.console import Console
    from rich.markup import escape

    from acegit.cli.progress import LineProgress, print_warnings
    from acegit.errors import UsageError
    from acegit.hooks import render_staged
    from acegit.project import find_project

    if staged == bool(files):
        raise UsageError("pass either --staged or the files whose tracks to render (not both)")
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    result = render_staged(
        find_project(project), files=files, device=device, use_cache=not no_cache, progress=LineProgress(err)
    )
    print_warnings(err, result.outcomes)
    if result.modified:
        n = len(result.rendered)
        err.print(f"rendered {n} track{'' if n == 1 else 's'}; lock files updated — review and `git add` them:")
        for f in result.modified:
            err.print(f"  {escape(f)}")
        raise typer.Exit(1)


@hook_app.command("check")
def check(project: Annotated[Path | None, _PROJECT] = None) -> None:
    """Fast, never renders: every committed track has a staged lock file that matches it (exit 1 otherwise)."""
    from acegit.hooks import check_snapshots
    from acegit.project import find_project

    check_snapshots(find_project(project))
