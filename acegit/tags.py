"""Metadata inside exported audio: provenance (which track, commit and inputs made it) and loop points.

WAV: a LIST/INFO chunk (INAM, ISFT, IPRD, ICMT holding `KEY=value` lines) and a `smpl` chunk, written by the small
RIFF code below. Ogg Vorbis and FLAC: Vorbis comments through mutagen. Field names are the same in every format
(`ACEGIT_*`, and the de-facto game loop tags LOOPSTART / LOOPLENGTH / LOOPEND).
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from acegit.errors import AcegitError

_PREFIX = "ACEGIT_"
_RIFF_HEADER = 12


@dataclass(frozen=True)
class Provenance:
    """What made an exported file; `commit` None outside Git or before the first commit, `dirty` None if unknown."""

    track: str
    commit: str | None
    dirty: bool | None
    fingerprint: str  # the input fingerprint of the render (docs/format.md)
    seed: int
    acegit: str
    profile: str | None = None
    project: str | None = None

    def to_fields(self) -> dict[str, str]:
        """`ACEGIT_*` name -> text, in a fixed order (the same file always gets the same bytes)."""
        fields = {
            "TRACK": self.track,
            "COMMIT": self.commit or "none",
            "DIRTY": "unknown" if self.dirty is None else str(self.dirty).lower(),
            "FINGERPRINT": self.fingerprint,
            "SEED": str(self.seed),
            "VERSION": self.acegit,
        }
        if self.profile is not None:
            fields["PROFILE"] = self.profile
        if self.project is not None:
            fields["PROJECT"] = self.project
        return {_PREFIX + k: v for k, v in fields.items()}

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> Provenance | None:
        """Parse `ACEGIT_*` fields (names case-insensitive); None when the file carries none."""
        f = {k.upper(): v for k, v in fields.items()}
        if _PREFIX + "TRACK" not in f:
            return None
        try:
            seed = int(f.get(_PREFIX + "SEED", ""))
        except ValueError:
            seed = -1  # damaged or hand-edited: still report the rest
        commit = f.get(_PREFIX + "COMMIT", "none")
        dirty = {"true": True, "false": False}.get(f.get(_PREFIX + "DIRTY", "unknown"))
        return cls(
            track=f[_PREFIX + "TRACK"],
            commit=None if commit in ("", "none") else commit,
            dirty=dirty,
            fingerprint=f.get(_PREFIX + "FINGERPRINT", ""),
            seed=seed,
            acegit=f.get(_PREFIX + "VERSION", ""),
            profile=f.get(_PREFIX + "PROFILE"),
            project=f.get(_PREFIX + "PROJECT"),
        )


@dataclass(frozen=True)
class LoopPoints:
    """A forward loop over samples [start, start + length) of the file."""

    start: int
    length: int

    @property
    def end(self) -> int:
        """One past the last sample of the loop (LOOPEND); the WAV smpl chunk stores end - 1 (inclusive)."""
        return self.start + self.length


@dataclass(frozen=True)
class FileTags:
    """What `read_tags` found in a file."""

    format: str
    provenance: Provenance | None
    loop: LoopPoints | None
    fields: dict[str, str]  # every text field read, upper-case names


# --- RIFF / WAV ------------------------------------------------------------------------------------------------


def riff_chunks(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(chunk id, payload) of each top-level chunk of a RIFF/WAVE file."""
    if len(data) < _RIFF_HEADER or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("not a RIFF/WAVE file")
    pos = _RIFF_HEADER
    while pos + 8 <= len(data):
        cid = data[pos : pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        if pos + 8 + size > len(data):
            raise ValueError(f"chunk {cid!r} at byte {pos} runs past the end of the file")
        yield cid, data[pos + 8 : pos + 8 + size]
        pos += 8 + size + (size & 1)  # chunks are padded to an even length


def _chunk(cid: bytes, payload: bytes) -> bytes:
    return cid + struct.pack("<I", len(payload)) + payload + (b"\0" if len(payload) & 1 else b"")


def _info_chunk(fields: Mapping[bytes, str]) -> bytes:
    """LIST/INFO with zero-terminated UTF-8 strings."""
    body = b"".join(_chunk(k, v.encode("utf-8") + b"\0") for k, v in fields.items())
    return _chunk(b"LIST", b"INFO" + body)


def smpl_chunk(loop: LoopPoints, sample_rate: int) -> bytes:
    """The `smpl` chunk: 36-byte header and one forward loop (end inclusive, infinite play count)."""
    period_ns = round(1e9 / sample_rate)
    header = struct.pack("<9I", 0, 0, period_ns, 60, 0, 0, 0, 1, 0)  # unity note 60, one loop, no sampler data
    # cue id, type 0 = forward, start, end (inclusive), fraction, play count 0 = forever
    one = struct.pack("<6I", 0, 0, loop.start, loop.end - 1, 0, 0)
    return _chunk(b"smpl", header + one)


def parse_smpl(payload: bytes) -> LoopPoints | None:
    """The first loop of a `smpl` payload."""
    if len(payload) < 36:
        return None
    (count,) = struct.unpack_from("<I", payload, 28)
    if count < 1 or len(payload) < 36 + 24:
        return None
    _, _, start, end, _, _ = struct.unpack_from("<6I", payload, 36)
    return LoopPoints(start, end - start + 1)


def _tag_wav(data: bytes, fields: Mapping[str, str], prov: Provenance, loop: LoopPoints | None, rate: int) -> bytes:
    info = {b"INAM": prov.track, b"ISFT": f"acegit {prov.acegit}"}
    if prov.project:
        info[b"IPRD"] = prov.project
    info[b"ICMT"] = "".join(f"{k}={v}\n" for k, v in fields.items())
    extra = _info_chunk(info) + (smpl_chunk(loop, rate) if loop is not None else b"")
    out = []
    for cid, payload in riff_chunks(data):
        if cid == b"smpl" or (cid == b"LIST" and payload[:4] == b"INFO"):
            continue  # replaced by ours
        if cid == b"data":
            out.append(extra)  # metadata before the audio: streaming readers see it first
        out.append(_chunk(cid, payload))
    body = b"WAVE" + b"".join(out)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _read_wav(data: bytes) -> tuple[dict[str, str], LoopPoints | None]:
    fields: dict[str, str] = {}
    loop = None
    for cid, payload in riff_chunks(data):
        if cid == b"smpl":
            loop = parse_smpl(payload)
        elif cid == b"LIST" and payload[:4] == b"INFO":
            pos = 4
            while pos + 8 <= len(payload):
                sub = payload[pos : pos + 4].decode("latin-1")
                (size,) = struct.unpack_from("<I", payload, pos + 4)
                text = payload[pos + 8 : pos + 8 + size].split(b"\0", 1)[0].decode("utf-8", "replace")
                fields[sub] = text
                pos += 8 + size + (size & 1)
    for line in fields.get("ICMT", "").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            fields[key.strip().upper()] = value.strip()
    return fields, loop


# --- Vorbis comments (Ogg Vorbis, FLAC) ------------------------------------------------------------------------


def _vorbis_file(fmt: str, fileobj: io.BytesIO) -> Any:
    if fmt == "ogg":
        from mutagen.oggvorbis import OggVorbis

        return OggVorbis(fileobj)
    from mutagen.flac import FLAC

    return FLAC(fileobj)


def _tag_vorbis(data: bytes, fmt: str, fields: Mapping[str, str], prov: Provenance, loop: LoopPoints | None) -> bytes:
    buf = io.BytesIO(data)
    audio = _vorbis_file(fmt, buf)
    if audio.tags is None:
        audio.add_tags()
    tags = audio.tags
    tags["TITLE"] = prov.track
    for k, v in fields.items():
        tags[k] = v
    if loop is not None:
        tags["LOOPSTART"] = str(loop.start)
        tags["LOOPLENGTH"] = str(loop.length)
        tags["LOOPEND"] = str(loop.end)
    buf.seek(0)
    audio.save(buf)
    return buf.getvalue()


def _read_vorbis(data: bytes, fmt: str) -> tuple[dict[str, str], LoopPoints | None]:
    audio = _vorbis_file(fmt, io.BytesIO(data))
    fields = {k.upper(): v for k, v in (audio.tags or [])}
    loop = None
    try:
        if "LOOPSTART" in fields and "LOOPLENGTH" in fields:
            loop = LoopPoints(int(fields["LOOPSTART"]), int(fields["LOOPLENGTH"]))
        elif "LOOPSTART" in fields and "LOOPEND" in fields:
            start = int(fields["LOOPSTART"])
            loop = LoopPoints(start, int(fields["LOOPEND"]) - start)
    except ValueError:
        loop = None
    return fields, loop


# --- public API ------------------------------------------------------------------------------------------------


def sniff_format(data: bytes) -> str | None:
    """ "wav", "ogg" or "flac" from a file's first bytes."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    if data[:4] == b"OggS":
        return "ogg"
    if data[:4] == b"fLaC":
        return "flac"
    return None


def tag_audio(
    data: bytes, fmt: str, provenance: Provenance, loop: LoopPoints | None = None, sample_rate: int = 0
) -> bytes:
    """The encoded file `data` with provenance (and loop points) written into its metadata."""
    fields = provenance.to_fields()
    if fmt == "wav":
        return _tag_wav(data, fields, provenance, loop, sample_rate)
    if fmt in ("ogg", "flac"):
        return _tag_vorbis(data, fmt, fields, provenance, loop)
    raise ValueError(f"cannot tag format {fmt!r}")


def read_tags_bytes(data: bytes, shown: str = "file") -> FileTags:
    """Provenance, loop points and text fields of an encoded audio file."""
    fmt = sniff_format(data)
    if fmt is None:
        raise AcegitError(f"{shown}: not a WAV, Ogg Vorbis or FLAC file", hint="acegit exports only these formats.")
    try:
        fields, loop = _read_wav(data) if fmt == "wav" else _read_vorbis(data, fmt)
    except Exception as e:  # a damaged file: mutagen and our RIFF parser raise various types
        raise AcegitError(f"{shown}: cannot read its metadata ({e})", hint="Export it again.") from None
    return FileTags(fmt, Provenance.from_fields(fields), loop, fields)


def read_tags(path: Path, shown: str | None = None) -> FileTags:
    """`read_tags_bytes` of a file on disk."""
    shown = shown or str(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise AcegitError(f"{shown}: cannot read it ({e.strerror or e})") from None
    return read_tags_bytes(data, shown)
