"""`acegit serve`: a warm render server for this project, with a JSON API (docs/server.md)."""

from __future__ import annotations

from typing import Annotated

import typer

from acegit.cli.app import app


@app.command("serve")
def serve(
    host: Annotated[
        str, typer.Option("--host", help="Interface to listen on; anything but loopback needs a token.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port (0: any free port).")] = 8765,
    token: Annotated[
        str | None,
        typer.Option("--token", envvar="ACEGIT_TOKEN", help="The API token (default: a random one, printed)."),
    ] = None,
    device: Annotated[str, typer.Option("--device", help="auto, cpu or cuda.")] = "auto",
    allow_host: Annotated[
        list[str] | None,
        typer.Option("--allow-host", metavar="NAME", help="Another Host name clients may use ('*': any)."),
    ] = None,
) -> None:
    """Serve this project: models loaded once, one render worker, the API under /v1; Ctrl-C or SIGTERM stops it."""
    from acegit.project import find_project
    from acegit.render import DEVICES

    if device not in DEVICES:
        from acegit.errors import UsageError

        raise UsageError(f"--device {device!r} must be one of {', '.join(DEVICES)}")
    project = find_project()
    try:
        from acegit.server.runner import serve as run
    except ImportError as e:
        from acegit.errors import AcegitError

        raise AcegitError(
            f"acegit serve needs the server libraries ({e.name} is missing)",
            hint="Install them with `pip install 'acegit[serve]'`.",
        ) from None
    run(project, host=host, port=port, token=token, device=device, allow_hosts=tuple(allow_host or ()))
