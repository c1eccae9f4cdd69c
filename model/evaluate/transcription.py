"""The transcriber's numbers in the model card: `python -m model.evaluate.transcription --heldout … --valid …`.

- note F1 (mir_eval.transcription: onset ±50 ms, with and without offsets) on held-out corpus clips against their
  exact MIDI: per role (melody, chords, bass) and for all pitched parts together (role-agnostic);
- the decoding thresholds chosen on validation clips of a third corpus seed (never the test clips);
- a peer (basic-pitch, whose model ships inside its wheel), run in its own virtual environment (`--peer-python`) on
  the same clips: all pitched parts, and its highest sounding line as the melody;
- melody adherence: a project whose tracks give held-out melodies to the built-in model (`melody = "midi/…"`,
  `[audio] midi = true`), rendered with `acegit render`; the build/NAME.mid melody against the given melody, and
  against another clip's melody as the control (chance).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import mir_eval
import numpy as np
import pretty_midi
import soundfile as sf
import torch

from acegit.engine.transcriber import activations, load_transcriber, notes_from_activations
from model.corpus.build import read_labels
from model.train_transcriber import role_notes

ROLES = ("melody", "chords", "bass")
Notes = np.ndarray  # (N, 3): start s, end s, MIDI pitch


def f1(ref: Notes, est: Notes, offsets: bool) -> tuple[float, float, float]:
    """mir_eval's note precision, recall, F1 (onset ±50 ms, pitch ±50 cents; offsets within max(50 ms, 20%))."""
    if len(ref) == 0 and len(est) == 0:
        return 1.0, 1.0, 1.0
    if len(ref) == 0 or len(est) == 0:
        return 0.0, 0.0, 0.0
    p, r, f, _ = mir_eval.transcription.precision_recall_f1_overlap(
        ref[:, :2],
        pretty_midi.note_number_to_hz(ref[:, 2]),
        est[:, :2],
        pretty_midi.note_number_to_hz(est[:, 2]),
        onset_tolerance=0.05,
        offset_ratio=0.2 if offsets else None,
    )
    return float(p), float(r), float(f)


def as_array(notes: list[Any]) -> Notes:
    return np.asarray([(n.start, max(n.end, n.start + 1e-3), n.pitch) for n in notes], np.float64).reshape(-1, 3)


