"""The command table: every `acegit` command, the module that registers it on the app, and its one-line help.

A command's module is imported only when that command runs (`acegit/cli/app.py`, `_Group`), so `acegit --help` and
`acegit status` do not pay for the other commands' imports and typer's conversion of their signatures. `acegit --help`
lists the commands in this order (commands, then command groups, each sorted) with this help, which is the first
paragraph of the command's docstring (a group's `help=`) on one line; tests/cli/test_command_table.py checks both
against the modules, so a new command is a new module plus one row here.
"""

from __future__ import annotations

from typing import NamedTuple


class Command(NamedTuple):
    module: str
    help: str  # rich markup, as typer shows it


COMMANDS: dict[str, Command] = {
    "add": Command(  # issue 2
        "acegit.cli.add", "Create tracks/NAME.toml; fields not given follow the defaults in acegit.toml."
    ),
    "diff": Command(  # issue 6
        "acegit.cli.diff",
        "Compare tracks between revisions: parameters, latent change per second, decoded spectrograms, loudness.",
    ),
    "export": Command(  # issue 8
        "acegit.cli.export",
        "Export tracks as game-ready files: format, sample rate, loudness, loop points and provenance tags.",
    ),
    "install": Command(  # issue 7
        "acegit.cli.install",
        "Set this clone's diff/merge drivers (git config) and write .git/hooks/pre-commit; safe to run again.",
    ),
    "log": Command(  # issue 6
        "acegit.cli.log",
        "List the commits that changed a track, newest first, with what changed and the latent distance.",
    ),
    "merge-driver": Command(  # issue 7
        "acegit.cli.merge_driver",
        "Merge a track file key by key, or keep one whole lock file (Git calls this; exit 1 = conflict).",
    ),
    "new": Command(  # issue 2
        "acegit.cli.new",
        "Create a project: acegit.toml, an example track, .gitignore/.gitattributes; git init if needed.",
    ),
    "render": Command(  # issue 5
        "acegit.cli.render",
        "Render stale tracks: audio into the build folder, latent snapshots into tracks/*.lock.toml.",
    ),
    "serve": Command(  # issue 15
        "acegit.cli.serve",
        "Serve this project: models loaded once, one render worker, the API under /v1; Ctrl-C or SIGTERM stops it.",
    ),
    "show": Command(  # issue 6
        "acegit.cli.show",
        "Summarise a track's snapshot at a revision; with -o / --png / --midi, decode it to audio / a spectrogram "
        "image / its notes (and, for a track with a melody input, how closely the notes follow it).",
    ),
    "status": Command(  # issue 2
        "acegit.cli.status",
        "List stale (and why) and invalid tracks; fresh ones are counted. Exit 1 when a track is invalid.",
    ),
    "textconv": Command(  # issue 6
        "acegit.cli.textconv",
        "Print a short human summary of a lock file: track, fingerprints, model, shape, stats, energy profile.",
    ),
    "trace": Command(  # issue 8
        "acegit.cli.trace",
        "Say which commit and track made an exported file, and whether the track still renders the same.",
    ),
    "cache": Command(  # issue 20
        "acegit.cli.cache",
        "The render cache: share it through a remote (\\[cache] remote in acegit.toml, or ACEGIT_CACHE_REMOTE).",
    ),
    "edit": Command(  # issue 17
        "acegit.cli.edit",
        "Edit a track as history: repaint a time range, extend it, vary it (each edit is a line of its track file).",
    ),
    "hook": Command(  # issue 7
        "acegit.cli.hook",
        "Pre-commit hook entry points (called by .git/hooks/pre-commit or the pre-commit framework).",
    ),
}


def load_all() -> None:
    """Import every command module (registering every command on the app): for tests and tools that walk them."""
    import importlib

    for command in COMMANDS.values():
        importlib.import_module(command.module)
