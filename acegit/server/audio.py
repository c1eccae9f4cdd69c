"""/v1/tracks/{name}/audio and /spectrogram.png: a track's snapshot decoded, at the working tree or a revision."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse, Response

from acegit.server import core
from acegit.server.deps import State, run_blocking, state

router = APIRouter(tags=["audio"])
_MEDIA = {"wav": "audio/wav", "flac": "audio/flac", "ogg": "audio/ogg"}
REV = Query(None, max_length=200, description="A git revision; default: the working tree.")


@router.get("/tracks/{name}/audio", response_class=FileResponse)
async def audio(
    name: str,
    rev: str | None = REV,
    format: Literal["wav", "flac", "ogg"] = "wav",  # noqa: A002 - the query parameter's name
    s: State = Depends(state),
) -> FileResponse:
    """The audio of the track's snapshot (render cache, else decoded from the latent); supports HTTP Range."""
    version = await run_blocking(core.snapshot_of, s.project, name, rev)
    wave, sr = await s.on_worker(core.decode_snapshot, s.snapshots, version)
    path = await run_blocking(core.audio_file, s.project, version, wave, sr, format)
    return FileResponse(path, media_type=_MEDIA[format], filename=f"{name}.{format}")


@router.get("/tracks/{name}/spectrogram.png")
async def spectrogram(name: str, rev: str | None = REV, s: State = Depends(state)) -> Response:
    """The spectrogram of the snapshot's audio (what `acegit show --png` writes)."""
    version = await run_blocking(core.snapshot_of, s.project, name, rev)
    wave, sr = await s.on_worker(core.decode_snapshot, s.snapshots, version)
    return Response(await run_blocking(core.spectrogram, wave, sr), media_type="image/png")
