"""The `acegit` command: parses, calls one core function, shows the result. Commands live one per module here."""

from __future__ import annotations

import sys

# Command modules are imported when their command runs (acegit/cli/commands.py); keep these imports light (no torch).
from acegit.cli.app import EXIT_BROKEN_PIPE, app, quiet_stdout
from acegit.errors import EXIT_INTERRUPTED

__all__ = ["app", "main"]


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)
    except BrokenPipeError:  # raised outside a command (root --help into `| head`)
        quiet_stdout()
        sys.exit(EXIT_BROKEN_PIPE)
