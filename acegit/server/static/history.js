// The track's history: the commits that changed it, newest first, as a timeline; each can be heard as A or B.

import { ApiError, get, query, trackPath } from './api.js';
import { clear, h } from './dom.js';

export function createHistory(el, app) {
  const list = h('ol', { class: 'timeline', id: 'timeline' });
  clear(el, h('h2', {}, 'History'), list);
  let ticket = 0;

  async function load(name, isNew) {
    const mine = ++ticket;
    clear(list);
    if (isNew) return app.emit('log', name, []);
    let commits = [];
    try {
      commits = (await get(trackPath(name, `/log${query({ limit: 200 })}`))).commits;
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 404)) app.fail(err);
    }
    if (mine !== ticket) return;
    app.emit('log', name, commits);
    if (!commits.length) {
      list.append(h('li', { class: 'empty' }, 'Not committed yet: commit the track with git to build its history.'));
      return;
    }
    clear(
      list,
      commits.map((c) =>
        h(
          'li',
          { 'data-sha': c.sha },
          h('span', { class: 'dot', 'data-status': c.status }),
          h(
            'div',
            { class: 'commit' },
            h('div', {}, h('code', {}, c.short), ' ', h('strong', {}, c.subject)),
            h(
              'div',
              { class: 'hint' },
              `${c.date.slice(0, 16).replace('T', ' ')} · ${c.author}`,
              c.changes.length ? ` · ${c.changes.join(', ')}` : '',
              c.latent_change !== null ? ` · change ${c.latent_change}` : '',
            ),
          ),
          h(
            'div',
            { class: 'pick' },
            h('button', { type: 'button', class: 'as-a', onclick: () => app.views.player.setSide('A', c.sha) }, 'A'),
            h('button', { type: 'button', class: 'as-b', onclick: () => app.views.player.setSide('B', c.sha) }, 'B'),
          ),
        ),
      ),
    );
  }

  app.on('select', load);
  return { load };
}
