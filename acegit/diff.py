"""Comparing two versions of tracks: parameters, latents, and audio decoded from the snapshots (never re-sampled).

A *side* is a Git revision or the working tree. For each track present at either side, `diff_tracks` says whether it
was added, removed, renamed or modified, and measures how much: a word-level prompt diff, latent L2 / cosine and a
per-second change map (latent frames binned into seconds), and spectrogram metrics on audio decoded from both
snapshots with the model that made each of them. Thresholds: docs/diff.md.
"""

from __future__ import annotations

import contextlib
import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from acegit.errors import AcegitError, InputError
from acegit.lockfile import Lock, read_lock
from acegit.project import PROJECT_FILE, Project, parse_project
from acegit.track import BUILTIN_DEFAULTS, FIELD_ORDER, LOCK_SUFFIX, TRACK_SUFFIX, check_name, validate_field

if TYPE_CHECKING:
    import numpy as np

    from acegit.engine.inference import Engine
    from acegit.gitrepo import GitRepo

WORKTREE = "working tree"
ADDED, REMOVED, RENAMED, MODIFIED, UNCHANGED = "added", "removed", "renamed", "modified", "unchanged"
IDENTICAL, DRIFT, CHANGED, DIFFERENT = "identical", "tiny numerical drift", "changed", "entirely different"
OTHER_MODEL = "another model"  # latents of different shapes (the track moved between models): only audio compares

# A second counts as changed when its relative latent change (docs/diff.md) exceeds this: ≈ the 20 dB SNR that
# `render --check` tolerates across device classes, since 10**(-20/20) / sqrt(2) = 0.0707.
SECOND_CHANGED = 0.07
# "Entirely different": most seconds changed and, overall, about as far apart as two unrelated latents (≈ 1.0).
DIFFERENT_CHANGE = 0.5
DIFFERENT_SECONDS = 0.8
# Audio estimates differ when the tempo differs by more than 4 % (the tolerance model/evaluate uses) or the key does.
TEMPO_TOLERANCE = 0.04
KEEP_WAVES = 4  # decoded waves a Decoder keeps (30 s of audio is 2.6 MB)
STFT_RESOLUTIONS = ((512, 128), (1024, 256), (2048, 512))  # (n_fft, hop) of the multi-resolution STFT distance


# --- reading one version of a track ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Version:
    """A track at one side: its resolved parameters and its snapshot (either may be missing or broken)."""

    name: str
    side: str  # a revision as the user wrote it, or WORKTREE
    track_path: str | None  # project-relative, when the track file exists
    params: dict[str, Any] | None
    lock: Lock | None
    problem: str | None = None  # why params or lock could not be read

    @property
    def label(self) -> str:
        return f"{self.side}:{self.name}" if self.side != WORKTREE else f"{self.name} (working tree)"


