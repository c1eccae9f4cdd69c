"""The synthetic corpus: labels agree with the music, captions state only true labels, renders are deterministic."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from acegit.keys import ALL_KEYS, parse_key
from model.corpus.captions import INSTRUMENTS, STYLE_WORDS, caption
from model.corpus.composer import SCALES, STYLES, compose

SEEDS = range(40)


def test_compose_is_deterministic() -> None:
    for seed in (0, 7, 123456789):
        assert compose(seed, 12.0) == compose(seed, 12.0)
    assert compose(1, 12.0) != compose(2, 12.0)


@pytest.mark.parametrize("seed", SEEDS)
def test_labels_agree_with_the_notes(seed: int) -> None:
    piece = compose(seed, 15.0)
    lab = piece.labels
    style = STYLES[lab.style]
    assert style.bpm[0] <= lab.bpm <= style.bpm[1] and 60 <= lab.bpm <= 180
    assert lab.key in ALL_KEYS and lab.time_signature in ("4/4", "3/4")
    assert lab.has_drums == (piece.part("drums") is not None)
    assert set(lab.programs) == {p.role for p in piece.parts if p.role != "drums"}
    assert lab.instruments == {r: INSTRUMENTS[p][0] for r, p in lab.programs.items()}
    for part in piece.parts:
        assert all(0.0 <= n.start < n.end <= lab.duration and 1 <= n.velocity <= 127 for n in part.notes)
    key = parse_key(lab.key)
    scale = {(key.pitch_class + s) % 12 for s in SCALES[key.mode]}
    melody = piece.part("melody")
    if melody is not None:  # the tune stays in the key (only chords borrow the harmonic-minor leading tone)
        assert {n.pitch % 12 for n in melody.notes} <= scale
    pm = piece.to_midi()
    assert pm.get_tempo_changes()[1][0] == pytest.approx(lab.bpm)
    assert pm.time_signature_changes[0].numerator == int(lab.time_signature[0])
    assert lab.sections[0].start == 0.0 and lab.sections[-1].end == pytest.approx(lab.duration)


def test_corpus_covers_the_label_space() -> None:
    labels = [compose(seed, 10.0).labels for seed in range(400)]
    assert {lab.style for lab in labels} == set(STYLES)
    assert len({lab.key for lab in labels}) == 24
    assert {lab.time_signature for lab in labels} == {"4/4", "3/4"}
    assert min(lab.bpm for lab in labels) < 70 and max(lab.bpm for lab in labels) > 170
    assert {True, False} == {lab.has_drums for lab in labels}


@pytest.mark.parametrize("held_out", [False, True])
def test_captions_state_only_true_labels(held_out: bool) -> None:
    rng = random.Random(0)
    texts = set()
    for seed in SEEDS:
        lab = compose(seed, 10.0).labels
        for _ in range(5):
            cap = caption(lab, rng, held_out=held_out)
            text = cap.text.lower()
            texts.add(cap.text)
            assert len(cap.mentions) >= 2
            if "bpm" in cap.mentions:
                assert str(lab.bpm) in text
            else:
                assert str(lab.bpm) not in text
            tonic, mode = lab.key.lower().split()
            if "key" in cap.mentions:
                assert tonic[0] in text
            if "style" in cap.mentions:
                assert any(w in text for w in STYLE_WORDS[lab.style])
            if "mood" in cap.mentions:
                assert lab.mood in text
            if "instruments" in cap.mentions:
                assert any(alias in text for p in lab.programs.values() for alias in INSTRUMENTS[p])
            if "drums" in cap.mentions:
                assert ("no drums" in text or "no percussion" in text) != lab.has_drums
    assert len(texts) > 150  # phrasing varies, not one template


def test_held_out_phrasings_are_not_training_phrasings() -> None:
    lab = compose(3, 10.0).labels
    train = {caption(lab, random.Random(s)).text for s in range(300)}
    held = {caption(lab, random.Random(s), held_out=True).text for s in range(300)}
    assert not train & held


def _synth_or_skip():  # type: ignore[no-untyped-def]
    from model.corpus.synth import SynthUnavailable, find_soundfont

    try:
        import fluidsynth  # noqa: F401

        return find_soundfont("TimGM6mb.sf2")
    except (SynthUnavailable, ImportError) as e:
        pytest.skip(f"FluidSynth or TimGM6mb not installed: {e}")


def test_build_writes_deterministic_clips(tmp_path: Path) -> None:
    soundfont = _synth_or_skip()
    import numpy as np
    import soundfile as sf

    from model.corpus.build import CorpusSpec, build, read_labels
    from model.corpus.melody import melody_roll

    spec = CorpusSpec(seed=5, clips=3, min_seconds=3.0, max_seconds=4.0, captions=2)
    assert build(spec, tmp_path / "a", soundfont) == 3
    assert build(spec, tmp_path / "b", soundfont) == 3
    assert build(spec, tmp_path / "a", soundfont) == 0  # resumable: existing clips are kept
    records = read_labels(tmp_path / "a")
    assert [r["id"] for r in records] == ["000000", "000001", "000002"]
    for rec in records:
        a = (tmp_path / "a" / rec["audio"]).read_bytes()
        assert a == (tmp_path / "b" / rec["audio"]).read_bytes()
        audio, sr = sf.read(tmp_path / "a" / rec["audio"], dtype="float32")
        assert sr == 22050 and len(audio) == round(rec["duration"] * sr)
        assert 0.05 < float(np.sqrt(np.mean(audio**2))) < 0.15  # level-matched, not silent
        assert len(rec["captions"]) == 2 and rec["bpm"] == compose(rec["seed"], rec["duration"]).labels.bpm
        if rec["melody"]:
            roll = melody_roll(tmp_path / "a" / rec["melody"], 40, 10.77)
            assert roll.shape == (128, 40) and roll.max() > 0
    assert (tmp_path / "a" / "labels.jsonl").read_text() == (tmp_path / "b" / "labels.jsonl").read_text()
    assert json.loads((tmp_path / "a" / "corpus.json").read_text())["soundfont"] == "TimGM6mb.sf2"


def test_a_clip_renders_the_same_after_any_other() -> None:
    soundfont = _synth_or_skip()
    import numpy as np

    from model.corpus.synth import Synth

    with Synth(soundfont) as synth:
        pm = compose(11, 3.0).to_midi()
        first = synth.render(pm, 3.0, reverb=0.2)
        synth.render(compose(12, 2.5).to_midi(), 2.5)
        again = synth.render(pm, 3.0, reverb=0.2)
    assert np.abs(first - again).max() < 1e-6


def test_missing_soundfont_names_the_debian_package() -> None:
    from model.corpus.synth import SynthUnavailable, find_soundfont

    with pytest.raises(SynthUnavailable, match="apt-get install fluid-soundfont-gm"):
        find_soundfont("NoSuchFont.sf2")
