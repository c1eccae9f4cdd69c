"""Fingerprints: what a render depends on (input) and where it ran (environment), as "sha256:<hex>"."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from acegit.engine.registry import ModelRef
    from acegit.track import Track

# Bump when the same track and weights would render differently (sampler maths, noise layout, latent encoding):
# every snapshot then reads as stale ("render format changed"). 2: guidance contrasts against the keyless branch too.
# 3: audio is decoded from the latent as the lock stores it (float16), so a snapshot decodes to the rendered samples.
RENDER_FORMAT_VERSION = 3


def _digest(obj: Mapping[str, Any]) -> str:
    """sha256 of canonical JSON: sorted keys, no spaces, UTF-8."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def melody_sha256(track: Track) -> str | None:
    """Hex sha256 of the melody file's bytes: the notes matter, not where the file lives."""
    if track.melody_path is None:
        return None
    from acegit.limits import MAX_MIDI_BYTES, read_capped

    return hashlib.sha256(read_capped(track.melody_path, MAX_MIDI_BYTES, track.melody, "MIDI file")).hexdigest()


def source_fields(track: Track) -> dict[str, Any]:
    """The track's part of the input: render fields with the melody's path replaced by its content hash."""
    fields = track.render_fields()
    # Tags, the name and comments never reach the audio; a moved melody file with the same notes renders the same.
    # The model is hashed beside the weights (input_fields), so a model switch reads as "model changed" only.
    fields.pop("melody")
    fields.pop("model")
    return {"track": fields, "melody_sha256": melody_sha256(track)}


def source_fingerprint(track: Track) -> str:
    """Changes exactly when the track's render-relevant content changes (lets status tell "source changed")."""
    return _digest(source_fields(track))


def input_fields(source: str, model: ModelRef) -> dict[str, Any]:
    """The JSON object the input fingerprint hashes, given the track's source fingerprint."""
    return {
        "render_format": RENDER_FORMAT_VERSION,
        "source": source,
        "model": model.name,
        "weights": model.weights_hash,
    }


def input_fingerprint(track: Track, model: ModelRef) -> str:
    """Changes exactly when a render-relevant field, the melody bytes, the model or the render format change."""
    return input_fingerprint_of(source_fingerprint(track), model)


def input_fingerprint_of(source: str, model: ModelRef) -> str:
    """`input_fingerprint` from an already computed `source_fingerprint` (status caches those)."""
    return _digest(input_fields(source, model))


def environment_fingerprint(device_class: str, torch: str, dtype: str, deterministic: bool, libraries: str = "") -> str:
    """Identifies the numeric environment; renders with equal fingerprints must agree bit for bit.

    `libraries` names the versions of the libraries a backend runs on besides torch ("diffusers 0.42.1, transformers
    5.24.0" for ace-step); it is left out of the digest when empty, so built-in fingerprints do not depend on it.
    """
    fields: dict[str, Any] = {
        "device_class": device_class,
        "torch": torch,
        "dtype": dtype,
        "deterministic": deterministic,
    }
    if libraries:
        fields["libraries"] = libraries
    return _digest(fields)
