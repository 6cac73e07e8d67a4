// Forms: fields from a spec, values back out, and the API's field-level errors shown in place.
import { h, mount } from './dom.js';
import { gql, ApiError } from './api.js';
import { date } from './format.js';

const norm = (s) => String(s).replace(/\[\d+\]/g, '').toLowerCase().replace(/[^a-z0-9]/g, '');

/**
 * A field: {name, label, type: text|password|number|checkbox|select|textarea|list|cron,
 * options: [[value, label]], help, placeholder, required}.
 */
export function field(spec, value) {
  const id = `f-${spec.name}`;
  let input;
  let wrap;
  const attrs = { id, name: spec.name, placeholder: spec.placeholder, required: spec.required, autocomplete: spec.autocomplete || 'off' };
  switch (spec.type) {
    case 'checkbox':
      input = h('input', { ...attrs, type: 'checkbox', checked: value ?? spec.default ?? false });
      return h('div', { class: 'field check', dataset: { field: spec.name } }, input, h('label', { for: id }, spec.label), spec.help && h('div', { class: 'help', style: 'grid-column: 2' }, spec.help), h('div', { class: 'ferr', style: 'grid-column: 2' }));
    case 'select':
      input = h('select', { ...attrs, multiple: spec.multiple }, (spec.options || []).map(([v, l]) => {
        const o = h('option', { value: String(v) }, l);
        const vals = Array.isArray(value) ? value.map(String) : [String(value ?? spec.default ?? '')];
        if (vals.includes(String(v))) o.selected = true;
        return o;
      }));
      if (spec.multiple) input.size = Math.min(6, Math.max(3, (spec.options || []).length));
      break;
    case 'textarea':
      input = h('textarea', { ...attrs, rows: spec.rows || 4 }, value ?? '');
      break;
    case 'list':
      input = listInput(spec, value || []);
      break;
    case 'cron':
      input = h('input', { ...attrs, type: 'text', value: value ?? '', class: 'mono' });
      wrap = [cronPresets(input), h('div', { class: 'cron-preview', 'data-cron-preview': true, 'aria-live': 'polite' }, 'Type a cron expression: minute hour day-of-month month day-of-week')];
      cronPreview(input, wrap[1]);
      break;
    default:
      input = h('input', { ...attrs, type: spec.type || 'text', value: value ?? '', min: spec.min, step: spec.step });
  }
  return h('div', { class: 'field', dataset: { field: spec.name } },
    h('label', { for: id }, spec.label), input, wrap, spec.help && h('div', { class: 'help' }, spec.help), h('div', { class: 'ferr' }));
}

/** A growable list of text inputs (folders, paths). */
function listInput(spec, values) {
  const box = h('div', { class: 'inline-list', id: `f-${spec.name}`, dataset: { list: spec.name } });
  const add = (v) => {
    const item = h('div', { class: 'item' },
      h('input', { type: 'text', value: v, placeholder: spec.placeholder, 'aria-label': spec.label }),
      h('button', { type: 'button', class: 'link', title: 'remove', 'aria-label': `remove this ${spec.itemLabel || 'entry'}`, onclick: () => item.remove() }, '✕'));
    box.insertBefore(item, addBtn);
    return item;
  };
  const addBtn = h('button', { type: 'button', class: 'link', style: 'justify-self: start', onclick: () => add('').querySelector('input').focus() }, `+ add ${spec.itemLabel || 'entry'}`);
  box.appendChild(addBtn);
  for (const v of values.length ? values : ['']) add(v);
  return box;
}

const PRESETS = [
  ['30 2 * * *', 'Every night at 02:30'], ['0 * * * *', 'Every hour'], ['0 */6 * * *', 'Every 6 hours'],
  ['0 3 * * 1-5', 'Weekdays at 03:00'], ['0 4 * * 0', 'Sundays at 04:00'], ['0 5 1 * *', 'The 1st of every month at 05:00'],
  ['@daily', '@daily (midnight)'], ['@weekly', '@weekly (Sunday midnight)'], ['@monthly', '@monthly'],
];

/** Common schedules that fill the cron field. */
function cronPresets(input) {
  const sel = h('select', { 'aria-label': 'schedule presets', class: 'cron-presets', onchange: () => {
    if (!sel.value) return;
    input.value = sel.value;
    input.dispatchEvent(new Event('input'));
    sel.value = '';
    input.focus();
  } }, h('option', { value: '' }, 'Presets…'), PRESETS.map(([v, l]) => h('option', { value: v }, `${l} — ${v}`)));
  return sel;
}

