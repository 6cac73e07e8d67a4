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

// Recoverability (3-2-1): can each series be restored, from how many places, and is its
// newest verified archive younger than the policy's recovery-point objective?
const RECOVERY_FIELDS = `policyId policyName clientId hostname state reasons rpoHours rpoMet copies good appendOnly otherHosts newestVerifiedAgeSeconds
  repositories { repositoryId repositoryName role host appendOnly newestArchive newestVerified verifiedAgeSeconds lastComparison lastCheckStatus lastCheck lastDrillVerdict lastDrill lastPassedDrill good problems }`;
const RECOVERY_KIND = { ok: 'ok', degraded: 'warn', unmet: 'bad' };
const RECOVERY_RANK = { unmet: 0, degraded: 1, ok: 2 };
const RECOVERY_COUNTERS = [
  ['ok', 'recoverable', 'every repository holds a verified archive and the recovery-point objective is met'],
  ['degraded', 'degraded', 'a repository failed its check or drill, a copy differs from its primary, or is tampered or disabled'],
  ['unmet', 'objective unmet', 'no verified archive younger than the policy’s recovery-point objective'],
];

/** "3 hours", "2 days": an age in seconds. */
export function age(secs) {
  if (secs === null || secs === undefined) return '—';
  const f = (n, u) => `${Math.round(n)} ${u}${Math.round(n) === 1 ? '' : 's'}`;
  if (secs < 60) return 'under a minute';
  if (secs < 3600) return f(secs / 60, 'minute');
  if (secs < 86400 * 2) return f(secs / 3600, 'hour');
  return f(secs / 86400, 'day');
}

/** One word and a colour for the last check or drill of a repository. */
function lastRun(label, status, time) {
  if (!status) return h('span', { class: 'muted' }, `${label} never`);
  const good = ['successful', 'passed', 'ok'].includes(status);
  return h('span', { class: good ? '' : 'bad-text', title: date(time) }, `${label} `, badge(status, good ? 'ok' : 'bad'), time ? ` ${ago(time)}` : '');
}

/** A repository of a series on one or two lines: name, role, host, last drill and check. */
function recoveryRepository(r) {
  const comparison = r.role === 'copy' && r.lastComparison
    ? h('span', { class: r.lastComparison === 'differs' ? 'bad-text' : 'muted', title: 'the newest copy archive compared with its primary archive of the same run' }, ` · ${r.lastComparison}`) : null;
  return h('li', { class: `rrepo ${r.good ? 'good' : 'notgood'}`, dataset: { repository: r.repositoryId, role: r.role } },
    h('div', { class: 'rname' },
      h('span', { class: 'mark', title: r.good ? 'holds a verified archive and shows no problem' : ['not a good place to restore from right now', ...r.problems].join('\n'), 'aria-hidden': 'true' }, r.good ? '✓' : '✗'),
      h('strong', null, r.repositoryName),
      h('span', { class: 'muted' }, ` ${r.role}${r.host ? ` on ${r.host}` : ''}`),
      r.appendOnly ? h('span', { class: 'muted', title: 'written through append-only credentials: a compromised client cannot delete its archives' }, ' · append-only') : null,
      comparison),
    h('div', { class: 'rruns' }, lastRun('drill', r.lastDrillVerdict, r.lastDrill), ' · ', lastRun('check', r.lastCheckStatus, r.lastCheck),
      // After a failed drill, when this repository last restored well.
      r.lastDrillVerdict === 'failed' ? h('span', { class: 'muted', title: date(r.lastPassedDrill) }, r.lastPassedDrill ? ` · last passed ${ago(r.lastPassedDrill)}` : ' · never passed') : null),
    // Problems are the series' reasons (State column); say why a quiet repository is not good.
    !r.good && !r.problems.length ? h('div', { class: 'rruns muted' }, r.newestArchive ? 'newest archive not verified yet (catalogue or comparison pending)' : 'no archive yet') : null);
}

/** The recovery-point objective: met, missed, or none set. */
function rpoCell(s) {
  if (s.rpoHours === null || s.rpoHours === undefined) return h('span', { class: 'muted', title: 'set a recovery-point objective on the policy' }, 'none set');
  const label = `${s.rpoHours} h`;
  return h('span', { class: 'nowrap', dataset: { rpoMet: String(!!s.rpoMet) } }, badge(s.rpoMet ? 'met' : 'missed', s.rpoMet ? 'ok' : 'bad'), h('span', { class: 'muted' }, ` ${label}`));
}