def skyline(notes: Notes) -> Notes:
    """The highest sounding note at each onset: a role-agnostic transcription's melody."""
    keep = []
    for i, (s, _, p) in enumerate(notes):
        sounding = notes[(notes[:, 0] <= s + 0.05) & (notes[:, 1] > s)]
        if p >= sounding[:, 2].max():
            keep.append(i)
    return notes[keep]


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean per-clip F1 over the clips that have the part (a clip without a melody is not scored for melody)."""
    out: dict[str, Any] = {}
    for key in rows[0] if rows else []:
        vals = [r[key] for r in rows if r.get(key) is not None]
        out[key] = {"f1": round(float(np.mean([v[2] for v in vals])), 4), "clips": len(vals)}
        out[key]["precision"] = round(float(np.mean([v[0] for v in vals])), 4)
        out[key]["recall"] = round(float(np.mean([v[1] for v in vals])), 4)
    return out


def score_clip(truth: list[Notes], est: dict[str, Notes]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for offsets in (False, True):
        tag = "with_offsets" if offsets else "onset"
        for r, role in enumerate(ROLES):
            if role in est:
                row[f"{role}/{tag}"] = f1(truth[r], est[role], offsets) if len(truth[r]) else None
        every = np.concatenate(truth)
        pooled = est.get("all", np.concatenate([est[r] for r in ROLES if r in est]))
        row[f"all/{tag}"] = f1(every, pooled, offsets)
    return row


def truth_of(corpus: Path) -> list[tuple[str, Path, list[Notes]]]:
    clips = []
    for rec in read_labels(corpus):
        notes = role_notes(corpus / rec["midi"], ROLES)
        clips.append((rec["id"], corpus / rec["audio"], notes))
    return clips


def ours(ckpt: Path, corpus: Path, valid: Path | None) -> dict[str, Any]:
    model, digest = load_transcriber(ckpt)
    cfg = model.cfg
    test = [(cid, sf.read(path, dtype="float32")[0], truth) for cid, path, truth in truth_of(corpus)]
    seconds = sum(len(w) for _, w, _ in test) / cfg.audio.sample_rate
    start = time.perf_counter()
    acts = [activations(model, w) for _, w, _ in test]
    per_audio_second = (time.perf_counter() - start) / seconds
    chosen = (cfg.onset_threshold, cfg.frame_threshold)
    sweep = []
    if valid is not None:
        vacts = [(activations(model, sf.read(p, dtype="float32")[0]), t) for _, p, t in truth_of(valid)]
        for on in (0.3, 0.4, 0.5, 0.6, 0.7):
            for fr in (0.3, 0.4, 0.5):
                c = type(cfg)(**{**cfg.__dict__, "onset_threshold": on, "frame_threshold": fr})
                rows = [
                    score_clip(t, {k: as_array(v) for k, v in notes_from_activations(a[0], a[1], c).items()})
                    for a, t in vacts
                ]
                s = summarise(rows)
                sweep.append({"onset_threshold": on, "frame_threshold": fr, "all_f1": s["all/onset"]["f1"]})
        best = max(sweep, key=lambda r: r["all_f1"])
        chosen = (best["onset_threshold"], best["frame_threshold"])
    c = type(cfg)(**{**cfg.__dict__, "onset_threshold": chosen[0], "frame_threshold": chosen[1]})
    rows = []
    for (_, _, truth), (on, fr) in zip(test, acts, strict=True):
        est = {k: as_array(v) for k, v in notes_from_activations(on, fr, c).items()}
        rows.append(score_clip(truth, est))
    return {
        "weights": digest,
        "parameters": sum(p.numel() for p in model.parameters()),
        "thresholds": {"onset": chosen[0], "frame": chosen[1]},
        "sweep": sweep,
        "seconds_per_audio_second": round(per_audio_second, 4),
        "threads": torch.get_num_threads(),
        "scores": summarise(rows),
    }


PEER_SCRIPT = """
import json, sys
from basic_pitch.inference import predict
from basic_pitch import ICASSP_2022_MODEL_PATH
out = {}
for path in sys.argv[2:]:
    _, _, events = predict(path, ICASSP_2022_MODEL_PATH)
    out[path] = [[float(s), float(e), int(p)] for s, e, p, _, _ in events]
