"""A whole diff: which tracks differ between two sides, and each one's parameters, latents and decoded audio.

A *side* is a Git revision or the working tree. For each track present at either side, `diff_tracks` says whether it
was added, removed, renamed or modified, and measures how much (docs/diff.md).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from acegit.diff.audio import AudioDiff, compare_audio
from acegit.diff.latents import OTHER_MODEL, LatentDiff, compare_latents, frame_rate_of, verdict
from acegit.diff.params import ParamChange, param_changes
from acegit.diff.sides import Side, Version, open_repo
from acegit.errors import AcegitError, CheckFailed, InputError
from acegit.lockfile import Lock
from acegit.project import Project
from acegit.snapshots import Models, Snapshots
from acegit.track import LOCK_SUFFIX, TRACK_SUFFIX, check_name

if TYPE_CHECKING:
    import numpy as np

    from acegit.gitrepo import GitRepo

ADDED, REMOVED, RENAMED, MODIFIED, UNCHANGED = "added", "removed", "renamed", "modified", "unchanged"


@dataclass
class TrackDiff:
    """One track's comparison. `wave_a`/`wave_b` (decoded audio) are kept for the HTML report, not serialised."""

    name: str
    status: str  # added / removed / renamed / modified / unchanged
    old_name: str | None  # the name at side A, for a rename
    a: Version | None
    b: Version | None
    params: list[ParamChange] = field(default_factory=list)
    source_only: bool = False  # the source fingerprint changed with no field changing: the melody file's notes
    not_rendered: bool = False  # render fields changed at B but its snapshot is A's: B was not re-rendered
    latent: LatentDiff | None = None
    audio: AudioDiff | None = None
    verdict: str = ""
    problems: list[str] = field(default_factory=list)
    sample_rate: int = 0
    wave_a: np.ndarray | None = field(default=None, repr=False)
    wave_b: np.ndarray | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        """The `acegit diff --json` object of one track (docs/diff.md)."""

        def num(x: float | None, digits: int = 6) -> float | str | None:
            if x is None:
                return None
            return str(x) if math.isinf(x) or math.isnan(x) else round(x, digits)

        lat = self.latent
        aud = self.audio
        return {
            "name": self.name,
            "status": self.status,
            "old_name": self.old_name,
            "verdict": self.verdict,
            "params": [{"field": p.field, "old": p.old, "new": p.new} for p in self.params],
            "melody_changed": self.source_only,
            "not_rendered": self.not_rendered,
            "latent": None
            if lat is None
            else {
                "identical": lat.identical,
                "shape_a": list(lat.shape_a),
                "shape_b": list(lat.shape_b),
                "l2": num(lat.l2),
                "cosine": num(lat.cosine),
                "change": num(lat.change),
                "per_second": [num(x, 4) for x in lat.per_second],
                "changed_seconds": [list(r) for r in lat.changed_seconds],
                "frame_rate": num(lat.frame_rate),
            },
            "audio": None
            if aud is None
            else {
                "lsd_db": num(aud.lsd_db, 3),
                "mrstft": num(aud.mrstft, 4),
                "loudness_a": num(aud.loudness_a, 2),
                "loudness_b": num(aud.loudness_b, 2),
                "loudness_delta": num(aud.loudness_delta, 2),
                "peak_a_db": num(aud.peak_a_db, 2),
                "peak_b_db": num(aud.peak_b_db, 2),
                "tempo_a": num(aud.tempo_a, 1),
                "tempo_b": num(aud.tempo_b, 1),
                "key_a": aud.key_a,
                "key_b": aud.key_b,
            },
            "problems": self.problems,
        }


@dataclass
class DiffResult:
    """All compared tracks of one `acegit diff`."""

    side_a: str
    side_b: str
    tracks: list[TrackDiff]

    @property
    def problems(self) -> list[str]:
        return [p for t in self.tracks for p in t.problems]

    def check(self) -> None:
        """Raise CheckFailed when some track could not be compared (after the rest of the diff was shown)."""
        if self.problems:
            raise CheckFailed("\n".join(self.problems))

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": 1,
            "command": "diff",
            "a": self.side_a,
            "b": self.side_b,
            "tracks": [t.to_json() for t in self.tracks],
        }


