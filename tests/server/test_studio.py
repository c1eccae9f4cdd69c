"""The studio in a real headless Chromium (Debian's, driven by Playwright; nothing downloads a browser) against a
real `acegit serve`: create a track, render it and watch the progress reach the end, play it, A/B two commits,
keep an inspiration candidate, and see the server's message beside an invalid field.

The tests of this module run in order on one server and one browser page (each step builds on the last).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from serverkit import TOKEN, Server, git, make_project, start_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if os.environ.get("CI"):  # CI installs both (.ci/run, the `test` extra): there a missing one fails, never skips
    if CHROMIUM is None:
        raise RuntimeError("CI: headless Chromium (Debian package `chromium`) is missing")
    import playwright.sync_api as playwright
else:
    playwright = pytest.importorskip("playwright.sync_api", reason="the `test` extra installs playwright")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium is not installed (Debian package `chromium`)"
)

REPO = Path(__file__).resolve().parents[2]
# Closed network, root user: no sandbox, no GPU, nothing that phones home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
TRACK = 'prompt = "soft piano"\nseed = 11\nduration = 3.0\nbpm = 90\nkey = "C major"\nsteps = 2\n'
SHOTS = os.environ.get("ACEGIT_STUDIO_SHOTS")  # a folder: the README's screenshots are written there


class Browser:
    """One Chromium with one page; every request it makes is recorded, and any to another host is refused."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.pw = playwright.sync_playwright().start()
        try:
            self.browser = self.pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        except BaseException:
            self.pw.stop()
            raise
        self.requests: list[str] = []
        self.foreign: list[str] = []
        self.errors: list[str] = []
        self.context = self.new_context()
        self.page = self.context.new_page()

    def new_context(self) -> Any:
        context = self.browser.new_context(viewport={"width": 1280, "height": 800})

        def route(r: Any) -> None:
            url = r.request.url
            self.requests.append(url)
            if url.startswith(self.server.url + "/") or url.startswith("file://"):
                r.continue_()
            else:
                self.foreign.append(url)
                r.abort()

        context.route("**/*", route)
        context.on("weberror", lambda e: self.errors.append(str(e.error)))
        return context

    def close(self) -> None:
        try:
            self.browser.close()
        finally:
            self.pw.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = make_project(tmp_path_factory.mktemp("studio") / "proj", {"first": TRACK})
    s = start_server(root)
    try:
        yield s
    finally:
        s.stop()
        if s.proc.stdout:
            s.proc.stdout.close()


@pytest.fixture(scope="module")
def browser(server: Server) -> Iterator[Browser]:
    b = Browser(server)
    try:
        b.page.goto(f"{server.url}/?token={TOKEN}")  # the printed URL: the token becomes a cookie
        b.page.wait_for_selector("body[data-ready=yes]", timeout=30_000)
        yield b
    finally:
        b.close()


def js(b: Browser, script: str, arg: Any = None) -> Any:
    return b.page.evaluate(script, arg)


def wait_until(b: Browser, script: str, arg: Any = None, timeout: float = 60_000) -> None:
    try:
        b.page.wait_for_function(script, arg=arg, timeout=timeout)
    except playwright.TimeoutError:  # say what the page showed
        shown = js(
            b,
            "() => [...document.querySelectorAll('#notice, #player-message, .form-error, #render-text')]"
            ".map(e => e.id + ': ' + e.textContent).join(' | ')",
        )
        raise AssertionError(f"timed out waiting for {script}; the page shows: {shown}") from None


def track_state(b: Browser, name: str) -> str | None:
    return js(b, "n => document.querySelector(`li[data-track='${n}']`)?.dataset.state ?? null", name)


def test_page_is_self_only_with_a_strict_csp(server: Server, browser: Browser) -> None:
    with server.client(token=None) as anon:
        page = anon.get("/")
        assert page.status_code == 200 and "acegit serve" in page.text  # the page is public; its data is not
        csp = page.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp and "connect-src 'self'" in csp
        assert "unsafe" not in csp and "http" not in csp
        assert anon.get("/v1/status").status_code == 401
        assert anon.get("/studio/main.js").headers["content-type"].startswith("text/javascript")
        assert anon.get("/studio/..%2Fapp.py").status_code == 404
        assert anon.get("/studio/app.py").status_code == 404
    assert browser.page.inner_text("#project") == "proj"
    assert track_state(browser, "first") == "stale"  # never rendered: "no snapshot"
    assert "no snapshot" in browser.page.inner_text("li[data-track=first] .why")


