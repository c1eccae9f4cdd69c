"""Lock files (`tracks/<name>.lock.toml`), format 1: the latent snapshot that pins a render. Spec: docs/format.md."""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import math
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from acegit import __version__, limits
from acegit.engine.request import VOCODERS
from acegit.errors import AcegitError, InputError
from acegit.fingerprint import RENDER_FORMAT_VERSION, environment_fingerprint, input_fingerprint, source_fingerprint
from acegit.fsutil import atomic_write_text
from acegit.track import LOCK_SUFFIX

if TYPE_CHECKING:
    import numpy as np

    from acegit.engine.registry import ModelRef
    from acegit.track import Track

LOCK_FORMAT = 1
LATENT_DTYPE = "float16"
LATENT_ENCODING = "zlib+base64"
BASE64_LINE = 76  # characters per line of `data`, so Git diffs and merges see short lines
STAT_DIGITS = 6  # audio statistics are rounded so the same audio always writes the same bytes
_HEAD_CHUNK = 4096
_BOUNDED_STRINGS = frozenset({"latent.data"})  # the base64 latent: bounded by the file size and the shape instead


@dataclass(frozen=True)
class LockInput:
    """What was rendered: the input fingerprint and the model it was rendered with."""

    fingerprint: str  # fingerprint.input_fingerprint: source + model + weights + render format
    source: str  # fingerprint.source_fingerprint: the track's render fields and melody bytes only
    model: str
    weights: str  # "sha256:<hex>", the model's weights hash
    render_format: int
    backend: str = "builtin"  # which engine made it: "builtin" (acegit's model) or "ace-step"


@dataclass(frozen=True)
class LockEnvironment:
    """Where it was rendered; equal fingerprints promise bit-identical latents."""

    fingerprint: str
    device_class: str
    torch: str
    dtype: str
    deterministic: bool
    acegit: str
    libraries: str = ""  # a backend's libraries besides torch, e.g. "diffusers 0.42.1, transformers 5.24.0"

    @classmethod
    def make(
        cls,
        device_class: str,
        torch: str,
        dtype: str,
        deterministic: bool,
        acegit: str = __version__,
        libraries: str = "",
    ) -> LockEnvironment:
        fp = environment_fingerprint(device_class, torch, dtype, deterministic, libraries)
        return cls(fp, device_class, torch, dtype, deterministic, acegit, libraries)


@dataclass(frozen=True)
class EncodedLatent:
    """The final latent as stored: float16, zlib level 9, base64 in lines of BASE64_LINE characters."""

    shape: tuple[int, ...]
    sha256: str  # hex sha256 of the exact float32 latent (little-endian, C order), before float16 rounding
    payload_sha256: str  # hex sha256 of the compressed payload (the bytes base64 encodes)
    data: str
    dtype: str = LATENT_DTYPE
    encoding: str = LATENT_ENCODING


@dataclass(frozen=True)
class AudioStats:
    """Statistics of the decoded audio, rounded to STAT_DIGITS decimals."""

    duration: float  # seconds
    sample_rate: int
    peak: float  # max |sample|
    rms: float
    vocoder: str | None = None  # the track's vocoder, when it names one (None: the model's default); decode uses it

    @classmethod
    def of(cls, wave: np.ndarray, sample_rate: int, vocoder: str | None = None) -> AudioStats:
        import numpy as np

        w = np.asarray(wave, dtype=np.float64).reshape(-1)
        peak = float(np.max(np.abs(w))) if w.size else 0.0
        rms = float(np.sqrt(np.mean(w * w))) if w.size else 0.0
        return cls(w.size / sample_rate, sample_rate, peak, rms, vocoder).rounded()

    def rounded(self) -> AudioStats:
        r = STAT_DIGITS
        return AudioStats(
            round(self.duration, r), int(self.sample_rate), round(self.peak, r), round(self.rms, r), self.vocoder
        )


@dataclass(frozen=True)
class Lock:
    """A whole lock file."""

    track: str
    input: LockInput
    environment: LockEnvironment
    latent: EncodedLatent
    audio: AudioStats
    format: int = LOCK_FORMAT


def build_lock(
    track: Track, model: ModelRef, latent: np.ndarray, environment: LockEnvironment, audio: AudioStats
) -> Lock:
    """The lock for a finished render: fingerprints computed here, latent encoded here."""
    lin = LockInput(
        fingerprint=input_fingerprint(track, model),
        source=source_fingerprint(track),
        model=model.name,
        weights=model.weights_hash,
        render_format=RENDER_FORMAT_VERSION,
        backend=model.backend,
    )
    return Lock(track.name, lin, environment, encode_latent(latent), audio.rounded())


