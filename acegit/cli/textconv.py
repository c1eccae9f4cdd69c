"""`acegit textconv FILE`: a lock file as Git's textconv driver shows it (`git config diff.acegit.textconv`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from acegit.cli.app import app


@app.command("textconv")
def textconv(
    file: Annotated[Path, typer.Argument(help="A lock file (*.lock.toml); Git passes a temporary copy.")],
) -> None:
    """Print a short human summary of a lock file: track, fingerprints, model, shape, stats, energy profile."""
    from acegit.errors import InputError
    from acegit.textconv import textconv as summary

    if not file.is_file():
        raise InputError(file, "no such file", hint="Pass a lock file, e.g. tracks/boss.lock.toml.")
    typer.echo(summary(file))
