"""The `acegit` command: parses, calls one core function, shows the result. Commands live one per module here."""

from __future__ import annotations

import sys
from typing import NoReturn

# Command modules are imported when their command runs (acegit/cli/commands.py); keep these imports light (no torch).
from acegit.cli.app import EXIT_BROKEN_PIPE, app, quiet_stdout
from acegit.errors import EXIT_INTERRUPTED

__all__ = ["app", "main", "run"]


def main() -> None:
    """Run one command from sys.argv; ends with SystemExit, as any click app does (embeddable: tests call this)."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)
    except BrokenPipeError:  # raised outside a command (root --help into `| head`)
        quiet_stdout()
        sys.exit(EXIT_BROKEN_PIPE)


def run() -> NoReturn:
    """The `acegit` executable (and `python -m acegit`): main(), then leave without the interpreter's teardown once
    torch is loaded (acegit/cli/leave.py)."""
    try:
        main()
    except SystemExit as e:
        if "torch" not in sys.modules:  # nothing heavy to tear down: the interpreter's own exit
            raise
        from acegit.cli.leave import leave

        leave(e.code)
    raise SystemExit(0)  # main() always ends with SystemExit; kept for a typer that returns instead