def lock_path(track_path: Path) -> Path:
    """`tracks/boss.toml` -> `tracks/boss.lock.toml`."""
    return track_path.with_name(track_path.name.removesuffix(".toml") + LOCK_SUFFIX)


def latent_sha256(array: np.ndarray) -> str:
    """Hex sha256 of the latent as float32, little-endian, C order: the bit-exactness check of a render."""
    import numpy as np

    return hashlib.sha256(np.ascontiguousarray(array, dtype="<f4").tobytes()).hexdigest()


def as_stored(array: np.ndarray) -> np.ndarray:
    """A latent as its lock file stores it (float16 precision, as float32): what every later decode starts from."""
    import numpy as np

    with np.errstate(over="ignore"):
        return np.ascontiguousarray(array, dtype="<f4").astype("<f2").astype(np.float32)


def encode_latent(array: np.ndarray) -> EncodedLatent:
    """Encode a float latent for a lock file."""
    import numpy as np

    a32 = np.ascontiguousarray(array, dtype="<f4")
    if a32.ndim == 0 or a32.size == 0:
        raise ValueError(f"latent must be a non-empty array, got shape {a32.shape}")
    with np.errstate(over="ignore"):
        a16 = a32.astype("<f2")
    if not np.all(np.isfinite(a16)):
        raise ValueError("latent has values that are not finite in float16 (NaN, inf or |x| > 65504)")
    payload = zlib.compress(a16.tobytes(), 9)
    b64 = base64.b64encode(payload).decode("ascii")
    lines = [b64[i : i + BASE64_LINE] for i in range(0, len(b64), BASE64_LINE)]
    return EncodedLatent(
        shape=tuple(int(d) for d in a32.shape),
        sha256=hashlib.sha256(a32.tobytes()).hexdigest(),
        payload_sha256=hashlib.sha256(payload).hexdigest(),
        data="\n".join(lines) + "\n",
    )


def _latent_bytes(latent: EncodedLatent) -> bytes:
    """The float16 bytes, after checking encoding, base64, payload hash, zlib and size; ValueError says what broke."""
    if latent.dtype != LATENT_DTYPE or latent.encoding != LATENT_ENCODING:
        raise ValueError(f"unsupported latent dtype/encoding {latent.dtype!r}/{latent.encoding!r}")
    try:
        payload = base64.b64decode("".join(latent.data.split()), validate=True)
    except (binascii.Error, ValueError) as e:
        raise ValueError(f"latent data is not valid base64 ({e})") from None
    if hashlib.sha256(payload).hexdigest() != latent.payload_sha256:
        raise ValueError("latent data does not match its payload_sha256 (edited, truncated or damaged)")
    problem = latent_shape_problem(latent.shape)
    if problem:
        raise ValueError(problem)
    expected = math.prod(latent.shape) * 2
    inflate = zlib.decompressobj()
    try:  # bounded by the declared shape: a stream that inflates further is refused after expected + 1 bytes
        raw = inflate.decompress(payload, expected + 1)
    except zlib.error as e:
        raise ValueError(f"latent data does not decompress ({e})") from None
    if len(raw) > expected:
        raise ValueError(f"latent data inflates past the {expected} bytes its shape {list(latent.shape)} needs")
    if len(raw) < expected or not inflate.eof or inflate.unused_data:
        raise ValueError(f"latent holds {len(raw)} bytes, shape {list(latent.shape)} needs {expected}")
    return raw


def latent_shape_problem(shape: tuple[int, ...]) -> str | None:
    """Why a declared latent shape cannot be a render's, or None: checked before anything is decompressed.

    Built-in latents are (C, F, T), ACE-Step's (C, T); T at most limits.MAX_LATENT_FRAMES (the longest track)."""
    if len(shape) not in (2, 3):
        return f"latent.shape {list(shape)} has {len(shape)} dimensions; a render's latent has 2 or 3"
    *rows, frames = shape
    if any(d > limits.MAX_LATENT_DIM for d in rows):
        return f"latent.shape {list(shape)} has more than {limits.MAX_LATENT_DIM} channels or rows"
    if frames > limits.MAX_LATENT_FRAMES:
        return f"latent.shape {list(shape)} has more frames than a {limits.MAX_DURATION:g}-s track can have"
    if math.prod(shape) > limits.MAX_LATENT_VALUES:
        return f"latent.shape {list(shape)} holds more than {limits.MAX_LATENT_VALUES:,} values"
    return None