def test_create_render_and_watch_progress(server: Server, browser: Browser) -> None:
    p = browser.page
    p.fill("#new-name", "arp")
    p.click("#new-track")
    p.fill("#f-prompt", "bright synth arpeggio")
    p.fill("#f-seed", "42")
    for field, value in (("duration", "3"), ("bpm", "120"), ("key", "A minor"), ("steps", "4")):
        p.fill(f"#f-{field}", value)
    # Every text the progress label shows, in order. Each assignment replaces the label's text node, so the added
    # nodes keep every value even when several steps arrive in one chunk of the event stream (one observer call).
    js(
        browser,
        """() => { window.seen = [];
        new MutationObserver((records) => records.forEach((r) => r.addedNodes.forEach((n) => seen.push(n.textContent))))
        .observe(document.getElementById('render-text'), { childList: true }); }""",
    )
    p.click("#render")
    wait_until(browser, "() => document.getElementById('render-progress').dataset.done === 'yes'")
    # The track list and the form reload once the render is done; the bar and the outcome stay.
    wait_until(browser, "() => document.querySelector(`li[data-track='arp']`)?.dataset.state === 'fresh'")
    assert p.inner_text("#track-state").startswith("fresh")
    seen = js(browser, "() => window.seen")
    percents = [int(t[:-1]) for t in seen if t.endswith("%")]
    assert seen[0] == "queued" and seen[-1] == "rendered", seen
    assert any(0 < v < 100 for v in percents) and percents == sorted(percents), seen  # it moved through the steps
    assert js(browser, "() => document.getElementById('render-progress').value") == 1
    assert p.inner_text("#render-text") == "rendered"  # the outcome, still shown
    text = (server.root / "tracks" / "arp.toml").read_text()
    assert tomllib.loads(text) == {
        "prompt": "bright synth arpeggio",
        "seed": 42,
        "duration": 3.0,
        "bpm": 120,
        "key": "A minor",
        "steps": 4,
    }
    assert (server.root / "tracks" / "arp.lock.toml").is_file() and (server.root / "build" / "arp.wav").is_file()


def test_play_advances_and_draws(browser: Browser) -> None:
    p = browser.page
    wait_until(browser, "() => window.acegitStudio.views.player.sides.A.ready")
    js(browser, "() => { window.played = false; document.getElementById('audio-a').onplaying = () => played = true; }")
    p.click("#play")
    wait_until(browser, "() => window.played && document.getElementById('audio-a').currentTime > 0.5", timeout=20_000)
    assert js(browser, "() => !document.getElementById('audio-a').paused") or js(
        browser, "() => document.getElementById('audio-a').ended"
    )
    # Space pauses (the keyboard), the waveform has been drawn, and the spectrogram is an image from memory.
    p.click("h2")
    if not js(browser, "() => document.getElementById('audio-a').paused"):
        p.keyboard.press(" ")
    wait_until(browser, "() => document.getElementById('audio-a').paused")
    assert js(browser, "() => document.getElementById('spectrogram').src.startsWith('blob:')")
    assert js(browser, "() => document.getElementById('spectrogram').naturalWidth > 0")


def test_ab_switch_between_two_commits(server: Server, browser: Browser) -> None:
    p = browser.page
    git(server.root, "add", "-A")
    git(server.root, "commit", "-qm", "arp: first take")
    first = git(server.root, "rev-parse", "HEAD").strip()
    p.fill("#f-seed", "43")
    p.click("#render")
    wait_until(browser, "() => document.getElementById('render-progress').dataset.done === 'yes'")
    assert tomllib.loads((server.root / "tracks" / "arp.toml").read_text())["seed"] == 43
    git(server.root, "add", "-A")
    git(server.root, "commit", "-qm", "arp: seed 43")
    second = git(server.root, "rev-parse", "HEAD").strip()
    p.click("li[data-track=arp] button")  # reselect: the history now has both commits
    p.wait_for_selector(f"#timeline li[data-sha='{first}']")
    p.click(f"#timeline li[data-sha='{first}'] .as-a")
    p.click(f"#timeline li[data-sha='{second}'] .as-b")
    wait_until(browser, "() => { const s = window.acegitStudio.views.player.sides; return s.A.ready && s.B.ready; }")
    assert p.input_value("#side-a") == first and p.input_value("#side-b") == second
    # The diff's per-second change map (3 s of audio) under the waveform.
    wait_until(browser, "() => document.getElementById('changemap').dataset.seconds === '3'")
    assert "of 3 s changed" in p.inner_text("#changemap-label")

    p.check("#loop")
    p.click("#play")
    wait_until(browser, "() => document.getElementById('audio-a').currentTime > 0.8", timeout=20_000)
    p.click("h2")  # focus off the controls: the keys go to the studio
    p.keyboard.press("s")
    assert js(browser, "() => window.acegitStudio.views.player.active") == "B"
    wait_until(browser, "() => !document.getElementById('audio-b').paused")
    a_at = js(browser, "() => document.getElementById('audio-a').currentTime")
    b_at = js(browser, "() => document.getElementById('audio-b').currentTime")
    assert js(browser, "() => document.getElementById('audio-a').paused")
    assert a_at > 0.8 and -0.05 <= b_at - a_at < 0.5, (a_at, b_at)  # B took over at A's position (media clocks round)
    assert p.inner_text("#ab-switch").startswith("Playing B")
    p.keyboard.press("s")  # and back
    wait_until(browser, "() => window.acegitStudio.views.player.active === 'A'")
    wait_until(browser, "() => !document.getElementById('audio-a').paused")
    p.keyboard.press(" ")
    wait_until(browser, "() => document.getElementById('audio-a').paused")


