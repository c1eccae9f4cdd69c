"""`acegit new DIR`: create a project."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from acegit.cli.app import app


@app.command("new")
def new(
    directory: Annotated[Path, typer.Argument(help="Folder to create the project in (created if missing).")],
    name: Annotated[str | None, typer.Option("--name", help="Project name (default: the folder name).")] = None,
    commit: Annotated[bool, typer.Option("--commit", help="Commit the new files.")] = False,
) -> None:
    """Create a project: acegit.toml, an example track, .gitignore/.gitattributes; git init if needed."""
    from rich.console import Console
    from rich.markup import escape

    from acegit.scaffold import new_project

    result = new_project(directory, name=name, commit=commit)
    out = Console(highlight=False)
    if result.git_initialized:
        out.print(f"Initialised a Git repository in {escape(str(result.root))}")
    out.print(f"Created acegit project [bold]{escape(result.name)}[/] in {escape(str(directory))}")
    for f in result.files:
        out.print(f"  {escape(f.relative_to(result.root).as_posix())}")
    if result.commit:
        out.print(f"Committed {result.commit[:12]}")
    out.print(f'Next: cd {escape(str(directory))} && acegit add NAME --prompt "..." && acegit status')
