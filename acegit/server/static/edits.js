// A track's chain of edits (repaint a range, extend, vary): listed in the order they apply, each with Drop, and a
// form that appends one. The server validates each edit against the track as it stands at that edit (docs/edits.md);
// its message is shown under the form. After a change the track is stale: Render plays the edited version.

import { ApiError, request, trackPath } from './api.js';
import { clear, h } from './dom.js';

// The inputs each kind takes, in the order the form shows them.
const KIND_FIELDS = {
  repaint: ['start', 'end', 'strength', 'seed', 'prompt'],
  extend: ['to', 'seconds', 'seed', 'prompt'],
  vary: ['amount', 'seed'],
};
const LABELS = {
  start: 'From (s)', end: 'To (s)', strength: 'Strength (0–1]', to: 'New length (s)', seconds: 'or add (s)',
  amount: 'Amount (0–1)', seed: 'Seed (blank: new)', prompt: 'Prompt (blank: the track’s)',
};

export function createEdits(el, editor) {
  let current = null;
  const list = h('ol', { id: 'edits-list' });
  const kind = h('select', { id: 'edit-kind' }, Object.keys(KIND_FIELDS).map((k) => h('option', { value: k }, k)));
  const inputs = {};
  const rows = Object.entries(LABELS).map(([field, label]) => {
    inputs[field] = h('input', { id: `edit-${field}`, type: 'text', autocomplete: 'off', inputmode: field === 'prompt' ? null : 'decimal' });
    return h('label', { class: `edit-field edit-${field}` }, label, inputs[field]);
  });
  const error = h('p', { class: 'form-error', id: 'edit-error', role: 'alert' });
  const add = h('button', { type: 'button', id: 'add-edit', onclick: () => append() }, 'Add edit');
  clear(el, h('h3', {}, 'Edits'), list, h('div', { class: 'edit-form' }, h('label', {}, 'Kind', kind), rows, add), error);

  function showFields() {
    const wanted = KIND_FIELDS[kind.value];
    for (const [field, input] of Object.entries(inputs)) input.parentElement.hidden = !wanted.includes(field);
  }
  kind.addEventListener('change', showFields);
  showFields();

  function show(name, edits) {
    current = name;
    error.textContent = '';
    clear(list, edits.length ? edits.map((e, i) => h('li', { 'data-kind': e.kind },
      h('span', { class: 'edit-text' }, e.description),
      h('button', { type: 'button', class: 'drop-edit', title: `drop edit ${i + 1}`, onclick: () => drop(i + 1) }, 'Drop'),
    )) : h('li', { class: 'muted' }, 'none: the track is its generation'));
  }

  async function change(method, path, body) {
    error.textContent = '';
    try {
      await editor.saveIfDirty(); // the chain is checked against the fields as saved
      await request(method, trackPath(current, path), body);
      await editor.reload();
    } catch (err) {
      if (err instanceof ApiError) error.textContent = err.message + (err.hint ? ` — ${err.hint}` : '');
      else throw err;
    }
  }

  function append() {
    const body = { kind: kind.value };
    for (const field of KIND_FIELDS[kind.value]) {
      const raw = inputs[field].value.trim();
      if (raw !== '') body[field] = field === 'prompt' ? raw : Number(raw);
    }
    return change('POST', '/edits', body).then(() => {
      for (const input of Object.values(inputs)) input.value = '';
    });
  }

  const drop = (number) => change('DELETE', `/edits/${number}`);

  return { show };
}
