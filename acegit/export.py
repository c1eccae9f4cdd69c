"""`acegit export`: game-ready files from rendered tracks — format, sample rate, channels, loudness, loops, provenance.

Profiles are the `[export.NAME]` tables of acegit.toml (docs/export.md). Audio comes from the render cache (exact float
audio of the committed snapshot), else is decoded from the snapshot's latent, else (stale tracks) rendered first.
Per track: loop body (trim to whole bars, crossfade the tail into the head) -> resample -> fades -> channels ->
loudness (ITU-R BS.1770) under a true-peak ceiling -> encode -> provenance and loop tags -> atomic write.
"""

from __future__ import annotations

import io
import math
import string
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from acegit import __version__
from acegit.errors import AcegitError, InputError
from acegit.fsutil import atomic_write_bytes
from acegit.lockfile import lock_path, read_lock
from acegit.loopseam import Reference, SeamReport, seam_report
from acegit.loudness import integrated_loudness
from acegit.project import PROJECT_FILE, Project
from acegit.render import RenderProgress, SilentProgress
from acegit.snapshots import CACHE, SNAPSHOT, Snapshots
from acegit.tags import LoopPoints, Provenance, tag_audio
from acegit.tomlfields import boolean, field_error, reject_unknown, toml_value
from acegit.track import Track
from acegit.transcribe import render_notes

if TYPE_CHECKING:
    import numpy as np

    from acegit.status import TrackStatus

FORMATS = ("wav", "ogg", "flac")
SAMPLE_RATES = (8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000)
CHANNELS = (1, 2)
BIT_DEPTHS = (16, 24)
LOOP_TRIMS = ("none", "bars")
LOUDNESS_RANGE = (-70.0, 0.0)  # LUFS; BS.1770's absolute gate is -70
TRUE_PEAK_RANGE = (-20.0, 0.0)  # dBTP
MAX_CROSSFADE = 4.0  # seconds
PLACEHOLDERS = ("track", "profile", "ext", "sample_rate", "project")
PROFILE_KEYS = (
    "format",
    "sample_rate",
    "channels",
    "bit_depth",
    "loudness",
    "true_peak",
    "fade_in",
    "fade_out",
    "loop_trim",
    "loop_crossfade",
    "folder",
    "name",
    "midi",
)
OVERSAMPLE = 4  # true peak = peak of the 4x oversampled signal (BS.1770-4 Annex 2)
LOUDNESS_TOLERANCE = 0.05  # LU: how close mastering iterates to the target
_MAX_PASSES = 8
_SUBTYPES = {("wav", 16): "PCM_16", ("wav", 24): "PCM_24", ("flac", 16): "PCM_16", ("flac", 24): "PCM_24"}

RENDERED = "rendered"  # besides snapshots.CACHE and snapshots.SNAPSHOT: where an exported file's audio came from


@dataclass(frozen=True)
class ExportProfile:
    """One `[export.NAME]` table, validated; None sample rate keeps the model's rate, None loudness keeps the level."""

    name: str
    format: str = "wav"
    sample_rate: int | None = None
    channels: int = 1  # the model renders mono; 2 duplicates it
    bit_depth: int = 16  # wav and flac
    loudness: float | None = None  # integrated loudness target, LUFS
    true_peak: float = -1.0  # ceiling, dBTP (always applied)
    fade_in: float = 0.0  # seconds; not applied to loops (a fade would dip at every repeat)
    fade_out: float = 0.0
    loop_trim: str = "none"  # "bars": loops are cut to a whole number of bars
    loop_crossfade: float = 0.0  # seconds of the loop's tail blended into its head
    folder: str = ""  # relative to the project root; default build/export/<name>
    pattern: str = "{track}.{ext}"
    midi: bool = False  # also write the render's notes (acegit/transcribe.py), named by the pattern with ext "mid"


class ExportProgress(RenderProgress, Protocol):
    """What the CLI shows: render progress for stale tracks, then one call per exported file."""

    def exported(self, result: ExportResult) -> None: ...


class _Silent(SilentProgress):
    def exported(self, result: ExportResult) -> None:
        pass


