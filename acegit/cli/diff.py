"""`acegit diff [REV_A [REV_B]] [TRACK...]`: what changed in each track, how much and where, from the snapshots."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from acegit.cli.app import app

if TYPE_CHECKING:
    from acegit.diff import DiffResult, LatentDiff, ParamChange, TrackDiff

_STATUS_STYLE = {"added": "green", "removed": "red", "renamed": "cyan", "modified": "yellow", "unchanged": "dim"}
LEVELS = " ▁▂▃▄▅▆▇█"
MAX_CELLS = 60  # heat strip width; longer tracks merge seconds into one cell


def _verdict_style(v: str) -> str:
    if v == "identical":
        return "green"
    if v.startswith("tiny"):
        return "cyan"
    return "red" if v.startswith("entirely") else "yellow"


def heat_strip(latent: LatentDiff) -> tuple[str, int]:
    """Rich markup of a per-second change strip (one character per cell, height and colour = change) and the
    seconds per cell."""
    from acegit.diff import SECOND_CHANGED

    values = list(latent.per_second)
    per = max(1, math.ceil(len(values) / MAX_CELLS))
    cells = [max(values[i : i + per]) for i in range(0, len(values), per)]
    out = []
    for c in cells:
        level = LEVELS[min(len(LEVELS) - 1, math.ceil(min(c, 1.0) * (len(LEVELS) - 1)))] if c > 0 else "·"
        colour = "green" if c <= SECOND_CHANGED else ("yellow" if c < 0.5 else "red")
        out.append(f"[{colour}]{level}[/]")
    return "".join(out), per


def _value(v: Any) -> str:
    from rich.markup import escape

    if v is None:
        return "—"
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if isinstance(v, tuple | list):
        v = ", ".join(map(str, v)) or "[]"
    return escape(str(v))


def _param_line(p: ParamChange) -> str:
    from rich.markup import escape

    if p.field == "edits" and p.words:  # one edit per line: the chain reads top to bottom
        marks = {" ": "  ", "-": "[red]- ", "+": "[green]+ "}
        rows = [f"{marks[op]}{escape(text)}{'' if op == ' ' else '[/]'}" for op, text in p.words]
        return f"  {'edits':<16}" + f"\n  {'':<16}".join(rows)
    if p.words:
        parts = []
        for op, text in p.words:
            t = escape(text)
            parts.append(t if op == " " else f"[red strike][-{t}-][/]" if op == "-" else f"[green]{{+{t}+}}[/]")
        return f"  {p.field:<16}" + " ".join(parts)
    return f"  {p.field:<16}{_value(p.old)} → {_value(p.new)}"


def _db(x: float | None, unit: str) -> str:
    if x is None or math.isinf(x):
        return "silent"
    return f"{x:.1f} {unit}"


def _track_lines(t: TrackDiff) -> list[str]:
    from rich.markup import escape

    head = f"[bold]{escape(t.name)}[/]  [{_STATUS_STYLE.get(t.status, '')}]{t.status}[/]"
    if t.old_name:
        head += f" (from {escape(t.old_name)})"
    lines = [f"{head}  [{_verdict_style(t.verdict)}]{escape(t.verdict)}[/]"]
    lines += [_param_line(p) for p in t.params]
    if t.source_only:
        lines.append("  melody          the melody file's notes changed")
    if t.not_rendered:
        fix = f"run `acegit render {escape(t.name)}`"
        lines.append(f"  [yellow]not rendered    the snapshot predates these changes: {fix}[/]")
    if t.latent is not None:
        lat = t.latent
        lines.append(f"  latent          L2 {lat.l2:.3g}   cosine {lat.cosine:.4f}   change {lat.change:.3f}")
        if lat.shape_a != lat.shape_b:
            lines.append(f"  latent shape    {list(lat.shape_a)} → {list(lat.shape_b)}")
        strip, per = heat_strip(lat)
        seconds = len(lat.per_second)
        scale = "1 s per cell" if per == 1 else f"{per} s per cell"
        lines.append(f"  change map      {strip}  [dim]0–{seconds} s, {scale}[/]")
    if t.audio is not None:
        a = t.audio
        loud = f"{_db(a.loudness_a, 'LUFS')} → {_db(a.loudness_b, 'LUFS')}"
        if a.loudness_delta is not None:
            loud += f" ({a.loudness_delta:+.1f} LU)"
        peak = f"{_db(a.peak_a_db, 'dBFS')} → {_db(a.peak_b_db, 'dBFS')}"
        lines.append(f"  spectrum        log-spectral distance {a.lsd_db:.2f} dB   multi-res STFT {a.mrstft:.3f}")
        lines.append(f"  loudness        {loud}   peak {peak}")
        if a.tempo_differs:
            lines.append(f"  tempo (est.)    {a.tempo_a:.0f} → {a.tempo_b:.0f} BPM")
        if a.key_differs:
            lines.append(f"  key (est.)      {a.key_a} → {a.key_b}")
    return lines


def _stat_line(t: TrackDiff, width: int) -> str:
    from rich.markup import escape

    name = escape(t.name if not t.old_name else f"{t.old_name} → {t.name}")
    pad = " " * max(1, width - len(t.name if not t.old_name else f"{t.old_name} → {t.name}") + 1)
    change = f"change {t.latent.change:.3f} " if t.latent is not None else ""
    strip = heat_strip(t.latent)[0] + " " if t.latent is not None else ""
    status = f"[{_STATUS_STYLE.get(t.status, '')}]{t.status:<9}[/]"
    note = " [yellow](not rendered)[/]" if t.not_rendered else ""
    return f"{name}{pad}{status} {change}{strip}[{_verdict_style(t.verdict)}]{escape(t.verdict)}[/]{note}"


def show_result(result: DiffResult, stat: bool) -> None:
    from rich.console import Console

    out = Console(highlight=False, soft_wrap=True)
    if not result.tracks:
        out.print(f"No track changed between {result.side_a} and {result.side_b}.")
        return
    if stat:
        width = max(len(t.name if not t.old_name else f"{t.old_name} → {t.name}") for t in result.tracks)
        out.print("\n".join(_stat_line(t, width) for t in result.tracks))
        return
    out.print(f"[dim]acegit diff {result.side_a} → {result.side_b}[/]")
    out.print("\n\n".join("\n".join(_track_lines(t)) for t in result.tracks))


@app.command("diff")
def diff(
    args: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[REV_A [REV_B]] [TRACK...]",
            help="No revision: HEAD vs the working tree; one: REV vs the working tree; two: REV_A vs REV_B.",
        ),
    ] = None,
    stat: Annotated[bool, typer.Option("--stat", help="One line per track (latent only, no decoding).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON object (docs/diff.md).")] = False,
    html: Annotated[
        Path | None, typer.Option("--html", metavar="FILE", help="Write a self-contained HTML report.")
    ] = None,
    no_audio: Annotated[
        bool, typer.Option("--no-audio", help="Skip decoding: parameters and latents only (no model needed).")
    ] = False,
    show_all: Annotated[bool, typer.Option("--all", help="List unchanged tracks too.")] = False,
    device: Annotated[str, typer.Option("--device", help="Where to decode: cpu, cuda or auto.")] = "cpu",
) -> None:
    """Compare tracks between revisions: parameters, latent change per second, decoded spectrograms, loudness."""
    from acegit.diff import diff_tracks, split_args
    from acegit.project import find_project

    project = find_project()
    revs, names = split_args(project, args or [])
    decode = not (no_audio or stat)
    result = diff_tracks(
        project,
        revs[0] if revs else None,
        revs[1] if len(revs) > 1 else None,
        names,
        audio=decode,
        keep_waves=html is not None,
        unchanged=show_all,
        device=device,
    )
    if html is not None:
        from acegit.report import write_report

        write_report(html, result)
    if as_json:
        typer.echo(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        show_result(result, stat)
        sys.stdout.flush()  # the report line on stderr comes after the diff, also when both go to one terminal
        if html is not None:
            typer.echo(f"wrote {html}", err=True)
    result.check()
