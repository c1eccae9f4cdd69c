"""The `acegit` app: the one place errors become exit codes; each command module registers itself on `app`."""

from __future__ import annotations

import traceback
from typing import TYPE_CHECKING

import typer
from typer.core import TyperGroup
from typer.exceptions import TyperException

from acegit import __version__
from acegit.errors import EXIT_BUG, EXIT_INTERRUPTED, AcegitError

if TYPE_CHECKING:
    from typer._click.core import Context


class _Group(TyperGroup):
    """Maps errors to exit codes once, for every command (also under typer's CliRunner)."""

    def invoke(self, ctx: Context) -> object:
        try:
            return super().invoke(ctx)
        except AcegitError as e:
            typer.echo(f"error: {e}", err=True)
            # typer >= 0.27 vendors click: only typer's own Exit/Abort/TyperException pass through it.
            raise typer.Exit(e.exit_code) from None
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except (TyperException, typer.Exit, typer.Abort):
            raise
        except Exception:
            traceback.print_exc()
            typer.echo(
                f"acegit {__version__} hit a bug (above). Please report it with the command you ran.",
                err=True,
            )
            raise typer.Exit(EXIT_BUG) from None


app = typer.Typer(
    cls=_Group,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Music as source code: render tracks deterministically, pin them with latent snapshots, diff them in Git.",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"acegit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """Music as source code: render tracks deterministically, pin them with latent snapshots, diff them in Git."""
