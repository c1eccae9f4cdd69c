"""The one loudness meter: ITU-R BS.1770-4 integrated loudness (pyloudnorm), for export's mastering and diff."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

BLOCK_SECONDS = 0.4  # BS.1770's gating block: shorter audio has no integrated loudness


def integrated_loudness(x: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness in LUFS of (n,) or (n, channels) audio; -inf for silence or audio shorter than a block."""
    import numpy as np
    import pyloudnorm

    y = np.asarray(x, dtype=np.float64)
    if len(y) < BLOCK_SECONDS * sample_rate:
        return -np.inf
    return float(pyloudnorm.Meter(sample_rate).integrated_loudness(y))
