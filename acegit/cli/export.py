"""`acegit export`: write game-ready audio files for export profiles of acegit.toml."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from acegit.cli.app import app
from acegit.cli.progress import BarProgress, LineProgress

if TYPE_CHECKING:
    from rich.console import Console

    from acegit.export import ExportResult
    from acegit.render import Outcome


class _LineProgress(LineProgress):
    """Plain lines, plus one per exported file."""

    def exported(self, result: ExportResult) -> None:
        self.err.print(f"exported  {result.shown} ({result.seconds:.2f} s)")
        if result.midi:
            self.err.print(f"exported  {result.midi}")


class _BarProgress(BarProgress):
    """A bar over the files to write; the steps bar shows while stale tracks render."""

    def __init__(self, err: Console, total: int) -> None:
        super().__init__(err, total, what="files")

    def finished(self, outcome: Outcome) -> None:
        self.bars.update(self.steps, visible=False)

    def exported(self, result: ExportResult) -> None:
        self.bars.advance(self.items)


def _table(results: list[ExportResult], elapsed: float) -> object:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"export: {elapsed:.1f} s", title_justify="left", box=None)
    for col in ("track", "profile", "file", "duration", "rate", "ch", "LUFS", "dBTP", "loop", "source"):
        table.add_column(col, overflow="fold")  # a narrow terminal wraps paths instead of cutting them
    for r in results:
        loop = f"{r.loop.start}–{r.loop.end}" if r.loop else ""
        if r.seam is not None:
            loop += " seamless" if r.seam.seamless else " [yellow]seam stands out[/]"
        table.add_row(
            escape(r.track),
            escape(r.profile),
            escape(r.shown),
            f"{r.duration:.2f} s",
            str(r.sample_rate),
            str(r.channels),
            f"{r.loudness:.1f}",
            f"{r.true_peak:.1f}",
            loop,
            r.source,
        )
    return table


def _warn_seams(err: Console, results: list[ExportResult]) -> None:
    """A loop whose seam stands out from the track's own variation: say so, and what to try."""
    from rich.markup import escape

    for r in results:
        if r.seam is not None and not r.seam.seamless:
            s, usual = r.seam, r.seam.beats or r.seam.hops
            message = (
                f"warning: {r.shown}: the loop seam stands out (spectral flux {s.flux_db:.1f} dB, level jump "
                f"{s.level_jump_db:.1f} dB; {usual.flux_p95_db:.1f} / {usual.level_p95_db:.1f} dB at its "
                f"{'beats' if s.beats else 'hops'}). Try another seed or more bars; for a render not generated as a "
                f"loop (the ace-step backend), set loop_crossfade (e.g. 0.05) in [export.{r.profile}]."
            )
            err.print(escape(message))


@app.command("export")
def export(
    tracks: Annotated[list[str] | None, typer.Argument(help="Tracks to export (default: all).")] = None,
    profile: Annotated[
        str | None, typer.Option("--profile", "-p", help="An [export.NAME] profile (default: every profile).")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write here instead of the profile's folder (may be outside the project)."),
    ] = None,
    device: Annotated[str, typer.Option("--device", help="auto, cpu or cuda (for tracks that must be rendered).")] = (
        "auto"
    ),
    shard: Annotated[
        str | None, typer.Option("--shard", metavar="K/N", help="Only the K-th of N stable shares of the tracks.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary on stdout (docs/export.md).")] = False,
) -> None:
    """Export tracks as game-ready files: format, sample rate, loudness, loop points and provenance tags."""
    from rich.console import Console

    from acegit.export import export_json, export_tracks, load_profiles
    from acegit.project import find_project
    from acegit.render import parse_shard, select_tracks

    project = find_project()
    share = parse_shard(shard) if shard else None
    err = Console(stderr=True, highlight=False)
    total = len(load_profiles(project, profile)) * len(select_tracks(project, tracks or (), shard=share))
    progress = _BarProgress(err, total) if err.is_terminal and not as_json else _LineProgress(err)
    start = time.perf_counter()
    with getattr(progress, "bars", None) or contextlib.nullcontext():
        results = export_tracks(project, profile, tracks or (), out=out, device=device, shard=share, progress=progress)
    elapsed = time.perf_counter() - start
    _warn_seams(err, results)
    if as_json:
        typer.echo(json.dumps(export_json(results, elapsed), indent=2, ensure_ascii=False))
    elif not results:
        Console(highlight=False).print("No tracks to export.")
    else:
        Console(highlight=False).print(_table(results, elapsed))
    sys.stdout.flush()
