"""The `acegit` command: parses, calls one core function, shows the result. Commands live one per module here."""

from __future__ import annotations

import sys

# Command modules are imported when their command runs (acegit/cli/commands.py); keep these imports light (no torch).
from acegit.cli.app import app
from acegit.errors import EXIT_INTERRUPTED

__all__ = ["app", "main"]


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)