def decode_latent(lock: Lock | EncodedLatent) -> np.ndarray:
    """The stored latent as float32 (float16 precision)."""
    import numpy as np

    latent = lock.latent if isinstance(lock, Lock) else lock
    try:
        raw = _latent_bytes(latent)
    except ValueError as e:
        raise AcegitError(f"latent snapshot is damaged: {e}") from None
    return np.frombuffer(raw, dtype="<f2").reshape(latent.shape).astype(np.float32)


def lock_to_dict(lock: Lock) -> dict[str, Any]:
    """The TOML document, in file order ([latent] last so readers of the small tables can stop early)."""
    a = lock.audio.rounded()
    e = lock.environment
    return {
        "format": lock.format,
        "track": lock.track,
        "input": {
            "fingerprint": lock.input.fingerprint,
            "source": lock.input.source,
            "model": lock.input.model,
            "backend": lock.input.backend,
            "weights": lock.input.weights,
            "render_format": lock.input.render_format,
        },
        "environment": {
            "fingerprint": e.fingerprint,
            "device_class": e.device_class,
            "torch": e.torch,
            "dtype": e.dtype,
            "deterministic": e.deterministic,
            "acegit": e.acegit,
            **({"libraries": e.libraries} if e.libraries else {}),
        },
        "audio": {
            "duration": a.duration,
            "sample_rate": a.sample_rate,
            "peak": a.peak,
            "rms": a.rms,
            **({"vocoder": a.vocoder} if a.vocoder is not None else {}),
        },
        "latent": {
            "shape": list(lock.latent.shape),
            "dtype": lock.latent.dtype,
            "encoding": lock.latent.encoding,
            "sha256": lock.latent.sha256,
            "payload_sha256": lock.latent.payload_sha256,
            "data": lock.latent.data,
        },
    }


def dumps_lock(lock: Lock) -> str:
    """The exact text of a lock file: the same lock always gives the same bytes."""
    import tomli_w

    return tomli_w.dumps(lock_to_dict(lock), multiline_strings=True)


def write_lock(path: Path, lock: Lock) -> None:
    """Write a lock file atomically."""
    atomic_write_text(path, dumps_lock(lock))


class _Fields:
    """Typed access to one table of a lock file; a missing or mistyped field is an InputError naming it."""

    def __init__(self, err: _LockErrors, table: Any, prefix: str) -> None:
        if not isinstance(table, dict):
            raise err.damaged(f"[{prefix.rstrip('.')}] is missing or not a table")
        self.err, self.table, self.prefix = err, table, prefix

    def get(self, key: str, kind: type | tuple[type, ...]) -> Any:
        v = self.table.get(key)
        if v is None or isinstance(v, bool) != (kind is bool) or not isinstance(v, kind):
            raise self.err.damaged(f"{self.prefix}{key} is missing or has the wrong type")
        return v


@dataclass
class _LockErrors:
    shown: str
    track: str

    def damaged(self, what: str) -> InputError:
        return InputError(
            self.shown,
            f"snapshot is damaged: {what}",
            hint=f"Restore it from Git (`git checkout -- {self.shown}`) or re-render with "
            f"`acegit render {self.track} --force`.",
        )


def _errors(path: Path, shown: str | None) -> _LockErrors:
    return _LockErrors(shown or str(path), path.name.removesuffix(LOCK_SUFFIX))


_DATA_OPEN = b'\ndata = """\n'
_DATA_CLOSE = b'"""\n'
_BASE64_TEXT = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\n"


def _split_data(data: bytes) -> tuple[bytes, str] | None:
    """A lock as write_lock lays it out, its base64 `data` last: the text before it (with `data = ""` in its place)
    and the string. tomllib is pure Python and spends nearly all of a lock's ~15 ms in that one string; base64 text
    holds no escapes, so the string is its bytes. Any other layout: None (the whole file is parsed)."""
    start = data.rfind(_DATA_OPEN)
    table = data.rfind(b"\n[", 0, start)  # the string is the [latent] table's, the last one
    if start < 0 or not data.endswith(_DATA_CLOSE) or table < 0 or data[table : table + 10] != b"\n[latent]\n":
        return None
    text = data[start + len(_DATA_OPEN) : -len(_DATA_CLOSE)]
    if text.translate(None, _BASE64_TEXT):  # anything but base64 and newlines: let tomllib judge it
        return None
    return data[: start + 1] + b'data = ""\n', text.decode("ascii")