json.dump({"model": str(ICASSP_2022_MODEL_PATH), "notes": out}, open(sys.argv[1], "w"))
"""


def peer(python: Path, corpus: Path, work: Path) -> dict[str, Any]:
    """basic-pitch (Spotify, ICASSP 2022) on the same clips, in its own environment; its notes have no roles."""
    clips = truth_of(corpus)
    work.mkdir(parents=True, exist_ok=True)
    script, out = work / "peer.py", work / "peer-notes.json"
    script.write_text(PEER_SCRIPT)
    start = time.perf_counter()
    cmd = [str(python), str(script), str(out), *[str(p) for _, p, _ in clips]]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)  # basic-pitch prints a line per file
    elapsed = time.perf_counter() - start
    data = json.loads(out.read_text())
    rows = []
    for _, path, truth in clips:
        notes = np.asarray(data["notes"][str(path)], np.float64).reshape(-1, 3)
        notes = notes[np.argsort(notes[:, 0], kind="stable")]
        rows.append(score_clip(truth, {"melody": skyline(notes) if len(notes) else notes, "all": notes}))
    seconds = sum(sf.info(str(p)).duration for _, p, _ in clips)
    return {
        "model": data["model"],
        "seconds_per_audio_second_incl_startup": round(elapsed / seconds, 4),
        "scores": summarise(rows),
    }


def adherence(corpus: Path, work: Path, clips: int, steps: int) -> dict[str, Any]:
    """Held-out melodies given to the built-in model through real tracks; `acegit render` writes build/NAME.mid."""
    import shutil

    from acegit.project import find_project
    from acegit.render import render_tracks, select_tracks
    from acegit.transcribe import melody_notes, midi_path, note_f1, notes_of_midi

    records = [r for r in read_labels(corpus) if r.get("melody")][:clips]
    root = work / "project"
    if root.exists():
        shutil.rmtree(root)
    (root / "tracks").mkdir(parents=True)
    (root / "midi").mkdir()
    (root / "acegit.toml").write_text('[project]\nname = "adherence"\n\n[audio]\nmidi = true\n')
    for i, r in enumerate(records):
        shutil.copy(corpus / r["melody"], root / "midi" / f"m{r['id']}.mid")
        fields = {
            "prompt": r["captions"][0],
            "seed": i,
            "duration": r["duration"],
            "bpm": r["bpm"],
            "key": r["key"],
            "time_signature": r["time_signature"],
            "steps": steps,
            "guidance": 3.0,
            "melody": f"midi/m{r['id']}.mid",
        }
        text = "".join(f"{k} = {json.dumps(v)}\n" for k, v in fields.items())
        (root / "tracks" / f"c{r['id']}.toml").write_text(text)
    project = find_project(root)
    start = time.perf_counter()
    render_tracks(project, select_tracks(project, []), force=True, device="cpu", use_cache=False)
    elapsed = time.perf_counter() - start
    given = [melody_notes(root / "midi" / f"m{r['id']}.mid", r["duration"]) for r in records]
    heard = [notes_of_midi(midi_path(project, f"c{r['id']}").read_bytes(), r["id"]).get("melody", []) for r in records]
    out: dict[str, Any] = {"clips": len(records), "steps": steps, "render_and_transcribe_s": round(elapsed, 1)}
    for offsets in (False, True):
        tag = "with_offsets" if offsets else "onset"
        matched = [note_f1(g, h, offsets=offsets).f1 for g, h in zip(given, heard, strict=True)]
        control = [note_f1(given[(i + 1) % len(given)], h, offsets=offsets).f1 for i, h in enumerate(heard)]
        out[tag] = {
            "given_melody_f1": round(float(np.mean(matched)), 4),
            "control_f1": round(float(np.mean(control)), 4),
        }
        out[tag]["per_clip"] = [round(x, 3) for x in matched]
    return out


def ship(ckpt: Path, folder: Path, thresholds: dict[str, float]) -> str:
    """The checkpoint with the decoding thresholds chosen on the validation clips, in the shipped weights folder."""
    import dataclasses

    from acegit.engine.transcriber import save_transcriber

    model, _ = load_transcriber(ckpt)
    model.cfg = dataclasses.replace(model.cfg, onset_threshold=thresholds["onset"], frame_threshold=thresholds["frame"])
    return save_transcriber(model, folder)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ckpt", type=Path, default=Path("model/weights/transcriber"))
    p.add_argument("--heldout", type=Path, default=Path("data/midi/heldout"))
    p.add_argument("--valid", type=Path, default=None, help="validation clips for the decoding thresholds")
    p.add_argument("--peer-python", type=Path, default=None, help="a Python with basic-pitch installed")
    p.add_argument("--adherence-clips", type=int, default=0)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--work", type=Path, default=Path("data/midi/eval"))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--skip-ours", action="store_true")
    p.add_argument("--ship-to", type=Path, default=None, help="write the checkpoint with the chosen thresholds here")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    result: dict[str, Any] = {"heldout": str(args.heldout)}
    if not args.skip_ours:
        result["transcriber"] = ours(args.ckpt, args.heldout, args.valid)
        if args.ship_to is not None:
            result["shipped"] = ship(args.ckpt, args.ship_to, result["transcriber"]["thresholds"])
    if args.peer_python is not None:
        result["peer"] = peer(args.peer_python, args.heldout, args.work)
    if args.adherence_clips:
        result["adherence"] = adherence(args.heldout, args.work, args.adherence_clips, args.steps)
    if args.out is not None:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
