// The single-page app: login, the shell (navigation, user menu), hash routing, keyboard
// shortcuts, and a live feed of job status changes shared by every page.
import { h, mount, toast, closeModal, isModalOpen } from './dom.js';
import { gql, session, whenUnauthenticated, liveSubscribe, closeLive } from './api.js';
import { isFinished } from './format.js';
import * as dashboard from './pages/dashboard.js';
import * as inventory from './pages/inventory.js';
import * as policies from './pages/policies.js';
import * as jobs from './pages/jobs.js';
import * as catalog from './pages/catalog.js';
import * as stats from './pages/stats.js';
import * as settings from './pages/settings.js';
import * as hostkeys from './pages/hostkeys.js';
import * as vmproviders from './pages/vmproviders.js';
import * as cluster from './pages/cluster.js';

const NAV = [
  ['', 'Dashboard', '◧', dashboard.render],
  ['clients', 'Clients', '▣', inventory.clients],
  ['repositories', 'Repositories', '⛁', inventory.repositories],
  ['schedules', 'Schedules', '◷', inventory.schedules],
  ['policies', 'Policies', '☰', policies.render],
  ['jobs', 'Jobs', '▶', jobs.list],
  ['catalog', 'Catalog', '⌕', catalog.render],
  ['stats', 'Statistics', '▤', stats.render],
  ['-'],
  ['users', 'Users', '☺', inventory.users],
  ['hostkeys', 'Host keys', '⚷', hostkeys.render],
  ['vmproviders', 'VM providers', '▦', vmproviders.render],
  ['cluster', 'Server nodes', '▥', cluster.render],
  ['settings', 'Settings', '⚙', settings.render],
];

const app = document.getElementById('app');
let cleanup = null;
let shell = null;
let stopFeed = null;

/** The current route: page name, sub-path parts and query parameters. */
export function route() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, query] = raw.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { page: parts[0] || '', parts: parts.slice(1), params: new URLSearchParams(query || '') };
}

export function go(hash) {
  if (location.hash === hash) render(); else location.hash = hash;
}

function loginPage() {
  stopLiveFeed();
  shell = null;
  const err = h('div', { class: 'error-box', role: 'alert', id: 'login-error', hidden: true });
  const email = h('input', { id: 'login-email', name: 'email', type: 'email', autocomplete: 'username', required: true, placeholder: 'admin@example.com' });
  const password = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const btn = h('button', { class: 'primary', type: 'submit', id: 'login-submit' }, 'Log in');
  const form = h('form', { id: 'login-form', onsubmit: async (ev) => {
    ev.preventDefault();
    err.hidden = true;
    btn.disabled = true;
    btn.textContent = 'Logging in…';
    try {
      const d = await gql('mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token user { id email firstName lastName isSuperuser } } }',
        { e: email.value.trim(), p: password.value });
      session.set(d.login.token, d.login.user);
      const back = sessionStorage.getItem('cyborg.after-login');
      sessionStorage.removeItem('cyborg.after-login');
      location.hash = back && !back.startsWith('#/login') ? back : '#/';
      render();
    } catch (e) {
      err.hidden = false;
      err.textContent = e.code === 'UNAUTHENTICATED' || /password|credential|invalid/i.test(e.message)
        ? 'Wrong email or password.' : e.message;
      password.select();
    } finally {
      btn.disabled = false;
      btn.textContent = 'Log in';
    }
  } },
  h('div', { class: 'field' }, h('label', { for: 'login-email' }, 'Email'), email),
  h('div', { class: 'field' }, h('label', { for: 'login-password' }, 'Password'), password),
  err, btn);
  mount(app, h('div', { class: 'login', 'data-page': 'login' },
    h('div', { class: 'card' },
      h('div', { class: 'row' }, h('img', { src: '/ui/favicon.svg', width: 28, height: 28, alt: '' }), h('h1', null, 'CyBorgBackup')),
      h('div', { class: 'muted' }, 'Sign in to manage your backups.'), form)));
  email.focus();
}

async function logout() {
  try { await gql('mutation { logout }'); } catch { /* the session may already be gone */ }
  session.clear();
  closeLive();
  location.hash = '#/login';
  render();
}

