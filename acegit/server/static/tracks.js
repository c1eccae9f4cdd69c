// The project's tracks with their status (fresh / stale and why / invalid), and a new track.

import { clear, h } from './dom.js';

const NAME = /^[a-z0-9][a-z0-9_-]*$/;

export function createTrackList(el, app) {
  const list = h('ul', { class: 'tracks' });
  const nameInput = h('input', { id: 'new-name', placeholder: 'new-track-name', maxlength: '64', 'aria-label': 'New track name' });
  const form = h(
    'form',
    { class: 'new-track', onsubmit: (e) => {
      e.preventDefault();
      const name = nameInput.value.trim();
      if (!NAME.test(name)) {
        app.notice('a track name is lowercase letters, digits, - and _ (starting with a letter or digit)', 'error');
        return;
      }
      if (app.statusOf(name)) return app.select(name);
      nameInput.value = '';
      app.select(name, { isNew: true });
    } },
    nameInput,
    h('button', { type: 'submit', id: 'new-track' }, 'New track'),
  );
  clear(el, h('h2', {}, 'Tracks'), list, form);

  function draw() {
    const tracks = app.status?.tracks || [];
    clear(
      list,
      tracks.map((t) => {
        const why = t.state === 'stale' ? t.reasons.join(', ') : t.state === 'invalid' ? t.message : '';
        return h(
          'li',
          { 'data-track': t.name, 'data-state': t.state, class: t.name === app.track ? 'selected' : '' },
          h(
            'button',
            { onclick: () => app.select(t.name), title: why || t.state },
            h('span', { class: 'name' }, t.name),
            h('span', { class: `badge ${t.state}` }, t.state),
            why ? h('span', { class: 'why' }, why) : null,
          ),
        );
      }),
    );
    if (!tracks.length) list.append(h('li', { class: 'empty' }, 'No tracks yet: name one below.'));
  }
  app.on('status', draw);
  app.on('select', draw);
  return { draw };
}
