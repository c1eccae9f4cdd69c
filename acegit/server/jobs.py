"""/v1/jobs and /v1/render: render jobs on the one worker, their progress as Server-Sent Events, cancel, results."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import StreamingResponse

from acegit.server import core
from acegit.server.deps import State, run_blocking, state
from acegit.server.schemas import InlineRender, RenderJob
from acegit.server.worker import Job

router = APIRouter(tags=["jobs"])
POLL_SECONDS = 0.05  # how often an event stream looks for new events
KEEPALIVE_SECONDS = 15.0  # a comment line so proxies keep an idle stream open


def job_created(job: Job, response: Response) -> dict[str, Any]:
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    return {**job.to_json(), "events": f"/v1/jobs/{job.id}/events"}


def _job(s: State, job_id: str) -> Job:
    job = s.worker.get(job_id)
    if job is None:
        raise core.NotFound(f"no job {job_id!r} (finished jobs are forgotten after a while)")
    return job


@router.post("/jobs", status_code=202)
async def create_render_job(body: RenderJob, response: Response, s: State = Depends(state)) -> dict[str, Any]:
    """Queue `acegit render [TRACKS]` in the server's project: it writes the audio, locks and cache the CLI would."""
    await run_blocking(core.check_render_names, s.project, body.tracks)
    request = body.model_dump()
    job = s.worker.submit(
        "render", request, lambda p: core.render_named(s.project, s.engines, body.tracks, body.force, body.cache, p)
    )
    return job_created(job, response)


@router.post("/render", status_code=202)
async def create_inline_job(body: InlineRender, response: Response, s: State = Depends(state)) -> dict[str, Any]:
    """Queue an inline render (`acegit render --remote`); fetch its latent and audio from /v1/jobs/{id}/result."""
    track = await run_blocking(core.inline_track, s.project, s.engines, body.model_dump())
    request = {"model": body.model, "weights": body.weights, "seed": body.request.seed}
    job = s.worker.submit("inline", request, lambda p: core.render_inline(s.engines, track, p))
    return job_created(job, response)


@router.get("/jobs")
async def list_jobs(s: State = Depends(state)) -> dict[str, Any]:
    """Queued, running and recently finished jobs, oldest first."""
    return {"jobs": [j.to_json() for j in s.worker.list()]}


@router.get("/jobs/{job_id}")
async def read_job(job_id: str, s: State = Depends(state)) -> dict[str, Any]:
    return _job(s, job_id).to_json()


@router.get("/jobs/{job_id}/result")
async def job_result(job_id: str, s: State = Depends(state)) -> dict[str, Any]:
    """A finished job's result: `acegit render --json`'s object, a sketch's candidates, or an inline render's arrays."""
    job = _job(s, job_id)
    if job.result is None:
        raise core.NotFound(f"job {job_id} has no result ({job.state})")
    return {"id": job.id, "state": job.state, "result": job.result}


@router.delete("/jobs/{job_id}")
async def cancel_job(job_id: str, s: State = Depends(state)) -> dict[str, Any]:
    """Cancel: a queued job is dropped, the running one stops at its next sampling step (no file half-written)."""
    job = _job(s, job_id)
    s.worker.cancel(job)
    return job.to_json()


@router.get("/jobs/{job_id}/events", response_class=StreamingResponse)
async def job_events(job_id: str, since: int = Query(0, ge=0), s: State = Depends(state)) -> StreamingResponse:
    """Server-Sent Events: queued, started, batch, progress (step/steps), track, then done, failed or cancelled."""
    job = _job(s, job_id)

    async def stream() -> AsyncIterator[str]:
        index, idle = since, 0.0
        while True:
            events = job.events_since(index)
            for e in events:
                yield f"id: {index}\nevent: {e['event']}\ndata: {json.dumps(e)}\n\n"
                index += 1
            if job.done and not job.events_since(index):
                return
            if s.stopping.is_set() and not events:
                yield 'event: shutdown\ndata: {"event": "shutdown"}\n\n'
                return
            idle = 0.0 if events else idle + POLL_SECONDS
            if idle >= KEEPALIVE_SECONDS:
                yield ": keep-alive\n\n"
                idle = 0.0
            await asyncio.sleep(POLL_SECONDS)

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})


@router.get("/health", tags=["models"])
async def health(s: State = Depends(state)) -> dict[str, Any]:
    """The server answers: its project, device and how many jobs wait."""
    waiting = sum(not j.done for j in s.worker.list())
    return {"ok": True, "project": s.project.name, "device": s.device, "jobs_waiting": waiting}


@router.get("/models", tags=["models"])
async def models(s: State = Depends(state)) -> dict[str, Any]:
    """The models a track can name, and the steps and sampler each step-distilled one renders with."""
    return await run_blocking(core.models_json, s.project)


@router.get("/models/{name}", tags=["models"])
async def model(name: str, weights: str | None = None, s: State = Depends(state)) -> dict[str, Any]:
    """A model this server renders with; with `weights`, 409 unless it has exactly those weights."""
    return await s.on_worker(core.model_json, s.engines, name, weights)
