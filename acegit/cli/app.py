"""The `acegit` app: the one place errors become exit codes; each command module registers itself on `app`, and is
imported only when its command runs (the table in `acegit/cli/commands.py`)."""

from __future__ import annotations

import importlib
import traceback
from typing import TYPE_CHECKING, Any

import typer
from typer._click.exceptions import UsageError
from typer.core import TyperCommand, TyperGroup
from typer.exceptions import TyperException

from acegit import __version__
from acegit.cli.commands import COMMANDS
from acegit.errors import EXIT_BUG, EXIT_INTERRUPTED, AcegitError

if TYPE_CHECKING:
    from typer._click.core import Command, Context, HelpFormatter


EXIT_BROKEN_PIPE = 1  # what Python's docs advise for a closed pipe (signal.SIGPIPE's default would be 141)


def quiet_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush into the closed pipe does not raise again."""
    import os
    import sys

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


class _Group(TyperGroup):
    """Loads a command's module only when that command runs; maps errors to exit codes once, for every command (also
    under typer's CliRunner)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._listing = False  # formatting --help: commands are their table rows, nothing is imported

    def list_commands(self, ctx: Context) -> list[str]:
        return [*COMMANDS, *(name for name in super().list_commands(ctx) if name not in COMMANDS)]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        row = COMMANDS.get(cmd_name)
        if row is not None and self._listing:
            return TyperCommand(cmd_name, help=row.help)
        if row is not None and cmd_name not in self.commands:
            importlib.import_module(row.module)
            # The click command typer builds from what the module registered (only the imported modules' commands).
            loaded = typer.main.get_command(app)
            assert isinstance(loaded, TyperGroup) and cmd_name in loaded.commands, f"{row.module} registers {cmd_name}"
            self.commands[cmd_name] = loaded.commands[cmd_name]
        return super().get_command(ctx, cmd_name)

    def resolve_command(self, ctx: Context, args: list[str]) -> tuple[str | None, Command | None, list[str]]:
        # typer suggests from the commands loaded so far; suggest from all of them
        suggest, self.suggest_commands = self.suggest_commands, False
        try:
            return super().resolve_command(ctx, args)
        except UsageError as e:
            from difflib import get_close_matches

            matches = get_close_matches(args[0], self.list_commands(ctx)) if suggest and args else []
            if matches:
                e.message = f"{e.message.rstrip('.')}. Did you mean {', '.join(map(repr, matches))}?"
            raise
        finally:
            self.suggest_commands = suggest

    def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
        from acegit.cli.roothelp import draw, drawable

        if drawable(self, ctx) and set(self.commands) <= set(COMMANDS):  # typer draws anything else
            draw(self, ctx, [(name, row.help) for name, row in COMMANDS.items()])
            return
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

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
        except BrokenPipeError:  # `acegit ... | head`: the reader left; not a bug, nothing more to say
            quiet_stdout()
            raise typer.Exit(EXIT_BROKEN_PIPE) from None
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