@dataclass(frozen=True)
class ExportResult:
    """One written file and what was measured on it (after encoding, decoded again)."""

    track: str
    profile: str
    path: Path  # absolute
    shown: str  # as messages show it: relative to the project root when inside it
    format: str
    sample_rate: int
    channels: int
    frames: int
    loudness: float  # integrated, LUFS
    true_peak: float  # dBTP
    loop: LoopPoints | None
    seam: SeamReport | None  # loop tracks: the seam measured on the written file (acegit/loopseam.py)
    source: str  # "cache", "snapshot" or "rendered"
    provenance: Provenance
    seconds: float
    midi: str | None = None  # the .mid written beside it (profile midi = true), as messages show it

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate


# --- profiles ---------------------------------------------------------------------------------------------------


def _bad(name: str, key: str, message: str, hint: str | None = None) -> InputError:
    return field_error(PROJECT_FILE, f"export.{name}.{key}", message, hint)


def _number(name: str, table: dict[str, Any], key: str, lo: float, hi: float, default: float | None) -> float | None:
    v = table.get(key, default)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise _bad(name, key, f"= {toml_value(v)} must be a number")
    if not lo <= v <= hi:
        raise _bad(name, key, f"= {v:g} is out of range {lo:g}…{hi:g}")
    return float(v)


def _choice(name: str, table: dict[str, Any], key: str, options: tuple[Any, ...], default: Any) -> Any:
    v = table.get(key, default)
    if isinstance(v, bool) or v not in options:
        shown = ", ".join(str(o) for o in options)
        raise _bad(name, key, f"= {toml_value(v)} is not supported: use one of {shown}")
    return v


def _pattern(name: str, text: Any) -> str:
    if not isinstance(text, str) or not text:
        raise _bad(name, "name", f'= {toml_value(text)} must be a file name pattern such as "{{track}}.{{ext}}"')
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
    except ValueError as e:
        raise _bad(name, "name", f'= "{text}" is not a valid pattern ({e})') from None
    unknown = fields - set(PLACEHOLDERS)
    if unknown:
        known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
        raise _bad(name, "name", f'= "{text}" uses unknown placeholder {{{sorted(unknown)[0]}}}: use {known}')
    if "track" not in fields:
        raise _bad(name, "name", f'= "{text}" must contain {{track}}, or every track would write the same file')
    parts = Path(text).parts
    if Path(text).is_absolute() or ".." in parts or "\\" in text:
        raise _bad(name, "name", f'= "{text}" must be a relative file name inside the export folder')
    return text


def parse_profile(name: str, table: Any) -> ExportProfile:
    """Validate one `[export.NAME]` table."""
    if not isinstance(table, dict):
        raise InputError(PROJECT_FILE, f"[export.{name}] must be a table (write it as an `[export.{name}]` section)")
    reject_unknown(PROJECT_FILE, table, PROFILE_KEYS, f"export.{name}.")
    fmt = _choice(name, table, "format", FORMATS, "wav")
    rate = table.get("sample_rate")
    if rate is not None and (isinstance(rate, bool) or rate not in SAMPLE_RATES):
        rates = ", ".join(str(r) for r in SAMPLE_RATES)
        raise _bad(name, "sample_rate", f"= {toml_value(rate)} is not supported: use one of {rates}")
    if fmt == "ogg" and "bit_depth" in table:
        raise _bad(name, "bit_depth", "does not apply to ogg (Vorbis is not PCM): remove it")
    loudness = _number(name, table, "loudness", *LOUDNESS_RANGE, None)
    pattern = _pattern(name, table.get("name", "{track}.{ext}"))
    if "{sample_rate}" in pattern and rate is None:
        raise _bad(name, "name", f'= "{pattern}" uses {{sample_rate}}, so set sample_rate too (e.g. 48000)')
    folder = table.get("folder", f"build/export/{name}")
    if not isinstance(folder, str) or not folder:
        raise _bad(name, "folder", f"= {toml_value(folder)} must be a folder path relative to the project root")
    return ExportProfile(
        name=name,
        format=fmt,
        sample_rate=rate,
        channels=_choice(name, table, "channels", CHANNELS, 1),
        bit_depth=_choice(name, table, "bit_depth", BIT_DEPTHS, 16),
        loudness=loudness,
        true_peak=_number(name, table, "true_peak", *TRUE_PEAK_RANGE, -1.0) or 0.0,
        fade_in=_number(name, table, "fade_in", 0.0, 600.0, 0.0) or 0.0,
        fade_out=_number(name, table, "fade_out", 0.0, 600.0, 0.0) or 0.0,
        loop_trim=_choice(name, table, "loop_trim", LOOP_TRIMS, "none"),
        loop_crossfade=_number(name, table, "loop_crossfade", 0.0, MAX_CROSSFADE, 0.0) or 0.0,
        folder=folder,
        pattern=pattern,
        midi=boolean(PROJECT_FILE, f"export.{name}.midi", table.get("midi", False)),
    )