def _parse(data: bytes, err: _LockErrors) -> dict[str, Any]:
    split = _split_data(data)
    doc = None
    if split is not None:
        with contextlib.suppress(ValueError):
            doc = limits.loads_toml(split[0], exempt=_BOUNDED_STRINGS)
            latent = doc.get("latent")
            if isinstance(latent, dict) and latent.get("data") == "":
                latent["data"] = split[1]
            else:
                doc = None
    try:
        doc = doc if doc is not None else limits.loads_toml(data, exempt=_BOUNDED_STRINGS)
    except ValueError as e:
        raise err.damaged(f"{e}, perhaps truncated") from None
    fmt = doc.get("format")
    if isinstance(fmt, bool) or not isinstance(fmt, int) or fmt < 1:
        raise err.damaged("`format` is missing or not a positive integer")
    if fmt > LOCK_FORMAT:
        raise InputError(
            err.shown,
            f"snapshot has format {fmt}, written by a newer acegit; this acegit ({__version__}) reads format "
            f"{LOCK_FORMAT}",
            hint="Upgrade acegit (`pip install --upgrade acegit`).",
        )
    return doc


def _input(doc: dict[str, Any], err: _LockErrors) -> tuple[str, LockInput]:
    track = _Fields(err, doc, "").get("track", str)
    t = _Fields(err, doc.get("input"), "input.")
    lin = LockInput(
        t.get("fingerprint", str),
        t.get("source", str),
        t.get("model", str),
        t.get("weights", str),
        t.get("render_format", int),
        t.get("backend", str) if "backend" in t.table else "builtin",
    )
    return track, lin


def _read(path: Path, err: _LockErrors, size: int | None = None) -> bytes:
    if size is None:
        return limits.read_capped(path, limits.MAX_LOCK_BYTES, err.shown, "snapshot")
    try:
        with open(path, "rb") as f:
            return f.read(size)
    except OSError as e:
        raise InputError(err.shown, f"cannot read snapshot: {e.strerror}") from None


def read_lock_head(path: Path, shown: str | None = None) -> tuple[str, LockInput]:
    """Only `track` and [input], without reading or checking the latent: cheap enough for `acegit status`."""
    err = _errors(path, shown)
    head = _read(path, err, _HEAD_CHUNK)
    # write_lock puts `format`, `track` and [input] first: parse up to the next table only (tomllib is pure
    # Python, and status reads a thousand of these). Any other layout falls back to parsing the whole file.
    start = head.find(b"\n[input]\n")
    cut = head.find(b"\n[", start + 1) if start >= 0 else -1
    head = head[: cut + 1] if cut >= 0 else _read(path, err)
    return _input(_parse(head, err), err)


def read_lock(path: Path, shown: str | None = None) -> Lock:
    """Read and fully verify a lock file (payload hash, base64, zlib, size)."""
    err = _errors(path, shown)
    return _lock(_parse(_read(path, err), err), err)


def loads_lock(data: bytes, track: str, shown: str) -> Lock:
    """A lock file's bytes (e.g. a Git blob) read and verified as read_lock does; messages name `track`'s fix."""
    err = _LockErrors(shown, track)
    return _lock(_parse(data, err), err)


def _lock(doc: dict[str, Any], err: _LockErrors) -> Lock:
    track, lin = _input(doc, err)
    e = _Fields(err, doc.get("environment"), "environment.")
    env = LockEnvironment(
        e.get("fingerprint", str),
        e.get("device_class", str),
        e.get("torch", str),
        e.get("dtype", str),
        e.get("deterministic", bool),
        e.get("acegit", str),
        e.get("libraries", str) if "libraries" in e.table else "",
    )
    a = _Fields(err, doc.get("audio"), "audio.")
    vocoder = a.get("vocoder", str) if "vocoder" in a.table else None
    if vocoder is not None and vocoder not in VOCODERS:
        raise err.damaged(f"audio.vocoder = {vocoder!r} is not one of {', '.join(VOCODERS)}")
    audio = AudioStats(
        float(a.get("duration", (int, float))),
        a.get("sample_rate", int),
        float(a.get("peak", (int, float))),
        float(a.get("rms", (int, float))),
        vocoder,
    )
    la = _Fields(err, doc.get("latent"), "latent.")
    shape = la.get("shape", list)
    if not shape or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape):
        raise err.damaged("latent.shape must be a list of positive integers")
    problem = latent_shape_problem(tuple(shape))
    if problem:
        raise err.damaged(problem)
    latent = EncodedLatent(
        shape=tuple(shape),
        sha256=la.get("sha256", str),
        payload_sha256=la.get("payload_sha256", str),
        data=la.get("data", str),
        dtype=la.get("dtype", str),
        encoding=la.get("encoding", str),
    )
    try:
        _latent_bytes(latent)
    except ValueError as ex:
        raise err.damaged(str(ex)) from None
    return Lock(track=track, input=lin, environment=env, latent=latent, audio=audio, format=doc["format"])
