"""`acegit cache push | pull | stats | gc`: the render cache shared through an fsspec URL (docs/scale.md)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from acegit.cli.app import app

cache_app = typer.Typer(
    no_args_is_help=True,
    help="The render cache: share it through a remote (\\[cache] remote in acegit.toml, or ACEGIT_CACHE_REMOTE).",
)
app.add_typer(cache_app, name="cache")

_TRACKS = typer.Argument(help="Tracks whose lock files pin the entries (default: every track).")
_JSON = typer.Option("--json", help="Print a JSON summary on stdout (docs/cli.md).")


def _echo(doc: dict[str, object], as_json: bool, text: str) -> None:
    typer.echo(json.dumps(doc, indent=2, ensure_ascii=False) if as_json else text)


def _size(n: object) -> str:
    assert isinstance(n, int)
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


@cache_app.command("push")
def push(
    tracks: Annotated[list[str] | None, _TRACKS] = None,
    all_entries: Annotated[bool, typer.Option("--all", help="Every entry of the local cache.")] = False,
    as_json: Annotated[bool, _JSON] = False,
) -> None:
    """Upload the renders the lock files pin (or --all) from the local cache to the remote."""
    from acegit.project import find_project
    from acegit.remotecache import push as push_entries

    r = push_entries(find_project(), tracks or (), all_entries)
    text = f"{r.url}: {len(r.copied)} uploaded, {len(r.present)} already there, {len(r.missing)} not in the local cache"
    _echo(r.to_json(), as_json, text)


@cache_app.command("pull")
def pull(
    tracks: Annotated[list[str] | None, _TRACKS] = None,
    all_entries: Annotated[bool, typer.Option("--all", help="Every entry of the remote.")] = False,
    as_json: Annotated[bool, _JSON] = False,
) -> None:
    """Download (and verify) the renders the lock files pin (or --all) from the remote into the local cache."""
    from acegit.errors import AcegitError
    from acegit.project import find_project
    from acegit.remotecache import pull as pull_entries

    r = pull_entries(find_project(), tracks or (), all_entries)
    text = f"{r.url}: {len(r.copied)} downloaded, {len(r.present)} already here, {len(r.missing)} not on the remote"
    _echo(r.to_json(), as_json, text)
    if r.refused:
        lines = "\n".join(f"  {m}" for m in r.refused)
        raise AcegitError(f"{len(r.refused)} remote entr(y/ies) refused (never used):\n{lines}")


@cache_app.command("stats")
def stats(as_json: Annotated[bool, _JSON] = False) -> None:
    """Entries and bytes in the local cache and on the remote."""
    from acegit.project import find_project
    from acegit.remotecache import stats as cache_stats

    doc = cache_stats(find_project())
    lines = []
    for where in ("local", "remote"):
        s = doc[where]
        if isinstance(s, dict):
            name = s["path"] if where == "local" else s["url"]
            flags = " (read-only)" if s.get("read_only") else ""
            lines.append(
                f"{where}: {name}{flags}: {s['entries']} entries, {_size(s['bytes'])}, "
                f"{s['uploads_in_flight']} unfinished write(s)"
            )
        else:
            lines.append(f"{where}: none ([cache] remote in acegit.toml, or ACEGIT_CACHE_REMOTE)")
    _echo(doc, as_json, "\n".join(lines))


@cache_app.command("gc")
def gc(
    older_than: Annotated[
        float, typer.Option("--older-than", metavar="DAYS", min=0.0, help="Remove entries published before this.")
    ] = 30.0,
    remote: Annotated[bool, typer.Option("--remote", help="Collect on the remote instead of the local cache.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would go; remove nothing.")] = False,
    as_json: Annotated[bool, _JSON] = False,
) -> None:
    """Remove old entries that no lock file in the working tree pins, and what killed writers left behind."""
    from acegit.project import find_project
    from acegit.remotecache import gc as collect

    r = collect(find_project(), older_than, remote=remote, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    text = (
        f"{r.where}: {verb} {len(r.removed)} entries ({_size(r.freed)}), kept {r.kept}, "
        f"{r.debris} unfinished write(s) {verb}"
    )
    _echo(r.to_json(), as_json, text)
