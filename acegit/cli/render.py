"""`acegit render`: render stale tracks (or verify the committed snapshots with --check)."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from typing import TYPE_CHECKING, Annotated

import typer

from acegit.cli.app import app
from acegit.cli.progress import BarProgress, LineProgress, print_warnings

if TYPE_CHECKING:
    from rich.console import Console

    from acegit.cache import RenderCache
    from acegit.project import Project
    from acegit.render import CheckResult, Outcome
    from acegit.snapshots import Models
    from acegit.status import TrackStatus

_ACTION_STYLE = {"rendered": "green", "cached": "cyan", "fresh": "dim"}
_VERDICT_STYLE = {"exact": "green", "within tolerance": "yellow"}


def _progress(err: Console, total: int, quiet: bool) -> LineProgress:
    return BarProgress(err, total) if err.is_terminal and not quiet else LineProgress(err)


def _render_table(outcomes: list[Outcome], elapsed: float) -> object:
    """The tracks that were rendered or restored; fresh ones only as a count (a project may hold thousands)."""
    from rich.table import Table

    table = Table(title=f"render: {elapsed:.1f} s", title_justify="left", box=None)
    for col in ("track", "result", "time", "audio", "lock"):
        table.add_column(col)
    for o in outcomes:
        if o.action == "fresh":
            continue
        style = _ACTION_STYLE.get(o.action, "")
        lock = (o.lock or "") + (" (updated)" if o.lock_changed else " (unchanged)")
        table.add_row(o.name, f"[{style}]{o.action}[/]", f"{o.seconds:.2f} s", o.audio or "", lock)
    return table


def _summary(outcomes: list[Outcome]) -> str:
    counts = {a: sum(o.action == a for o in outcomes) for a in ("rendered", "cached", "fresh")}
    return f"{counts['rendered']} rendered, {counts['cached']} restored from the cache, {counts['fresh']} already fresh"


def _check_table(results: list[CheckResult]) -> object:
    from rich.table import Table

    table = Table(title="render --check", title_justify="left", box=None)
    for col in ("track", "verdict", "detail"):
        table.add_column(col)
    for r in results:
        table.add_row(r.name, f"[{_VERDICT_STYLE.get(r.verdict, 'red')}]{r.verdict}[/]", r.detail)
    return table


@app.command("render")
def render(
    tracks: Annotated[list[str] | None, typer.Argument(help="Tracks to render (default: every stale track).")] = None,
    all_tracks: Annotated[bool, typer.Option("--all", help="Render every track, fresh ones included.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Render even fresh tracks.")] = False,
    check: Annotated[
        bool, typer.Option("--check", help="Re-render and compare with the committed snapshots; write nothing.")
    ] = False,
    changed_since: Annotated[
        str | None, typer.Option("--changed-since", metavar="REV", help="Only tracks changed since a git revision.")
    ] = None,
    shard: Annotated[
        str | None, typer.Option("--shard", metavar="K/N", help="Only the K-th of N stable shares of the tracks.")
    ] = None,
    device: Annotated[str, typer.Option("--device", help="auto, cpu or cuda.")] = "auto",
    batch_size: Annotated[
        int | None,
        typer.Option("--batch-size", min=1, max=256, help="Tracks per batch (default: 8 on a GPU, 1 on CPU)."),
    ] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Neither read nor write the render cache.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary on stdout (docs/cli.md).")] = False,
    remote: Annotated[
        str | None,
        typer.Option("--remote", metavar="URL", envvar="ACEGIT_REMOTE", help="Sample on an `acegit serve` there."),
    ] = None,
    token: Annotated[
        str | None, typer.Option("--token", envvar="ACEGIT_TOKEN", help="The --remote server's token.")
    ] = None,
    no_server: Annotated[
        bool,
        typer.Option(
            "--no-server",
            help="Render here, even when `acegit serve` runs for this project or acegit.toml names a [remote].",
        ),
    ] = False,
    cache_read_only: Annotated[
        bool,
        typer.Option(
            "--cache-read-only",
            help="Look in the cache remote but never write to it (also \\[cache] read_only, ACEGIT_CACHE_READ_ONLY=1).",
        ),
    ] = False,
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray",
            metavar="ADDRESS",
            help="Sample on a Ray cluster: its address (host:port, ray://host:10001), auto, or local (docs/scale.md).",
        ),
    ] = None,
    ray_workers: Annotated[
        int | None,
        typer.Option("--ray-workers", min=1, help="Ray actors, one engine each (default: one per GPU, else per CPU)."),
    ] = None,
) -> None:
    """Render stale tracks: audio into the build folder, latent snapshots into tracks/*.lock.toml."""
    from rich.console import Console

    from acegit.errors import UsageError
    from acegit.project import find_project
    from acegit.render import parse_shard, select_tracks

    project = find_project()
    statuses = select_tracks(
        project, tracks or (), changed_since=changed_since, shard=parse_shard(shard) if shard else None
    )
    force = force or all_tracks  # --all: every selected track, fresh or not
    err = Console(stderr=True, highlight=False)
    if ray is not None and remote is not None:
        raise UsageError("--ray and --remote both say where to sample: give one")
    needed = force or check or any(st.state != "fresh" for st in statuses)
    if ray is not None:
        from acegit.raypool import ray_engines

        engines: Models | None = ray_engines(project, ray, ray_workers, device) if needed else None
    else:
        engines = _engines(project, statuses, remote, token, no_server, device, force or check)
    try:
        _run(project, statuses, engines, check, force, device, batch_size, no_cache, cache_read_only, as_json, err)
    finally:
        if engines is not None and hasattr(engines, "shutdown"):
            engines.shutdown()


def _run(
    project: Project,
    statuses: list[TrackStatus],
    engines: Models | None,
    check: bool,
    force: bool,
    device: str,
    batch_size: int | None,
    no_cache: bool,
    cache_read_only: bool,
    as_json: bool,
    err: Console,
) -> None:
    from rich.console import Console

    from acegit.errors import CheckFailed
    from acegit.remotecache import SharedCache, open_cache
    from acegit.render import check_json, check_tracks, render_json, render_tracks

    out = Console(highlight=False)
    progress = _progress(err, len(statuses), quiet=as_json)
    start = time.perf_counter()
    bars = getattr(progress, "bars", None)
    if check:
        with bars or contextlib.nullcontext():
            results = check_tracks(
                project, statuses, device=device, batch_size=batch_size, progress=progress, models=engines
            )
        _print_notices(err, engines, None)
        failed = [r for r in results if not r.ok]
        if as_json:
            typer.echo(json.dumps(check_json(results), indent=2, ensure_ascii=False))
        else:
            out.print(_check_table(results))
            summary = f"{len(results) - len(failed)} of {len(results)} snapshots reproduce"
            out.print(f"[{'red' if failed else 'green'}]{summary}[/]")
        if failed:
            raise CheckFailed(f"render --check failed for {', '.join(r.name for r in failed)}")
        return
    cache = open_cache(project, read_only=cache_read_only)
    with bars or contextlib.nullcontext():
        try:
            outcomes = render_tracks(
                project,
                statuses,
                force=force,
                device=device,
                use_cache=not no_cache,
                batch_size=batch_size,
                progress=progress,
                models=engines,
                cache=cache,
            )
        finally:
            _print_notices(err, engines, cache)
    elapsed = time.perf_counter() - start
    print_warnings(err, outcomes)
    if as_json:
        doc = render_json(outcomes, elapsed)
        doc["cache_remote"] = cache.report.to_json() if isinstance(cache, SharedCache) else None
        doc["ray"] = engines.report() if engines is not None and hasattr(engines, "report") else None
        typer.echo(json.dumps(doc, indent=2, ensure_ascii=False))
    elif not outcomes:
        out.print("No tracks selected.")
    elif all(o.action == "fresh" for o in outcomes):
        out.print(f"Nothing to render: all {len(outcomes)} selected tracks are fresh (`--force` renders them anyway).")
    else:
        out.print(_render_table(outcomes, elapsed))
        out.print(f"[dim]{_summary(outcomes)}[/]")
    sys.stdout.flush()


def _print_notices(err: Console, engines: Models | None, cache: RenderCache | None) -> None:
    """Warnings about where a render sampled or restored from: retried Ray tracks, refused remote-cache entries."""
    from rich.markup import escape

    from acegit.remotecache import SharedCache

    for notice in getattr(engines, "notices", ()):
        err.print(escape(f"warning: Ray: {notice}"))
    if isinstance(cache, SharedCache):
        for warning in cache.report.warnings():
            err.print(escape(f"warning: {warning}"))


def _engines(
    project: Project,
    statuses: list[TrackStatus],
    remote: str | None,
    token: str | None,
    no_server: bool,
    device: str,
    force: bool,
) -> Models | None:
    """Where to sample: a --remote server, else this project's running `acegit serve`, else here (None).

    Looked for only when something may need sampling, so a no-op render stays a no-op (and never opens a socket).
    """
    url = remote or (None if no_server else project.remote)  # --remote, else acegit.toml's [remote] url
    if url is not None:
        from acegit.server.client import remote_engines

        return remote_engines(project, url, token)
    if no_server or not (force or any(st.state != "fresh" for st in statuses)):
        return None
    from acegit.server.client import local_server

    return local_server(project, device)
