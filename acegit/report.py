"""The `acegit diff --html` report: one self-contained page (inline PNGs and audio, no network) per diff.

Spectrograms are drawn with numpy and written by a small PNG encoder (zlib), so the report needs no plotting library.
"""

from __future__ import annotations

import base64
import html
import math
import struct
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

from acegit.fsutil import atomic_write_text

if TYPE_CHECKING:
    import numpy as np

    from acegit.diff import DiffResult, TrackDiff

IMAGE_WIDTH = 900  # pixels: spectrogram columns (frames are averaged down to this)
IMAGE_ROWS = 128  # mel-spaced frequency rows
DB_RANGE = 80.0  # dB shown below the loudest bin of the pair
DIFF_RANGE = 30.0  # dB of |A − B| that saturates the difference image
# Colour stops (position, r, g, b): a perceptually ordered dark-blue → yellow ramp, and black → red → white for |A − B|.
SPECTRUM_STOPS = ((0.0, 12, 7, 40), (0.3, 72, 30, 110), (0.6, 200, 60, 80), (0.85, 250, 160, 40), (1.0, 252, 250, 170))
DIFF_STOPS = ((0.0, 0, 0, 0), (0.4, 140, 10, 10), (0.8, 250, 120, 20), (1.0, 255, 255, 255))


def png_bytes(rgb: np.ndarray) -> bytes:
    """Encode an (H, W, 3) uint8 image as PNG (8-bit RGB, no interlace, filter 0 on every row)."""
    import numpy as np

    img = np.ascontiguousarray(rgb, dtype=np.uint8)
    h, w, _ = img.shape
    raw = np.concatenate([np.zeros((h, 1), np.uint8), img.reshape(h, w * 3)], axis=1).tobytes()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


def colormap(values: np.ndarray, stops: tuple[tuple[float, int, int, int], ...]) -> np.ndarray:
    """Values in [0, 1] → uint8 RGB by linear interpolation between colour stops."""
    import numpy as np

    v = np.clip(values, 0.0, 1.0)
    pos = np.array([s[0] for s in stops])
    channels = [np.interp(v, pos, np.array([s[i] for s in stops], dtype=np.float64)) for i in (1, 2, 3)]
    return np.stack(channels, axis=-1).round().astype(np.uint8)