def load_profiles(project: Project, name: str | None = None) -> list[ExportProfile]:
    """The named profile, or (name None) every profile of acegit.toml in file order."""
    tables = project.export
    example = '[export.game]\nformat = "ogg"\nsample_rate = 44100\nloudness = -16.0'
    if not tables:
        raise InputError(PROJECT_FILE, "has no export profile", hint=f"Add one, e.g.\n{example}\n(see docs/export.md)")
    if name is None:
        return [parse_profile(n, t) for n, t in tables.items()]
    if name not in tables:
        import difflib

        close = difflib.get_close_matches(name, list(tables), n=1)
        known = ", ".join(tables)
        hint = f"Did you mean {close[0]!r}? " if close else ""
        raise InputError(PROJECT_FILE, f"has no export profile {name!r} (it has: {known})", hint=hint + example)
    return [parse_profile(name, tables[name])]


def _out_folder(project: Project, profile: ExportProfile, out: Path | None) -> Path:
    """The profile's folder (inside the project), or `--out` (anywhere); must not be a file."""
    if out is not None:
        folder = out.absolute()
    else:
        folder = (project.root / profile.folder).absolute()
        if not folder.resolve().is_relative_to(project.root.resolve()):
            raise _bad(
                profile.name,
                "folder",
                f'= "{profile.folder}" is outside the project',
                hint="Use a folder inside the project, or pass --out DIR to write elsewhere on purpose.",
            )
    for d in (folder, *folder.parents):
        if d.exists():
            if not d.is_dir():
                raise AcegitError(
                    f"export folder {folder} cannot be created: {d} is a file",
                    hint="Remove or rename that file, or choose another folder.",
                )
            break
    return folder


def target_path(folder: Path, profile: ExportProfile, track: str, project: Project, ext: str | None = None) -> Path:
    """Where a track's file goes: the profile's name pattern inside its folder (ext: "mid" for its notes)."""
    name = profile.pattern.format(
        track=track,
        profile=profile.name,
        ext=ext or profile.format,
        sample_rate=profile.sample_rate,
        project=project.name,
    )
    return folder / name


# --- signal processing ------------------------------------------------------------------------------------------


def check_loop(track: Track, profile: ExportProfile, shown: str) -> None:
    """A loop needs at least one bar after the crossfade tail; said before anything is written."""
    bar = track.bar_seconds
    usable = track.duration - profile.loop_crossfade
    if usable < bar - 1e-9:
        extra = f" plus the {profile.loop_crossfade:g} s loop_crossfade" if profile.loop_crossfade else ""
        raise InputError(
            shown,
            f"loop = true but duration = {track.duration:g} s is shorter than one bar{extra} "
            f"({bar:g} s at {track.bpm:g} BPM in {track.time_signature})",
            field="loop",
            hint=f"Make duration at least {bar + profile.loop_crossfade:g} s, or set loop = false.",
        )


