"""/v1/status and /v1/tracks: the project's state, reading and writing track files, sketch and keep."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response

from acegit.server import core
from acegit.server.deps import State, run_blocking, state
from acegit.server.jobs import job_created
from acegit.server.schemas import EditAdd, Keep, Sketch, TrackWrite

router = APIRouter(tags=["tracks"])


@router.get("/status")
async def status(s: State = Depends(state)) -> dict[str, Any]:
    """The same object as `acegit status --json`."""
    return await run_blocking(core.status_json, s.project)


@router.get("/tracks/{name}")
async def read_track(name: str, s: State = Depends(state)) -> dict[str, Any]:
    """A track's file as written, its fields resolved with the project defaults, and its lock file if any."""
    return await run_blocking(core.track_json, s.project, name)


@router.put("/tracks/{name}")
async def write_track(name: str, body: TrackWrite, response: Response, s: State = Depends(state)) -> dict[str, Any]:
    """Create or replace `tracks/<name>.toml`, validated as the CLI validates it, written as the same canonical TOML."""
    track, created = await run_blocking(core.write_track, s.project, name, body.fields)
    response.status_code = 201 if created else 200
    return track


@router.post("/tracks/{name}/edits", status_code=201)
async def add_edit(name: str, body: EditAdd, s: State = Depends(state)) -> dict[str, Any]:
    """Append an edit (repaint, extend, vary) to the track's chain, as `acegit edit` does; render to hear it."""
    options = body.model_dump(exclude={"kind"})
    return await run_blocking(core.add_edit, s.project, name, body.kind, options)


@router.delete("/tracks/{name}/edits/{number}")
async def drop_edit(name: str, number: int, s: State = Depends(state)) -> dict[str, Any]:
    """Remove edit `number` (1-based, as listed) from the track's chain, as `acegit edit drop` does."""
    return await run_blocking(core.drop_edit, s.project, name, number)


@router.post("/tracks/{name}/sketch", status_code=202)
async def sketch(name: str, body: Sketch, response: Response, s: State = Depends(state)) -> dict[str, Any]:
    """Queue a sketch: candidates with other seeds, rendered into `.acegit/sketch/` (the track is not touched)."""
    plan = await run_blocking(core.start_sketch, s.project, name, body.count, body.seeds)
    job = s.worker.submit("sketch", plan, lambda p: core.render_sketch(s.project, s.engines, plan, p))
    return job_created(job, response)


@router.post("/tracks/{name}/keep")
async def keep(name: str, body: Keep, s: State = Depends(state)) -> dict[str, Any]:
    """Make a sketch candidate the track: file, audio and lock, exactly as writing its seed and rendering would."""
    return await s.on_worker(core.keep_candidate, s.project, name, body.sketch, body.seed)