def spectrogram_db(wave: np.ndarray, sample_rate: int, width: int = IMAGE_WIDTH, rows: int = IMAGE_ROWS) -> np.ndarray:
    """Power spectrogram in dB on a mel-spaced frequency axis, (rows, width): low frequencies at the bottom row."""
    import numpy as np

    from acegit.diff import magnitude

    mag = magnitude(wave, 1024, 256)  # (frames, 513)
    freqs = np.arange(mag.shape[1]) * sample_rate / 1024
    mel_max = 2595 * math.log10(1 + (sample_rate / 2) / 700)
    targets = 700 * (10 ** (np.linspace(0, mel_max, rows) / 2595) - 1)  # mel-spaced frequencies, Hz
    idx = np.clip(np.searchsorted(freqs, targets), 0, mag.shape[1] - 1)
    spec = mag[:, idx] ** 2  # (frames, rows)
    # Average frames into `width` columns (each column covers the same span of time); repeat them if too few.
    frames = spec.shape[0]
    if frames >= width:
        edges = np.linspace(0, frames, width + 1).astype(np.int64)
        cols = np.add.reduceat(spec, edges[:-1], axis=0) / np.diff(edges)[:, None]
    else:
        cols = spec[np.minimum((np.arange(width) * frames) // width, frames - 1)]
    return (10 * np.log10(cols + 1e-12)).T[::-1]  # (rows, width), high frequencies on top


def spectrogram_png(wave: np.ndarray, sample_rate: int, top_db: float | None = None) -> bytes:
    """A PNG of one wave's spectrogram (what `acegit show --png` writes)."""
    db = spectrogram_db(wave, sample_rate)
    top = float(db.max()) if top_db is None else top_db
    return png_bytes(colormap((db - (top - DB_RANGE)) / DB_RANGE, SPECTRUM_STOPS))


def pair_pngs(wave_a: np.ndarray, wave_b: np.ndarray, sample_rate: int) -> tuple[bytes, bytes, bytes]:
    """Spectrograms of A and B on one dB scale and |A − B|, all on the same time axis (the longer wave's)."""
    import numpy as np

    n = max(len(wave_a), len(wave_b))
    a = np.pad(np.asarray(wave_a, np.float32), (0, n - len(wave_a)))
    b = np.pad(np.asarray(wave_b, np.float32), (0, n - len(wave_b)))
    da, db = spectrogram_db(a, sample_rate), spectrogram_db(b, sample_rate)
    top = float(max(da.max(), db.max()))
    floor = top - DB_RANGE
    img_a = colormap((da - floor) / DB_RANGE, SPECTRUM_STOPS)
    img_b = colormap((db - floor) / DB_RANGE, SPECTRUM_STOPS)
    # Differences below the shown floor are inaudible detail: clip both first.
    diff = np.abs(np.maximum(da, floor) - np.maximum(db, floor))
    img_d = colormap(diff / DIFF_RANGE, DIFF_STOPS)
    return png_bytes(img_a), png_bytes(img_b), png_bytes(img_d)


def _data_uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _audio_uri(wave: np.ndarray, sample_rate: int) -> str:
    from acegit.render import audio_bytes

    # Ogg Vorbis: about a tenth of a WAV's size, and every browser's <audio> plays it.
    return _data_uri("audio/ogg", audio_bytes(wave, sample_rate, "ogg"))


def _esc(x: object) -> str:
    return html.escape("—" if x is None else str(x))


def _params_html(t: TrackDiff) -> str:
    if not t.params and not t.source_only:
        return '<p class="muted">No parameter changed.</p>'
    rows = []
    for p in t.params:
        if p.words:
            parts = []
            for op, text in p.words:
                tag = {" ": "span", "-": "del", "+": "ins"}[op]
                parts.append(f"<{tag}>{_esc(text)}</{tag}>")
            new = ("<br>" if p.field == "edits" else " ").join(parts)
            rows.append(f"<tr><th>{_esc(p.field)}</th><td colspan=2>{new}</td></tr>")
        else:
            rows.append(
                f"<tr><th>{_esc(p.field)}</th><td><del>{_esc(p.old)}</del></td><td><ins>{_esc(p.new)}</ins></td></tr>"
            )
    if t.source_only:
        rows.append("<tr><th>melody</th><td colspan=2>the melody file's notes changed</td></tr>")
    return f'<table class="params"><tr><th>field</th><th>A</th><th>B</th></tr>{"".join(rows)}</table>'


def _change_map_html(t: TrackDiff, seconds: float | None = None) -> str:
    from acegit.diff import SECOND_CHANGED

    if t.latent is None:
        return ""
    values = t.latent.per_second
    cells = []
    for s, c in enumerate(values):
        # Each cell as wide as the audio it covers, so a last, partial second stays aligned with the images.
        grow = 1.0 if seconds is None else max(0.05, min(1.0, seconds - s))
        hue = 120 if c <= SECOND_CHANGED else (45 if c < 0.5 else 0)
        light = 88 - 48 * min(c, 1.0)
        cells.append(
            f'<div class="cell" style="flex-grow:{grow:.3f};background:hsl({hue},70%,{light:.0f}%)" '
            f'title="{s}–{s + 1} s: change {c:.3f}"></div>'
        )
    return (
        f'<div class="label">latent change per second (0–{len(values)} s; green = unchanged, red = rewritten)</div>'
        f'<div class="changemap">{"".join(cells)}</div>'
    )


def _metrics_html(t: TrackDiff) -> str:
    items = []
    if t.latent is not None:
        lat = t.latent
        items.append(f"latent L2 {lat.l2:.3g} · cosine {lat.cosine:.4f} · change {lat.change:.3f}")
    if t.audio is not None:
        a = t.audio

        def lufs(x: float | None) -> str:
            return "silent" if x is None else f"{x:.1f} LUFS"

        items.append(f"log-spectral distance {a.lsd_db:.2f} dB · multi-resolution STFT {a.mrstft:.3f}")
        delta = "" if a.loudness_delta is None else f" ({a.loudness_delta:+.1f} LU)"
        peak = f"peak {a.peak_a_db:.1f} → {a.peak_b_db:.1f} dBFS"
        items.append(f"loudness {lufs(a.loudness_a)} → {lufs(a.loudness_b)}{delta} · {peak}")
        if a.tempo_differs:
            items.append(f"tempo (estimated) {a.tempo_a:.0f} → {a.tempo_b:.0f} BPM")
        if a.key_differs:
            items.append(f"key (estimated) {_esc(a.key_a)} → {_esc(a.key_b)}")
    if t.not_rendered:
        fix = f"run <code>acegit render {_esc(t.name)}</code>"
        items.append(f"<b>not rendered</b>: the snapshot predates these changes ({fix})")
    items += [f'<span class="problem">{_esc(p)}</span>' for p in t.problems]
    return "<ul class='metrics'>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def _track_html(i: int, t: TrackDiff) -> str:
    title = _esc(t.name) + (f" <span class='muted'>(renamed from {_esc(t.old_name)})</span>" if t.old_name else "")
    parts = [
        f'<section class="track" id="track-{i}"><h2>{title} <span class="status {t.status}">{t.status}</span></h2>'
    ]
    parts.append(f'<p class="verdict">{_esc(t.verdict)}</p>')
    parts.append(_params_html(t))
    parts.append(_metrics_html(t))
    if t.wave_a is not None and t.wave_b is not None and t.sample_rate:
        png_a, png_b, png_d = pair_pngs(t.wave_a, t.wave_b, t.sample_rate)
        seconds = max(len(t.wave_a), len(t.wave_b)) / t.sample_rate
        parts.append(f'<div class="timeline" data-seconds="{seconds:.3f}">')
        for label, png in (("A", png_a), ("B", png_b), ("|A − B|", png_d)):
            parts.append(
                f'<div class="label">{label}</div><div class="spec"><img alt="spectrogram {_esc(label)}" '
                f'src="{_data_uri("image/png", png)}"><div class="playhead"></div></div>'
            )
        parts.append(_change_map_html(t, seconds))
        parts.append("</div>")
        parts.append(
            f'<div class="players" data-track="{i}">'
            f'<div><span class="tag a">A</span><audio controls preload="auto" class="player-a" '
            f'src="{_audio_uri(t.wave_a, t.sample_rate)}"></audio></div>'
            f'<div><span class="tag b">B</span><audio controls preload="auto" class="player-b" '
            f'src="{_audio_uri(t.wave_b, t.sample_rate)}"></audio></div>'
            '<button type="button" class="switch">Switch A/B at the same time (key: s)</button></div>'
        )
    else:
        parts.append(_change_map_html(t))
    parts.append("</section>")
    return "".join(parts)


_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:960px;color:#1d1d1f;background:#fafafa}
h1{font-size:20px}h2{font-size:17px;margin:0 0 4px}.muted{color:#777;font-weight:normal}
.track{background:#fff;border:1px solid #ddd;border-radius:8px;padding:16px;margin:16px 0}
.status{font-size:12px;padding:1px 6px;border-radius:4px;background:#eee;font-weight:normal}
.status.added{background:#d8f5d8}.status.removed{background:#f8d7d7}.status.renamed{background:#d7ecf8}
.status.modified{background:#fbefc9}.verdict{font-weight:600;margin:4px 0 10px}
table.params{border-collapse:collapse;margin-bottom:8px}table.params th,table.params td{text-align:left;
padding:2px 10px 2px 0;vertical-align:top}del{background:#fdd;text-decoration:line-through}ins{background:#dfd;
text-decoration:none}.metrics{margin:6px 0;padding-left:18px}.problem{color:#b00}
.label{font-size:12px;color:#555;margin-top:8px}.spec{position:relative;line-height:0}
.spec img{width:100%;height:110px;image-rendering:auto;border-radius:3px}
.playhead{position:absolute;top:0;bottom:0;width:2px;background:#0af;left:0;display:none}
.changemap{display:flex;height:18px;border-radius:3px;overflow:hidden}.cell{flex:1 1 0;border-right:1px solid #fff}
.players{display:flex;gap:12px;align-items:center;flex-wrap:wrap;margin-top:10px}.players audio{height:32px}
.tag{display:inline-block;width:18px;text-align:center;border-radius:3px;margin-right:4px;font-weight:600}
.tag.active{background:#0af;color:#fff}button.switch{padding:6px 10px;border-radius:6px;border:1px solid #999;
background:#fff;cursor:pointer}
"""

_JS = """
(function () {
  document.querySelectorAll('.players').forEach(function (box) {
    var a = box.querySelector('.player-a'), b = box.querySelector('.player-b');
    var tags = box.querySelectorAll('.tag'), section = box.closest('.track');
    var timeline = section.querySelector('.timeline');
    var seconds = timeline ? parseFloat(timeline.dataset.seconds) : 0;
    var active = a;
    function mark() {
      tags[0].classList.toggle('active', active === a);
      tags[1].classList.toggle('active', active === b);
    }
    function playhead() {
      if (!seconds) return;
      var x = Math.min(100, 100 * active.currentTime / seconds);
      section.querySelectorAll('.playhead').forEach(function (p) {
        p.style.display = 'block'; p.style.left = x + '%';
      });
    }
    function switchAB() {
      var other = active === a ? b : a, playing = !active.paused;
      other.currentTime = active.currentTime;  // the same playhead: hear the difference at the same moment
      active.pause();
      active = other;
      if (playing) { var p = other.play(); if (p && p.catch) p.catch(function () {}); }
      mark(); playhead();
    }
    [a, b].forEach(function (el) {
      el.addEventListener('play', function () {
        if (el !== active) { (active === a ? a : b).pause(); active = el; mark(); }
      });
      el.addEventListener('timeupdate', function () { if (el === active) playhead(); });
    });
    box.querySelector('.switch').addEventListener('click', switchAB);
    box.switchAB = switchAB;
    mark();
  });
  document.addEventListener('keydown', function (e) {
    if (e.key !== 's') return;
    var boxes = document.querySelectorAll('.players');
    if (boxes.length) boxes[0].switchAB();
  });
  if (location.hash === '#selftest') {
    // Used by tests/test_report.py in headless Chromium: switch A→B mid-way and check the playhead carried over.
    var box = document.querySelector('.players');
    if (box) {
      var a = box.querySelector('.player-a'), b = box.querySelector('.player-b');
      a.currentTime = 1.5;
      box.querySelector('.switch').click();
      var ok = box.querySelectorAll('.tag')[1].classList.contains('active') && Math.abs(b.currentTime - 1.5) < 1e-6;
      document.body.dataset.selftest = ok ? 'ok' : 'failed';
    }
  }
  document.body.dataset.ready = 'yes';
  console.log('acegit report ready: ' + document.querySelectorAll('.track').length + ' tracks');
})();
"""


def render_report(result: DiffResult) -> str:
    """The report's HTML text."""
    body = "".join(_track_html(i, t) for i, t in enumerate(result.tracks))
    if not result.tracks:
        body = "<p>No track changed.</p>"
    title = f"acegit diff {result.side_a} → {result.side_b}"
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        # No network: the page refuses every external load, so it behaves the same offline and in mail attachments.
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; img-src data:; media-src data:; "
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">"
        f"<title>{_esc(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{_esc(title)}</h1><p class='muted'>{len(result.tracks)} track(s). Images: spectrograms on a mel "
        f"frequency axis, {DB_RANGE:.0f} dB range; |A − B| saturates at {DIFF_RANGE:.0f} dB.</p>"
        f"{body}<script>{_JS}</script></body></html>\n"
    )


def write_report(path: Path, result: DiffResult) -> None:
    """Write the self-contained HTML report atomically."""
    atomic_write_text(Path(path), render_report(result))