def loop_body(wave: np.ndarray, sample_rate: int, track: Track, profile: ExportProfile) -> np.ndarray:
    """The samples of one loop cycle: trimmed to whole bars if asked, the tail after it crossfaded into its head."""
    import numpy as np

    xfade = round(profile.loop_crossfade * sample_rate)
    if profile.loop_trim == "bars":
        bar = track.bar_seconds * sample_rate
        bars = math.floor((len(wave) - xfade) / bar + 1e-9)
        length = round(bars * bar)
    else:
        length = len(wave) - xfade
    body = np.array(wave[:length], dtype=np.float64)
    tail = np.asarray(wave[length : length + xfade], dtype=np.float64)
    if len(tail):
        # Constant power for the measured correlation of tail and head: equal-power for unrelated material (rho 0),
        # equal-gain for identical material (rho 1), so the blend has no level bump or dip either way.
        head = body[: len(tail)]
        rho = float(np.clip(np.dot(head, tail) / (np.linalg.norm(head) * np.linalg.norm(tail) + 1e-12), 0.0, 1.0))
        t = (np.arange(len(tail)) + 0.5) / len(tail)
        a, b = np.sin(0.5 * np.pi * t), np.cos(0.5 * np.pi * t)
        body[: len(tail)] = (head * a + tail * b) / np.sqrt(1 + 2 * rho * a * b)
    return body


def resample(x: np.ndarray, rate_in: int, rate_out: int, circular: bool = False) -> np.ndarray:
    """soxr very-high-quality resampling of a 1-D signal; `circular` treats it as one period of a loop."""
    import numpy as np
    import soxr

    if rate_in == rate_out:
        return np.asarray(x, dtype=np.float64)
    if not circular:
        return np.asarray(soxr.resample(np.asarray(x, dtype=np.float64), rate_in, rate_out, "VHQ"))
    # Wrap-pad by a whole number of resampling periods, so the padding maps to a whole number of output samples.
    period = rate_in // math.gcd(rate_in, rate_out)
    pad = period * math.ceil(0.05 * rate_in / period)
    n = len(x)
    ext = np.take(np.asarray(x, dtype=np.float64), np.arange(-pad, n + pad), mode="wrap")
    y = np.asarray(soxr.resample(ext, rate_in, rate_out, "VHQ"))
    off = pad * rate_out // rate_in
    return y[off : off + round(n * rate_out / rate_in)]


def apply_fades(x: np.ndarray, sample_rate: int, fade_in: float, fade_out: float) -> np.ndarray:
    """Raised-cosine fades at the start and end."""
    import numpy as np

    y = np.array(x, dtype=np.float64)
    for seconds, at_start in ((fade_in, True), (fade_out, False)):
        n = min(round(seconds * sample_rate), len(y))
        if n <= 0:
            continue
        ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)
        if at_start:
            y[:n] *= ramp
        else:
            y[len(y) - n :] *= ramp[::-1]
    return y


def true_peak_db(x: np.ndarray, circular: bool = False) -> float:
    """dBTP: peak of the 4x oversampled signal (x: (n,) or (n, channels))."""
    import numpy as np

    return 20 * math.log10(max(float(_oversampled_peaks(np.asarray(x, dtype=np.float64), circular).max()), 1e-12))


def _oversampled_peaks(x: np.ndarray, circular: bool) -> np.ndarray:
    """Per original sample: the largest |value| of the 4x oversampled signal in its interval (all channels)."""
    import numpy as np
    from scipy.signal import resample_poly

    x2 = x.reshape(len(x), -1)
    if x2.shape[1] > 1 and all(np.array_equal(x2[:, 0], x2[:, c]) for c in range(1, x2.shape[1])):
        x2 = x2[:, :1]  # duplicated mono: one channel's peaks are every channel's
    pad = 32 if circular and len(x2) > 32 else 0
    if pad:
        x2 = np.concatenate([x2[-pad:], x2, x2[:pad]])
    up = np.abs(resample_poly(x2, OVERSAMPLE, 1, axis=0))  # (4n, channels)
    # Element-wise maxima of strided views: numpy's reductions over a tiny last axis are ~10x slower.
    peaks = np.abs(x2[:, 0])
    for c in range(x2.shape[1]):
        np.maximum(peaks, np.abs(x2[:, c]), out=peaks)
        for k in range(OVERSAMPLE):
            np.maximum(peaks, up[k::OVERSAMPLE, c][: len(peaks)], out=peaks)
    return peaks[pad : len(peaks) - pad] if pad else peaks


