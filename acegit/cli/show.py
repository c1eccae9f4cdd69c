"""`acegit show REV:TRACK [-o out.wav] [--png out.png] [--midi out.mid]`: decode a past version of a track."""

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
    midi: Annotated[
        Path | None,
        typer.Option(
            "--midi", help="Write its notes (melody, chords, bass) as a MIDI file, transcribed from the audio."
        ),
    ] = None,
    device: Annotated[str, typer.Option("--device", help="Where to decode: cpu, cuda or auto.")] = "cpu",
) -> None:
    """Summarise a track's snapshot at a revision; with -o / --png / --midi, decode it to audio / a spectrogram image /
    its notes (and, for a track with a melody input, how closely the notes follow it)."""
    from acegit.project import find_project
    from acegit.show import decode_version

    shown = decode_version(find_project(), spec, output, png, midi=midi, device=device)
    typer.echo(shown.summary)
    if shown.adherence is not None:
        a = shown.adherence
        typer.echo(
            f"melody adherence vs {a.melody}: note F1 {a.onset.f1:.2f} (onsets ±50 ms; {a.onset.matched} of "
            f"{a.onset.reference} melody notes, {a.onset.estimated} transcribed), {a.with_offsets.f1:.2f} with offsets"
        )
    for path in shown.written:
        typer.echo(f"wrote {path}", err=True)
