"""One error type for everything a user can cause, mapped to exit codes once, at the top of the CLI."""

from __future__ import annotations

from pathlib import Path

# Exit codes (docs/cli.md): 0 ok, 1 expected failure, 2 usage error, 3 bug, 130 interrupted.
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_BUG = 3
EXIT_INTERRUPTED = 130


class AcegitError(Exception):
    """An expected failure: bad input, a failed check, a missing file. Shown as one paragraph, exit 1."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if self.hint is None else f"{self.message}\n{self.hint}"


class InputError(AcegitError):
    """A file the user wrote is wrong: the message names the file and the fix; `field` says which field (for tools:
    the message already shows it as written, e.g. "bpm = 900 …")."""

    def __init__(self, path: Path | str, message: str, *, field: str | None = None, hint: str | None = None) -> None:
        super().__init__(f"{path}: {message}", hint=hint)
        self.path = str(path)
        self.field = field


class GitError(AcegitError):
    """Git refused or failed; the message says what to do."""


class CheckFailed(AcegitError):
    """A verification (render --check, acegit-check hook) found a mismatch."""


class UsageError(AcegitError):
    """The command line itself is wrong (exit 2)."""

    exit_code = EXIT_USAGE