def split_args(project: Project, args: Sequence[str]) -> tuple[list[str], list[str]]:
    """`acegit diff [REV_A [REV_B]] [TRACK...]`: leading arguments that are revisions (and not track names in the
    working tree) are revisions, at most two; the rest are track names."""
    repo = open_repo(project)
    existing = set(Side(project, None, None).track_names())
    revs: list[str] = []
    rest = list(args)
    while rest and len(revs) < 2 and rest[0] not in existing:
        try:
            repo.resolve(rest[0])
        except AcegitError:
            if revs:
                break
            if not _looks_like_track(rest[0]):
                raise
            with contextlib.suppress(AcegitError):
                existing |= set(Side(project, repo, "HEAD").track_names())
            if rest[0] not in existing:
                raise AcegitError(
                    f"unknown revision or track {rest[0]!r}: no commit, branch or tag of that name, and no such "
                    "track at HEAD or in the working tree",
                    hint="Check revisions with `git log --oneline` and tracks with `acegit status`.",
                ) from None
            break
        revs.append(rest.pop(0))
    return revs, rest


def _looks_like_track(arg: str) -> bool:
    try:
        check_name(arg, arg)
    except InputError:
        return False
    return True


def diff_tracks(
    project: Project,
    rev_a: str | None = None,
    rev_b: str | None = None,
    names: Sequence[str] = (),
    *,
    audio: bool = True,
    keep_waves: bool = False,
    unchanged: bool = False,
    device: str = "cpu",
    snapshots: Snapshots | None = None,
) -> DiffResult:
    """Compare tracks between two sides with git's defaults: none → HEAD vs working tree; one → REV vs working tree.

    `names` filters tracks (a name unknown at both sides is an error); `audio` decodes snapshots for the spectrogram
    metrics; `unchanged` also lists tracks whose files are byte-identical.
    """
    repo = open_repo(project)
    if rev_a is None:
        rev_a, rev_b = "HEAD", None
    a, b = Side(project, repo, rev_a), Side(project, repo, rev_b)
    names_a, names_b = set(a.track_names()), set(b.track_names())
    renamed = _renamed_tracks(a, b, repo, names_a, names_b)
    old_names = set(renamed.values())
    selected = sorted((names_a | names_b) - (old_names - names_b))
    if names:
        unknown = [n for n in names if n not in names_a and n not in names_b and n not in old_names]
        if unknown:
            raise AcegitError(
                f"no track named {unknown[0]!r} at {a.label} or at {b.label}",
                hint="List the tracks with `acegit status`, or check the revisions.",
            )
        wanted = set(names)
        selected = [n for n in selected if n in wanted or renamed.get(n) in wanted]
    models = snapshots.models if snapshots is not None else Models(project, device)
    if audio and snapshots is None:
        snapshots = Snapshots(project, device, models)
    out = []
    for name in selected:
        old = renamed.get(name)
        va = a.version(old or name) if (old or name) in names_a else None
        vb = b.version(name) if name in names_b else None
        if not unchanged and old is None and va is not None and vb is not None and _same_files(a, b, name):
            continue
        out.append(
            compare_versions(
                name, va, vb, old, snapshots=snapshots if audio else None, keep_waves=keep_waves, models=models
            )
        )
    return DiffResult(a.label, b.label, out)


def _same_files(a: Side, b: Side, name: str) -> bool:
    rels = (f"{a.tracks_rel}/{name}{TRACK_SUFFIX}", f"{a.tracks_rel}/{name}{LOCK_SUFFIX}")
    return all(a.read(r) == b.read(r) for r in rels)


def _renamed_tracks(a: Side, b: Side, repo: GitRepo, names_a: set[str], names_b: set[str]) -> dict[str, str]:
    """New name → old name for tracks that git's rename detection sees as moved (the track or the lock file)."""
    assert a.rev is not None
    folder = a.git_path(a.tracks_rel)
    moves = repo.renames(a.rev, b.rev, folder)
    out = {}
    for new, old in moves.items():
        pn, po = PurePosixPath(new), PurePosixPath(old)
        if str(pn.parent) != folder or str(po.parent) != folder or not pn.name.endswith(TRACK_SUFFIX):
            continue
        new_name = pn.name.removesuffix(TRACK_SUFFIX).removesuffix(".lock")
        old_name = po.name.removesuffix(TRACK_SUFFIX).removesuffix(".lock")
        # A rename only when the old name is gone at B and the new one did not exist at A.
        if new_name != old_name and old_name not in names_b and new_name not in names_a and old_name in names_a:
            out[new_name] = old_name
    return out


