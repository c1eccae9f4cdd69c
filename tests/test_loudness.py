"""acegit/loudness.py, the one BS.1770-4 meter (export's mastering and diff): numpy's own, and pyloudnorm's numbers
(the meter it replaced, whose scipy.signal import cost every diff 1.3-2.7 s; issue 19)."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from acegit.loudness import integrated_loudness


def _signals(rate: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(rate)
    n = int(rate * 4.3)
    t = np.arange(n) / rate
    return {
        "noise": rng.standard_normal(n) * 0.1,
        "bursts (both gates)": np.repeat(rng.uniform(0, 1, 9), n // 9 + 1)[:n] * rng.standard_normal(n) * 0.3,
        "50 Hz near the high pass": 0.5 * np.sin(2 * np.pi * 50 * t),
        "stereo": rng.standard_normal((n, 2)) * [0.1, 0.02],
        "5.0": rng.standard_normal((n, 5)) * 0.05,
        "quiet then loud": np.concatenate([rng.standard_normal(n // 2) * 1e-4, rng.standard_normal(n - n // 2) * 0.2]),
        "float32": (rng.standard_normal(n) * 0.1).astype(np.float32),
    }


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000, 96000])
def test_it_reads_what_pyloudnorm_reads(rate: int) -> None:
    import pyloudnorm

    for name, x in _signals(rate).items():
        ours = integrated_loudness(x, rate)
        theirs = pyloudnorm.Meter(rate).integrated_loudness(np.asarray(x, np.float64))
        assert ours == pytest.approx(theirs, abs=1e-9), name


def test_silence_short_audio_and_bad_shapes() -> None:
    assert integrated_loudness(np.zeros(22050), 22050) == -math.inf
    assert integrated_loudness(np.full(22050, 1e-6), 22050) == -math.inf  # below the absolute gate
    assert integrated_loudness(np.ones(100), 22050) == -math.inf  # shorter than a gating block
    with pytest.raises(ValueError, match="channels"):
        integrated_loudness(np.zeros((22050, 6)), 22050)
    # BS.1770's calibration: a full-scale 997 Hz sine reads -3.01 LUFS (-3.05 here, as in pyloudnorm: its filters are
    # designed from the analogue prototypes, not the standard's 48 kHz coefficient table).
    t = np.arange(48000 * 3) / 48000
    assert integrated_loudness(np.sin(2 * np.pi * 997 * t), 48000) == pytest.approx(-3.01, abs=0.05)


def test_it_is_the_same_number_every_time_and_in_another_process() -> None:
    x = _signals(22050)["bursts (both gates)"]
    here = integrated_loudness(x, 22050)
    assert integrated_loudness(x.copy(), 22050) == here
    code = (
        "import sys, numpy as np\nfrom acegit.loudness import integrated_loudness\n"
        "x = np.frombuffer(sys.stdin.buffer.read(), dtype=np.float64)\n"
        "print(repr(integrated_loudness(x, 22050)), sorted(m for m in sys.modules if m.split('.')[0] == 'scipy'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], input=x.tobytes(), capture_output=True, check=True, timeout=60)
    assert out.stdout.decode().strip() == f"{here!r} []"  # and it imports no scipy
