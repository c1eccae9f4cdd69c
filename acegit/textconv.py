"""A short human summary of a lock file, for Git's `diff.acegit.textconv`: `git diff` shows this instead of base64."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from acegit.errors import InputError
from acegit.lockfile import Lock, read_lock

if TYPE_CHECKING:
    import numpy as np

LEVELS = "▁▂▃▄▅▆▇█"
PROFILE_CELLS = 20  # the energy profile is at most this many characters, each a span of equal length


def energy_profile(latent: np.ndarray, cells: int = PROFILE_CELLS) -> tuple[str, float]:
    """RMS of the latent per span of time as a bar string (relative to the loudest span), and the span's frames."""
    import numpy as np

    frames = latent.shape[-1]
    rms = np.sqrt(np.mean(np.asarray(latent, np.float64).reshape(-1, frames) ** 2, axis=0))  # (T,)
    n = min(cells, frames)
    edges = np.linspace(0, frames, n + 1).astype(np.int64)
    spans = np.add.reduceat(rms, edges[:-1]) / np.diff(edges)
    top = float(spans.max())
    if top <= 0:
        return LEVELS[0] * n, frames / n
    idx = np.minimum((spans / top * len(LEVELS)).astype(np.int64), len(LEVELS) - 1)
    return "".join(LEVELS[i] for i in idx), frames / n


def _dbfs(x: float) -> str:
    return f"{20 * math.log10(x):.1f} dBFS" if x > 0 else "silent"


def summarize(lock: Lock) -> str:
    """The summary text: one fact per line, so a line-based diff shows exactly which facts changed."""
    from acegit.lockfile import decode_latent

    latent = decode_latent(lock)
    profile, span = energy_profile(latent)
    seconds_per_cell = span * lock.audio.duration / max(latent.shape[-1] - 1, 1)
    e, a, i = lock.environment, lock.audio, lock.input
    return "\n".join(
        [
            f"acegit snapshot of track {lock.track} (lock format {lock.format})",
            f"input fingerprint  {i.fingerprint}",
            f"source             {i.source}",
            f"model              {i.model}, {i.backend} backend (weights {i.weights}, render format {i.render_format})",
            f"rendered on        {e.device_class}, torch {e.torch}, {e.dtype}, acegit {e.acegit}",
            f"latent             {' × '.join(map(str, lock.latent.shape))}, sha256 {lock.latent.sha256}",
            f"audio              {a.duration:g} s at {a.sample_rate} Hz, peak {a.peak:g} ({_dbfs(a.peak)}), "
            f"rms {a.rms:g} ({_dbfs(a.rms)})",
            f"energy profile     {profile}  ({seconds_per_cell:.1f} s per character)",
        ]
    )


def textconv(path: Path) -> str:
    """The summary of a lock file, or a one-line note when it cannot be read (textconv must not break `git log -p`)."""
    try:
        return summarize(read_lock(path, str(path)))
    except InputError as e:
        # Git hands textconv a temporary copy: its path is noise in a diff, so only the reason is shown.
        return f"acegit snapshot that cannot be read: {e.message.removeprefix(f'{path}: ')}"
