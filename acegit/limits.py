"""Limits on untrusted content: track, project, lock and MIDI files come through pull requests (docs/format.md, Limits).

Each limit follows from a format: a track lasts at most MAX_DURATION seconds, so a lock's latent has at most so many
frames, and a melody that lasts longer than a track can never be heard. They are checked before the expensive step
(parsing, decompressing, allocating), and a file past one is an InputError that names the file and the limit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from acegit.errors import InputError

MAX_DURATION = 600.0  # seconds: the longest track
MAX_EDITS = 16  # [[edits]] of one track: each one samples again when the track renders
# Latents: (C, F, T) for the built-in models, (C, T) for ACE-Step 1.5 (64 channels, 25 frames per second).
MAX_LATENT_RATE = 25.0  # latent frames per second, the highest of any backend (built-in: 10.77)
MAX_LATENT_FRAMES = int(MAX_DURATION * MAX_LATENT_RATE) + 16  # + a loop's or a decoder's few frames of slack
MAX_LATENT_VALUES = 1 << 21  # 4 MiB of float16; a 600-s built-in latent holds 0.83 M values, ACE-Step's 0.96 M
MAX_LATENT_DIM = 256  # channels or frequency rows of a latent (built-in 8 x 16, ACE-Step 64)

MAX_LOCK_BYTES = 8 << 20  # a lock holds at most 4 MiB of float16, base64 adds a third, zlib rarely saves much
MAX_TRACK_BYTES = 256 << 10  # track files are a few hundred bytes; prompts and edits stay far below this
MAX_PROJECT_BYTES = 256 << 10  # acegit.toml
MAX_TOML_DEPTH = 8  # tables and arrays nested in a track, project or lock file (the formats use 3)
MAX_TOML_STRING = 64 << 10  # characters of one TOML string (a lock's base64 latent is exempt: it is bounded above)

MAX_MIDI_BYTES = 1 << 20  # a melody file; a dense 10-minute melody is tens of kilobytes
MAX_MIDI_TRACKS = 64
MAX_MIDI_NOTES = 20_000  # note-on events across all tracks
MAX_MIDI_TEMPOS = 10_000  # tempo events
MAX_MIDI_RESOLUTION = 9600  # ticks per beat (DAWs write 96 to 960), or per second for SMPTE time
MAX_MIDI_TICKS = 8_000_000  # the last event's tick: pretty_midi allocates a table of that many times
MAX_MIDI_SECONDS = 1.5 * MAX_DURATION  # how long a melody may last (at its slowest tempo): longer is never heard

# The shared render cache (acegit/remotecache.py): an entry downloaded from a remote is refused past these sizes.
MAX_SAMPLE_RATE = 48_000  # Hz, the highest of any backend (built-in 44.1 kHz, ACE-Step 48 kHz)
MAX_CACHE_AUDIO_BYTES = int(MAX_DURATION * MAX_SAMPLE_RATE) * 4 + (64 << 10)  # float32 mono WAV + header slack
MAX_CACHE_MARKER_BYTES = 4 << 10  # an entry's commit marker (entry.json): two hashes and two sizes


def read_capped(path: Path, cap: int, shown: str | Path | None = None, what: str = "file") -> bytes:
    """A file's bytes, refused (not read) when it is larger than `cap`; the error names the file and the limit."""
    try:
        with open(path, "rb") as f:
            data = f.read(cap + 1)
    except OSError as e:
        raise InputError(shown or path, f"cannot read {what}: {e.strerror}") from None
    if len(data) > cap:
        raise InputError(
            shown or path,
            f"{what} is larger than acegit's limit of {cap // 1024} KiB",
            hint="A file this large is not one acegit wrote; check where it came from (docs/format.md, 'Limits').",
        )
    return data


def toml_shape_problem(doc: Any, exempt: frozenset[str] = frozenset()) -> str | None:
    """Why a parsed TOML document is past the depth or string-length limit, or None. `exempt` names keys (dotted)
    whose strings are bounded otherwise."""
    stack: list[tuple[Any, str, int]] = [(doc, "", 0)]
    while stack:
        value, where, depth = stack.pop()
        if depth > MAX_TOML_DEPTH:
            return f"{where or 'the document'} is nested more than {MAX_TOML_DEPTH} levels deep"
        if isinstance(value, str):
            if len(value) > MAX_TOML_STRING and where not in exempt:
                return f"{where} is a string of {len(value)} characters (limit {MAX_TOML_STRING})"
        elif isinstance(value, dict):
            stack.extend((v, f"{where}.{k}" if where else str(k), depth + 1) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, where, depth + 1) for v in value)
    return None


def loads_toml(data: bytes, exempt: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Parse untrusted TOML bytes within the limits; ValueError says what is wrong (callers add the file's name)."""
    import tomllib

    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise ValueError(f"is not UTF-8 text ({e.reason} at byte {e.start}); save it as UTF-8") from None
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"invalid TOML: {e}") from None
    except RecursionError:
        raise ValueError(f"is nested more than {MAX_TOML_DEPTH} levels deep") from None
    problem = toml_shape_problem(doc, exempt)
    if problem:
        raise ValueError(problem)
    return doc
