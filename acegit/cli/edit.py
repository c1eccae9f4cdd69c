"""`acegit edit repaint|extend|vary|list|drop`: a track's chain of edits, written into its track file."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from acegit.cli.app import app

edit_app = typer.Typer(
    no_args_is_help=True,
    help="Edit a track as history: repaint a time range, extend it, vary it (each edit is a line of its track file).",
)
app.add_typer(edit_app, name="edit")

SEED = typer.Option("--seed", help="Seed of the edit's noise (0–4294967295); drawn and written down if omitted.")
PROMPT = typer.Option("--prompt", "-p", help="Prompt for the new music (default: the track's own).")


def _added(name: str, kind: str, options: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.markup import escape

    from acegit.project import find_project
    from acegit.trackedits import add_edit

    project = find_project()
    change = add_edit(project, name, kind, options)
    Console(highlight=False).print(
        escape(
            f"{project.display(change.track.path)}: edit {change.number}: {change.edit.describe()}; "
            f"the track is now {change.track.length:g} s. Render it with `acegit render {name}`."
        )
    )


@edit_app.command("repaint")
def repaint(
    track: Annotated[str, typer.Argument(help="Track name.")],
    start: Annotated[float, typer.Argument(help="Start of the range to regenerate, in seconds.")],
    end: Annotated[float, typer.Argument(help="End of the range, in seconds.")],
    seed: Annotated[int | None, SEED] = None,
    prompt: Annotated[str | None, PROMPT] = None,
    strength: Annotated[
        float | None, typer.Option(help="How much of the range is regenerated: 1 (default) new music, 0.3 a touch-up.")
    ] = None,
) -> None:
    """Regenerate seconds START–END; every latent frame outside the range (and its short blend) stays bit-identical."""
    _added(track, "repaint", {"start": start, "end": end, "seed": seed, "prompt": prompt, "strength": strength})


@edit_app.command("extend")
def extend(
    track: Annotated[str, typer.Argument(help="Track name.")],
    to: Annotated[float | None, typer.Option("--to", help="The new length in seconds.")] = None,
    seconds: Annotated[float | None, typer.Option("--seconds", help="Seconds to add at the end.")] = None,
    seed: Annotated[int | None, SEED] = None,
    prompt: Annotated[str | None, PROMPT] = None,
) -> None:
    """Continue the track at its end (--to S or --seconds S); the existing latent frames stay bit-identical."""
    if (to is None) == (seconds is None):
        from acegit.errors import UsageError

        raise UsageError("acegit edit extend needs exactly one of --to SECONDS or --seconds SECONDS")
    _added(track, "extend", {"to": to, "seconds": seconds, "seed": seed, "prompt": prompt})


@edit_app.command("vary")
def vary(
    track: Annotated[str, typer.Argument(help="Track name.")],
    amount: Annotated[float, typer.Option("--amount", "-a", help="0 keeps the track, 1 is new music; try 0.2–0.4.")],
    seed: Annotated[int | None, SEED] = None,
) -> None:
    """A variation of the whole track: re-noised by AMOUNT and sampled again."""
    _added(track, "vary", {"amount": amount, "seed": seed})


@edit_app.command("list")
def list_edits(
    track: Annotated[str, typer.Argument(help="Track name.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (docs/cli.md).")] = False,
) -> None:
    """The track's edits in the order they apply, numbered for `acegit edit drop`."""
    from acegit.project import find_project
    from acegit.track import track_named

    t = track_named(find_project(), track)
    if as_json:
        edits = [{"number": i, **e.table(), "description": e.describe()} for i, e in enumerate(t.edits, start=1)]
        doc = {"schema": 1, "command": "edit list", "track": t.name, "duration": t.duration, "length": t.length}
        typer.echo(json.dumps({**doc, "edits": edits}, indent=2, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.markup import escape

    out = Console(highlight=False)
    if not t.edits:
        out.print(f"{escape(t.name)}: no edits ({t.duration:g} s). Add one with `acegit edit repaint|extend|vary`.")
        return
    out.print(f"{escape(t.name)}: {t.duration:g} s generated, then:")
    for i, e in enumerate(t.edits, start=1):
        out.print(f"  {i}. {escape(e.describe())}")
    out.print(f"  = {t.length:g} s")


@edit_app.command("drop")
def drop(
    track: Annotated[str, typer.Argument(help="Track name.")],
    number: Annotated[int, typer.Argument(help="The edit's number in `acegit edit list`.")],
) -> None:
    """Remove one edit from the chain (the edits after it must still fit the track)."""
    from rich.console import Console
    from rich.markup import escape

    from acegit.project import find_project
    from acegit.trackedits import drop_edit

    project = find_project()
    change = drop_edit(project, track, number)
    Console(highlight=False).print(
        escape(f"{project.display(change.track.path)}: dropped edit {number} ({change.edit.describe()}).")
    )
