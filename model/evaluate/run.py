"""Every number in the model card: `python -m model.evaluate.run --out docs/model-card-results.json`.

On a held-out corpus (its own corpus seed, caption phrasings never used in training):
- ceiling: the tempo / key estimators on the ground-truth FluidSynth renders of the held-out MIDI;
- model: the same estimators on what the model renders from each clip's caption, BPM, key and meter;
- control: the model's renders scored against the labels of a different clip (mismatched prompts: chance level);
- reconstruction: the DCAE round trip and the vocoder alone on the held-out audio;
- music, not noise: spectral flatness and key clarity of renders (in-domain and out-of-domain prompts) next to the
  ground truth and white noise.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch

from model.corpus.build import CorpusSpec, build, read_labels
from model.corpus.synth import find_soundfont
from model.evaluate.estimators import Score, estimate_key, estimate_tempo, key_scores, score
from model.evaluate.reconstruction import dcae_reconstruction, vocoder_reconstruction

EVAL_SEED = 1_000_003  # the held-out corpus seed: no clip is shared with a training corpus seed (0, 1, 2, ...)
OUT_OF_DOMAIN = (
    "sci-fi movie opening, strings, slowly building",
    "a rainy night in a neon city",
    "victorious boss battle theme for a fantasy game",
    "lullaby for a sleepy dragon",
)


def rates(scores: list[Score]) -> dict[str, float]:
    n = max(1, len(scores))
    return {f: round(sum(getattr(s, f) for s in scores) / n, 4) for f in Score.__dataclass_fields__}


def spectral_flatness(audio: np.ndarray) -> float:
    """Mean spectral flatness (1 = white noise, near 0 = tonal)."""
    import librosa

    return float(np.mean(librosa.feature.spectral_flatness(y=audio.astype(np.float32) + 1e-9)))


def quiet_share(audio: np.ndarray, window: int = 1024, below_db: float = 30.0) -> float:
    """Share of ~46 ms windows more than `below_db` under the clip's loudest: how much near-silence the music has
    (the synthetic corpus: 0.00-0.05 per style). Renders far above it are chopped, not sparse by style."""
    n = len(audio) // window * window
    level = 20 * np.log10(np.sqrt(np.mean(audio[:n].reshape(-1, window).astype(np.float64) ** 2, axis=1)) + 1e-12)
    return float(np.mean(level < level.max() - below_db))


def key_clarity(audio: np.ndarray) -> float:
    return float(np.max(key_scores(audio, 22050)))


def _mean(fn: Any, clips: list[np.ndarray]) -> float:
    return round(float(np.mean([fn(a) for a in clips])), 4)


def render(engine: Any, requests: list[Any], batch: int) -> list[np.ndarray]:
    """Waveforms for requests through acegit's inference Engine (the same path `acegit render` takes)."""
    out: list[np.ndarray] = []
    for i in range(0, len(requests), batch):
        chunk = requests[i : i + batch]
        for req, latent in zip(chunk, engine.generate(chunk), strict=True):
            out.append(engine.decode(latent, num_samples=int(round(req.duration * engine.sample_rate))))
    return out


