"""Precompute what the DiT trains on: `python -m model.precompute {text,latents} --corpus data/corpus --out data/pre`.

text: caption token embeddings from the frozen text encoder (independent of the DCAE, so it can run first).
latents: DCAE latents of whole clips (pass --dcae, the checkpoint folder), melody piano rolls and condition values.
Arrays are concatenated along time / tokens with offsets in a JSON index, so training reads them from memory.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch

from acegit.engine.audio import log_mel, pad_frames, silence_level
from acegit.engine.checkpoint import load_checkpoint
from acegit.engine.model import MusicModel
from model.corpus.build import read_labels
from model.corpus.melody import melody_roll

TEXT_INDEX = "text.json"
LATENT_INDEX = "latents.json"


def precompute_text(corpus: Path, out: Path, max_tokens: int, limit: int | None = None) -> int:
    """Token embeddings of every caption: text.npy (tokens, 384) float16 + text.json {caption: [start, count]}."""
    from acegit.engine.text import TextEncoder

    encoder = TextEncoder(max_tokens=max_tokens)
    captions = sorted({c for r in read_labels(corpus)[:limit] for c in r["captions"]})
    rows: list[np.ndarray] = []
    index: dict[str, list[int]] = {}
    start = 0
    for caption in captions:
        emb, mask = encoder.encode(caption)
        tokens = emb[mask].numpy().astype(np.float16)  # (n, 384): only the real tokens
        index[caption] = [start, len(tokens)]
        rows.append(tokens)
        start += len(tokens)
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "text.npy", np.concatenate(rows))
    (out / TEXT_INDEX).write_text(json.dumps({"max_tokens": max_tokens, "captions": index}))
    return len(captions)


@torch.no_grad()
def encode_clip(model: MusicModel, wave: np.ndarray) -> torch.Tensor:
    """Waveform -> normalised DCAE latent flattened to (frames, C*F), as the DiT sees it."""
    cfg = model.cfg
    frames = cfg.latent_frames(len(wave))
    mel = log_mel(torch.from_numpy(wave)[None], cfg.audio)  # (1, n_mels, mel_frames)
    mel = pad_frames(mel, frames * cfg.dcae.downsample, silence_level(cfg.audio))
    z = model.normalize_latent(model.dcae.encode(mel))  # (1, C, F, frames)
    return z[0].reshape(-1, frames).T  # (frames, C*F)


def precompute_latents(corpus: Path, out: Path, dcae: Path, limit: int | None = None, log: Any = None) -> int:
    """latents.npy (frames, 128) float16, melody.npy (frames, 128) uint8 velocities, latents.json per-clip index."""
    model, digest = load_checkpoint(dcae)
    rate = model.cfg.latent_rate
    lat_rows, mel_rows, clips = [], [], []
    start = 0
    t0 = time.time()
    for n, rec in enumerate(read_labels(corpus)[:limit]):
        wave, sr = sf.read(corpus / rec["audio"], dtype="float32")
        assert sr == model.cfg.audio.sample_rate, f"{rec['audio']} is {sr} Hz"
        z = encode_clip(model, wave).numpy().astype(np.float16)
        frames = len(z)
        melody = corpus / rec["melody"] if rec["melody"] else None
        roll = melody_roll(melody, frames, rate)  # (128, frames) velocity / 127
        lat_rows.append(z)
        mel_rows.append(np.round(roll.T * 127).astype(np.uint8))
        clips.append(
            {
                "id": rec["id"],
                "start": start,
                "frames": frames,
                "captions": rec["captions"],
                "bpm": rec["bpm"],
                "key": rec["key"],
                "time_signature": rec["time_signature"],
                "duration": rec["duration"],
                "has_melody": melody is not None,
                "style": rec["style"],
            }
        )
        start += frames
        if log is not None and (n + 1) % 200 == 0:
            log(f"{n + 1} clips, {(time.time() - t0) / (n + 1):.3f} s/clip")
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "latents.npy", np.concatenate(lat_rows))
    np.save(out / "melody.npy", np.concatenate(mel_rows))
    index = {"dcae_hash": digest, "latent_rate": rate, "config": model.cfg.to_dict(), "clips": clips}
    (out / LATENT_INDEX).write_text(json.dumps(index))
    return len(clips)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=("text", "latents"))
    p.add_argument("--corpus", type=Path, default=Path("data/corpus"))
    p.add_argument("--out", type=Path, default=Path("data/pre"))
    p.add_argument("--dcae", type=Path, default=Path("runs/dcae/ckpt"), help="DCAE checkpoint folder (latents)")
    p.add_argument("--max-tokens", type=int, default=64)
    p.add_argument("--limit", type=int, default=None, help="only the first N clips")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    if a.what == "text":
        n = precompute_text(a.corpus, a.out, a.max_tokens, a.limit)
    else:
        n = precompute_latents(a.corpus, a.out, a.dcae, a.limit, log=lambda m: print(m, flush=True))
    print(f"{a.what}: {n} written to {a.out}")


if __name__ == "__main__":
    main()
