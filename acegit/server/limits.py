"""Request size limits of the server, in one place; file-shaped inputs take the project-wide ones (acegit/limits.py)."""

from __future__ import annotations

from acegit import limits

MIB = 1024 * 1024

MAX_BODY = limits.MAX_TRACK_BYTES  # any JSON request (a track, a job of named tracks, a sketch)
MAX_INLINE_BODY = 4 * MIB  # an inline render: its fields and the melody's bytes in base64
MAX_MELODY = limits.MAX_MIDI_BYTES  # a MIDI file sent with an inline render
MAX_SKETCH = 8  # candidates per sketch
MAX_NAMES = 1000  # tracks named in one render job
MAX_JOBS_KEPT = 64  # finished jobs the server remembers
MAX_RESULTS_KEPT = 4  # finished inline renders whose result (latent + audio) is held for the client to fetch
MAX_RESPONSE_ARRAY = 256 * MIB  # the most a client accepts for one decoded array from a server

# Requests whose path starts with one of these may be this large; all others get MAX_BODY.
BODY_LIMITS = {"/v1/render": MAX_INLINE_BODY}


def body_limit(path: str) -> int:
    """The largest request body accepted for a request path."""
    for prefix, limit in BODY_LIMITS.items():
        if path.startswith(prefix):
            return limit
    return MAX_BODY
