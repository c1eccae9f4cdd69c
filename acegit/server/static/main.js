// The studio: wires the views together, holds the selected track, and owns the keyboard.

import { ApiError, get, setToken } from './api.js';
import { createEditor } from './editor.js';
import { createHistory } from './history.js';
import { createInspire } from './inspire.js';
import { createPlayer } from './player.js';
import { createTrackList } from './tracks.js';

const $ = (id) => document.getElementById(id);

// A token in the fragment (never sent to the server in the URL) is for frames where the cookie cannot work.
const fragment = new URLSearchParams(location.hash.slice(1));
if (fragment.get('token')) {
  setToken(fragment.get('token'));
  history.replaceState(null, '', location.pathname + location.search);
}

const app = {
  status: null,
  track: null, // the selected track's name
  listeners: {},
  on(event, fn) {
    (this.listeners[event] ||= []).push(fn);
  },
  emit(event, ...args) {
    for (const fn of this.listeners[event] || []) fn(...args);
  },
  notice(text, kind = 'info') {
    const el = $('notice');
    el.textContent = text;
    el.dataset.kind = kind;
  },
  fail(err) {
    app.notice(err.message + (err.hint ? ` — ${err.hint}` : ''), 'error');
  },
  statusOf(name) {
    return app.status?.tracks.find((t) => t.name === name) || null;
  },
  async refresh() {
    app.status = await get('/v1/status');
    $('project').textContent = app.status.project;
    app.emit('status', app.status);
    return app.status;
  },
  select(name, { isNew = false } = {}) {
    app.track = name;
    app.emit('select', name, isNew);
  },
};

const views = {
  tracks: createTrackList($('tracks'), app),
  editor: createEditor($('editor'), app),
  player: createPlayer($('player'), app),
  inspire: createInspire($('inspire'), app),
  history: createHistory($('history'), app),
};
app.views = views;

// After a render or a keep: the track's status, fields, audio and history have all moved on.
app.on('changed', async (name) => {
  await app.refresh().catch(app.fail);
  if (name === app.track) app.emit('select', name, false);
});

document.addEventListener('keydown', (e) => {
  const tag = e.target.tagName;
  if (e.ctrlKey || e.metaKey || e.altKey || ['INPUT', 'TEXTAREA', 'SELECT'].includes(tag)) return;
  if (e.key === ' ') {
    e.preventDefault();
    views.player.toggle();
  } else if (e.key === 's' || e.key === 'S') {
    e.preventDefault();
    views.player.switchSides();
  }
});

async function start() {
  try {
    await app.refresh();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      $('login').hidden = false;
      return;
    }
    app.fail(err);
    return;
  }
  $('studio').hidden = false;
  const first = app.status.tracks[0];
  if (first) app.select(first.name);
  document.body.dataset.ready = 'yes';
}

start();
window.acegitStudio = app; // for the browser tests and the console