function buildShell() {
  const user = session.user || {};
  const nav = h('nav', { 'aria-label': 'main' }, NAV.map(([id, label, ico]) => (id === '-' ? h('div', { class: 'sep' })
    : h('a', { href: `#/${id}`, dataset: { nav: id } }, h('span', { class: 'ico', 'aria-hidden': 'true' }, ico), label))));
  nav.id = 'main-nav';
  const title = h('h1', { id: 'page-title' });
  const content = h('main', { class: 'content', id: 'content' });
  // On a phone the menu folds into a button; following a link folds it again.
  const side = h('aside', { class: 'side' });
  const toggle = h('button', { type: 'button', class: 'menu-toggle', id: 'menu-toggle', 'aria-controls': 'main-nav', 'aria-expanded': 'false', onclick: () => setMenu(!side.classList.contains('open')) },
    h('span', { 'aria-hidden': 'true' }, '☰'), 'Menu');
  const setMenu = (open) => { side.classList.toggle('open', open); toggle.setAttribute('aria-expanded', String(open)); };
  nav.addEventListener('click', (e) => { if (e.target.closest('a')) setMenu(false); });
  mount(side, h('div', { class: 'logo' }, h('img', { src: '/ui/favicon.svg', alt: '' }), 'CyBorgBackup'), toggle, nav);
  const hint = h('span', { class: 'muted small hint', id: 'search-hint', hidden: true }, 'Press ', h('span', { class: 'kbd' }, '/'), ' to search');
  mount(app, h('div', { class: 'shell' },
    side,
    h('div', { class: 'main' },
      h('header', { class: 'top' }, title, h('div', { class: 'grow' }),
        hint,
        h('span', { class: 'who', id: 'who' }, user.email || ''),
        h('button', { id: 'logout', type: 'button', onclick: logout }, 'Log out')),
      content)));
  shell = { nav, title, content, hint, setMenu };
  startLiveFeed();
}

// The status feed: the cursor is read before any page reads its data, and the subscription
// replays every change after it (also after a reconnect), so a page never misses a job start
// or end. Pages hear `job-status` window events; `resync` means changes were missed.
let feedCursor = null;
let feedReady = null;

function startLiveFeed() {
  stopLiveFeed();
  feedReady = gql('{ liveCursor }').then((d) => { feedCursor = d.liveCursor; }).catch(() => { feedCursor = null; });
  let stopped = false;
  let stop = null;
  feedReady.then(() => {
    if (stopped) return;
    stop = liveSubscribe('subscription($a: String) { jobStatus(after: $a) { jobId status cursor resync } }', () => ({ a: feedCursor }), {
      onData: (d) => {
        const ev = d.jobStatus;
        feedCursor = ev.cursor;
        window.dispatchEvent(new CustomEvent('job-status', { detail: ev }));
        if (!ev.resync && isFinished(ev.status)) toast(`Job ${ev.jobId} ${ev.status}`, ev.status === 'successful' ? 'ok' : 'bad');
      },
      onState: (st) => { document.body.dataset.live = st; },
    });
  });
  stopFeed = () => { stopped = true; if (stop) stop(); };
}

function stopLiveFeed() {
  if (stopFeed) stopFeed();
  stopFeed = null;
}

let renders = 0;

export async function render() {
  const mine = ++renders;
  if (cleanup) { try { cleanup(); } catch { /* ignore */ } cleanup = null; }
  closeModal();
  const r = route();
  if (!session.token || r.page === 'login') {
    if (session.token && r.page === 'login') { location.hash = '#/'; return; }
    if (r.page !== 'login' && location.hash) sessionStorage.setItem('cyborg.after-login', location.hash);
    if (location.hash !== '#/login') history.replaceState(null, '', '#/login');
    loginPage();
    return;
  }
  if (!shell) buildShell();
  await feedReady;
  if (mine !== renders) return; // a newer navigation took over
  const entry = NAV.find(([id]) => id === r.page);
  for (const a of shell.nav.querySelectorAll('a')) {
    a.classList.toggle('active', a.dataset.nav === r.page);
    if (a.dataset.nav === r.page) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  const page = r.page === 'jobs' && r.parts.length ? jobs.detail : entry ? entry[3] : null;
  shell.title.textContent = entry ? entry[1] : 'Not found';
  document.title = `${entry ? entry[1] : 'Not found'} · CyBorgBackup`;
  const content = shell.content;
  content.replaceChildren();
  content.dataset.page = r.page || 'dashboard';
  if (!page) { mount(content, h('div', { class: 'empty' }, 'No such page. ', h('a', { href: '#/' }, 'Back to the dashboard'))); return; }
  try {
    const c = await page(content, r);
    // A page left while it loaded stops its live views at once.
    if (typeof c === 'function') { if (mine === renders) cleanup = c; else c(); }
    // The "/" hint only where "/" has a search box to focus.
    if (mine === renders) shell.hint.hidden = !content.querySelector('[data-search]');
  } catch (e) {
    mount(content, h('div', { class: 'error-box', role: 'alert' }, e.message));
  }
}

whenUnauthenticated(() => {
  toast('Your session has ended: please log in again', 'bad');
  shell = null;
  sessionStorage.setItem('cyborg.after-login', location.hash);
  location.hash = '#/login';
});

window.addEventListener('hashchange', render);
// For tests and troubleshooting: cut the websocket as a network failure would.
window.cyborgDebug = { dropLiveConnection: closeLive };
document.addEventListener('keydown', (ev) => {
  const t = ev.target;
  const typing = t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement || t instanceof HTMLSelectElement || t.isContentEditable;
  if (ev.key === 'Escape' && isModalOpen()) { closeModal(); return; }
  if (ev.key === '/' && !typing && !ev.ctrlKey && !ev.metaKey) {
    const s = document.querySelector('[data-search]');
    if (s) { ev.preventDefault(); s.focus(); s.select(); }
  }
});
render();
