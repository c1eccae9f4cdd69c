// The player: two versions A and B of the track (working tree or any commit), play/pause/seek/loop, the waveform
// and spectrogram of the one playing, and the diff's per-second change map under the waveform. Switching A/B keeps
// the position: both versions are held in memory, so the switch is instant.

import { blobUrl, get, query, trackPath } from './api.js';
import { clear, fmtTime, h } from './dom.js';

const SECOND_CHANGED = 0.07; // acegit/diff.py: a second whose latent changed more than this counts as changed
const WORKTREE = '';
const NONE = '-';

export function createPlayer(el, app) {
  let name = null;
  let active = 'A';
  let diff = null;
  const sides = {
    A: { rev: WORKTREE, audio: h('audio', { id: 'audio-a', preload: 'auto' }), ready: false, loading: 0 },
    B: { rev: NONE, audio: h('audio', { id: 'audio-b', preload: 'auto' }), ready: false, loading: 0 },
  };
  const selects = {
    A: h('select', { id: 'side-a', 'aria-label': 'Version A', onchange: (e) => setSide('A', e.target.value) }),
    B: h('select', { id: 'side-b', 'aria-label': 'Version B', onchange: (e) => setSide('B', e.target.value) }),
  };
  const abButton = h('button', { id: 'ab-switch', type: 'button', onclick: () => switchSides(), title: 'Switch A/B (s)' });
  const playButton = h('button', { id: 'play', type: 'button', class: 'primary', onclick: () => toggle() }, 'Play');
  const seek = h('input', { id: 'seek', type: 'range', min: 0, max: 1000, value: 0, 'aria-label': 'Position' });
  const time = h('span', { id: 'time', class: 'time' }, '0:00.0');
  const loop = h('input', { id: 'loop', type: 'checkbox' });
  const wave = h('canvas', { id: 'waveform', height: 96, title: 'Click to seek' });
  const changes = h('canvas', { id: 'changemap', height: 14 });
  const changesLabel = h('p', { id: 'changemap-label', class: 'hint' });
  const spectrogram = h('img', { id: 'spectrogram', alt: 'Spectrogram of the version playing' });
  const message = h('p', { id: 'player-message', class: 'hint' });
  // The notes of the version playing, transcribed from its audio (GET /v1/tracks/{name}/midi), saved as NAME.mid.
  const midiButton = h('button', { id: 'download-midi', type: 'button', onclick: () => downloadMidi(), title: 'Download the notes of the version playing as a MIDI file' }, 'MIDI');

  clear(
    el,
    h('h2', {}, 'Player'),
    h('div', { class: 'sides' }, h('label', {}, 'A ', selects.A), h('label', {}, 'B ', selects.B), abButton),
    h('div', { class: 'transport' }, playButton, seek, time, h('label', { class: 'loop' }, loop, ' loop'), midiButton),
    h('div', { class: 'wave' }, wave, changes),
    changesLabel,
    spectrogram,
    message,
    sides.A.audio,
    sides.B.audio,
  );

  const cur = () => sides[active];

  async function downloadMidi() {
    const side = cur();
    if (!name || side.rev === NONE) return;
    midiButton.disabled = true;
    try {
      const url = await blobUrl(trackPath(name, `/midi${query({ rev: revParam(side.rev) })}`));
      const a = h('a', { href: url, download: `${name}.mid` });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (err) {
      app.notice(`MIDI: ${err.message}`);
    } finally {
      midiButton.disabled = false;
    }
  }

  function versions(commits) {
    const s = app.statusOf(name);
    const stale = s && s.state !== 'fresh' ? ` — ${s.state}: differs from its snapshot` : '';
    const opts = [[WORKTREE, `working tree${stale}`]];
    for (const c of commits) opts.push([c.sha, `${c.short} ${c.subject}`.slice(0, 60)]);
    for (const key of ['A', 'B']) {
      clear(selects[key], [[NONE, '— none —'], ...opts].map(([v, label]) => h('option', { value: v }, label)));
      selects[key].value = sides[key].rev;
    }
  }

  function revParam(rev) {
    return rev === WORKTREE ? null : rev;
  }

  async function setSide(key, rev) {
    const side = sides[key];
    const ticket = ++side.loading;
    side.rev = rev;
    selects[key].value = rev;
    side.ready = false;
    side.error = null;
    for (const u of [side.url, side.spec]) if (u) URL.revokeObjectURL(u);
    side.url = side.spec = side.peaks = null;
    if (rev === NONE) {
      side.audio.removeAttribute('src');
      draw();
      return updateDiff();
    }
    const q = query({ rev: revParam(rev) });
    try {
      const [url, peaks, spec] = await Promise.all([
        blobUrl(trackPath(name, `/audio${q}`)),
        get(trackPath(name, `/peaks${query({ rev: revParam(rev), bins: 600 })}`)),
        blobUrl(trackPath(name, `/spectrogram.png${q}`)),
      ]);
      if (ticket !== side.loading) return [url, spec].forEach((u) => URL.revokeObjectURL(u));
      Object.assign(side, { url, peaks, spec, ready: true });
      side.audio.src = url;
      side.audio.loop = loop.checked;
    } catch (err) {
      if (ticket === side.loading) side.error = err.message;
    }
    draw();
    return updateDiff();
  }

  async function updateDiff() {
    diff = null;
    const [a, b] = [sides.A.rev, sides.B.rev];
    drawChanges();
    if (a === NONE || b === NONE || a === b || !sides.A.ready || !sides.B.ready) return;
    // The diff API compares a revision with another or with the working tree (b left out).
    const params = a === WORKTREE ? { a: b, track: name } : { a, b: revParam(b), track: name };
    try {
      const result = await get(`/v1/diff${query(params)}`);
      if (sides.A.rev === a && sides.B.rev === b) diff = result.tracks.find((t) => t.name === name) || null;
    } catch (err) {
      changesLabel.textContent = `diff: ${err.message}`;
    }
    drawChanges();
  }

  function drawChanges() {
    const ctx = changes.getContext('2d');
    changes.width = changes.clientWidth || 600;
    ctx.clearRect(0, 0, changes.width, changes.height);
    const lat = diff?.latent;
    if (!lat) {
      changesLabel.textContent = diff ? `A/B: ${diff.verdict || diff.status}` : 'Choose a version B to see what changed, second by second.';
      changes.dataset.seconds = '';
      return;
    }
    const per = lat.per_second;
    const w = changes.width / Math.max(1, per.length);
    per.forEach((v, i) => {
      const x = Math.min(1, v / (SECOND_CHANGED * 4));
      ctx.fillStyle = v > SECOND_CHANGED ? `rgba(230, 90, 40, ${0.35 + 0.65 * x})` : `rgba(90, 160, 120, ${0.25 + 0.5 * x})`;
      ctx.fillRect(i * w + 0.5, 0, Math.max(1, w - 1), changes.height);
    });
    const changed = per.filter((v) => v > SECOND_CHANGED).length;
    changes.dataset.seconds = per.length;
    changesLabel.textContent = `A→B: ${changed} of ${per.length} s changed · change ${lat.change} · ${diff.verdict}`;
  }

  function draw() {
    const side = cur();
    abButton.textContent = `Playing ${active} · switch (s)`;
    abButton.dataset.active = active;
    abButton.disabled = !(sides.A.ready && sides.B.ready);
    if (side.error || side.ready || side.rev !== NONE) message.textContent = side.error ? `${active}: ${side.error}` : side.ready ? '' : 'loading…';
    spectrogram.src = side.spec || '';
    spectrogram.hidden = !side.spec;
    playButton.textContent = side.audio.paused ? 'Play' : 'Pause';
    drawWave();
  }

  function drawWave() {
    const side = cur();
    const ctx = wave.getContext('2d');
    wave.width = wave.clientWidth || 600;
    const { width, height } = wave;
    ctx.clearRect(0, 0, width, height);
    const p = side.peaks;
    if (!p) return;
    const duration = side.audio.duration || p.duration;
    const played = duration ? side.audio.currentTime / duration : 0;
    const n = p.min.length;
    const mid = height / 2;
    for (let i = 0; i < n; i++) {
      const x = (i / n) * width;
      ctx.fillStyle = i / n < played ? '#e0a040' : '#6b8fb3';
      const top = mid - p.max[i] * mid;
      ctx.fillRect(x, top, Math.max(1, width / n), Math.max(1, (p.max[i] - p.min[i]) * mid));
    }
    ctx.fillStyle = '#fff';
    ctx.fillRect(played * width, 0, 1, height);
    seek.value = Math.round(played * 1000);
    time.textContent = `${fmtTime(side.audio.currentTime)} / ${fmtTime(duration)}`;
  }

  function tick() {
    drawWave();
    if (!cur().audio.paused) requestAnimationFrame(tick);
  }

  for (const key of ['A', 'B']) {
    const a = sides[key].audio;
    a.addEventListener('play', () => {
      draw();
      requestAnimationFrame(tick);
    });
    a.addEventListener('pause', draw);
    a.addEventListener('ended', draw);
    a.addEventListener('loadedmetadata', draw);
  }

  function seekTo(fraction) {
    const a = cur().audio;
    if (a.duration) a.currentTime = Math.max(0, Math.min(1, fraction)) * a.duration;
    drawWave();
  }
  seek.addEventListener('input', () => seekTo(seek.value / 1000));
  wave.addEventListener('click', (e) => seekTo(e.offsetX / wave.clientWidth));
  loop.addEventListener('change', () => {
    for (const s of Object.values(sides)) s.audio.loop = loop.checked;
  });

  function toggle() {
    const a = cur().audio;
    if (!cur().ready) return;
    if (a.paused) a.play().catch((err) => app.notice(`play: ${err.message}`, 'error'));
    else a.pause();
  }

  function switchSides() {
    const other = active === 'A' ? 'B' : 'A';
    if (!sides[other].ready) {
      app.notice('choose a version B (and A) first: both must be loaded to switch');
      return;
    }
    const from = cur().audio;
    const to = sides[other].audio;
    const playing = !from.paused;
    from.pause(); // first: the time read after it is where A stopped, so B takes over there, not a tick behind
    const at = from.currentTime;
    to.currentTime = to.duration ? Math.min(at, to.duration) : at;
    active = other;
    if (playing) to.play().catch((err) => app.notice(`play: ${err.message}`, 'error'));
    draw();
  }

  async function show(track) {
    for (const s of Object.values(sides)) s.audio.pause();
    name = track;
    active = 'A';
    diff = null;
    versions([]);
    const rendered = Boolean(app.statusOf(track)?.lock); // the working tree has a snapshot to play
    await Promise.all([setSide('A', rendered ? WORKTREE : NONE), setSide('B', NONE)]);
    if (!rendered) message.textContent = 'Not rendered yet: press Render.';
  }

  function reset(track) {
    name = track;
    for (const s of Object.values(sides)) {
      s.audio.pause();
      s.audio.removeAttribute('src');
      Object.assign(s, { ready: false, peaks: null, spec: null, error: null, rev: NONE });
    }
    draw();
    message.textContent = 'Save and render the new track to hear it.';
  }

  app.on('select', (track, isNew) => (isNew ? reset(track) : show(track)));
  app.on('log', (track, commits) => track === name && versions(commits));
  window.addEventListener('resize', () => draw());
  return { toggle, switchSides, setSide, sides, get active() { return active; }, get diff() { return diff; } };
}
