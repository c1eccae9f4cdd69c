// The track editor: every field of tracks/<name>.toml, validated by the server, its message shown beside the field.
// An empty input leaves the field unset (the project's default, shown greyed, applies). Render follows the job.

import { ApiError, get, put, runJob, trackPath } from './api.js';
import { clear, h } from './dom.js';
import { createEdits } from './edits.js';

const MAX_SEED = 2 ** 32 - 1;
// [field, label, kind, choices]; kinds: text, area, number, choice, tags. The order is the file's canonical order.
const FIELDS = [
  ['prompt', 'Prompt', 'area'],
  ['negative_prompt', 'Negative prompt', 'text'],
  ['lyrics', 'Lyrics (ace-step models)', 'area'],
  ['seed', 'Seed', 'number'],
  ['duration', 'Duration (s)', 'number'],
  ['bpm', 'BPM', 'number'],
  ['key', 'Key', 'text'],
  ['time_signature', 'Time signature', 'choice', ['2/4', '3/4', '4/4', '6/8']],
  ['model', 'Model', 'text'],
  ['steps', 'Steps', 'number'],
  ['guidance', 'Guidance', 'number'],
  ['shift', 'Shift', 'number'],
  ['sampler', 'Sampler', 'choice', ['euler', 'heun', 'dpm++2m']],
  ['vocoder', 'Vocoder (built-in models)', 'choice', ['griffin-lim', 'neural']],
  ['melody', 'Melody file (.mid)', 'text'],
  ['loop', 'Loop', 'choice', ['true', 'false']],
  ['tags', 'Tags (comma-separated)', 'tags'],
];
const NUMBER = /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/;

export function newSeed() {
  return crypto.getRandomValues(new Uint32Array(1))[0] % (MAX_SEED + 1);
}

