"""Request bodies of the API: pydantic models, so OpenAPI documents them and unknown fields are refused.

A track's own fields stay a free-form table here: they are checked by acegit/track.py exactly as a track file is,
so the server and the CLI can never disagree about what a valid track is.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from acegit.server.limits import MAX_NAMES, MAX_SKETCH


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TrackWrite(Strict):
    """The fields of `tracks/<name>.toml` (docs/format.md): `prompt` and `seed` required, the rest optional."""

    fields: dict[str, Any] = Field(examples=[{"prompt": "calm solo piano in A minor", "seed": 1234, "duration": 20}])


class EditAdd(Strict):
    """One edit appended to a track's chain, as `acegit edit repaint|extend|vary` would (docs/edits.md); the fields
    a kind does not take are refused, a missing seed is drawn and written down."""

    kind: str = Field(examples=["repaint"])
    start: float | None = Field(default=None, examples=[10.0])
    end: float | None = Field(default=None, examples=[15.0])
    to: float | None = None
    seconds: float | None = None
    amount: float | None = None
    strength: float | None = None
    seed: int | None = None
    prompt: str | None = None


class RenderJob(Strict):
    """Render tracks of the server's project, as `acegit render [TRACKS] [--force] [--no-cache]` would."""

    tracks: list[str] = Field(default_factory=list, max_length=MAX_NAMES, description="Default: every stale track.")
    force: bool = False
    cache: bool = True


class InlineRequest(Strict):
    """A track's render inputs (acegit/engine/request.py GenerationRequest, melody as bytes)."""

    prompt: str
    negative_prompt: str = ""
    seed: int
    duration: float
    bpm: float
    key: str
    time_signature: str
    steps: int
    guidance: float
    sampler: str
    loop: bool = False
    lyrics: str | None = None
    shift: float | None = None
    edits: list[dict[str, Any]] | None = Field(default=None, description="[[edits]] tables, checked as a track's are.")
    vocoder: str | None = None


class InlineRender(Strict):
    """`acegit render --remote`: sample these inputs with exactly these weights and send back latent and audio."""

    model: str
    weights: str = Field(description='The weights hash the client pins, "sha256:<hex>".')
    request: InlineRequest
    melody: str | None = Field(default=None, description="The MIDI file's bytes, base64.")


class Sketch(Strict):
    """N candidates of a track with different seeds (or the seeds given)."""

    count: int = Field(default=4, ge=1, le=MAX_SKETCH)
    seeds: list[int] | None = Field(default=None, max_length=MAX_SKETCH)


class Keep(Strict):
    sketch: str
    seed: int