def compare_versions(
    name: str,
    a: Version | None,
    b: Version | None,
    old_name: str | None = None,
    *,
    snapshots: Snapshots | None = None,
    keep_waves: bool = False,
    models: Models | None = None,
) -> TrackDiff:
    """Compare one track's two versions; problems (a damaged snapshot, a model that is not available) are recorded,
    and whatever can still be compared is. `snapshots` decodes audio (None: parameters and latents only); `models`
    gives each model's latent frame rate (default: the snapshots' models)."""
    import numpy as np

    from acegit.lockfile import decode_latent

    if a is None and b is None:
        raise AcegitError(f"no track named {name!r} at either side")
    status = ADDED if a is None else REMOVED if b is None else RENAMED if old_name else MODIFIED
    d = TrackDiff(name, status, old_name, a, b)
    for v in (a, b):
        if v is not None and v.problem:
            d.problems.append(v.problem)
    d.params = param_changes(a.params if a else None, b.params if b else None)
    la, lb = (a.lock if a else None), (b.lock if b else None)
    if la and lb and not d.params and la.input.source != lb.input.source:
        d.source_only = True
    if la and lb and la.input.fingerprint == lb.input.fingerprint and any(p.field != "tags" for p in d.params):
        # The lock still pins A's inputs: the audio comparison says nothing about the edit until B is rendered.
        d.not_rendered = True
    if la is None or lb is None:
        d.verdict = {ADDED: "new track", REMOVED: "track removed"}.get(status, "no snapshot to compare")
        if la is None and a is not None and lb is not None:
            d.verdict = "no snapshot at A"
        elif lb is None and b is not None and la is not None:
            d.verdict = "no snapshot at B"
        if status == MODIFIED and not d.params and la is None and lb is None:
            d.status = UNCHANGED if a and b and a.params == b.params else MODIFIED
        if snapshots is not None and keep_waves and (la or lb):
            # One side only (an added or removed track): keep its audio so the report can still play it.
            only, version = (la, a) if la is not None else (lb, b)
            assert only is not None
            try:
                w, d.sample_rate = _wave(snapshots, only, version, name)
            except AcegitError as e:
                d.problems.append(str(e))
            else:
                silent = np.zeros_like(w)
                d.wave_a, d.wave_b = (w, silent) if la is not None else (silent, w)
        return d
    same = la.latent.sha256 == lb.latent.sha256 and la.latent.shape == lb.latent.shape
    za = decode_latent(la)
    zb = za if same else decode_latent(lb)
    if za.shape[:-1] != zb.shape[:-1]:  # the track moved to another model: its latent space is another one
        d.verdict = OTHER_MODEL
        if snapshots is not None:
            _compare_waves(d, snapshots, la, lb, a, b, keep_waves)
        return d
    models = models or (snapshots.models if snapshots is not None else None)
    rate = (models.latent_rate(la) if models is not None else None) or frame_rate_of(la)
    d.latent = compare_latents(za, zb, rate, identical=same)
    d.verdict = verdict(d.latent)
    if status == MODIFIED and same and not d.params:
        d.status = UNCHANGED
    if snapshots is None:
        return d
    if not same:
        _compare_waves(d, snapshots, la, lb, a, b, keep_waves)
    elif keep_waves:
        try:
            wa, d.sample_rate = _wave(snapshots, la, a, name)
            d.wave_a = d.wave_b = np.asarray(wa)
        except AcegitError as e:
            d.problems.append(str(e))
    return d


def _wave(snapshots: Snapshots, lock: Lock, version: Version | None, name: str) -> tuple[np.ndarray, int]:
    audio = snapshots.audio(lock, version.label if version else name, loop=version is not None and version.loop)
    return audio.wave, audio.sample_rate


def _compare_waves(
    d: TrackDiff, snapshots: Snapshots, la: Lock, lb: Lock, a: Version | None, b: Version | None, keep_waves: bool
) -> None:
    """Decode both snapshots and compare the audio; B is resampled to A's rate when the models' rates differ."""
    import numpy as np

    try:
        wa, sra = _wave(snapshots, la, a, d.name)
        wb, srb = _wave(snapshots, lb, b, d.name)
    except AcegitError as e:
        d.problems.append(str(e))
        return
    if srb != sra:
        import soxr

        wb = soxr.resample(np.asarray(wb, np.float32), srb, sra)
    d.audio = compare_audio(wa, wb, sra)
    d.sample_rate = sra
    if keep_waves:
        d.wave_a, d.wave_b = np.asarray(wa), np.asarray(wb)
