"""The HTML report: a valid PNG writer, a self-contained page, and a real headless Chromium loading it."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest
from test_diff import commit, latent_for, write_snapshot, write_track

from acegit.diff import diff_tracks
from acegit.report import colormap, png_bytes, render_report, spectrogram_png, write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium is not installed (Debian package `chromium`)"
)


def read_png(data: bytes) -> np.ndarray:
    """Decode the PNGs png_bytes writes (8-bit RGB, filter 0) by the spec, to check the writer."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        chunks[kind] = chunks.get(kind, b"") + body
        pos += 12 + length
    w, h, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, colour) == (8, 2) and b"IEND" in chunks
    raw = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), np.uint8).reshape(h, 1 + 3 * w)
    assert not raw[:, 0].any()  # filter type 0 on every row
    return raw[:, 1:].reshape(h, w, 3)


def png_size(path: Path) -> tuple[int, int]:
    w, h = struct.unpack(">II", path.read_bytes()[16:24])
    return w, h


def test_png_writer_round_trips() -> None:
    img = np.random.default_rng(0).integers(0, 256, (7, 5, 3), dtype=np.uint8)
    assert np.array_equal(read_png(png_bytes(img)), img)
    ramp = colormap(np.array([0.0, 0.5, 1.0, 2.0]), ((0.0, 0, 0, 0), (1.0, 200, 100, 50)))
    assert ramp.tolist() == [[0, 0, 0], [100, 50, 25], [200, 100, 50], [200, 100, 50]]
    sr = 22050
    tone = np.sin(2 * np.pi * 440 * np.arange(sr * 2) / sr).astype(np.float32)
    spec = read_png(spectrogram_png(tone, sr))
    assert spec.shape == (128, 900, 3)
    # The 440 Hz line is the brightest row, in the lower part of the image (low frequencies at the bottom).
    brightest = int(np.argmax(spec.astype(int).sum(axis=(1, 2))))
    assert 64 < brightest < 128


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory, tiny_checkpoint: Path) -> Path:
    """One report (a modified and a removed track) shared by the tests below: decoding is the slow part."""
    from acegit.project import PROJECT_FILE, load_project
    from acegit.scaffold import new_project

    tmp = tmp_path_factory.mktemp("report")
    with pytest.MonkeyPatch.context() as mp:
        for var in ("GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL"):
            mp.setenv(var, "tests@acegit.invalid")
        mp.setenv("GIT_CONFIG_NOSYSTEM", "1")
        root = tmp / "proj"
        new_project(root)
        shutil.copytree(tiny_checkpoint, root / "weights" / "test")
        text = (root / PROJECT_FILE).read_text(encoding="utf-8").replace('model = "tiny"', 'model = "test"')
        (root / PROJECT_FILE).write_text(text + '\n[models.test]\npath = "weights/test"\n', encoding="utf-8")
        (root / "tracks" / "example.toml").unlink()
        p = load_project(root)
        write_track(p, "boss", "epic orchestral boss battle", 7, 3.0)
        write_snapshot(p, "boss", latent_for(7, 3.0))
        write_track(p, "intro", "calm piano", 1, 3.0)
        write_snapshot(p, "intro", latent_for(1, 3.0))
        commit(p.root, "v1")
        write_track(p, "boss", "epic synth boss battle", 8, 3.0)
        write_snapshot(p, "boss", latent_for(8, 3.0) * 1.5)
        (p.tracks_dir / "intro.toml").unlink()
        (p.tracks_dir / "intro.lock.toml").unlink()
        commit(p.root, "v2")
        result = diff_tracks(p, "HEAD~1", "HEAD", keep_waves=True)
    assert [t.status for t in result.tracks] == ["modified", "removed"]
    out = tmp / "report.html"
    write_report(out, result)
    return out


def test_report_is_self_contained(report_file: Path) -> None:
    page = report_file.read_text(encoding="utf-8")
    assert not re.search(r"(src|href)=[\"']?(https?:|//)", page)  # nothing loaded from a network
    assert page.count('src="data:image/png;base64,') == 6  # A, B, |A − B| for each of the two tracks
    assert page.count('src="data:audio/ogg;base64,') == 4
    assert "<del>orchestral</del>" in page and "<ins>synth</ins>" in page
    assert 'class="changemap"' in page and "Switch A/B" in page
    assert "default-src 'none'" in page
    empty = render_report(type("R", (), {"side_a": "a", "side_b": "b", "tracks": []})())  # type: ignore[arg-type]
    assert "No track changed." in empty


def _chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


@needs_chromium
def test_chromium_loads_the_report_without_console_errors(report_file: Path, tmp_path: Path) -> None:
    url = report_file.as_uri() + "#selftest"
    proc = _chromium(tmp_path / "profile", "--virtual-time-budget=5000", "--dump-dom", url)
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    assert 'data-ready="yes"' in dom  # the page's script ran to the end
    assert 'data-selftest="ok"' in dom  # the A/B switch moved to B at A's playhead
    assert dom.count("<audio") == 4 and dom.count("<img") == 6
    # Every console message (errors, warnings, CSP violations) is logged; the only one must be the page's own.
    console = re.findall(r"CONSOLE[^\]]*\] \"(.*?)\", source", proc.stderr)
    assert console == ["acegit report ready: 2 tracks"], proc.stderr[-3000:]


@needs_chromium
def test_chromium_screenshot(report_file: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    proc = _chromium(tmp_path / "profile", "--window-size=1000,1400", f"--screenshot={shot}", report_file.as_uri())
    assert proc.returncode == 0 and shot.is_file(), proc.stderr[-2000:]
    assert png_size(shot) == (1000, 1400)
    assert shot.stat().st_size > 50_000  # spectrograms drawn, not a blank page
