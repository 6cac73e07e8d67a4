// DOM helpers: element builder, toasts, modals, loading and error states.

/** Builds an element: h('a', {href: '#/x', onclick}, 'text', child, [more]). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'class') el.className = v;
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k === 'value') el.value = v;
      else if (k === 'checked') el.checked = !!v;
      else if (v === true) el.setAttribute(k, '');
      else el.setAttribute(k, String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/** Replaces the children of `el`. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function toast(message, kind = '') {
  const box = document.getElementById('toasts');
  const t = h('div', { class: `toast ${kind}` }, message);
  box.appendChild(t);
  while (box.children.length > 3) box.firstChild.remove();
  setTimeout(() => t.remove(), kind === 'bad' ? 8000 : 4000);
}

export const loading = (what = 'Loading…') => h('div', { class: 'empty', 'data-loading': true }, what);

export function errorBox(err) {
  return h('div', { class: 'error-box', role: 'alert' }, err && err.message ? err.message : String(err));
}

/** Runs `load()` into `el`, showing a loading state, then the result or the error. */
export async function into(el, load) {
  mount(el, loading());
  try {
    const node = await load();
    mount(el, node);
  } catch (e) {
    mount(el, errorBox(e));
  }
}

let openModal = null;
let opener = null;

/** Keeps Tab and Shift+Tab inside the open dialog. */
function trapTab(ev) {
  if (ev.key !== 'Tab' || !openModal) return;
  const items = [...openModal.querySelectorAll('a[href], button:not([disabled]), input:not([disabled]):not([type=hidden]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])')]
    .filter((e) => e.offsetParent !== null);
  if (!items.length) return;
  const first = items[0];
  const last = items[items.length - 1];
  if (ev.shiftKey && document.activeElement === first) { ev.preventDefault(); last.focus(); } else if (!ev.shiftKey && document.activeElement === last) { ev.preventDefault(); first.focus(); }
}

/**
 * Opens a modal dialog with `body`; Escape closes it (app.js), Tab stays inside, and the focus
 * returns to what had it before. Returns {close, el}.
 */
export function modal(title, body, opts = {}) {
  closeModal();
  opener = document.activeElement;
  const titleId = `modal-title-${Date.now()}`;
  const back = h('div', { class: 'backdrop', onclick: (e) => { if (e.target === back) closeModal(); } });
  const box = h('div', { class: 'modal', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': titleId },
    h('div', { class: 'mhead' }, h('h2', { id: titleId }, title), h('button', { type: 'button', class: 'link', 'aria-label': 'close the dialog', title: 'Close (Escape)', dataset: { close: true }, onclick: closeModal }, '✕')),
    body);
  if (opts.wide) box.style.width = 'min(1100px, 100%)';
  back.appendChild(box);
  back.addEventListener('keydown', trapTab);
  document.body.appendChild(back);
  openModal = back;
  const first = box.querySelector('input:not([type=hidden]), select, textarea') || box.querySelector('.mhead button');
  if (first) first.focus();
  return { close: closeModal, el: box };
}

export function closeModal() {
  if (!openModal) return;
  openModal.remove();
  openModal = null;
  const back = opener;
  opener = null;
  if (back && back.isConnected && typeof back.focus === 'function') back.focus();
}

export const isModalOpen = () => openModal !== null;

export async function confirmDo(question, action) {
  if (!window.confirm(question)) return;
  try {
    await action();
  } catch (e) {
    toast(e.message, 'bad');
  }
}

/** Inserts an SVG document's root element (server-rendered chart) into `el`. */
export function inlineSvg(el, text) {
  const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
  const svg = doc.documentElement;
  if (!svg || svg.nodeName !== 'svg') throw new Error('the chart is not an svg image');
  for (const s of svg.querySelectorAll('script')) s.remove();
  if (!svg.getAttribute('viewBox') && svg.getAttribute('width')) {
    svg.setAttribute('viewBox', `0 0 ${parseFloat(svg.getAttribute('width'))} ${parseFloat(svg.getAttribute('height'))}`);
  }
  svg.removeAttribute('width');
  svg.removeAttribute('height');
  mount(el, document.importNode(svg, true));
}

/** A table from rows and column specs [{label, cell: row => node, class}]. */
export function table(cols, rows, opts = {}) {
  if (!rows.length) return h('div', { class: 'empty' }, opts.empty || 'Nothing here yet.');
  return h('div', { class: 'tablewrap' },
    h('table', { class: 'list' },
      h('thead', null, h('tr', null, cols.map((c) => h('th', { class: c.class }, c.label)))),
      h('tbody', null, rows.map((r) => h('tr', { dataset: opts.key ? { key: opts.key(r) } : undefined },
        cols.map((c) => h('td', { class: c.class }, c.cell(r))))))));
}

export const badge = (text, kind) => h('span', { class: `badge ${kind || text}` }, text);

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const t = h('textarea', null, text);
    document.body.appendChild(t);
    t.select();
    document.execCommand('copy');
    t.remove();
  }
  toast('Copied to the clipboard', 'ok');
}

/** Highlights and scrolls to the table row whose key is `key` (a `?focus=` link). */
export function focusRow(el, key) {
  if (!key) return;
  const row = el.querySelector(`tr[data-key="${CSS.escape(String(key))}"]`);
  if (!row) return;
  row.classList.add('focus');
  row.scrollIntoView({ block: 'center' });
}

/** A folding box for filters: open on wide screens or when a filter is set, folded on phones. */
export function filterBox(summary, content, active = false) {
  const wide = window.matchMedia('(min-width: 901px)').matches;
  return h('details', { class: 'filter-box', open: wide || active }, h('summary', null, summary), content);
}
