"""Render the model card's examples: `python -m model.evaluate.examples --out docs/examples`.

Each example is a short Ogg Vorbis file and a log-mel spectrogram PNG, plus examples.json with the exact requests.
"""

from __future__ import annotations

import argparse
import io
import json
import struct
import zlib
from dataclasses import asdict
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

# (file stem, prompt, bpm, key, time signature); a missing BPM / key is left for the model to choose.
EXAMPLES = (
    (
        "lofi-a-minor-85",
        "an upbeat lo-fi hip hop beat with electric piano in A minor at 85 BPM",
        85.0,
        "A minor",
        "4/4",
    ),
    ("piano-e-major-70", "calm solo piano, 70 bpm, key of E major", 70.0, "E major", "4/4"),
    ("waltz-d-major-150", "a graceful waltz for strings and flute in D major", 150.0, "D major", "3/4"),
    ("scifi-opening", "sci-fi movie opening, strings, slowly building", 0.0, "", ""),
)

# A dark-to-bright colour ramp (black, purple, orange, pale yellow), interpolated per pixel.
_RAMP = np.array([[0, 0, 4], [80, 18, 123], [182, 54, 121], [251, 136, 97], [252, 253, 191]], np.float64)


def png_bytes(rgb: np.ndarray) -> bytes:
    """A minimal 8-bit RGB PNG of an (H, W, 3) uint8 array (no imaging library is a dependency)."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))  # filter type 0 per row

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def spectrogram_png(audio: np.ndarray, cfg: object) -> bytes:
    """Normalised log-mel (low frequencies at the bottom) through the colour ramp."""
    return png_bytes(spectrogram_rgb(audio, cfg))


def spectrogram_rgb(audio: np.ndarray, cfg: object) -> np.ndarray:
    """The (256, frames, 3) uint8 image spectrogram_png encodes."""
    from acegit.engine.audio import log_mel

    mel = log_mel(torch.from_numpy(audio)[None], cfg)[0].numpy()  # (n_mels, frames)
    x = np.clip((mel - mel.max() + 3.0) / 3.0, 0.0, 1.0)[::-1]  # the top 3 log_std units, high bins on top
    pos = x * (len(_RAMP) - 1)
    i = np.minimum(pos.astype(int), len(_RAMP) - 2)
    frac = (pos - i)[..., None]
    rgb = _RAMP[i] * (1 - frac) + _RAMP[i + 1] * frac  # (n_mels, frames, 3)
    rgb = np.repeat(rgb, 2, axis=0)  # 256 px tall
    return rgb.round().astype(np.uint8)


def main(argv: list[str] | None = None) -> None:
    from acegit.engine.inference import Engine
    from acegit.engine.request import GenerationRequest
    from acegit.fsutil import atomic_write_bytes, atomic_write_text

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", type=Path, default=Path("model/weights/tiny"))
    p.add_argument("--out", type=Path, default=Path("docs/examples"))
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--guidance", type=float, default=3.0)
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args(argv)
    engine = Engine.load(a.weights, device="cpu")
    a.out.mkdir(parents=True, exist_ok=True)
    index = []
    for stem, prompt, bpm, key, ts in EXAMPLES:
        req = GenerationRequest(
            prompt=prompt,
            negative_prompt="",
            seed=a.seed,
            duration=a.seconds,
            bpm=bpm,
            key=key,
            time_signature=ts,
            steps=a.steps,
            guidance=a.guidance,
            sampler="euler",
        )
        wave = engine.decode(engine.generate([req])[0], num_samples=int(a.seconds * engine.sample_rate))
        wave = wave / max(1.0, float(np.abs(wave).max()) / 0.99)  # never clip the file
        buf = io.BytesIO()
        sf.write(buf, wave, engine.sample_rate, format="OGG", subtype="VORBIS")
        atomic_write_bytes(a.out / f"{stem}.ogg", buf.getvalue())
        atomic_write_bytes(a.out / f"{stem}.png", spectrogram_png(wave.astype(np.float32), engine.cfg.audio))
        index.append({"audio": f"{stem}.ogg", "spectrogram": f"{stem}.png", **asdict(req)})
    atomic_write_text(
        a.out / "examples.json", json.dumps({"weights_hash": engine.weights_hash, "examples": index}, indent=2) + "\n"
    )
    print(f"{len(index)} examples written to {a.out}")


if __name__ == "__main__":
    main()
