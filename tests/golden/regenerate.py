"""Re-render the golden project and record its audio: run on purpose only, after a deliberate change of the shipped
weights, the render format or the decoder (`.venv/bin/python tests/golden/regenerate.py`), and say why in the commit."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import soundfile as sf

ROOT = Path(__file__).parent
HEADER = """# sha256 of the int16 samples of build/NAME.wav (checked by tests/test_golden.py).
# Regenerate with the locks, on purpose only: tests/golden/regenerate.py.
"""

if __name__ == "__main__":
    subprocess.run([sys.executable, "-m", "acegit", "render", "--all", "--force", "--no-cache"], cwd=ROOT, check=True)
    lines = []
    for wav in sorted((ROOT / "build").glob("*.wav")):
        samples, _ = sf.read(wav, dtype="int16")
        lines.append(f'{wav.stem} = "{hashlib.sha256(samples.tobytes()).hexdigest()}"\n')
    (ROOT / "audio.toml").write_text(HEADER + "".join(lines), encoding="utf-8")
