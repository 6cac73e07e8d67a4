// Fleet health: "is every host backed up?" — every series (policy × client) with the age of
// its last successful backup against its schedule (ok, late after 1.5 intervals, overdue after
// 2, never), its last backup, restore drill and repository; counters that filter the list.
// Also the readiness findings of policies (why a policy cannot run), shared with other pages.
import { h, mount, table, badge, loading, errorBox } from '../dom.js';
import { gql } from '../api.js';
import { date, ago } from '../format.js';

const SERIES_FIELDS = `policyId policyName clientId hostname repositoryId repositoryName crontab state lastSuccess lastSuccessJobId
  ageSeconds intervalSeconds nextRun lastJobId lastStatus lastExplanation lastFailed drillVerdict drillTime repositoryState`;

const STATE_KIND = { ok: 'ok', late: 'warn', overdue: 'bad', never: 'bad', disabled: '' };
// Problems first, then by host.
const RANK = { overdue: 0, never: 1, late: 2, ok: 3, disabled: 4 };

/** "1 day", "6 hours": a schedule interval. */
export function every(secs) {
  if (!secs) return '—';
  const f = (n, u) => `${n} ${u}${n === 1 ? '' : 's'}`;
  if (secs % 86400 === 0) return f(secs / 86400, 'day');
  if (secs % 3600 === 0) return f(secs / 3600, 'hour');
  if (secs >= 3600) return f(Math.round(secs / 3600), 'hour');
  return f(Math.round(secs / 60), 'minute');
}

const COUNTERS = [
  ['ok', 'ok', 'on time', 'ok', 'last successful backup at most 1.5 schedule intervals old'],
  ['late', 'late', 'late', 'warn', 'last successful backup older than 1.5 schedule intervals'],
  ['overdue', 'overdue', 'overdue', 'bad', 'last successful backup older than 2 schedule intervals'],
  ['never', 'never', 'never backed up', 'bad', 'no successful backup, and the first scheduled run is past'],
  ['failing', 'failing', 'last backup failed', 'bad', 'failed, errored, or canceled because the job it waited for failed'],
  ['drillsFailed', null, 'drill failed', 'bad', 'the last restore drill of the series failed'],
  ['nearlyFull', null, 'nearly full repository', 'warn', 'the repository uses 90% of its capacity'],
  ['tampered', null, 'tampered repository', 'bad', 'archives vanished from the repository without a prune by this server: prune and compact are stopped'],
];

/** The state badge; a series with no success yet whose first run is still ahead is "not due yet". */
function stateBadge(s) {
  if (s.state === 'ok' && !s.lastSuccess) return badge('not due yet', '');
  return badge(s.state, STATE_KIND[s.state]);
}

/** The repository's name and, unless ok, its state. */
function repositoryCell(s) {
  const mark = { nearly_full: badge('nearly full', 'warn'), tampered: badge('tampered', 'bad') }[s.repositoryState] || null;
  return h('span', null, s.repositoryName, ' ', mark);
}

/** The fleet health card; `params` may hold `health` (a state filter). */
export function fleetCard(params) {
  const filter = params.get('health') || '';
  const counters = h('div', { class: 'health-counters', id: 'health-counters' }, loading());
  const body = h('div', { id: 'fleet-health-list' });
  const card = h('section', { class: 'card', id: 'fleet-health', 'aria-labelledby': 'fleet-health-title' },
    h('div', { class: 'row', style: 'margin-bottom: 10px' },
      h('h2', { id: 'fleet-health-title', style: 'margin: 0' }, 'Fleet health'),
      h('span', { class: 'muted small' }, 'Each policy on each client, against its schedule: late after 1.5 intervals without a successful backup, overdue after 2.')),
    counters, body);
  let reads = 0;
  const load = async () => {
    const mine = ++reads;
    let d;
    try {
      d = (await gql(`query($s: String) { fleetHealth(state: $s) { total ok late overdue never disabled failing drillsFailed nearlyFull tampered series { ${SERIES_FIELDS} } } }`,
        { s: filter || null })).fleetHealth;
    } catch (e) {
      if (mine === reads) mount(body, errorBox(e));
      return;
    }
    if (mine !== reads) return;
    mount(counters, COUNTERS.filter(([key]) => key !== 'tampered' || d.tampered > 0).map(([key, state, label, kind, title]) => {
      const n = d[key];
      const cls = `hc ${n > 0 ? kind : 'zero'} ${filter && filter === state ? 'active' : ''}`;
      const inner = [h('span', { class: 'n' }, String(n)), h('span', { class: 'l' }, label)];
      return state
        ? h('a', { class: cls, title, href: filter === state ? '#/' : `#/?health=${state}`, id: `health-${state}`, 'aria-label': `${n} ${label}: show them` }, inner)
        : h('span', { class: cls, title, id: `health-${key}` }, inner);
    }));
    const rows = [...d.series].sort((a, b) => (RANK[a.state] - RANK[b.state]) || (b.lastFailed - a.lastFailed) || a.hostname.localeCompare(b.hostname));
    mount(body,
      filter && h('div', { class: 'row small', style: 'margin: 8px 0' }, h('span', null, `Showing ${rows.length} ${filter} series.`), h('a', { href: '#/' }, 'Show every series')),
      table([
        { label: 'State', cell: (s) => h('span', { dataset: { state: s.state } }, stateBadge(s)) },
        { label: 'Client', cell: (s) => h('a', { href: `#/jobs?client=${s.clientId}&type=job`, title: 'backups of this client' }, s.hostname) },
        { label: 'Policy', cell: (s) => h('a', { href: `#/policies?focus=${s.policyId}` }, s.policyName) },
        { label: 'Last success', class: 'nowrap', cell: (s) => (s.lastSuccess
          ? h('a', { href: `#/jobs/${s.lastSuccessJobId}`, title: date(s.lastSuccess) }, ago(s.lastSuccess))
          : h('span', { class: 'muted' }, 'never')) },
        { class: 'wide-only', label: 'Schedule', cell: (s) => h('span', { title: s.crontab }, `every ${every(s.intervalSeconds)}`) },
        { label: 'Last backup', cell: (s) => (s.lastJobId
          ? h('a', { href: `#/jobs/${s.lastJobId}`, title: s.lastExplanation || s.lastStatus }, badge(s.lastFailed ? (s.lastStatus === 'canceled' ? 'dependency failed' : s.lastStatus) : s.lastStatus, s.lastFailed ? 'bad' : s.lastStatus))
          : '—') },
        { class: 'wide-only', label: 'Drill', cell: (s) => (s.drillVerdict ? h('span', { title: date(s.drillTime) }, badge(s.drillVerdict, s.drillVerdict === 'passed' ? 'ok' : 'bad')) : h('span', { class: 'muted' }, 'never')) },
        { class: 'wide-only', label: 'Repository', cell: repositoryCell },
        { class: 'wide-only', label: 'Next run', cell: (s) => (s.nextRun ? h('span', { title: date(s.nextRun) }, ago(s.nextRun)) : '—') },
      ], rows, {
        key: (s) => `${s.policyId}-${s.clientId}`,
        empty: filter ? `No ${filter} series.` : 'No series yet: a policy with clients makes one series per client.',
      }));
  };
  return { card, load };
}