def test_keep_an_inspiration_candidate(server: Server, browser: Browser) -> None:
    p = browser.page
    before = (server.root / "tracks" / "arp.toml").read_text()
    p.select_option("#inspire-count", "2")
    p.click("#inspire-go")
    p.wait_for_selector("#candidates .candidate:nth-child(2)", timeout=120_000)
    seeds = [int(s) for s in js(browser, "() => [...document.querySelectorAll('.candidate')].map(c => c.dataset.seed)")]
    assert len(seeds) == 2 and 43 not in seeds
    p.click(".candidate:nth-child(1) .audition")
    wait_until(browser, "() => document.querySelector('.candidate audio').currentTime > 0.2", timeout=20_000)
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        p.screenshot(path=str(Path(SHOTS) / "studio.png"))
    p.click(".candidate:nth-child(2) .keep")
    wait_until(browser, "() => document.getElementById('notice').textContent.startsWith('kept seed')")
    after = (server.root / "tracks" / "arp.toml").read_text()
    assert after != before and tomllib.loads(after)["seed"] == seeds[1]
    assert tomllib.loads(after) == {**tomllib.loads(before), "seed": seeds[1]}
    wait_until(browser, "() => document.querySelector(`li[data-track='arp']`)?.dataset.state === 'fresh'")
    with server.client() as c:
        status = {t["name"]: t["state"] for t in c.get("/v1/status").json()["tracks"]}
    assert status["arp"] == "fresh"
    wait_until(browser, "s => document.getElementById('f-seed').value === s", str(seeds[1]))  # the editor too


def test_invalid_bpm_shows_the_servers_message_beside_the_field(server: Server, browser: Browser) -> None:
    p = browser.page
    before = (server.root / "tracks" / "arp.toml").read_text()
    p.fill("#f-bpm", "900")
    p.click("#save")
    p.wait_for_selector(".field-error[data-field=bpm]:not(:empty)")
    shown = p.inner_text(".field-error[data-field=bpm]")
    with server.client() as c:
        fields = {**tomllib.loads(before), "bpm": 900}
        err = c.put("/v1/tracks/arp", json={"fields": fields}).json()["error"]
    assert err["field"] == "bpm" and shown == err["message"]
    assert "900" in shown and "20" in shown  # "tracks/arp.toml: bpm = 900 is out of range 20–300"
    assert (server.root / "tracks" / "arp.toml").read_text() == before  # nothing written
    p.fill("#f-bpm", "120")
    assert p.inner_text(".field-error[data-field=bpm]") == ""


