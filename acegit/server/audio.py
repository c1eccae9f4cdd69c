"""/v1/tracks/{name}/audio, /midi and /spectrogram.png: a snapshot decoded, at the working tree or a revision."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse, Response

from acegit.server import core
from acegit.server.deps import State, run_blocking, state

router = APIRouter(tags=["audio"])
_MEDIA = {"wav": "audio/wav", "flac": "audio/flac", "ogg": "audio/ogg"}
_SUFFIX_MEDIA = {".wav": "audio/wav", ".flac": "audio/flac", ".ogg": "audio/ogg"}
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


@router.get("/tracks/{name}/midi")
async def midi(name: str, rev: str | None = REV, s: State = Depends(state)) -> Response:
    """The notes of the snapshot's audio as a Standard MIDI File (melody, chords, bass; tempo from the track)."""
    version = await run_blocking(core.snapshot_of, s.project, name, rev)
    wave, sr = await s.on_worker(core.decode_snapshot, s.snapshots, version)
    data = await s.on_worker(core.midi_file, s.project, version, wave, sr)  # the transcriber runs beside the engine
    headers = {"Content-Disposition": f'attachment; filename="{name}.mid"'}
    return Response(data, media_type="audio/midi", headers=headers)


@router.get("/tracks/{name}/spectrogram.png")
async def spectrogram(name: str, rev: str | None = REV, s: State = Depends(state)) -> Response:
    """The spectrogram of the snapshot's audio (what `acegit show --png` writes)."""
    version = await run_blocking(core.snapshot_of, s.project, name, rev)
    wave, sr = await s.on_worker(core.decode_snapshot, s.snapshots, version)
    return Response(await run_blocking(core.spectrogram, wave, sr), media_type="image/png")


@router.get("/tracks/{name}/peaks")
async def peaks(
    name: str, rev: str | None = REV, bins: int = Query(800, ge=1, le=10_000), s: State = Depends(state)
) -> dict[str, Any]:
    """The snapshot's waveform for a player: `min` and `max` of each of `bins` slices, and the duration in seconds."""
    version = await run_blocking(core.snapshot_of, s.project, name, rev)
    wave, sr = await s.on_worker(core.decode_snapshot, s.snapshots, version)
    return await run_blocking(core.peaks, wave, sr, bins)


@router.get("/tracks/{name}/sketch/{sketch}/{seed}/audio", response_class=FileResponse)
async def candidate_audio(name: str, sketch: str, seed: int, s: State = Depends(state)) -> FileResponse:
    """One sketch candidate's audio, to audition it before keeping it; supports HTTP Range."""
    path = await run_blocking(core.candidate_audio, s.project, name, sketch, seed)
    return FileResponse(path, media_type=_SUFFIX_MEDIA.get(path.suffix, "application/octet-stream"))