def limit(x: np.ndarray, sample_rate: int, ceiling_db: float, circular: bool = False) -> np.ndarray:
    """A look-ahead true-peak limiter: the gain never exceeds ceiling / peak at any sample (min filter, then a box
    average no wider than the min filter, which cannot rise above the minimum it smooths)."""
    import numpy as np
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    ceiling = 10 ** (ceiling_db / 20)
    half = max(1, round(0.005 * sample_rate))  # 5 ms attack and release
    mode = "wrap" if circular else "nearest"
    y = x
    # A gain that changes between samples moves the inter-sample peaks a little: a second pass removes the rest.
    for _ in range(4):
        peaks = _oversampled_peaks(y, circular)
        need = np.minimum(1.0, ceiling / np.maximum(peaks, 1e-12))
        if need.min() >= 1.0:
            break
        gain = minimum_filter1d(need, size=2 * half + 1, mode=mode)
        gain = np.minimum(uniform_filter1d(gain, size=2 * half + 1, mode=mode), need)  # guards float rounding
        y = y * (gain[:, None] if y.ndim == 2 else gain)
    return y


def master(x: np.ndarray, sample_rate: int, loudness: float | None, ceiling_db: float, circular: bool) -> np.ndarray:
    """Gain to the loudness target and limiting under the true-peak ceiling, iterated until both hold."""
    y = limit(x, sample_rate, ceiling_db, circular)
    if loudness is None:
        return y
    level = integrated_loudness(x, sample_rate)
    if not math.isfinite(level):
        raise AcegitError("the audio is silent (below -70 LUFS): it cannot be normalised to a loudness target")
    gain_db = loudness - level
    for _ in range(_MAX_PASSES):
        y = limit(x * 10 ** (gain_db / 20), sample_rate, ceiling_db, circular)
        err = loudness - integrated_loudness(y, sample_rate)
        if abs(err) <= LOUDNESS_TOLERANCE:
            break
        gain_db += err  # limiting took some loudness away: push the gain up and limit again
    return y


def encode(y: np.ndarray, sample_rate: int, profile: ExportProfile) -> bytes:
    """The file bytes of (n, channels) float audio."""
    import numpy as np
    import soundfile as sf

    buf = io.BytesIO()
    subtype = "VORBIS" if profile.format == "ogg" else _SUBTYPES[(profile.format, profile.bit_depth)]
    data = np.clip(y, -1.0, 1.0).astype(np.float32)
    sf.write(buf, data, sample_rate, format=profile.format.upper(), subtype=subtype)
    return buf.getvalue()


def decode(data: bytes) -> tuple[np.ndarray, int]:
    """(frames, channels) float64 audio and its sample rate from file bytes."""
    import soundfile as sf

    y, rate = sf.read(io.BytesIO(data), dtype="float64", always_2d=True)
    return y, int(rate)


@dataclass(frozen=True)
class Mastered:
    data: bytes
    sample_rate: int
    channels: int
    frames: int
    loudness: float
    true_peak: float
    loop: LoopPoints | None
    seam: SeamReport | None


def measure_seam(y: np.ndarray, sample_rate: int, track: Track) -> SeamReport | None:
    """A loop file's seam against its hops and beats (acegit/loopseam.py); None if too short to measure."""
    try:
        return seam_report(y, sample_rate, beat=60.0 / track.bpm * sample_rate)
    except ValueError:
        return None


