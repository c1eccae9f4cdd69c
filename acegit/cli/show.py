"""`acegit show REV:TRACK [-o out.wav] [--png out.png]`: decode a past version of a track from its snapshot."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from acegit.cli.app import app


@app.command("show")
def show(
    spec: Annotated[str, typer.Argument(metavar="REV:TRACK", help="A revision and a track, e.g. HEAD~2:boss.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the decoded audio (.wav, .flac or .ogg).")
    ] = None,
    png: Annotated[Path | None, typer.Option("--png", help="Write its spectrogram as a PNG image.")] = None,
    device: Annotated[str, typer.Option("--device", help="Where to decode: cpu, cuda or auto.")] = "cpu",
) -> None:
    """Summarise a track's snapshot at a revision; with -o / --png, decode it to audio / a spectrogram image."""
    from acegit.project import find_project
    from acegit.show import decode_version

    shown = decode_version(find_project(), spec, output, png, device=device)
    typer.echo(shown.summary)
    for path in shown.written:
        typer.echo(f"wrote {path}", err=True)