export function createEditor(el, app) {
  const inputs = {};
  const errors = {};
  let current = null; // the name being edited
  let isNew = false;
  let dirty = false;
  // What the file holds besides the form's fields (the edit chain, an [audio] table, …): Save keeps it as it is.
  let kept = {};

  // The project's models (GET /v1/models) as the model field's suggestions; a step-distilled one (tiny-turbo) renders
  // with its own steps and sampler only, so choosing it fills them in.
  const modelList = h('datalist', { id: 'model-list' });
  const modelNote = h('span', { class: 'field-note', id: 'model-note' });
  const distilled = {};
  get('/v1/models')
    .then((answer) => {
      for (const m of answer.models) {
        modelList.append(h('option', { value: m.name }));
        if (m.steps) distilled[m.name] = m;
      }
    })
    .catch(() => {}); // without the list the field is still free text, and the server still checks it

  function distilledModel(name) {
    const m = distilled[name];
    modelNote.textContent = m ? `${name} renders with ${m.steps} ${m.sampler} steps only: set below` : '';
    if (!m) return;
    setValue('steps', m.steps);
    setValue('sampler', m.sampler);
  }

  const rows = FIELDS.map(([field, label, kind, choices]) => {
    const id = `f-${field}`;
    let input;
    if (kind === 'area') input = h('textarea', { id, rows: field === 'prompt' ? 2 : 1 });
    else if (kind === 'choice') input = h('select', { id }, h('option', { value: '' }, 'default'), choices.map((c) => h('option', { value: c }, c)));
    else input = h('input', { id, type: 'text', inputmode: kind === 'number' ? 'decimal' : null, autocomplete: 'off' });
    input.name = field;
    input.addEventListener('input', () => {
      dirty = true;
      errors[field].textContent = '';
    });
    inputs[field] = input;
    errors[field] = h('span', { class: 'field-error', 'data-field': field, role: 'alert' });
    let extra = null;
    if (field === 'seed') extra = h('button', { type: 'button', id: 'new-seed', onclick: () => setValue('seed', newSeed()) }, 'New seed');
    if (field === 'model') {
      input.setAttribute('list', 'model-list');
      input.addEventListener('change', () => distilledModel(input.value.trim()));
      extra = [modelList, modelNote];
    }
    return h('div', { class: `row row-${field}` }, h('label', { for: id }, label), h('div', { class: 'control' }, input, extra), errors[field]);
  });

  const title = h('h2', {}, 'Track');
  const state = h('p', { class: 'state', id: 'track-state' });
  const general = h('p', { class: 'form-error', id: 'form-error', role: 'alert' });
  const progress = h('progress', { id: 'render-progress', max: 1, value: 0 });
  const progressText = h('span', { id: 'render-text' });
  const saveButton = h('button', { type: 'submit', id: 'save' }, 'Save');
  const renderButton = h('button', { type: 'button', id: 'render', class: 'primary', onclick: () => render() }, 'Render');
  const toml = h('pre', { id: 'toml' });
  const form = h(
    'form',
    { onsubmit: (e) => {
      e.preventDefault();
      save().catch(() => {});
    } },
    rows,
    h('div', { class: 'actions' }, saveButton, renderButton),
    h('div', { class: 'progress' }, progress, progressText),
    general,
  );
  const editsBox = h('section', { id: 'edits', 'aria-label': 'Edits' });
  clear(el, title, state, form, editsBox, h('details', {}, h('summary', {}, 'TOML'), toml));

  function setValue(field, value) {
    inputs[field].value = value === null || value === undefined ? '' : Array.isArray(value) ? value.join(', ') : String(value);
    dirty = true;
    errors[field].textContent = '';
  }

  function clearErrors() {
    for (const e of Object.values(errors)) e.textContent = '';
    general.textContent = '';
  }

  function showError(err) {
    const field = (err.field || '').replace(/^fields\./, '');
    if (errors[field]) errors[field].textContent = err.message;
    else general.textContent = err.message + (err.hint ? ` — ${err.hint}` : '');
  }

  function fields() {
    const out = {};
    for (const [field, , kind] of FIELDS) {
      const raw = inputs[field].value.trim();
      if (raw === '') continue;
      if (kind === 'number') out[field] = NUMBER.test(raw) ? Number(raw) : raw; // the server names a bad one
      else if (field === 'loop') out[field] = raw === 'true';
      else if (kind === 'tags') out[field] = raw.split(',').map((t) => t.trim()).filter(Boolean);
      else out[field] = raw;
    }
    return { ...kept, ...out };
  }

  function showState() {
    const s = app.statusOf(current);
    if (!s) {
      state.textContent = isNew ? 'new: not saved yet' : '';
      state.dataset.state = isNew ? 'new' : '';
      return;
    }
    state.dataset.state = s.state;
    state.textContent = s.state === 'stale' ? `stale (${s.reasons.join(', ')}): the working tree differs from its snapshot; render to update it` : s.state === 'invalid' ? `invalid: ${s.message}` : 'fresh: the snapshot matches the track';
  }

  async function load(name, fresh) {
    // Reloading the same track (after its render) keeps the bar and the outcome the user just got.
    if (name !== current || fresh) {
      progress.value = 0;
      progressText.textContent = '';
      delete progress.dataset.done;
    }
    current = name;
    isNew = fresh;
    dirty = false;
    clearErrors();
    modelNote.textContent = '';
    title.textContent = name;
    if (fresh) {
      for (const [field] of FIELDS) {
        inputs[field].value = '';
        inputs[field].placeholder = '';
      }
      setValue('seed', newSeed());
      kept = {};
      editsBox.hidden = true;
      toml.textContent = '';
      showState();
      inputs.prompt.focus();
      return;
    }
    try {
      const track = await get(trackPath(name));
      if (name !== current) return;
      for (const [field] of FIELDS) {
        const v = track.fields[field];
        inputs[field].value = v === undefined ? '' : Array.isArray(v) ? v.join(', ') : String(v);
        const r = track.resolved[field];
        inputs[field].placeholder = r === null || r === undefined || r === '' ? '' : Array.isArray(r) ? r.join(', ') : String(r);
      }
      toml.textContent = track.toml;
      kept = Object.fromEntries(Object.entries(track.fields).filter(([k]) => !FIELDS.some(([f]) => f === k)));
      editsBox.hidden = false;
      editsPanel.show(name, track.resolved.edits);
    } catch (err) {
      showError(err); // an invalid track file cannot be read as fields: its message says why
    }
    showState();
  }

  async function save() {
    clearErrors();
    try {
      const track = await put(trackPath(current), { fields: fields() });
      toml.textContent = track.toml;
      dirty = false;
      const created = isNew;
      isNew = false;
      app.notice(`saved ${track.path}`);
      await app.refresh();
      showState();
      if (created) app.emit('select', current, false);
      return track;
    } catch (err) {
      if (err instanceof ApiError) showError(err);
      else app.fail(err);
      throw err;
    }
  }

  async function saveIfDirty() {
    if (dirty || isNew) await save();
  }

  async function render() {
    const name = current;
    delete progress.dataset.done;
    try {
      await saveIfDirty();
    } catch {
      return;
    }
    renderButton.disabled = true;
    progress.value = 0;
    progressText.textContent = 'queued';
    try {
      const result = await runJob('/v1/jobs', { tracks: [name] }, (f) => {
        progress.value = f;
        progressText.textContent = `${Math.round(f * 100)}%`;
      });
      const outcome = result.tracks?.[0];
      progressText.textContent = outcome ? `${outcome.result || 'done'}` : 'done';
      progress.dataset.done = 'yes';
      app.emit('changed', name);
    } catch (err) {
      progressText.textContent = 'failed';
      showError(err);
    } finally {
      renderButton.disabled = false;
    }
  }

  const editsPanel = createEdits(editsBox, { saveIfDirty, reload: () => reload() });

  async function reload() {
    await app.refresh();
    await load(current, false);
  }

  app.on('select', (name, fresh) => load(name, fresh));
  app.on('status', () => current && showState());
  return { saveIfDirty, render, fields };
}