def test_edits_panel_adds_and_drops_edits_and_save_keeps_the_chain(server: Server, browser: Browser) -> None:
    """Repaint a second of a track from the edits panel, see the server's message for a range past the track's end,
    save another field without losing the chain (or the file's [audio] table), then drop the edit."""
    p = browser.page
    path = server.root / "tracks" / "first.toml"
    path.write_text(path.read_text() + "\n[audio]\nmidi = true\n")  # a table the form has no field for
    p.click("li[data-track=first] button")
    wait_until(browser, "() => document.querySelector('#edits-list li.muted') !== null")
    p.select_option("#edit-kind", "repaint")
    p.fill("#edit-start", "1")
    p.fill("#edit-end", "2")
    p.fill("#edit-seed", "5")
    p.click("#add-edit")
    wait_until(browser, "() => document.querySelector('#edits-list li[data-kind=repaint]') !== null")
    assert "repaint 1–2 s (seed 5)" in p.inner_text("#edits-list")
    assert tomllib.loads(path.read_text())["edits"] == [{"kind": "repaint", "start": 1.0, "end": 2.0, "seed": 5}]
    assert "stale" in p.inner_text("#track-state")

    p.fill("#edit-start", "1")
    p.fill("#edit-end", "9")
    p.click("#add-edit")
    wait_until(browser, "() => document.querySelector('#edit-error').textContent.includes('edits[2].end = 9')")
    assert len(tomllib.loads(path.read_text())["edits"]) == 1

    p.fill("#f-bpm", "95")
    p.click("#save")
    wait_until(browser, "() => document.querySelector('#toml').textContent.includes('bpm = 95')")
    saved = tomllib.loads(path.read_text())
    assert saved["bpm"] == 95 and len(saved["edits"]) == 1  # Save keeps the chain it did not show as fields
    assert saved["audio"] == {"midi": True}  # and the [audio] table

    p.click("#edits-list .drop-edit")
    wait_until(browser, "() => document.querySelector('#edits-list li.muted') !== null")
    assert "edits" not in tomllib.loads(path.read_text())


def test_choosing_a_step_distilled_model_fills_its_steps_and_sampler(server: Server, browser: Browser) -> None:
    """The model field suggests the project's models (GET /v1/models); tiny-turbo renders with 5 Euler steps only,
    so choosing it sets those (the server would refuse the project's 20)."""
    p = browser.page
    wait_until(browser, "() => document.querySelectorAll('#model-list option').length > 0")
    suggested = js(browser, "() => [...document.querySelectorAll('#model-list option')].map(o => o.value)")
    with server.client() as c:
        served = c.get("/v1/models").json()
    assert suggested == [m["name"] for m in served["models"]] and {"tiny", "tiny-turbo"} <= set(suggested)
    before = {f: p.input_value(f"#f-{f}") for f in ("model", "steps", "sampler")}
    p.fill("#f-model", "tiny-turbo")
    p.dispatch_event("#f-model", "change")
    assert p.input_value("#f-steps") == "5" and p.input_value("#f-sampler") == "euler"
    assert "5 euler steps" in p.inner_text("#model-note")
    p.fill("#f-model", "tiny")
    p.dispatch_event("#f-model", "change")
    assert p.inner_text("#model-note") == ""  # any steps do: nothing is changed for it
    for field, value in before.items():  # leave the form as it was (nothing was saved)
        if field == "sampler":
            p.select_option("#f-sampler", value)
        else:
            p.fill(f"#f-{field}", value)


def test_no_request_left_this_server_and_no_page_errors(server: Server, browser: Browser) -> None:
    assert browser.requests and not browser.foreign, browser.foreign
    assert all(u.startswith(server.url + "/") for u in browser.requests)
    assert not browser.errors, browser.errors


def _webview_html(url: str) -> str:
    """The VS Code extension's webview page, made by its own compiled code (vscode/out/webview.js)."""
    node = shutil.which("node")
    out = REPO / "vscode" / "out" / "webview.js"
    if node is None or not out.is_file():
        if os.environ.get("CI"):
            pytest.fail("CI builds the extension first (.ci/run): vscode/out/webview.js is missing")
        pytest.skip("the VS Code extension is not compiled (cd vscode && npm ci && npm run compile)")
    script = (
        "const w = require(process.argv[1]);"
        "process.stdout.write(w.studioHtml({ url: process.argv[2], token: process.argv[3], nonce: 'n0nce' }));"
    )
    proc = subprocess.run([node, "-e", script, str(out), url, TOKEN], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_the_vscode_webview_page_loads_the_studio(server: Server, browser: Browser, tmp_path: Path) -> None:
    """The extension's webview page, opened from a file (another origin, as VS Code's webview is, so the cookie
    cannot help): its frame shows the studio, authenticated by the token the page hands it."""
    html = _webview_html(server.url)
    assert "Content-Security-Policy" in html and f"frame-src {server.url}" in html
    page_file = tmp_path / "webview.html"
    page_file.write_text(html, encoding="utf-8")
    context = browser.new_context()  # no cookie from the login above
    try:
        page = context.new_page()
        page.goto(page_file.as_uri())
        frame = page.frame_locator("iframe")
        frame.locator("body[data-ready=yes]").wait_for(timeout=30_000)
        assert frame.locator("li[data-track=arp]").count() == 1
        assert frame.locator("#login").is_hidden()
    finally:
        context.close()
    assert not browser.foreign, browser.foreign
