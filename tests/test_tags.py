"""Provenance and loop tags: written by acegit.tags, read back by independent readers (struct, mutagen, soundfile)."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
import soundfile as sf

from acegit.errors import AcegitError
from acegit.tags import LoopPoints, Provenance, read_tags_bytes, riff_chunks, sniff_format, tag_audio

PROV = Provenance(
    track="boss",
    commit="0123456789abcdef0123456789abcdef01234567",
    dirty=False,
    fingerprint="sha256:" + "ab" * 32,
    seed=4294967295,
    acegit="0.1.0",
    profile="game",
    project="démo",  # non-ASCII survives every format
)
RATE = 22050


def _encoded(fmt: str, channels: int = 1) -> tuple[bytes, np.ndarray]:
    rng = np.random.default_rng(1)
    wave = (0.1 * rng.standard_normal((RATE, channels))).astype(np.float32)
    subtype = {"wav": "PCM_16", "flac": "PCM_16", "ogg": "VORBIS"}[fmt]
    buf = io.BytesIO()
    sf.write(buf, wave, RATE, format=fmt.upper(), subtype=subtype)
    return buf.getvalue(), wave


def _independent_smpl(data: bytes) -> tuple[int, int, int, int]:
    """Walk the RIFF chunks by hand (not acegit's parser): (sample period ns, loop count, start, end)."""
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    assert struct.unpack("<I", data[4:8])[0] == len(data) - 8  # the RIFF size covers the whole file
    pos = 12
    while pos < len(data):
        cid, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        if cid == b"smpl":
            body = data[pos + 8 : pos + 8 + size]
            period, count = struct.unpack("<I", body[8:12])[0], struct.unpack("<I", body[28:32])[0]
            loop_type, start, end = struct.unpack("<III", body[40:52])
            assert loop_type == 0  # forward
            return period, count, start, end
        pos += 8 + size + (size & 1)
    raise AssertionError("no smpl chunk")


def test_wav_smpl_and_info_read_back_independently() -> None:
    data, wave = _encoded("wav")
    tagged = tag_audio(data, "wav", PROV, LoopPoints(0, RATE), RATE)
    period, count, start, end = _independent_smpl(tagged)
    assert (count, start, end) == (1, 0, RATE - 1)  # smpl's end is the last sample of the loop (inclusive)
    assert period == round(1e9 / RATE)
    # Audio untouched, and other readers still open the file.
    back, rate = sf.read(io.BytesIO(tagged), dtype="float32", always_2d=True)
    assert rate == RATE and np.array_equal(back, sf.read(io.BytesIO(data), dtype="float32", always_2d=True)[0])
    tags = read_tags_bytes(tagged)
    assert tags.format == "wav" and tags.provenance == PROV and tags.loop == LoopPoints(0, RATE)
    assert tags.fields["INAM"] == "boss" and tags.fields["ISFT"] == "acegit 0.1.0"
    chunks = [cid for cid, _ in riff_chunks(tagged)]
    assert chunks.index(b"LIST") < chunks.index(b"data") and chunks.index(b"smpl") < chunks.index(b"data")


def test_retagging_replaces_instead_of_stacking() -> None:
    data, _ = _encoded("wav")
    once = tag_audio(data, "wav", PROV, LoopPoints(0, 100), RATE)
    other = Provenance(**{**PROV.__dict__, "track": "intro", "dirty": True, "commit": None})
    twice = tag_audio(once, "wav", other, None, RATE)
    chunks = [cid for cid, _ in riff_chunks(twice)]
    assert chunks.count(b"LIST") == 1 and b"smpl" not in chunks
    tags = read_tags_bytes(twice)
    assert tags.provenance == other and tags.loop is None
    assert tags.provenance is not None and tags.provenance.commit is None and tags.provenance.dirty is True


@pytest.mark.parametrize("fmt", ["ogg", "flac"])
def test_vorbis_comments_read_back_with_mutagen(fmt: str) -> None:
    from mutagen.flac import FLAC
    from mutagen.oggvorbis import OggVorbis

    data, wave = _encoded(fmt, channels=2)
    tagged = tag_audio(data, fmt, PROV, LoopPoints(441, 20000), RATE)
    f = (OggVorbis if fmt == "ogg" else FLAC)(io.BytesIO(tagged))
    assert f.tags["LOOPSTART"] == ["441"] and f.tags["LOOPLENGTH"] == ["20000"] and f.tags["LOOPEND"] == ["20441"]
    assert f.tags["ACEGIT_COMMIT"] == [PROV.commit] and f.tags["ACEGIT_PROJECT"] == ["démo"]
    assert f.tags["TITLE"] == ["boss"]
    assert f.info.sample_rate == RATE and f.info.channels == 2
    tags = read_tags_bytes(tagged)
    assert tags.format == fmt and tags.provenance == PROV and tags.loop == LoopPoints(441, 20000)
    back, _ = sf.read(io.BytesIO(tagged), dtype="float32")
    assert back.shape == wave.shape


def test_sniff_and_errors() -> None:
    assert [sniff_format(_encoded(f)[0]) for f in ("wav", "ogg", "flac")] == ["wav", "ogg", "flac"]
    assert sniff_format(b"ID3\x04 an mp3") is None
    with pytest.raises(AcegitError, match="not a WAV, Ogg Vorbis or FLAC"):
        read_tags_bytes(b"ID3\x04 an mp3", "song.mp3")
    data, _ = _encoded("wav")
    with pytest.raises(AcegitError, match="cannot read its metadata"):
        read_tags_bytes(data[:40] + struct.pack("<I", 10**6) + data[44:], "cut.wav")  # a chunk running off the end
    assert read_tags_bytes(data).provenance is None  # an untagged file is not an error here (trace says so)


def test_provenance_fields_are_stable_and_parse_back() -> None:
    fields = PROV.to_fields()
    assert list(fields)[:6] == [
        "ACEGIT_TRACK",
        "ACEGIT_COMMIT",
        "ACEGIT_DIRTY",
        "ACEGIT_FINGERPRINT",
        "ACEGIT_SEED",
        "ACEGIT_VERSION",
    ]
    assert Provenance.from_fields({k.lower(): v for k, v in fields.items()}) == PROV
    assert Provenance.from_fields({"TITLE": "x"}) is None
