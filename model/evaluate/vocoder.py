"""Griffin-Lim vs the neural vocoder on held-out clips, from the same mel:
`python -m model.evaluate.vocoder --clips data/vocoder/heldout --weights runs/vocoder/ckpt --out vocoder.json`.

Each clip is vocoded from its true mel (the engine's front end on the clip) and from the DCAE round trip of that mel
(what a render feeds the vocoder), by both vocoders in turn, one thread, timed interleaved. Measures: multi-resolution
STFT distance (the training loss's definition), L1 log-mel of the re-analysed audio (normalised units, as the model
card's reconstruction table), waveform SNR and SI-SDR (both compare phase), and CPU seconds per second of audio.
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

from acegit.engine import audio
from acegit.engine.checkpoint import load_checkpoint
from acegit.engine.model import MusicModel
from acegit.engine.vocoder import GriffinLim, Vocoder
from acegit.engine.vocos import NeuralVocoder
from model.corpus.build import read_labels
from model.train_vocoder import multi_resolution_stft

METRICS = ("mrstft", "log_mel_l1", "snr_db", "si_sdr_db", "seconds_per_second")
LOWER_IS_BETTER = {"mrstft": True, "log_mel_l1": True, "snr_db": False, "si_sdr_db": False, "seconds_per_second": True}


def si_sdr(ref: torch.Tensor, est: torch.Tensor) -> float:
    """Scale-invariant SDR in dB (Le Roux et al. 2019), on zero-mean signals."""
    ref, est = ref.double() - ref.double().mean(), est.double() - est.double().mean()
    target = (est @ ref) / (ref @ ref).clamp_min(1e-12) * ref
    return float(10 * torch.log10(target.pow(2).sum() / (est - target).pow(2).sum().clamp_min(1e-12)))


def scores(model: MusicModel, ref: torch.Tensor, est: torch.Tensor) -> dict[str, float]:
    cfg = model.cfg.audio
    snr = 10 * torch.log10(ref.double().pow(2).sum() / (ref.double() - est.double()).pow(2).sum().clamp_min(1e-12))
    return {
        "mrstft": float(multi_resolution_stft(est[None], ref[None])),
        "log_mel_l1": float((audio.log_mel(est, cfg) - audio.log_mel(ref, cfg)).abs().mean()),
        "snr_db": float(snr),
        "si_sdr_db": si_sdr(ref, est),
    }


@torch.no_grad()
def evaluate(clips: Path, weights: Path, limit: int | None = None, refine: list[int] | None = None) -> dict[str, Any]:
    """refine: the neural vocoder's Griffin-Lim refinement iterations to measure, each as its own variant (None: the
    weights' configured count)."""
    model, digest = load_checkpoint(weights)
    assert model.vocoder is not None, f"{weights} holds no neural vocoder"
    cfg = model.cfg.audio
    counts = [model.cfg.vocoder.refine_iterations] if refine is None else refine
    vocoders: dict[str, Vocoder] = {"griffin-lim": GriffinLim(cfg)}
    vocoders |= {v.name: v for v in (NeuralVocoder(model.vocoder, refine_iterations=n) for n in counts)}
    rows: dict[str, dict[str, list[dict[str, float]]]] = {src: {v: [] for v in vocoders} for src in ("mel", "dcae")}
    total_seconds = 0.0
    for rec in read_labels(clips)[:limit]:
        wave_np, sr = sf.read(clips / rec["audio"], dtype="float32")
        assert sr == cfg.sample_rate
        wave = torch.from_numpy(wave_np)
        log = audio.log_mel(wave[None], cfg)  # (1, n_mels, frames)
        frames = log.shape[-1]
        padded = audio.pad_frames(log, model.cfg.latent_frames(len(wave)) * 8, audio.silence_level(cfg))
        mels = {
            "mel": audio.denormalize_log_mel(log, cfg)[0],
            "dcae": audio.denormalize_log_mel(model.dcae(padded)[..., :frames], cfg)[0],
        }
        total_seconds += len(wave) / sr
        for src, mel in mels.items():
            for name, voc in vocoders.items():  # interleaved: both see the same load
                start = time.process_time()
                out = voc(mel, len(wave))
                spent = time.process_time() - start
                rows[src][name].append({**scores(model, wave, out), "cpu_s": spent, "seconds": len(wave) / sr})
    summary: dict[str, Any] = {"weights": digest, "clips": len(rows["mel"]["griffin-lim"]), "audio_s": total_seconds}
    for src, by_voc in rows.items():
        summary[src] = {}
        for name, rs in by_voc.items():
            m = {k: round(float(np.mean([r[k] for r in rs])), 4) for k in METRICS if k != "seconds_per_second"}
            m["seconds_per_second"] = round(sum(r["cpu_s"] for r in rs) / sum(r["seconds"] for r in rs), 4)
            summary[src][name] = m
        gl = by_voc["griffin-lim"]
        summary[src]["clips_better_than_griffin_lim"] = {
            name: {
                k: sum((n[k] < g[k]) == LOWER_IS_BETTER[k] for n, g in zip(rs, gl, strict=True))
                for k in METRICS
                if k != "seconds_per_second"
            }
            for name, rs in by_voc.items()
            if name != "griffin-lim"
        }
    return summary


