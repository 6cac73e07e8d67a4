// The dashboard: fleet health first (every series against its schedule), recoverability
// (primary and copies, verified archives, recovery-point objective), then counters,
// running jobs, size and job charts, anomalies, this month's calendar of scheduled runs and
// repositories approaching full; refreshed from the status feed as jobs start and finish.
import { h, mount, table, loading, errorBox, inlineSvg, toast } from '../dom.js';
import { gql, list, chartSvg, liveSubscribe, session } from '../api.js';
import { bytes, ago, isFinished } from '../format.js';
import { statusBadge, progressView, waitsUntil } from './jobs.js';
import { fleetCard, recoverabilityCard } from './health.js';


export async function render(content, r) {
  const fleet = fleetCard(r.params);
  const recovery = recoverabilityCard(r.params);
  const counters = h('div', { class: 'grid g4', id: 'counters' }, loading());
  const sizeChart = h('div', { class: 'chart', id: 'chart-size' }, loading());
  const jobsChart = h('div', { class: 'chart', id: 'chart-jobs' }, loading());
  const running = h('div', { id: 'running-jobs' }, loading());
  const cal = h('div', { id: 'calendar' }, loading());
  const anomalies = h('div', { id: 'anomalies' }, loading());
  const full = h('div', { id: 'repositories-full' }, loading());
  mount(content,
    fleet.card,
    recovery.card,
    counters,
    h('div', { class: 'grid g2', style: 'margin-top: 16px' },
      h('div', { class: 'card' }, h('h2', null, 'Running jobs'), running),
      h('div', { class: 'card' }, h('h2', null, 'Anomalies'), anomalies)),
    h('div', { class: 'grid g2' },
      h('div', { class: 'card' }, h('h2', null, 'Repository size, last 30 days'), sizeChart),
      h('div', { class: 'card' }, h('h2', null, 'Backups: successes and failures'), jobsChart)),
    h('div', { class: 'grid g2' },
      h('div', { class: 'card' }, h('h2', null, `Scheduled runs in ${new Date().toLocaleString('en', { month: 'long', year: 'numeric', timeZone: 'UTC' })}`), cal),
      h('div', { class: 'card' }, h('h2', null, 'Repositories approaching full'), full)));

  // Progress of running jobs arrives over the websocket; cells are found by job id.
  const progressCells = new Map();
  const lastProgress = new Map();
  const stopProgress = liveSubscribe('subscription { jobProgress { jobId progress { files originalBytes current percent } } }', () => ({}), {
    onData: (d) => {
      const { jobId, progress } = d.jobProgress;
      lastProgress.set(jobId, progress);
      const cell = progressCells.get(jobId);
      if (cell) mount(cell, progressView(progress));
    },
  });
  let countersRead = 0;
  const loadCounters = async () => {
    const mine = ++countersRead;
    const today = new Date().toISOString().slice(0, 10);
    const [clients, policies, recent] = await Promise.all([list('clients', 'id', {}, { first: 1 }), list('policies', 'id', {}, { first: 1 }),
      list('jobs', 'id jobType status created finished notBefore progress { files originalBytes current percent }', {}, { first: 200 })]);
    const jobs = recent.nodes;
    // Today's jobs: counted by the server when it filters by time, else from the recent ones.
    let todays = jobs.filter((j) => j.created.slice(0, 10) === today);
    let todayCount = todays.length;
    try {
      const t = await list('jobs', 'id status jobType jobExplanation', { since: ['DateTime', `${today}T00:00:00Z`] }, { first: 500 });
      todays = t.nodes;
      todayCount = t.totalCount;
    } catch { /* an older server: the recent jobs are enough */ }
    if (mine !== countersRead) return; // a newer read is on its way
    // A backup fails when it fails, errs, or is canceled because the job it waited for failed.
    const failures = todays.filter((j) => (j.jobType || 'job') === 'job' && (['failed', 'error'].includes(j.status)
      || (j.status === 'canceled' && /^dependency job/.test(j.jobExplanation || ''))));
    const since = encodeURIComponent(`${today}T00:00:00Z`);
    const stat = (id, n, l, href, bad) => h('a', { class: `card stat ${bad ? 'bad' : ''}`, id, href }, h('div', { class: 'n' }, String(n)), h('div', { class: 'l' }, l));
    mount(counters,
      stat('count-clients', clients.totalCount, 'clients', '#/clients'), stat('count-policies', policies.totalCount, 'policies', '#/policies'),
      stat('count-jobs-today', todayCount, 'jobs today', `#/jobs?since=${since}`),
      stat('count-failures', failures.length, 'backups failed today', `#/jobs?type=job&failed=1&since=${since}`, failures.length > 0));
    const live = jobs.filter((j) => !isFinished(j.status));
    progressCells.clear();
    const progressCell = (j) => {
      const cell = h('div', { dataset: { job: j.id, running: String(j.status === 'running') } }, j.status === 'running' ? progressView(lastProgress.get(j.id) || j.progress) : null);
      progressCells.set(j.id, cell);
      return cell;
    };
    mount(running, live.length ? table([
      { label: 'Job', cell: (j) => h('a', { href: `#/jobs/${j.id}` }, `#${j.id} ${j.jobType}`) },
      { label: 'Status', cell: (j) => h('div', { class: 'rstate' }, statusBadge(j.status), waitsUntil(j)) },
      { label: 'Progress', cell: progressCell },
      { label: 'Since', cell: (j) => ago(j.created) },
    ], live) : h('div', { class: 'empty' }, 'Nothing running.'));
  };
  const loadCharts = async () => {
    await Promise.all([['size', sizeChart], ['jobs', jobsChart]].map(async ([kind, el]) => {
      try {
        // Drawn at the size shown, so that its text is as large as the page's.
        const width = Math.max(320, Math.min(1600, Math.round(el.clientWidth || 640)));
        inlineSvg(el, await chartSvg(kind, { days: 30, width, height: Math.round(Math.max(240, width * 0.5)) }));
      } catch (e) {
        mount(el, errorBox(e));
      }
    }));
  };
  const loadCalendar = async () => {
    const now = new Date();
    const y = now.getUTCFullYear();
    const m = now.getUTCMonth() + 1;
    const pols = await list('policies', `id name enabled calendar(year: ${y}, month: ${m})`, {}, { first: 500 });
    const byDay = new Map();
    for (const p of pols.nodes.filter((x) => x.enabled)) {
      for (const t of p.calendar) {
        const day = Number(t.slice(8, 10));
        if (!byDay.has(day)) byDay.set(day, []);
        byDay.get(day).push(`${t.slice(11, 16)} ${p.name}`);
      }
    }
    const first = new Date(Date.UTC(y, m - 1, 1));
    const days = new Date(Date.UTC(y, m, 0)).getUTCDate();
    const lead = (first.getUTCDay() + 6) % 7;
    const cells = [];
    for (let i = 0; i < lead; i += 1) cells.push(h('div', { class: 'day other' }));
    for (let day = 1; day <= days; day += 1) {
      const ev = (byDay.get(day) || []).sort();
      cells.push(h('div', { class: `day ${day === now.getUTCDate() ? 'today' : ''}`, title: ev.join('\n') },
        h('div', { class: 'd' }, String(day)), ev.slice(0, 2).map((e) => h('div', { class: 'ev' }, e)),
        ev.length > 2 ? h('div', { class: 'muted' }, `+${ev.length - 2} more`) : null));
    }
    mount(cal, h('div', { class: 'cal' }, ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'].map((x) => h('div', { class: 'dow' }, x)), cells));
  };
  const loadAnomalies = async () => {
    const since = new Date(Date.now() - 30 * 86400e3).toISOString();
    const d = { anomalies: (await list('anomalies', 'kind reason clientHostname archive { id name time } added removed changed acknowledgedAt', { since: ['DateTime', since] }, { first: 50 })).nodes };
    mount(anomalies, d.anomalies.length ? table([
      { label: 'Archive', cell: (a) => h('span', { class: 'mono' }, a.archive.name) },
      { label: 'Client', cell: (a) => a.clientHostname },
      { label: 'Kind', cell: (a) => h('span', { class: 'badge bad' }, a.kind.replace('_', ' ')) },
      { label: 'Why', cell: (a) => a.reason },
      { label: 'When', cell: (a) => ago(a.archive.time) },
      // An unacknowledged anomaly pauses prune and compact of its series.
      { label: 'Prune', cell: (a) => (a.acknowledgedAt
        ? h('span', { class: 'muted' }, `acknowledged ${ago(a.acknowledgedAt)}`)
        : h('span', null, h('span', { class: 'badge bad', title: 'prune and compact of this series wait for a superuser to acknowledge' }, 'paused'), ' ',
          session.user && session.user.isSuperuser && h('button', { class: 'link', dataset: { acknowledge: a.archive.name }, 'aria-label': `acknowledge the anomaly of ${a.archive.name}`, onclick: async () => {
            try {
              await gql('mutation($a: Int!) { acknowledgeAnomaly(archive: $a) { id } }', { a: a.archive.id });
              toast('Anomaly acknowledged: pruning resumes', 'ok');
              guard(anomalies, loadAnomalies);
            } catch (e) { toast(e.message, 'bad'); }
          } }, 'Acknowledge'))) },
    ], d.anomalies) : h('div', { class: 'empty' }, 'No anomaly in the last 30 days.'));
  };
  const loadFull = async () => {
    const repos = await list('repositories', 'id name', {}, { first: 500 });
    const fc = await Promise.all(repos.nodes.map(async (r) => {
      try {
        const f = await gql('query($r: Int!) { repositoryForecast(repository: $r) { capacity used fullInDays description } }', { r: r.id });
        return { ...r, ...f.repositoryForecast };
      } catch { return null; }
    }));
    const risky = fc.filter((r) => r && ((r.capacity && r.used / r.capacity > 0.8) || (r.fullInDays !== null && r.fullInDays !== undefined && r.fullInDays < 60)));
    const tracked = fc.filter((r) => r && r.capacity);
    mount(full, risky.length ? table([
      { label: 'Repository', cell: (r) => r.name },
      { label: 'Used', class: 'num', cell: (r) => `${bytes(r.used)}${r.capacity ? ` of ${bytes(r.capacity)}` : ''}` },
      { label: 'Full in', class: 'num', cell: (r) => (r.fullInDays !== null ? `${Math.round(r.fullInDays)} days` : '—') },
      { label: '', cell: (r) => h('span', { class: 'muted small' }, r.description) },
    ], risky) : h('div', { class: 'empty' }, tracked.length ? 'Every repository has room for at least 60 days.' : 'No repository has a capacity set (Statistics → repository capacity).'));
  };
  const guard = (el, f) => f().catch((e) => mount(el, errorBox(e)));
  // Listening starts before the first read: a change during loading triggers a reload.
  let timer = null;
  let finished = false;
  const onJob = (ev) => {
    finished = finished || ev.detail.resync || isFinished(ev.detail.status);
    clearTimeout(timer);
    timer = setTimeout(() => {
      guard(counters, loadCounters);
      fleet.load();
      if (finished) { finished = false; loadCharts(); guard(anomalies, loadAnomalies); recovery.load(); }
    }, 300);
  };
  window.addEventListener('job-status', onJob);
  await Promise.all([fleet.load(), recovery.load(), guard(counters, loadCounters), loadCharts(), guard(cal, loadCalendar), guard(anomalies, loadAnomalies), guard(full, loadFull)]);
  return () => { clearTimeout(timer); window.removeEventListener('job-status', onJob); stopProgress(); };
}