def evaluate(args: argparse.Namespace) -> dict[str, Any]:
    from acegit.engine.checkpoint import load_checkpoint
    from acegit.engine.inference import Engine
    from acegit.engine.request import GenerationRequest

    torch.set_num_threads(args.threads)
    t0 = time.time()
    if args.eval_corpus is None:  # one folder per held-out seed
        args.eval_corpus = Path("data/eval") if args.eval_seed == EVAL_SEED else Path(f"data/eval-{args.eval_seed}")
    spec = CorpusSpec(args.eval_seed, args.clips, args.seconds, args.seconds, captions=2, held_out=True)
    build(spec, args.eval_corpus, find_soundfont(args.soundfont) if args.soundfont else None)
    records = read_labels(args.eval_corpus)[: args.clips]
    audio = [sf.read(args.eval_corpus / r["audio"], dtype="float32")[0] for r in records]
    sr = 22050

    # Ceiling: the estimators on the ground truth.
    truth = [(estimate_tempo(a, sr), estimate_key(a, sr)) for a in audio]
    ceiling = [score(r["bpm"], r["key"], b, k) for r, (b, k) in zip(records, truth, strict=True)]

    engine = Engine.load(args.weights, device="cpu")
    requests = [
        GenerationRequest(
            prompt=r["captions"][0],
            negative_prompt="",
            seed=i,
            duration=r["duration"],
            bpm=float(r["bpm"]),
            key=r["key"],
            time_signature=r["time_signature"],
            steps=args.steps,
            guidance=args.guidance,
            sampler=args.sampler,
        )
        for i, r in enumerate(records)
    ]
    t_render = time.time()
    renders = render(engine, requests, args.batch)
    render_s = (time.time() - t_render) / max(1, len(renders))
    est = [(estimate_tempo(a, sr), estimate_key(a, sr)) for a in renders]
    model = [score(r["bpm"], r["key"], b, k) for r, (b, k) in zip(records, est, strict=True)]
    # Control: each render scored against the labels of the clip half the set away (a different prompt).
    n = len(records)
    control = [score(records[(i + n // 2) % n]["bpm"], records[(i + n // 2) % n]["key"], *est[i]) for i in range(n)]

    weights_model, digest = load_checkpoint(args.weights)
    vocoder = engine.vocoder  # the default a render decodes with
    dcae = [dcae_reconstruction(weights_model, a) for a in audio[: args.recon_clips]]
    voc = [vocoder_reconstruction(weights_model, vocoder, a) for a in audio[: args.recon_clips]]

    ood_requests = [
        GenerationRequest(
            prompt=p,
            negative_prompt="",
            seed=j,
            duration=args.seconds,
            bpm=0.0,
            key="",
            time_signature="",
            steps=args.steps,
            guidance=args.guidance,
            sampler=args.sampler,
        )
        for j, p in enumerate(OUT_OF_DOMAIN)
    ]
    ood = render(engine, ood_requests, args.batch)
    noise = np.random.default_rng(0).standard_normal(int(args.seconds * sr)).astype(np.float32) * 0.1

    m, c, ctl = rates(model), rates(ceiling), rates(control)
    fields = ("log_mel_l1", "spectral_convergence", "snr_db")
    result = {
        "weights": str(args.weights),
        "weights_hash": digest,
        "eval_corpus": {
            "seed": args.eval_seed,
            "clips": n,
            "seconds": args.seconds,
            "soundfont": json.loads((args.eval_corpus / "corpus.json").read_text())["soundfont"],
            "captions": "held-out phrasings",
        },
        "sampling": {"steps": args.steps, "guidance": args.guidance, "sampler": args.sampler},
        "adherence": {
            "model": m,
            "ceiling": c,
            "control": ctl,
            "model_over_ceiling": {k: round(m[k] / c[k], 4) if c[k] else None for k in m},
        },
        "reconstruction": {
            "clips": len(dcae),
            "dcae": {k: round(float(np.mean([getattr(x, k) for x in dcae])), 4) for k in fields},
            "vocoder": {k: round(float(np.mean([getattr(x, k) for x in voc])), 4) for k in fields},
            "vocoder_name": getattr(vocoder, "name", "a caller's"),
        },
        "music_likeness": {
            "spectral_flatness": {  # 1 = white noise, near 0 = tonal
                "ground_truth": _mean(spectral_flatness, audio),
                "model_in_domain": _mean(spectral_flatness, renders),
                "model_out_of_domain": _mean(spectral_flatness, ood),
                "white_noise": _mean(spectral_flatness, [noise]),
            },
            "key_clarity": {  # best key-profile correlation of the mean chroma: tonal music scores high
                "ground_truth": _mean(key_clarity, audio),
                "model_in_domain": _mean(key_clarity, renders),
                "model_out_of_domain": _mean(key_clarity, ood),
                "white_noise": _mean(key_clarity, [noise]),
            },
            "quiet_windows": {  # share of 46 ms windows 30 dB under the clip's loudest
                "ground_truth": _mean(quiet_share, audio),
                "model_in_domain": _mean(quiet_share, renders),
                "model_out_of_domain": _mean(quiet_share, ood),
                "white_noise": _mean(quiet_share, [noise]),
            },
            "out_of_domain_prompts": list(OUT_OF_DOMAIN),
        },
        "per_clip": [
            {
                "id": r["id"],
                "prompt": r["captions"][0],
                "bpm": r["bpm"],
                "key": r["key"],
                "truth_est": list(t),
                "model_est": list(e),
                "model": asdict(s),
            }
            for r, t, e, s in zip(records, truth, est, model, strict=True)
        ],
        "render_seconds_per_clip": round(render_s, 2),
        "environment": {"torch": torch.__version__, "python": platform.python_version(), "threads": args.threads},
        "wall_seconds": round(time.time() - t0, 1),
    }
    return result


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", type=Path, default=Path("model/weights/tiny"))
    p.add_argument("--out", type=Path, default=Path("docs/model-card-results.json"))
    p.add_argument("--eval-corpus", type=Path, default=None, help="default: data/eval, data/eval-SEED")
    p.add_argument("--eval-seed", type=int, default=EVAL_SEED, help="held-out corpus seed (2nd set: 2000003)")
    p.add_argument("--clips", type=int, default=40)
    p.add_argument("--seconds", type=float, default=12.0)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--guidance", type=float, default=3.0)
    p.add_argument("--sampler", default="euler")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--recon-clips", type=int, default=16)
    p.add_argument("--soundfont", default=None, help="soundfont file name (default: the best found, FluidR3_GM)")
    p.add_argument("--threads", type=int, default=2)
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    result = evaluate(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("adherence", "reconstruction", "music_likeness")}, indent=2))


if __name__ == "__main__":
    main()
