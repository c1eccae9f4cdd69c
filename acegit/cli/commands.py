"""Registers every command module on the app (import order = help order)."""

from acegit.cli import add, new, status  # noqa: E402,F401  (issue 2)
from acegit.cli import render  # noqa: E402,F401  (issue 5)
