"""`acegit merge-driver %O %A %B %P`: the merge driver Git calls for track and lock files (set by `acegit install`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from acegit.cli.app import app


@app.command("merge-driver")
def merge_driver(
    base: Annotated[Path, typer.Argument(help="%O: the common ancestor's version.")],
    ours: Annotated[Path, typer.Argument(help="%A: our version; the merged result is written here.")],
    theirs: Annotated[Path, typer.Argument(help="%B: their version.")],
    path: Annotated[str, typer.Argument(help="%P: the file's path in the repository.")],
) -> None:
    """Merge a track file key by key, or keep one whole lock file (Git calls this; exit 1 = conflict)."""
    from rich.console import Console
    from rich.markup import escape

    from acegit.merge import merge_files

    result = merge_files(base, ours, theirs, path)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    for line in result.messages:
        err.print(f"acegit merge-driver: {escape(line)}")
    if not result.clean:
        raise typer.Exit(1)
