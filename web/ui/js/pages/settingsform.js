// Structured settings: forms built from the server's settings registry (label, help, kind,
// default, bounds and group of every key), with one Save that writes every changed field at
// once (all or none) and puts each refusal next to its field.
import { h, mount, toast } from '../dom.js';
import { gql, gqlAll } from '../api.js';

const FIELDS = 'key value isSecret isSet label help group groupLabel kind default choices min max';

/** Every setting the caller may read, as the registry describes it. */
export async function loadSettings() {
  return (await gql(`{ settings { ${FIELDS} } }`)).settings;
}

/** The input for a setting by its kind. */
function input(s, id) {
  const base = { id, name: s.key, 'aria-describedby': `${id}-help` };
  switch (s.kind) {
    case 'SECRET':
      return h('input', { ...base, type: 'password', autocomplete: 'new-password', value: '', placeholder: s.isSet ? 'set: type to replace' : 'not set' });
    case 'BOOL':
      return h('select', base, [['', `default (${s.default === 'true' ? 'yes' : 'no'})`], ['true', 'yes'], ['false', 'no']]
        .map(([v, l]) => h('option', { value: v, selected: s.isSet && s.value === v }, l)));
    case 'CHOICE':
      return h('select', base, h('option', { value: '' }, `default (${s.default})`),
        (s.choices || []).map((c) => h('option', { value: c, selected: s.isSet && s.value === c }, c)));
    case 'PEM':
      return h('textarea', { ...base, rows: 4, class: 'mono', placeholder: s.default ? `default: ${s.default}` : '' }, s.value);
    default: {
      const type = s.kind === 'INT' ? 'number' : s.kind === 'URL' ? 'url' : s.kind === 'MAILBOX' ? 'email' : 'text';
      return h('input', {
        ...base, type, value: s.value, placeholder: s.default ? `default: ${s.default}` : '',
        min: s.min ?? undefined, max: s.max ?? undefined, class: s.kind === 'CRON' ? 'mono' : undefined,
      });
    }
  }
}

/** The refusal reasons of a failed save, by setting key ('' for one that names no field). */
function refusals(errors) {
  const out = new Map();
  for (const e of errors || []) {
    const fields = (e.extensions && e.extensions.fields) || [];
    if (!fields.length) out.set('', e.message);
    for (const f of fields) out.set(f.field, f.reason);
  }
  return out;
}

/**
 * A form over `items` grouped in fieldsets, with one Save. `onSaved()` runs after a save.
 * The form's id is `id`.
 */
export function settingsForm(items, id, { onSaved = () => {} } = {}) {
  const groups = new Map();
  for (const s of items) {
    if (!groups.has(s.group)) groups.set(s.group, { label: s.groupLabel || s.group, list: [] });
    groups.get(s.group).list.push(s);
  }
  const fieldOf = new Map();
  const f = h('form', { class: 'form settings-form', id, novalidate: true });
  for (const [g, { label, list }] of groups) {
    f.appendChild(h('fieldset', { dataset: { group: g } }, h('legend', null, label),
      list.map((s) => {
        const fid = `set-${s.key.replace(/[^a-z0-9]/gi, '-')}`;
        const el = input(s, fid);
        const dflt = s.default && s.kind !== 'SECRET' ? h('span', { class: 'dflt' }, ` Default: ${s.default}.`) : null;
        const box = h('div', { class: 'field', dataset: { field: s.key } },
          h('label', { for: fid }, s.label, ' ', h('code', { class: 'muted small key' }, s.key)), el,
          h('div', { class: 'help', id: `${fid}-help` }, /[.!?)]$/.test(s.help) || !s.help ? s.help : `${s.help}.`, dflt),
          h('div', { class: 'ferr', id: `${fid}-error`, role: 'alert' }));
        fieldOf.set(s.key, { s, el, box });
        return box;
      })));
  }
  const save = h('button', { type: 'submit', class: 'primary', id: `${id}-save` }, 'Save');
  const state = h('span', { class: 'muted small', 'aria-live': 'polite' });
  f.appendChild(h('div', { class: 'formactions' }, save, state));
  const current = (s) => (s.isSet ? s.value : '');
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    for (const { box, el } of fieldOf.values()) {
      box.classList.remove('invalid');
      box.querySelector('.ferr').textContent = '';
      el.removeAttribute('aria-invalid');
    }
    const changed = [...fieldOf.values()].filter(({ s, el }) => (s.kind === 'SECRET' ? el.value !== '' : el.value.trim() !== current(s)));
    if (!changed.length) { state.textContent = 'Nothing changed.'; return; }
    save.disabled = true;
    state.textContent = 'Saving…';
    const input = changed.map(({ s, el }) => ({ key: s.key, value: s.kind === 'SECRET' ? el.value : el.value.trim() }));
    try {
      const r = await gqlAll(`mutation($i: [SettingValueInput!]!) { updateSettings(input: $i) { ${FIELDS} } }`, { i: input });
      const refused = refusals(r.errors);
      if (!refused.size && r.data && r.data.updateSettings) {
        for (const n of r.data.updateSettings) {
          const t = fieldOf.get(n.key);
          if (!t) continue;
          Object.assign(t.s, n);
          if (n.kind === 'SECRET') { t.el.value = ''; t.el.placeholder = n.isSet ? 'set: type to replace' : 'not set'; }
        }
        state.textContent = 'Saved.';
        toast(changed.length === 1 ? `${changed[0].s.label} saved` : `${changed.length} settings saved`, 'ok');
        onSaved();
        return;
      }
      let first = null;
      for (const [key, reason] of refused) {
        const target = fieldOf.get(key);
        if (!target) { toast(reason, 'bad'); continue; }
        target.box.classList.add('invalid');
        target.box.querySelector('.ferr').textContent = reason;
        target.el.setAttribute('aria-invalid', 'true');
        first = first || target.el;
      }
      if (first) first.focus();
      state.textContent = `Nothing saved: ${refused.size} field${refused.size > 1 ? 's' : ''} refused (marked).`;
    } catch (e) {
      state.textContent = '';
      toast(e.message, 'bad');
    } finally {
      save.disabled = false;
    }
  });
  for (const { el } of fieldOf.values()) el.addEventListener('input', () => { state.textContent = 'Unsaved changes.'; });
  return f;
}

/** Mounts a settings form for the settings `keep(group, key)` into `box`, with a title. */
export async function settingsCard(box, title, keep, id) {
  const items = (await loadSettings()).filter((s) => keep(s.group, s.key));
  mount(box, h('div', { class: 'card' }, h('h2', null, title), settingsForm(items, id)));
}