/** The recoverability card; `params` may hold `recovery` (a state filter). */
export function recoverabilityCard(params) {
  const filter = params.get('recovery') || '';
  const counters = h('div', { class: 'health-counters', id: 'recovery-counters' }, loading());
  const body = h('div', { id: 'recoverability-list' });
  const card = h('section', { class: 'card', id: 'recoverability', 'aria-labelledby': 'recoverability-title' },
    h('div', { class: 'row', style: 'margin-bottom: 10px' },
      h('h2', { id: 'recoverability-title', style: 'margin: 0' }, 'Recoverability'),
      h('span', { class: 'muted small' }, 'Each series in its primary and copy repositories (3-2-1): how many hold a verified archive, on how many other hosts, and whether the newest is younger than the policy’s recovery-point objective.')),
    counters, body);
  let reads = 0;
  const load = async () => {
    const mine = ++reads;
    let d;
    try {
      d = (await gql(`query($s: String) { recoverability(state: $s) { ok degraded unmet series { ${RECOVERY_FIELDS} } } }`, { s: filter || null })).recoverability;
    } catch (e) {
      if (mine === reads) { mount(counters); mount(body, errorBox(e)); }
      return;
    }
    if (mine !== reads) return;
    mount(counters, RECOVERY_COUNTERS.map(([state, label, title]) => {
      const n = d[state];
      const kind = state === 'ok' ? 'ok' : RECOVERY_KIND[state];
      return h('a', { class: `hc ${n > 0 ? kind : 'zero'} ${filter === state ? 'active' : ''}`, title, id: `recovery-${state}`,
        href: filter === state ? '#/' : `#/?recovery=${state}`, 'aria-label': `${n} ${label}: show them` },
      h('span', { class: 'n' }, String(n)), h('span', { class: 'l' }, label));
    }));
    const rows = [...d.series].sort((a, b) => (RECOVERY_RANK[a.state] - RECOVERY_RANK[b.state]) || a.hostname.localeCompare(b.hostname) || a.policyName.localeCompare(b.policyName));
    mount(body,
      filter && h('div', { class: 'row small', style: 'margin: 8px 0' }, h('span', null, `Showing ${rows.length} ${filter} series.`), h('a', { href: '#/' }, 'Show every series')),
      table([
        { label: 'State', cell: (s) => h('div', { class: 'rstate', dataset: { recovery: s.state } }, badge(s.state, RECOVERY_KIND[s.state]),
          s.state !== 'ok' && s.reasons.length ? h('ul', { class: 'reasons' }, s.reasons.map((x) => h('li', null, x))) : null) },
        { label: 'Client', cell: (s) => h('a', { href: `#/jobs?client=${s.clientId}&type=job`, title: 'backups of this client' }, s.hostname) },
        { label: 'Policy', cell: (s) => h('a', { href: `#/policies?focus=${s.policyId}` }, s.policyName) },
        { label: 'Good', class: 'nowrap', cell: (s) => h('span', { title: 'repositories holding a verified archive and showing no problem', dataset: { good: s.good } }, `${s.good} of ${s.repositories.length}`) },
        { label: 'Objective', cell: rpoCell },
        { label: 'Newest verified', class: 'nowrap', cell: (s) => (s.newestVerifiedAgeSeconds === null ? h('span', { class: 'muted' }, 'none') : `${age(s.newestVerifiedAgeSeconds)} old`) },
        { label: 'Repositories: last drill and check', cell: (s) => h('ul', { class: 'rrepos' }, s.repositories.map(recoveryRepository)) },
        { label: 'Copies', class: 'num', cell: (s) => String(s.copies) },
        { label: 'Append-only', class: 'num', cell: (s) => h('span', { title: 'repositories written through append-only credentials' }, String(s.appendOnly)) },
        { label: 'Other hosts', class: 'num', cell: (s) => h('span', { title: 'distinct repository hosts other than the client itself' }, String(s.otherHosts)) },
      ], rows, {
        key: (s) => `${s.policyId}-${s.clientId}`,
        empty: filter ? `No ${filter} series.` : 'No series yet: a policy with clients makes one series per client.',
      }));
  };
  return { card, load };
}