def process(wave: np.ndarray, rate: int, track: Track, profile: ExportProfile) -> Mastered:
    """One track's mono render -> the encoded (untagged) file for a profile, measured after decoding it again."""
    import numpy as np

    out_rate = profile.sample_rate or rate
    if track.loop:
        x = resample(loop_body(wave, rate, track, profile), rate, out_rate, circular=True)
    else:
        x = apply_fades(resample(wave, rate, out_rate), out_rate, profile.fade_in, profile.fade_out)
    x2 = np.repeat(x[:, None], profile.channels, axis=1)  # (n, channels)
    ceiling, target = profile.true_peak, profile.loudness
    for _ in range(4):
        try:
            y = master(x2, out_rate, target, ceiling, circular=track.loop)
        except AcegitError as e:
            raise AcegitError(f"{track.name}: {e.message}", hint=e.hint) from None
        data = encode(y, out_rate, profile)
        decoded, _ = decode(data)
        tp = true_peak_db(decoded, circular=track.loop)
        loudness = integrated_loudness(decoded, out_rate)
        # Lossy coding (Vorbis) and 16-bit rounding move peaks and loudness a little: measure the decoded file and
        # master again, aiming lower by the peak overshoot and off by the loudness error.
        peak_ok = tp <= profile.true_peak
        level_ok = profile.loudness is None or abs(loudness - profile.loudness) <= 2 * LOUDNESS_TOLERANCE
        if peak_ok and level_ok:
            break
        if not peak_ok:
            ceiling -= tp - profile.true_peak + 0.05
        if profile.loudness is not None and target is not None:
            target += profile.loudness - loudness
    if tp > profile.true_peak:
        raise AcegitError(
            f"{track.name}: cannot keep the true peak under {profile.true_peak:g} dBTP in {profile.format}",
            hint="Lower the loudness target or raise true_peak.",
        )
    if profile.loudness is not None and abs(loudness - profile.loudness) > 0.5:
        raise AcegitError(
            f"{track.name}: reached {loudness:.1f} LUFS, not the {profile.loudness:g} LUFS target of "
            f"[export.{profile.name}] under a {profile.true_peak:g} dBTP ceiling",
            hint="Lower the loudness target or raise true_peak.",
        )
    frames = len(decoded)
    loop = LoopPoints(0, frames) if track.loop else None
    seam = measure_seam(decoded, out_rate, track) if track.loop else None
    return Mastered(data, out_rate, profile.channels, frames, loudness, tp, loop, seam)


# --- where the audio comes from ---------------------------------------------------------------------------------


class _Git:
    """Commit and per-track dirty flag for provenance; outside a repository both are unknown."""

    def __init__(self, project: Project) -> None:
        from acegit.errors import GitError
        from acegit.gitrepo import GitRepo, find_repo_root

        self.repo: GitRepo | None = None
        self.head: str | None = None
        if find_repo_root(project.root) is not None:
            try:
                self.repo = GitRepo.discover(project.root)
                self.head = self.repo.head()
            except GitError:
                self.repo = None

    def dirty(self, project: Project, track: Track) -> bool | None:
        if self.repo is None:
            return None
        if self.head is None:
            return True  # nothing committed yet: the file cannot be reproduced from any commit
        paths = [track.path, lock_path(track.path), project.path]
        if track.melody_path is not None:
            paths.append(track.melody_path)
        inside = [p for p in paths if p.resolve().is_relative_to(self.repo.root.resolve())]
        return self.repo.is_dirty(inside)


# --- the command ------------------------------------------------------------------------------------------------