class Side:
    """The files of a project at one revision, or in the working tree."""

    def __init__(self, project: Project, repo: GitRepo | None, rev: str | None) -> None:
        self.project, self.repo, self.rev = project, repo, rev
        self.label = rev if rev is not None else WORKTREE
        self.sha = repo.resolve(rev) if repo is not None and rev is not None else None
        tracks = project.tracks_dir.relative_to(project.root).as_posix()
        self.tracks_rel = tracks  # project-relative
        prefix = project.root.relative_to(repo.root).as_posix() if repo is not None else "."
        self.prefix = "" if prefix == "." else prefix + "/"
        self._defaults: dict[str, Any] | None = None
        self._files: dict[str, bytes | None] = {}  # each file is read once (diff reads a file to compare, then parse)

    def git_path(self, rel: str) -> str:
        """A project-relative path as a repository-relative one."""
        return self.prefix + rel

    def read(self, rel: str) -> bytes | None:
        """Bytes of a project-relative file at this side, or None when it does not exist there."""
        if rel not in self._files:
            if self.rev is None:
                try:
                    self._files[rel] = (self.project.root / rel).read_bytes()
                except FileNotFoundError:
                    self._files[rel] = None
            else:
                assert self.repo is not None and self.sha is not None
                path = self.git_path(rel)  # by sha: resolved once, not once per file
                self._files[rel] = self.repo.show(self.sha, path) if self.repo.exists(self.sha, path) else None
        return self._files[rel]

    def track_names(self) -> list[str]:
        """Tracks with a track file or a lock file at this side (only files directly in the tracks folder count)."""
        if self.rev is None:
            folder = self.project.tracks_dir
            files = [p.name for p in folder.iterdir() if p.is_file()] if folder.is_dir() else []
        else:
            assert self.repo is not None
            under = PurePosixPath(self.git_path(self.tracks_rel))
            listed = (PurePosixPath(f) for f in self.repo.list_files(self.rev, str(under)))
            files = [p.name for p in listed if p.parent == under]
        return sorted({f.removesuffix(TRACK_SUFFIX).removesuffix(".lock") for f in files if f.endswith(TRACK_SUFFIX)})

    def defaults(self) -> dict[str, Any]:
        """[defaults] of acegit.toml at this side (the working project's when the file is missing or broken)."""
        if self._defaults is None:
            self._defaults = dict(self.project.defaults)
            if self.rev is not None:
                import tomllib

                raw = self.read(PROJECT_FILE)
                if raw is not None:
                    # A broken acegit.toml in history must not stop a diff: the current defaults apply then.
                    with contextlib.suppress(AcegitError, ValueError, UnicodeDecodeError):
                        self._defaults = parse_project(tomllib.loads(raw.decode("utf-8")), self.project.root).defaults
        return self._defaults

    def shown(self, rel: str) -> str:
        return rel if self.rev is None else f"{self.rev}:{rel}"

    def version(self, name: str) -> Version:
        """Read a track's file and snapshot at this side."""
        track_rel = f"{self.tracks_rel}/{name}{TRACK_SUFFIX}"
        lock_rel = f"{self.tracks_rel}/{name}{LOCK_SUFFIX}"
        problems = []
        params = None
        raw = self.read(track_rel)
        if raw is not None:
            try:
                params = parse_params(raw, self.shown(track_rel), self.defaults())
            except InputError as e:
                problems.append(str(e))
        lock = None
        lock_raw = self.read(lock_rel)
        if lock_raw is not None:
            try:
                lock = read_lock_bytes(lock_raw, name, self.shown(lock_rel))
            except InputError as e:
                # A committed version cannot be restored in place: only the working tree's hint applies as written.
                problems.append(str(e) if self.rev is None or e.hint is None else e.message)
        return Version(
            name, self.label, track_rel if raw is not None else None, params, lock, "\n".join(problems) or None
        )


def parse_params(raw: bytes, shown: str, defaults: dict[str, Any]) -> dict[str, Any]:
    """A track file's render fields and tags, validated and with defaults filled in (the melody path is not resolved:
    at a past revision it may no longer exist)."""
    import tomllib

    from acegit.track import reject_unknown

    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise InputError(shown, f"invalid track file: {e}") from None
    reject_unknown(shown, data, FIELD_ORDER)
    values = {**BUILTIN_DEFAULTS, **defaults}
    for k, v in data.items():
        values[k] = validate_field(shown, k, v)
    return {f: values[f] for f in FIELD_ORDER}


def read_lock_bytes(data: bytes, name: str, shown: str) -> Lock:
    """Read and verify a lock file's bytes (e.g. from a Git blob) with read_lock's checks and messages."""
    # read_lock takes a path: give it a file of the right name so its hints name the track.
    with tempfile.TemporaryDirectory(prefix="acegit-lock-") as tmp:
        path = Path(tmp) / f"{name}{LOCK_SUFFIX}"
        path.write_bytes(data)  # a private temp file, deleted at once: not a file acegit publishes
        return read_lock(path, shown)