/** Readiness of every policy (or one): {policyId: {ready, findings}}. */
export async function readiness(policy = null) {
  const d = await gql('query($p: Int) { policyReadiness(policy: $p) { policyId ready findings { code severity message fix } } }', { p: policy });
  return Object.fromEntries(d.policyReadiness.map((r) => [r.policyId, r]));
}

const FIX_LABEL = { hostkeys: 'Host keys', 'settings/ssh': 'SSH key settings', clients: 'Clients', repositories: 'Repositories', policies: 'Policies', schedules: 'Schedules' };

/** A link to the page that fixes a finding. */
function fixLink(fix) {
  const [page, id] = fix.split('/');
  const route = page === 'settings' ? `#/settings/${id || ''}` : id && page !== 'policies' ? `#/${page}?focus=${id}` : `#/${page}`;
  return h('a', { href: route }, `Fix on ${FIX_LABEL[fix] || FIX_LABEL[page] || page}`);
}

/** The findings of one policy as a list (errors first). */
export function findingsView(r) {
  if (!r || !r.findings.length) return null;
  const sorted = [...r.findings].sort((a, b) => (a.severity === 'error' ? 0 : 1) - (b.severity === 'error' ? 0 : 1));
  return h('ul', { class: 'findings' }, sorted.map((f) => h('li', { class: f.severity, dataset: { code: f.code } },
    h('span', { class: 'mark', title: f.severity === 'error' ? 'the next run fails' : 'worth knowing' }, f.severity === 'error' ? '✗' : '!'),
    h('span', null, f.message, ' ', fixLink(f.fix)))));
}

const WORST = ['overdue', 'never', 'late', 'ok', 'disabled'];

/**
 * Fills every `[data-health-client]` / `[data-health-policy]` element under `el` with the
 * states of that client's or policy's series (worst first), each linking to the dashboard.
 */
export async function fillHealth(el) {
  const spots = el.querySelectorAll('[data-health-client], [data-health-policy]');
  if (!spots.length) return;
  let series = [];
  try {
    series = (await gql(`{ fleetHealth { series { policyId clientId hostname policyName state lastFailed } } }`)).fleetHealth.series;
  } catch { return; }
  for (const spot of spots) {
    const mine = series.filter((x) => (spot.dataset.healthClient ? String(x.clientId) === spot.dataset.healthClient : String(x.policyId) === spot.dataset.healthPolicy));
    if (!mine.length) { mount(spot, h('span', { class: 'muted' }, 'no series')); continue; }
    const counts = new Map();
    for (const x of mine) counts.set(x.state, (counts.get(x.state) || 0) + 1);
    const failing = mine.filter((x) => x.lastFailed && x.state !== 'disabled').length;
    mount(spot, h('span', { class: 'row', style: 'gap: 4px' },
      WORST.filter((st) => counts.has(st)).map((st) => h('a', { href: `#/?health=${st}`, title: mine.filter((x) => x.state === st).map((x) => `${x.hostname} / ${x.policyName}`).join('\n') },
        badge(mine.length > 1 ? `${counts.get(st)} ${st}` : st, STATE_KIND[st]))),
      failing > 0 && h('a', { href: '#/?health=failing' }, badge(`${failing} failed`, 'bad'))));
  }
}
