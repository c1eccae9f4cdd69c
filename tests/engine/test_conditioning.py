from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from acegit.engine.conditioning import (
    KEY_NULL,
    TIME_SIGNATURE_NULL,
    TIME_SIGNATURE_OTHER,
    beat_features,
    key_index,
    melody_roll,
    time_signature_index,
)
from acegit.errors import AcegitError, InputError

RATE = 22050 / 2048


def test_beat_phase_follows_bpm_and_time_signature() -> None:
    feats = beat_features(200, RATE, 120.0, 3, harmonics=2)  # (frames, 4H): sin h1, sin h2, sin bar1, sin bar2, cos …
    assert feats.shape == (200, 8) and feats.dtype == torch.float32
    t = torch.arange(200, dtype=torch.float64) / RATE
    beat_phase = torch.remainder(t * 2.0, 1.0)  # 120 BPM: two beats per second
    torch.testing.assert_close(feats[:, 0].double(), torch.sin(2 * torch.pi * beat_phase), rtol=0, atol=1e-6)
    bar_phase = torch.remainder(t * 2.0 / 3, 1.0)  # three beats per bar
    torch.testing.assert_close(feats[:, 6].double(), torch.cos(2 * torch.pi * bar_phase), rtol=0, atol=1e-6)
    assert torch.all(beat_features(10, RATE, 0.0, 4, 2) == 0)  # no BPM, no beat grid


def test_beat_features_of_a_crop_continue_the_grid() -> None:
    full = beat_features(100, RATE, 97.0, 4, 4)
    crop = beat_features(40, RATE, 97.0, 4, 4, offset=60 / RATE)
    torch.testing.assert_close(crop, full[60:], rtol=0, atol=1e-5)


def test_key_and_time_signature_indices() -> None:
    assert key_index("C major") == 0 and key_index("A minor") == 21 and key_index("") == KEY_NULL
    assert time_signature_index("4/4") == 0 and time_signature_index("") == TIME_SIGNATURE_NULL
    assert time_signature_index("9/8") == TIME_SIGNATURE_OTHER
    with pytest.raises(AcegitError):
        time_signature_index("four")
    with pytest.raises(AcegitError):
        key_index("H minor")


def test_melody_roll_at_the_latent_rate(tmp_path: Path) -> None:
    pretty_midi = pytest.importorskip("pretty_midi")
    midi = pretty_midi.PrettyMIDI()
    piano = pretty_midi.Instrument(program=0)
    piano.notes.append(pretty_midi.Note(velocity=127, pitch=60, start=0.0, end=1.0))
    piano.notes.append(pretty_midi.Note(velocity=64, pitch=67, start=1.0, end=2.0))
    drums = pretty_midi.Instrument(program=0, is_drum=True)
    drums.notes.append(pretty_midi.Note(velocity=100, pitch=36, start=0.0, end=0.5))
    midi.instruments += [piano, drums]
    path = tmp_path / "m.mid"
    midi.write(str(path))
    roll = melody_roll(path, 40, RATE).numpy()
    assert roll.shape == (128, 40)
    frames = np.arange(40) / RATE
    assert np.all(roll[60, frames < 0.85] == 1.0) and np.all(roll[60, frames > 1.05] == 0.0)  # edge frames: partly
    assert np.allclose(roll[67, (frames > 1.05) & (frames < 1.85)], 64 / 127)
    assert roll[36].max() == 0  # drums are not melody
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"not midi")
    with pytest.raises(InputError):
        melody_roll(bad, 10, RATE)
