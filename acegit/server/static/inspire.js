// Inspiration: N candidates of the current settings with other seeds, rendered by the server into its scratch
// area, in a grid to audition; Keep makes one the track (its file, audio and lock).

import { blobUrl, post, runJob, trackPath } from './api.js';
import { clear, h } from './dom.js';

export function createInspire(el, app) {
  const count = h('select', { id: 'inspire-count', 'aria-label': 'Candidates' }, [2, 3, 4, 6, 8].map((n) => h('option', { value: n, selected: n === 4 }, `${n} candidates`)));
  const button = h('button', { type: 'button', id: 'inspire-go', onclick: () => inspire() }, 'Inspire');
  const progress = h('progress', { id: 'inspire-progress', max: 1, value: 0 });
  const grid = h('div', { class: 'grid', id: 'candidates' });
  const urls = [];
  clear(el, h('h2', {}, 'Inspiration'), h('div', { class: 'actions' }, count, button, progress), grid);

  function reset() {
    for (const u of urls.splice(0)) URL.revokeObjectURL(u);
    clear(grid);
    progress.value = 0;
  }

  async function inspire() {
    const name = app.track;
    try {
      await app.views.editor.saveIfDirty(); // candidates of the settings on screen
    } catch {
      return;
    }
    reset();
    button.disabled = true;
    const n = Number(count.value);
    try {
      const result = await runJob(trackPath(name, '/sketch'), { count: n }, (f) => (progress.value = f), n);
      if (name !== app.track) return;
      for (const c of result.candidates) grid.append(await card(name, result.sketch, c.seed));
    } catch (err) {
      app.fail(err);
    } finally {
      button.disabled = false;
    }
  }

  async function card(name, sketch, seed) {
    const url = await blobUrl(trackPath(name, `/sketch/${sketch}/${seed}/audio`));
    urls.push(url);
    const audio = h('audio', { src: url, preload: 'auto' });
    const play = h('button', { type: 'button', class: 'audition', onclick: () => {
      for (const a of grid.querySelectorAll('audio')) if (a !== audio) a.pause();
      if (audio.paused) audio.play();
      else audio.pause();
    } }, 'Play');
    audio.addEventListener('play', () => (play.textContent = 'Pause'));
    audio.addEventListener('pause', () => (play.textContent = 'Play'));
    const keep = h('button', { type: 'button', class: 'keep primary', onclick: async () => {
      keep.disabled = true;
      try {
        await post(trackPath(name, '/keep'), { sketch, seed });
        app.notice(`kept seed ${seed}: tracks/${name}.toml, its audio and lock now hold it`);
        reset();
        app.emit('changed', name);
      } catch (err) {
        keep.disabled = false;
        app.fail(err);
      }
    } }, 'Keep');
    return h('div', { class: 'candidate', 'data-seed': seed }, h('div', { class: 'seed' }, `seed ${seed}`), h('div', {}, play, ' ', keep), audio);
  }

  app.on('select', reset);
  return { inspire };
}
