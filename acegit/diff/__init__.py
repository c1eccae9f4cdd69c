"""Comparing versions of tracks: parameters, latents, and audio decoded from the snapshots (never re-sampled).

`sides` reads a track at a revision or in the working tree, `params` diffs its fields, `latents` measures how far its
snapshot moved (and where), `audio` compares the decoded audio, `compare` puts them together (docs/diff.md).
"""

from __future__ import annotations

from acegit.diff.audio import AudioDiff, compare_audio, loudness_lufs, magnitude
from acegit.diff.compare import (
    ADDED,
    MODIFIED,
    REMOVED,
    RENAMED,
    UNCHANGED,
    DiffResult,
    TrackDiff,
    compare_versions,
    diff_tracks,
    split_args,
)
from acegit.diff.latents import (
    CHANGED,
    DIFFERENT,
    DRIFT,
    IDENTICAL,
    OTHER_MODEL,
    SECOND_CHANGED,
    LatentDiff,
    compare_latents,
    verdict,
)
from acegit.diff.params import ParamChange, param_changes, word_diff
from acegit.diff.sides import WORKTREE, Side, Version

__all__ = [
    "ADDED",
    "CHANGED",
    "DIFFERENT",
    "DRIFT",
    "IDENTICAL",
    "MODIFIED",
    "OTHER_MODEL",
    "REMOVED",
    "RENAMED",
    "SECOND_CHANGED",
    "UNCHANGED",
    "WORKTREE",
    "AudioDiff",
    "DiffResult",
    "LatentDiff",
    "ParamChange",
    "Side",
    "TrackDiff",
    "Version",
    "compare_audio",
    "compare_latents",
    "compare_versions",
    "diff_tracks",
    "loudness_lufs",
    "magnitude",
    "param_changes",
    "split_args",
    "verdict",
    "word_diff",
]