/** Shows the next five run times of the cron field as the user types. */
function cronPreview(input, out) {
  let timer = null;
  let seq = 0;
  const run = async () => {
    const text = input.value.trim();
    if (!text) return;
    const mine = ++seq;
    try {
      const d = await gql('query($c: String!) { cronPreview(crontab: $c, count: 5) }', { c: text });
      if (mine !== seq) return;
      out.classList.remove('bad');
      mount(out, h('div', null, 'Next runs:'), d.cronPreview.map((t) => h('div', null, date(t))));
    } catch (e) {
      if (mine !== seq) return;
      out.classList.add('bad');
      mount(out, e.fields && Object.values(e.fields)[0] ? Object.values(e.fields)[0] : e.message);
    }
  };
  input.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(run, 250); });
  setTimeout(run, 0);
}

/** Reads a form's values by field spec (numbers as numbers, empty numbers as null). */
export function values(form, specs) {
  const out = {};
  for (const s of specs) {
    if (s.type === 'list') {
      out[s.name] = [...form.querySelectorAll(`[data-list="${s.name}"] input`)].map((i) => i.value.trim()).filter(Boolean);
      continue;
    }
    const el = form.elements.namedItem(s.name);
    if (!el) continue;
    if (s.type === 'checkbox') out[s.name] = el.checked;
    else if (s.type === 'number') out[s.name] = el.value === '' ? null : Number(el.value);
    else if (s.type === 'select' && s.multiple) out[s.name] = [...el.selectedOptions].map((o) => (s.numeric ? Number(o.value) : o.value));
    else if (s.type === 'select' && s.numeric) out[s.name] = el.value === '' ? null : Number(el.value);
    else out[s.name] = el.value;
  }
  return out;
}

export function clearErrors(form) {
  for (const f of form.querySelectorAll('.field.invalid')) f.classList.remove('invalid');
  for (const i of form.querySelectorAll('[aria-invalid]')) i.removeAttribute('aria-invalid');
  for (const e of form.querySelectorAll('.ferr')) e.textContent = '';
  const top = form.querySelector('.form-error');
  if (top) top.remove();
}

/** Puts an API error next to its field (matching `extensions.field`), or on top of the form. */
export function showErrors(form, err) {
  clearErrors(form);
  const fields = err instanceof ApiError ? err.fields : {};
  const left = [];
  let focused = false;
  for (const [name, reason] of Object.entries(fields)) {
    const key = norm(name.split('.').pop());
    const full = norm(name);
    const box = [...form.querySelectorAll('.field[data-field]')].find((f) => {
      const n = norm(f.dataset.field);
      return n === full || n === key || (f.dataset.aliases || '').split(',').map(norm).includes(key);
    });
    if (box) {
      box.classList.add('invalid');
      // Its own message line, not one of a nested field's (a copy's settings in a policy).
      const ferr = box.querySelector(':scope > .ferr');
      ferr.textContent = reason;
      ferr.id = ferr.id || `${box.dataset.field}-error`;
      // Its own controls, not those of nested fields (marked by the page when it knows which).
      for (const i of [...box.querySelectorAll('input, select, textarea')].filter((x) => x.closest('.field') === box)) {
        i.setAttribute('aria-invalid', 'true');
        i.setAttribute('aria-describedby', ferr.id);
      }
      if (!focused) {
        const i = box.querySelector('input, select, textarea');
        if (i) i.focus();
        focused = true;
      }
    } else left.push(`${name}: ${reason}`);
  }
  if (!Object.keys(fields).length || left.length) {
    form.prepend(h('div', { class: 'error-box form-error', role: 'alert' }, left.length ? left.join('; ') : err.message));
  }
}

/**
 * A complete form: fields, submit and cancel buttons; `onSubmit(values)` may throw an ApiError
 * whose fields are shown in place. Enter submits (native form submission).
 */
export function form(specs, initial, { submitLabel = 'Save', onSubmit, onCancel, extra }) {
  const f = h('form', { class: 'form', novalidate: true });
  for (const s of specs) {
    const node = s.type === 'group' ? h('fieldset', null, h('legend', null, s.label), s.node) : field(s, initial ? initial[s.name] : undefined);
    if (s.aliases) node.dataset.aliases = s.aliases.join(',');
    f.appendChild(node);
  }
  if (extra) f.appendChild(extra);
  const submit = h('button', { type: 'submit', class: 'primary' }, submitLabel);
  f.appendChild(h('div', { class: 'formactions' }, submit, onCancel && h('button', { type: 'button', onclick: onCancel }, 'Cancel')));
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(f);
    submit.disabled = true;
    const old = submit.textContent;
    submit.textContent = 'Saving…';
    try {
      await onSubmit(values(f, specs.filter((s) => s.type !== 'group')), f);
    } catch (e) {
      showErrors(f, e);
    } finally {
      submit.disabled = false;
      submit.textContent = old;
    }
  });
  return f;
}