# --- parameters ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParamChange:
    """One field, old → new; `words` is the word-level diff of text fields: (op, text) with op in ' ', '-', '+'."""

    field: str
    old: Any
    new: Any
    words: tuple[tuple[str, str], ...] = ()


def word_diff(old: str, new: str) -> tuple[tuple[str, str], ...]:
    """Word-level diff: runs of kept (' '), removed ('-') and added ('+') words."""
    import difflib

    a, b = old.split(), new.split()
    out: list[tuple[str, str]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag == "equal":
            out.append((" ", " ".join(a[i1:i2])))
            continue
        if i2 > i1:
            out.append(("-", " ".join(a[i1:i2])))
        if j2 > j1:
            out.append(("+", " ".join(b[j1:j2])))
    return tuple(out)


def param_changes(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[ParamChange]:
    """Fields that differ, in the canonical field order (all fields of an added or removed track)."""
    changes = []
    for f in FIELD_ORDER:
        a = None if old is None else old.get(f)
        b = None if new is None else new.get(f)
        if a == b:
            continue
        words = word_diff(a or "", b or "") if f in ("prompt", "negative_prompt") and old and new else ()
        changes.append(ParamChange(f, a, b, words))
    return changes


# --- latents ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LatentDiff:
    """How far apart two latents are, overall and per second; `change` is 0 (same) … ≈ 1 (unrelated)."""

    identical: bool
    shape_a: tuple[int, ...]
    shape_b: tuple[int, ...]
    l2: float  # ‖A − B‖₂ over the frames both have
    cosine: float  # of the flattened latents over the frames both have
    change: float  # ‖A − B‖ / √(‖A‖² + ‖B‖²), rows centred; frames only one side has count as fully changed
    per_second: tuple[float, ...]  # the same ratio for each second
    frame_rate: float  # latent frames per second

    @property
    def changed_seconds(self) -> list[tuple[int, int]]:
        """Runs of changed seconds as [start, end) in seconds."""
        return runs([c > SECOND_CHANGED for c in self.per_second])


def runs(flags: Sequence[bool]) -> list[tuple[int, int]]:
    """[start, end) runs of True values."""
    out, start = [], None
    for i, f in enumerate([*flags, False]):
        if f and start is None:
            start = i
        elif not f and start is not None:
            out.append((start, i))
            start = None
    return out


def compare_latents(a: np.ndarray, b: np.ndarray, frame_rate: float, identical: bool = False) -> LatentDiff:
    """Compare two latents (C, F, T); T may differ (a changed duration)."""
    import numpy as np

    ta, tb = a.shape[-1], b.shape[-1]
    t = min(ta, tb)
    a64 = np.asarray(a, np.float64).reshape(-1, ta)  # (C·F, Ta): one row per channel × mel row
    b64 = np.asarray(b, np.float64).reshape(-1, tb)
    if a64.shape[0] != b64.shape[0]:
        raise AcegitError(f"latents of different models cannot be compared: shapes {a.shape} and {b.shape}")
    d = a64[:, :t] - b64[:, :t]
    l2 = float(np.sqrt(np.sum(d * d)))
    na, nb = np.linalg.norm(a64[:, :t]), np.linalg.norm(b64[:, :t])
    cosine = float(np.sum(a64[:, :t] * b64[:, :t]) / (na * nb)) if na > 0 and nb > 0 else float(l2 == 0)
    # Centre each row on both latents' joint mean, so a constant offset of the latent space does not dilute changes.
    mean = (a64.sum(axis=1) + b64.sum(axis=1))[:, None] / (ta + tb)
    ea, eb = np.sum((a64 - mean) ** 2, axis=0), np.sum((b64 - mean) ** 2, axis=0)  # (Ta,), (Tb,) frame energy
    diff_e = np.concatenate([np.sum(d * d, axis=0), ea[t:], eb[t:]])  # unmatched frames: all of them is change
    base_e = np.concatenate([ea[:t] + eb[:t], ea[t:], eb[t:]])
    frame_sec = np.concatenate([np.arange(t), np.arange(t, ta), np.arange(t, tb)]) / frame_rate
    seconds = int((max(ta, tb) - 1) / frame_rate) + 1  # up to the second holding the last frame
    sec = np.minimum(frame_sec.astype(np.int64), seconds - 1)
    num = np.bincount(sec, weights=diff_e, minlength=seconds)
    den = np.bincount(sec, weights=base_e, minlength=seconds)
    per_second = np.where(den > 0, np.sqrt(num / np.maximum(den, 1e-30)), (num > 0).astype(np.float64))
    total = math.sqrt(diff_e.sum() / base_e.sum()) if base_e.sum() > 0 else float(diff_e.sum() > 0)
    return LatentDiff(
        identical=identical,
        shape_a=tuple(a.shape),
        shape_b=tuple(b.shape),
        l2=l2,
        cosine=cosine,
        change=0.0 if identical else total,
        per_second=tuple(0.0 if identical else float(x) for x in per_second),
        frame_rate=frame_rate,
    )


def frame_rate_of(lock: Lock) -> float:
    """Latent frames per second estimated from the snapshot's shape and duration: frames = samples // hop + 1, so
    duration · rate lies in [T − 1, T) and (T − ½) / duration is within half a frame per duration of the truth."""
    frames = lock.latent.shape[-1]
    return (frames - 0.5) / lock.audio.duration if lock.audio.duration > 0 else 1.0


def verdict(latent: LatentDiff) -> str:
    """identical / tiny numerical drift / changed seconds a–b, … / entirely different (docs/diff.md)."""
    if latent.identical:
        return IDENTICAL
    changed = latent.changed_seconds
    n_changed = sum(e - s for s, e in changed)
    if not changed:
        return DRIFT
    if latent.change >= DIFFERENT_CHANGE and n_changed >= DIFFERENT_SECONDS * len(latent.per_second):
        return DIFFERENT
    return f"{CHANGED} seconds " + ", ".join(f"{s}–{e}" for s, e in changed)


# --- audio ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AudioDiff:
    """Spectrogram metrics of audio decoded from the two snapshots (over the seconds both have)."""

    lsd_db: float  # log-spectral distance, dB
    mrstft: float  # multi-resolution STFT distance (spectral convergence + log-magnitude L1, averaged)
    loudness_a: float | None  # integrated loudness, LUFS (ITU-R BS.1770-4); None for silence
    loudness_b: float | None
    peak_a_db: float  # sample peak, dBFS
    peak_b_db: float
    tempo_a: float  # estimated BPM
    tempo_b: float
    key_a: str  # estimated key
    key_b: str

    @property
    def loudness_delta(self) -> float | None:
        if self.loudness_a is None or self.loudness_b is None:
            return None
        return self.loudness_b - self.loudness_a

    @property
    def peak_delta_db(self) -> float:
        return self.peak_b_db - self.peak_a_db

    @property
    def tempo_differs(self) -> bool:
        return abs(self.tempo_a - self.tempo_b) > TEMPO_TOLERANCE * max(self.tempo_a, self.tempo_b, 1e-9)

    @property
    def key_differs(self) -> bool:
        return self.key_a != self.key_b


def _frames(wave: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Hann-windowed, centred frames (frames, n_fft) of a mono wave."""
    import numpy as np

    x = np.pad(np.asarray(wave, np.float64), n_fft // 2, mode="constant")  # float64: numpy's fastest FFT path
    if len(x) < n_fft:
        x = np.pad(x, (0, n_fft - len(x)))
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop]
    return frames * np.hanning(n_fft + 1)[:-1]


def magnitude(wave: np.ndarray, n_fft: int = 1024, hop: int = 256) -> np.ndarray:
    """|STFT|, (frames, n_fft // 2 + 1)."""
    import numpy as np

    return np.abs(np.fft.rfft(_frames(wave, n_fft, hop), axis=-1))


def log_spectral_distance(mag_a: np.ndarray, mag_b: np.ndarray) -> float:
    """Mean over frames of the RMS over bins of the power ratio in dB."""
    import numpy as np

    eps = 1e-8
    r = 10 * np.log10((mag_a.astype(np.float64) ** 2 + eps) / (mag_b.astype(np.float64) ** 2 + eps))
    return float(np.mean(np.sqrt(np.mean(r * r, axis=-1))))


def mrstft_distance(a: np.ndarray, b: np.ndarray, known: dict[tuple[int, int], tuple[Any, Any]] | None = None) -> float:
    """Multi-resolution STFT distance (Yamamoto et al. 2020, Parallel WaveGAN): spectral convergence plus
    log-magnitude L1, averaged over three resolutions. `known` holds magnitudes already computed, by (n_fft, hop)."""
    import numpy as np

    total = 0.0
    for n_fft, hop in STFT_RESOLUTIONS:
        ma, mb = (known or {}).get((n_fft, hop)) or (magnitude(a, n_fft, hop), magnitude(b, n_fft, hop))
        sc = math.sqrt(float(np.sum((ma - mb) ** 2))) / max(math.sqrt(float(np.sum(mb * mb))), 1e-12)
        mag = np.mean(np.abs(np.log(ma + 1e-7) - np.log(mb + 1e-7)))
        total += float(sc + mag)
    return total / len(STFT_RESOLUTIONS)


def _k_weighting(n: int, sample_rate: int) -> np.ndarray:
    """|H|-weighted frequency response of BS.1770's K filter (shelf + high-pass biquads) at rfft bins of length n."""
    import numpy as np

    fs = float(sample_rate)
    # Stage 1: high shelf (+4 dB above ~1.7 kHz); stage 2: RLB high-pass (~38 Hz). Coefficients for any rate by the
    # bilinear transform, as in libebur128.
    f0, g, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / fs)
    vh = 10 ** (g / 20)
    vb = vh**0.4996667741545416
    a0 = 1 + k / q + k * k
    b1 = np.array([(vh + vb * k / q + k * k) / a0, 2 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0])
    a1 = np.array([1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0])
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / fs)
    a0 = 1 + k / q + k * k
    b2 = np.array([1.0, -2.0, 1.0])
    a2 = np.array([1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0])
    z = np.exp(-1j * np.pi * np.arange(n // 2 + 1) / (n / 2))  # z^-1 at each rfft bin
    resp = np.ones_like(z)
    for b, a in ((b1, a1), (b2, a2)):
        resp = resp * (b[0] + b[1] * z + b[2] * z * z) / (a[0] + a[1] * z + a[2] * z * z)
    return resp


def loudness_lufs(wave: np.ndarray, sample_rate: int, mag: np.ndarray | None = None) -> float | None:
    """Integrated loudness of mono audio after ITU-R BS.1770-4 (400 ms blocks, 75 % overlap, −70 LUFS absolute and
    −10 LU relative gates), or None for silence.

    The K filter is applied to the 1024-point STFT (`mag`, computed if not given) rather than in the time domain:
    block energies follow from Parseval over Hann frames at hop 256 (whose squared windows sum to 1.5). That keeps it
    numpy-only (scipy's import alone costs more than the whole computation) and within 0.1 LU of a time-domain
    filter on the tests' signals.
    """
    import numpy as np

    n_fft, hop = 1024, 256
    if mag is None:
        mag = magnitude(wave, n_fft, hop)
    if not np.any(mag):
        return None
    gain = np.abs(_k_weighting(n_fft, sample_rate)) ** 2  # (513,)
    one_sided = np.full(n_fft // 2 + 1, 2.0)
    one_sided[[0, -1]] = 1.0
    frame_energy = (mag * mag) @ (gain * one_sided) / n_fft / 1.5  # (frames,) energy each frame contributes
    c = np.concatenate([[0.0], np.cumsum(frame_energy)])
    block, step = 0.4 * sample_rate / hop, 0.1 * sample_rate / hop  # in frames
    frames = len(frame_energy)
    if frames <= block:
        z = np.array([c[-1] / max(len(wave), 1)])
    else:
        starts = np.round(np.arange(0, frames - block + 1e-9, step)).astype(np.int64)
        ends = np.minimum(np.round(starts + block).astype(np.int64), frames)
        z = (c[ends] - c[starts]) / ((ends - starts) * hop)
    with np.errstate(divide="ignore"):
        lk = -0.691 + 10 * np.log10(z)
    z = z[lk > -70.0]
    if not len(z):
        return None
    rel = -0.691 + 10 * math.log10(float(np.mean(z))) - 10.0
    z = z[-0.691 + 10 * np.log10(z) > rel]
    return -0.691 + 10 * math.log10(float(np.mean(z)))


# Albrecht & Shanahan (2013) key profiles, tonic first (the ones model/evaluate/estimators.py measured best).
_MAJOR = (0.238, 0.006, 0.111, 0.006, 0.137, 0.094, 0.016, 0.214, 0.009, 0.080, 0.008, 0.081)
_MINOR = (0.220, 0.006, 0.104, 0.123, 0.019, 0.103, 0.012, 0.214, 0.062, 0.022, 0.061, 0.052)


def estimate_key(mag: np.ndarray, sample_rate: int, n_fft: int) -> str:
    """Key from the mean chroma of an STFT magnitude (frames, bins) against rotated key profiles."""
    import numpy as np

    from acegit.keys import Key

    freqs = np.arange(mag.shape[-1]) * sample_rate / n_fft
    ok = (freqs >= 55.0) & (freqs <= 4200.0)
    pitch = np.round(12 * np.log2(freqs[ok] / 440.0)).astype(np.int64) % 12  # 0 = A
    chroma = np.bincount((pitch + 9) % 12, weights=(mag[:, ok] ** 2).mean(axis=0), minlength=12)  # 0 = C
    if not np.any(chroma):
        return "none"
    best, best_score = 0, -2.0
    for mode, profile in enumerate((_MAJOR, _MINOR)):
        for tonic in range(12):
            s = float(np.corrcoef(chroma, np.roll(np.asarray(profile), tonic))[0, 1])
            if s > best_score:
                best, best_score = mode * 12 + tonic, s
    return Key(best % 12, "major" if best < 12 else "minor").name


def estimate_tempo(mag: np.ndarray, sample_rate: int, hop: int) -> float:
    """Tempo in BPM: autocorrelation of the spectral-flux onset envelope, weighted towards 120 BPM (log-normal, one
    octave wide) as librosa's tempo estimator is; 0.0 for silence."""
    import numpy as np

    logmag = np.log1p(100.0 * mag)
    flux = np.maximum(np.diff(logmag, axis=0), 0.0).mean(axis=1)
    flux = flux - flux.mean()
    if len(flux) < 8 or not np.any(flux):
        return 0.0
    fps = sample_rate / hop
    n = len(flux)
    ac = np.fft.irfft(np.abs(np.fft.rfft(flux, 2 * n)) ** 2)[:n]
    lags = np.arange(1, n)
    bpm = 60.0 * fps / lags
    keep = (bpm >= 40) & (bpm <= 240)
    if not np.any(keep):
        return 0.0
    weight = np.exp(-0.5 * np.log2(bpm[keep] / 120.0) ** 2)
    return float(bpm[keep][np.argmax(ac[1:][keep] * weight)])


def compare_audio(a: np.ndarray, b: np.ndarray, sample_rate: int) -> AudioDiff:
    """Spectrogram, loudness, peak, tempo and key of two decoded waves (the shorter length is compared)."""
    import numpy as np

    n = min(len(a), len(b))
    ma, mb = magnitude(a[:n]), magnitude(b[:n])

    def peak_db(w: np.ndarray) -> float:
        p = float(np.max(np.abs(w))) if len(w) else 0.0
        return 20 * math.log10(p) if p > 0 else -math.inf

    full_a, full_b = magnitude(a) if len(a) != n else ma, magnitude(b) if len(b) != n else mb
    return AudioDiff(
        lsd_db=log_spectral_distance(ma, mb),
        mrstft=mrstft_distance(a[:n], b[:n], {(1024, 256): (ma, mb)}),
        loudness_a=loudness_lufs(a, sample_rate, full_a),
        loudness_b=loudness_lufs(b, sample_rate, full_b),
        peak_a_db=peak_db(a),
        peak_b_db=peak_db(b),
        tempo_a=estimate_tempo(full_a, sample_rate, 256),
        tempo_b=estimate_tempo(full_b, sample_rate, 256),
        key_a=estimate_key(full_a, sample_rate, 1024),
        key_b=estimate_key(full_b, sample_rate, 1024),
    )


class Decoder:
    """Decodes snapshots with the model that made each one: engines loaded once per model, each snapshot once."""

    def __init__(self, project: Project, device: str = "cpu") -> None:
        self.project, self.device = project, device
        self.engines: dict[tuple[str, str], Engine] = {}
        self.waves: dict[tuple[str, str, bool], tuple[np.ndarray, int]] = {}
        self.rates: dict[tuple[str, str], float | None] = {}

    def engine(self, lock: Lock, shown: str) -> Engine:
        """The engine of the snapshot's model; AcegitError when that model (with those weights) is not available."""
        from acegit.engine.registry import load_engine, resolve_model

        key = (lock.input.model, lock.input.weights)
        if key not in self.engines:
            try:
                ref = resolve_model(lock.input.model, self.project.models)
            except AcegitError as e:
                raise AcegitError(
                    f"{shown}: cannot decode: the model that made it is not available: {e.message}"
                ) from None
            if ref.weights_hash != lock.input.weights:
                raise AcegitError(
                    f"{shown}: cannot decode: it was made by model {lock.input.model!r} with weights "
                    f"{lock.input.weights[:19]}…, but the installed {lock.input.model!r} has {ref.weights_hash[:19]}…",
                    hint=f"Point [models.{lock.input.model}] in acegit.toml at the weights that made it.",
                )
            self.engines[key] = load_engine(ref, self.device)  # ace-step snapshots decode with its VAE
        return self.engines[key]

    def wave(self, lock: Lock, shown: str, loop: bool = False) -> tuple[np.ndarray, int]:
        """The audio of a snapshot: from the render cache when this exact render is there, else decoded as `acegit
        render` decodes it (a loop track as one period of a loop)."""
        key = (lock.latent.sha256, lock.input.weights, loop)
        if key not in self.waves:
            cached = self._from_cache(lock)
            if cached is not None:
                wave, sr = cached
            else:
                from acegit.lockfile import decode_latent

                engine = self.engine(lock, shown)
                num = round(lock.audio.duration * engine.sample_rate)
                wave, sr = engine.decode(decode_latent(lock), num_samples=num, loop=loop), engine.sample_rate
            # Keep only the latest few: enough for A and B of a track (and a rename's twin), bounded for 1000 tracks.
            while len(self.waves) >= KEEP_WAVES:
                del self.waves[next(iter(self.waves))]
            self.waves[key] = (wave, sr)
        return self.waves[key]

    def _from_cache(self, lock: Lock) -> tuple[np.ndarray, int] | None:
        """The render cache keeps the audio of every local render, keyed by input + environment fingerprint."""
        from acegit.cache import RenderCache, cache_key

        entry = RenderCache(self.project.cache_dir).get(cache_key(lock.input.fingerprint, lock.environment.fingerprint))
        if entry is None:
            return None
        try:
            # Same inputs and environment promise the same latent; check it rather than trust it.
            if f'sha256 = "{lock.latent.sha256}"'.encode() not in entry.snapshot.read_bytes():
                return None
            import soundfile as sf

            wave, sr = sf.read(entry.audio, dtype="float32")
        except (OSError, RuntimeError):
            return None
        return wave, int(sr)

    def frame_rate(self, lock: Lock) -> float:
        """Latent frames per second of the snapshot's model, from its config.json (no torch), else estimated."""
        import json

        from acegit.engine.registry import resolve_model

        key = (lock.input.model, lock.input.weights)
        if key not in self.rates:
            rate = None
            try:
                ref = resolve_model(lock.input.model, self.project.models)
                if ref.weights_hash == lock.input.weights:
                    cfg = json.loads((ref.path / "config.json").read_text(encoding="utf-8"))
                    hop = cfg["audio"]["hop_length"] * 2 ** len(cfg["dcae"]["widths"])
                    rate = cfg["audio"]["sample_rate"] / hop
            except (AcegitError, OSError, ValueError, KeyError, TypeError):
                rate = None  # not available: the snapshot's own shape and duration give it within a frame
            self.rates[key] = rate
        return self.rates[key] or frame_rate_of(lock)


# --- whole diffs -----------------------------------------------------------------------------------------------


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

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": 1,
            "command": "diff",
            "a": self.side_a,
            "b": self.side_b,
            "tracks": [t.to_json() for t in self.tracks],
        }


def open_repo(project: Project) -> GitRepo:
    from acegit.gitrepo import GitRepo

    return GitRepo.discover(project.root)


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
    decoder: Decoder | None = None,
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
    decoder = decoder or Decoder(project, device)
    out = []
    for name in selected:
        old = renamed.get(name)
        va = a.version(old or name) if (old or name) in names_a else None
        vb = b.version(name) if name in names_b else None
        if not unchanged and old is None and va is not None and vb is not None and _same_files(a, b, name):
            continue
        out.append(compare_versions(name, va, vb, old, decoder=decoder, decode=audio, keep_waves=keep_waves))
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
    decoder: Decoder | None = None,
    decode: bool = True,
    keep_waves: bool = False,
) -> TrackDiff:
    """Compare one track's two versions; problems (a damaged snapshot, a model that is not available) are recorded,
    and whatever can still be compared is."""
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
        if decoder is not None and decode and keep_waves and (la or lb):
            # One side only (an added or removed track): keep its audio so the report can still play it.
            only, version = (la, a) if la is not None else (lb, b)
            assert only is not None
            try:
                w, d.sample_rate = decoder.wave(only, version.label if version else name, _loop(version))
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
        if decoder is not None and decode:
            _compare_waves(d, decoder, la, lb, a, b, keep_waves)
        return d
    rate = decoder.frame_rate(la) if decoder else frame_rate_of(la)
    d.latent = compare_latents(za, zb, rate, identical=same)
    d.verdict = verdict(d.latent)
    if status == MODIFIED and same and not d.params:
        d.status = UNCHANGED
    if decoder is None or not decode:
        return d
    if not same:
        _compare_waves(d, decoder, la, lb, a, b, keep_waves)
    elif keep_waves:
        try:
            wa, d.sample_rate = decoder.wave(la, a.label if a else name, _loop(a))
            d.wave_a = d.wave_b = np.asarray(wa)
        except AcegitError as e:
            d.problems.append(str(e))
    return d


def _compare_waves(
    d: TrackDiff, decoder: Decoder, la: Lock, lb: Lock, a: Version | None, b: Version | None, keep_waves: bool
) -> None:
    """Decode both snapshots and compare the audio; B is resampled to A's rate when the models' rates differ."""
    import numpy as np

    try:
        wa, sra = decoder.wave(la, a.label if a else d.name, _loop(a))
        wb, srb = decoder.wave(lb, b.label if b else d.name, _loop(b))
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


def _loop(v: Version | None) -> bool:
    """Whether a version is a loop track (render decodes loops as one period of a periodic signal)."""
    return bool(v is not None and v.params is not None and v.params.get("loop"))