@torch.no_grad()
def write_examples(clip: Path, weights: Path, out: Path, seconds: float, refine: int | None = None) -> list[str]:
    """The first `seconds` of a held-out clip and both vocoders' audio from its mel (Ogg Vorbis), and one PNG of the
    three log-mel spectrograms stacked (reference, Griffin-Lim, neural; low frequencies at the bottom of each).
    refine: the neural vocoder's Griffin-Lim iterations (None: the weights' configured count)."""
    import io

    from acegit.fsutil import atomic_write_bytes
    from model.evaluate.examples import png_bytes, spectrogram_rgb

    model, _ = load_checkpoint(weights)
    assert model.vocoder is not None
    cfg = model.cfg.audio
    wave_np, _ = sf.read(clip, dtype="float32", frames=int(seconds * cfg.sample_rate))
    mel = audio.mel_spectrogram(torch.from_numpy(wave_np), cfg)
    waves = {
        "reference": wave_np,
        "griffin-lim": GriffinLim(cfg)(mel, len(wave_np)).numpy(),
        "neural": NeuralVocoder(model.vocoder, refine_iterations=refine)(mel, len(wave_np)).numpy(),
    }
    written, images = [], []
    for name, w in waves.items():
        buf = io.BytesIO()
        sf.write(buf, w, cfg.sample_rate, format="OGG", subtype="VORBIS")
        atomic_write_bytes(out / f"vocoder-{name}.ogg", buf.getvalue())
        written.append(f"vocoder-{name}.ogg")
        images += [spectrogram_rgb(w, cfg)[::2], np.full((3, mel.shape[-1], 3), 255, np.uint8)]  # 128 px each
    atomic_write_bytes(out / "vocoder-compare.png", png_bytes(np.concatenate(images[:-1])))
    return [*written, "vocoder-compare.png"]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clips", type=Path, default=Path("data/vocoder/heldout"), help="a held-out corpus folder")
    p.add_argument("--weights", type=Path, default=Path("runs/vocoder/ckpt"))
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--examples", type=Path, default=None, help="write the example re-renders of the first clip here")
    p.add_argument("--example-seconds", type=float, default=4.0)
    p.add_argument("--refine", type=int, nargs="+", default=None, help="refinement iterations (default: configured)")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    if a.examples:
        first = read_labels(a.clips)[0]["audio"]
        refine = None if a.refine is None else a.refine[0]
        print(write_examples(a.clips / first, a.weights, a.examples, a.example_seconds, refine))
        return
    result = evaluate(a.clips, a.weights, a.limit, a.refine)
    text = json.dumps(result, indent=2)
    if a.out:
        a.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
