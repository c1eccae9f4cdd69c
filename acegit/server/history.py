"""/v1/tracks/{name}/log and /v1/diff: the same JSON as `acegit log --json` and `acegit diff --json`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from acegit.server import core
from acegit.server.deps import State, run_blocking, state

router = APIRouter(tags=["history"])


@router.get("/tracks/{name}/log")
async def log(
    name: str,
    rev: str = Query("HEAD", max_length=200),
    limit: int | None = Query(None, ge=1, le=10_000),
    s: State = Depends(state),
) -> dict[str, Any]:
    """The commits that changed a track, newest first (`acegit log TRACK --json`)."""
    return await run_blocking(core.log_json, s.project, name, rev, limit)


@router.get("/diff")
async def diff(
    a: str | None = Query(None, max_length=200, description="Default: HEAD."),
    b: str | None = Query(None, max_length=200, description="Default: the working tree."),
    track: list[str] = Query(default_factory=list, max_length=1000),
    audio: bool = Query(False, description="Decode both sides for the spectrum and loudness metrics."),
    s: State = Depends(state),
) -> dict[str, Any]:
    """Compare tracks between revisions (`acegit diff [A [B]] [TRACK...] --json`; without `audio`, as --no-audio)."""
    if audio:  # decoding uses the device: it runs on the render worker
        return await s.on_worker(core.diff_json, s.project, s.snapshots, a, b, track, True)
    return await run_blocking(core.diff_json, s.project, s.snapshots, a, b, track, False)