def export_tracks(
    project: Project,
    profile: str | None = None,
    names: Sequence[str] = (),
    *,
    out: Path | None = None,
    device: str = "auto",
    shard: tuple[int, int] | None = None,
    progress: ExportProgress | None = None,
) -> list[ExportResult]:
    """Export the named tracks (default: all; with `shard`, only the ones in it) with one profile (default: every
    profile); returns what was written.

    Everything that can be checked is checked before the first file is written; every file is written atomically.
    """
    from acegit.render import render_tracks, select_tracks
    from acegit.status import FRESH, INVALID
    from acegit.track import load_tracks

    progress = progress or _Silent()
    profiles = load_profiles(project, profile)
    statuses = select_tracks(project, names, shard=shard)
    bad = [st for st in statuses if st.state == INVALID]
    if bad:
        lines = "\n".join(f"  {st.message}" for st in bad)
        raise AcegitError(f"{len(bad)} track(s) cannot be exported:\n{lines}", hint="Fix them, then export again.")
    tracks = load_tracks(project, [st.name for st in statuses]) if statuses else []
    folders = {p.name: _out_folder(project, p, out) for p in profiles}
    targets: dict[Path, tuple[str, str]] = {}
    for t in tracks:
        for p in profiles:
            if t.loop:
                check_loop(t, p, project.display(t.path))
            elif p.fade_in + p.fade_out > t.duration:
                raise _bad(p.name, "fade_in", f"+ fade_out = {p.fade_in + p.fade_out:g} s is longer than {t.name}")
            path = target_path(folders[p.name], p, t.name, project)
            if path in targets:
                other = targets[path]
                raise AcegitError(
                    f"{path} would be written twice (track {other[0]} in [export.{other[1]}] and track {t.name} "
                    f"in [export.{p.name}])",
                    hint='Give the profiles different folders or names (e.g. name = "{track}-{profile}.{ext}").',
                )
            targets[path] = (t.name, p.name)

    state = {st.name: st for st in statuses}
    stale: list[TrackStatus] = [state[t.name] for t in tracks if state[t.name].state != FRESH]
    how = {t.name: CACHE for t in tracks}
    snapshots = Snapshots(project, device)
    if stale:
        for o in render_tracks(project, stale, device=device, progress=progress, models=snapshots.models):
            how[o.name] = RENDERED if o.action == "rendered" else CACHE

    git = _Git(project)
    results: list[ExportResult] = []
    for t in tracks:
        start = time.perf_counter()
        lpath = lock_path(t.path)
        lock = read_lock(lpath, project.display(lpath))
        audio = snapshots.audio(lock, project.display(lpath), loop=t.loop)  # a loop decodes as a loop, as render does
        wave, rate, fp = audio.wave, audio.sample_rate, lock.input.fingerprint
        source = how[t.name] if audio.source == CACHE else SNAPSHOT
        prov_base = Provenance(
            track=t.name,
            commit=git.head,
            dirty=git.dirty(project, t),
            fingerprint=fp,
            seed=t.seed,
            acegit=__version__,
            project=project.name,
        )
        midi: bytes | None = None
        for p in profiles:
            m = process(wave, rate, t, p)
            prov = Provenance(**{**prov_base.__dict__, "profile": p.name})
            path = target_path(folders[p.name], p, t.name, project)
            atomic_write_bytes(path, tag_audio(m.data, p.format, prov, m.loop, m.sample_rate))
            midi_shown = None
            if p.midi:  # the render's notes, untrimmed (loop trims and fades do not move them)
                midi = midi or render_notes(project, lock, wave, rate, t.bpm).midi
                midi_target = target_path(folders[p.name], p, t.name, project, "mid")
                atomic_write_bytes(midi_target, midi)
                midi_shown = project.display(midi_target)
            r = ExportResult(
                track=t.name,
                profile=p.name,
                path=path,
                shown=project.display(path),
                format=p.format,
                sample_rate=m.sample_rate,
                channels=m.channels,
                frames=m.frames,
                loudness=m.loudness,
                true_peak=m.true_peak,
                loop=m.loop,
                seam=m.seam,
                source=source,
                provenance=prov,
                seconds=time.perf_counter() - start,
                midi=midi_shown,
            )
            results.append(r)
            progress.exported(r)
            start = time.perf_counter()
    return results


def _seam_json(seam: SeamReport, num: Callable[[float], float | str]) -> dict[str, object]:
    def ref(r: Reference | None) -> dict[str, object] | None:
        return None if r is None else {"flux_p95_db": num(r.flux_p95_db), "level_p95_db": num(r.level_p95_db)}

    return {
        "seamless": seam.seamless,
        "flux_db": num(seam.flux_db),
        "level_jump_db": num(seam.level_jump_db),
        "hops": ref(seam.hops),
        "beats": ref(seam.beats),
    }


def export_json(results: Sequence[ExportResult], elapsed: float) -> dict[str, object]:
    """The documented `acegit export --json` object (schema 1, docs/export.md)."""

    def num(x: float) -> float | str:
        return round(x, 3) if x == x and abs(x) != float("inf") else str(x)

    return {
        "schema": 1,
        "command": "export",
        "seconds": round(elapsed, 3),
        "files": [
            {
                "track": r.track,
                "profile": r.profile,
                "path": r.shown,
                "format": r.format,
                "sample_rate": r.sample_rate,
                "channels": r.channels,
                "frames": r.frames,
                "duration": round(r.duration, 6),
                "loudness": num(r.loudness),
                "true_peak": num(r.true_peak),
                "loop": None if r.loop is None else {"start": r.loop.start, "length": r.loop.length},
                "seam": None if r.seam is None else _seam_json(r.seam, num),
                "source": r.source,
                "commit": r.provenance.commit,
                "dirty": r.provenance.dirty,
                "fingerprint": r.provenance.fingerprint,
                "midi": r.midi,
            }
            for r in results
        ],
    }
