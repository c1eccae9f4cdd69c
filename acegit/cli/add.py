"""`acegit add NAME --prompt ...`: create a track file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from acegit.cli.app import app


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Track name: lowercase letters, digits, '-' and '_'.")],
    prompt: Annotated[str, typer.Option("--prompt", "-p", help="What the music should sound like.")],
    seed: Annotated[int | None, typer.Option(help="Seed (0–4294967295); drawn and written down if omitted.")] = None,
    duration: Annotated[float | None, typer.Option(help="Length in seconds (1–600).")] = None,
    bpm: Annotated[float | None, typer.Option(help="Tempo (20–300).")] = None,
    key: Annotated[str | None, typer.Option(help='Key, e.g. "A minor", "F#m", "Bb".')] = None,
    time_signature: Annotated[str | None, typer.Option(help="2/4, 3/4, 4/4 or 6/8.")] = None,
    model: Annotated[str | None, typer.Option(help="Model name: built-in, or a local model from acegit.toml.")] = None,
    steps: Annotated[int | None, typer.Option(help="Sampling steps (1–200).")] = None,
    guidance: Annotated[float | None, typer.Option(help="Guidance scale (0–20).")] = None,
    sampler: Annotated[str | None, typer.Option(help="euler or heun.")] = None,
    negative_prompt: Annotated[str | None, typer.Option(help="What to steer away from.")] = None,
    melody: Annotated[Path | None, typer.Option(help="A .mid file inside the project (relative to its root).")] = None,
    loop: Annotated[bool | None, typer.Option("--loop/--no-loop", help="Make the track loop seamlessly.")] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="A tag (repeatable); does not affect the audio.")
    ] = None,
) -> None:
    """Create tracks/NAME.toml; fields not given follow the defaults in acegit.toml."""
    from rich.console import Console
    from rich.markup import escape

    from acegit.engine.registry import backend_of
    from acegit.project import find_project
    from acegit.scaffold import add_track

    project = find_project()
    fields: dict[str, Any] = {
        "prompt": prompt,
        "negative_prompt": negative_prompt,
        "seed": seed,
        "duration": duration,
        "bpm": bpm,
        "key": key,
        "time_signature": time_signature,
        "model": model,
        "steps": steps,
        "guidance": guidance,
        "sampler": sampler,
        "melody": melody.as_posix() if melody is not None else None,
        "loop": loop,
        "tags": list(tag) if tag else None,
    }
    track = add_track(project, name, fields)
    Console(highlight=False).print(
        f"Created {project.display(track.path)} (seed {track.seed}, {track.duration:g} s, {track.bpm:g} BPM, "
        f"{track.key}, model {track.model}). Render it with `acegit render {track.name}`."
    )
    note = track.uneven_loop() if backend_of(track.model, project.models) == "builtin" else None
    if note:  # said now, while the duration is being chosen; `acegit render` says it again
        Console(stderr=True, highlight=False).print(escape(f"warning: {project.display(track.path)}: {note}"))
