"""Build a corpus: `python -m model.corpus.build --out data/corpus --clips N --seed S` (resumable, one process)."""

from __future__ import annotations

import argparse
import io
import json
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from acegit.fsutil import atomic_write_bytes, atomic_write_text
from model.corpus.captions import captions
from model.corpus.composer import compose
from model.corpus.melody import melody_midi
from model.corpus.synth import Synth, find_soundfont

LABELS = "labels.jsonl"
META = "corpus.json"


@dataclass(frozen=True)
class CorpusSpec:
    seed: int  # the corpus seed: clip i is a function of (seed, i) alone
    clips: int
    min_seconds: float = 10.0
    max_seconds: float = 30.0
    captions: int = 4  # caption variants per clip
    held_out: bool = False  # use the held-out caption phrasings (evaluation prompts)
    sample_rate: int = 22050


def clip_seed(corpus_seed: int, index: int) -> int:
    """A well-mixed 32-bit seed per clip, so neighbouring corpus seeds never share clips."""
    return int(np.random.SeedSequence([corpus_seed, index]).generate_state(1)[0])


def _midi_bytes(pm: Any) -> bytes:
    buf = io.BytesIO()
    pm.write(buf)
    return buf.getvalue()


def make_clip(spec: CorpusSpec, index: int, synth: Synth, out: Path) -> dict[str, Any]:
    """Compose, render and write clip `index`; returns its labels record."""
    seed = clip_seed(spec.seed, index)
    duration = round(random.Random(seed).uniform(spec.min_seconds, spec.max_seconds), 2)
    piece = compose(seed, duration)
    name = f"{index:06d}"
    pm = piece.to_midi()
    audio = synth.render(pm, duration, reverb=piece.labels.reverb)
    buf = io.BytesIO()
    sf.write(buf, audio, spec.sample_rate, format="FLAC", subtype="PCM_16")
    atomic_write_bytes(out / "audio" / f"{name}.flac", buf.getvalue())
    atomic_write_bytes(out / "midi" / f"{name}.mid", _midi_bytes(pm))
    melody = melody_midi(piece)
    if melody is not None:
        atomic_write_bytes(out / "melody" / f"{name}.mid", _midi_bytes(melody))
    caps = captions(piece.labels, spec.captions, seed ^ 0x5EED, held_out=spec.held_out)
    return {
        "id": name,
        "audio": f"audio/{name}.flac",
        "midi": f"midi/{name}.mid",
        "melody": f"melody/{name}.mid" if melody is not None else None,
        "captions": [c.text for c in caps],
        "caption_mentions": [sorted(c.mentions) for c in caps],
        **piece.labels.to_dict(),
    }


def build(spec: CorpusSpec, out: Path, soundfont: Path | None = None, log: Any = None) -> int:
    """Write clips 0..clips-1 under `out`, skipping those already in labels.jsonl; returns how many were made."""
    for sub in ("audio", "midi", "melody"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    synth = Synth(soundfont or find_soundfont(), spec.sample_rate)
    meta = {**spec.__dict__, "soundfont": synth.soundfont.name}
    meta_path = out / META
    if meta_path.exists() and {k: v for k, v in json.loads(meta_path.read_text()).items() if k != "clips"} != {
        k: v for k, v in meta.items() if k != "clips"
    }:
        raise SystemExit(f"{out} holds a corpus built with other settings ({meta_path}); use another --out")
    atomic_write_text(meta_path, json.dumps(meta, indent=2, sort_keys=True) + "\n")
    labels_path = out / LABELS
    done = set()
    if labels_path.exists():
        lines = labels_path.read_text().splitlines()
        done = {json.loads(line)["id"] for line in lines if line.strip()}
    made = 0
    start = time.time()
    with labels_path.open("a") as f:
        for i in range(spec.clips):
            if f"{i:06d}" in done:
                continue
            record = make_clip(spec, i, synth, out)
            f.write(json.dumps(record, sort_keys=True) + "\n")
            f.flush()
            made += 1
            if log is not None and made % 100 == 0:
                log(f"{made} clips, {(time.time() - start) / made:.3f} s/clip")
    synth.close()
    return made


def read_labels(corpus: Path) -> list[dict[str, Any]]:
    """The labels records of a corpus, in clip order."""
    records = [json.loads(line) for line in (corpus / LABELS).read_text().splitlines() if line.strip()]
    return sorted(records, key=lambda r: r["id"])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--clips", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--min-seconds", type=float, default=10.0)
    p.add_argument("--max-seconds", type=float, default=30.0)
    p.add_argument("--captions", type=int, default=4, help="caption variants per clip")
    p.add_argument("--held-out", action="store_true", help="held-out caption phrasings (evaluation prompts)")
    p.add_argument("--soundfont", default=None, help="soundfont file name, e.g. TimGM6mb.sf2 (default: best found)")
    a = p.parse_args(argv)
    spec = CorpusSpec(a.seed, a.clips, a.min_seconds, a.max_seconds, a.captions, a.held_out)
    made = build(spec, a.out, find_soundfont(a.soundfont) if a.soundfont else None, log=lambda m: print(m, flush=True))
    print(f"{made} clips written to {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
