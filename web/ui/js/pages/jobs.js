// Jobs: the filtered list (updated live) and a job's detail with its log streamed over the
// websocket (`jobOutput`, `jobStatus`), sizes, duration, cancel and relaunch.
import { h, mount, toast, table, badge, loading, errorBox, confirmDo, filterBox } from '../dom.js';
import { gql, list, liveSubscribe } from '../api.js';
import { bytes, date, duration, ago, isFinished } from '../format.js';

const STATUSES = ['new', 'pending', 'waiting', 'running', 'successful', 'failed', 'error', 'canceled'];
const TYPES = [['job', 'backup'], ['prepare_client', 'prepare client'], ['prepare_repository', 'prepare repository'], ['catalog', 'catalog'], ['prune', 'prune'], ['check', 'check'], ['restore', 'restore'], ['restore_test', 'restore test']];
const JOB_FIELDS = 'id name jobType status policyId clientId repositoryId archiveName launchType created started finished elapsed exitCode jobExplanation originalSize deduplicatedSize nfiles notBefore';

/** A queued job held back until its time (a copy's backup after its schedule offset). */
const waiting = (j) => !isFinished(j.status) && j.status !== 'running' && j.notBefore && Date.parse(j.notBefore) > Date.now();

/** "waits until 14:30 UTC" (with the date when it is not today). */
export function waitsUntil(j) {
  if (!waiting(j)) return null;
  const t = new Date(j.notBefore);
  const today = t.toISOString().slice(0, 10) === new Date().toISOString().slice(0, 10);
  const hhmm = t.toISOString().slice(11, 16);
  return h('span', { class: 'muted small nowrap', dataset: { notBefore: j.notBefore }, title: `a copy’s backup starts after its schedule offset: ${date(j.notBefore)}` },
    `waits until ${today ? '' : `${t.toISOString().slice(0, 10)} `}${hhmm} UTC`);
}

/** A link to the page that fixes what a job's explanation names. */
function fixFor(why) {
  const link = (href, text) => [' ', h('a', { href, class: 'fix' }, text)];
  if (/host key/i.test(why)) return link('#/hostkeys', 'Review the host keys');
  if (/ssh key|authorized_keys/i.test(why)) return link('#/settings/ssh', 'Open the SSH key settings');
  if (/^dependency job (\d+)/.test(why)) return link(`#/jobs/${why.match(/^dependency job (\d+)/)[1]}`, 'Open the job it waited for');
  return null;
}

/** A backup that counts as a failure of its series. */
export const isFailure = (j) => ['failed', 'error'].includes(j.status) || (j.status === 'canceled' && /^dependency job/.test(j.jobExplanation || ''));

/** Seconds since a job started. */
const sinceStart = (j) => Math.max(0, (Date.now() - Date.parse(j.started)) / 1000);

/** A progress bar with its figures: determinate when the server estimates a percentage. */
export function progressView(p) {
  if (!p) return h('span', { class: 'muted small' }, 'starting…');
  const pct = typeof p.percent === 'number' ? Math.max(0, Math.min(100, p.percent)) : null;
  const bar = h('div', { class: `progress ${pct === null ? '' : 'determinate'}`, role: 'progressbar', 'aria-label': 'job progress',
    'aria-valuemin': 0, 'aria-valuemax': 100, ...(pct === null ? {} : { 'aria-valuenow': Math.round(pct) }) },
  h('div', pct === null ? null : { style: `width: ${pct.toFixed(1)}%` }));
  const figures = [pct === null ? null : `${Math.round(pct)}%`, p.files ? `${p.files.toLocaleString('en')} files` : null,
    p.originalBytes ? bytes(p.originalBytes) : null].filter(Boolean).join(' · ');
  return h('div', { class: 'job-progress', dataset: { percent: pct === null ? '' : String(Math.round(pct)), files: String(p.files) } },
    bar, h('span', { class: 'small' }, figures), p.current ? h('div', { class: 'muted small mono ellipsis', title: p.current }, p.current) : null);
}

export const statusBadge = (s) => h('span', { class: 'row', style: 'gap: 6px; flex-wrap: nowrap' }, badge(s),
  s === 'running' ? h('div', { class: 'progress', title: 'running' }, h('div')) : null);

export async function list_(content, r) {
  const p = r.params;
  let refs = { policies: [], clients: [] };
  try {
    const [pol, cli] = await Promise.all([list('policies', 'id name', {}, { first: 500 }), list('clients', 'id hostname', {}, { first: 500 })]);
    refs = { policies: pol.nodes, clients: cli.nodes };
  } catch { /* the filters just lose their names */ }
  const sel = (name, label, opts) => h('select', { name, 'aria-label': label, id: `filter-${name}`, onchange: apply },
    h('option', { value: '' }, `Any ${label}`), opts.map(([v, l]) => h('option', { value: String(v), selected: p.get(name) === String(v) }, l)));
  const filters = h('div', { class: 'row', id: 'job-filters' },
    sel('status', 'status', STATUSES.map((s) => [s, s])), sel('type', 'type', TYPES),
    sel('policy', 'policy', refs.policies.map((x) => [x.id, x.name])), sel('client', 'client', refs.clients.map((x) => [x.id, x.hostname])));
  const search = h('input', { type: 'search', class: 'search', name: 'q', 'data-search': true, placeholder: 'Search jobs (name, archive)…', value: p.get('q') || '', 'aria-label': 'search jobs',
    onkeydown: (e) => { if (e.key === 'Enter') apply(); } });
  function apply() {
    const q = new URLSearchParams();
    if (search.value.trim()) q.set('q', search.value.trim());
    for (const s of filters.querySelectorAll('select')) if (s.value) q.set(s.name, s.value);
    for (const k of ['since', 'failed']) if (p.get(k)) q.set(k, p.get(k));
    location.hash = `#/jobs${q.toString() ? `?${q}` : ''}`;
  }
  const pname = (id) => (refs.policies.find((x) => x.id === id) || {}).name || (id ? `#${id}` : '—');
  const cname = (id) => (refs.clients.find((x) => x.id === id) || {}).hostname || (id ? `#${id}` : '—');
  const body = h('div', { id: 'jobs-list' }, loading());
  const num = (k) => (p.get(k) ? Number(p.get(k)) : null);
  let rows = [];
  let shown = 100;
  let reads = 0;
  const load = async () => {
    const mine = ++reads;
    try {
      const res = await list('jobs', JOB_FIELDS, {
        status: ['String', p.get('status')], jobType: ['String', p.get('type')], policy: ['Int', num('policy')], client: ['Int', num('client')],
        since: ['DateTime', p.get('since')],
      }, { first: Math.min(shown, 500), search: p.get('q') || '' }, (j) => `${j.name} ${j.archiveName}`);
      if (mine !== reads) return; // a newer read is on its way
      rows = p.get('failed') ? res.nodes.filter(isFailure) : res.nodes;
      const more = res.hasNextPage && shown < 500 && h('div', { class: 'row', style: 'margin-top: 10px' },
        h('span', { class: 'muted' }, `${rows.length} of ${res.totalCount}`), h('button', { onclick: () => { shown += 100; load(); } }, 'Show more'));
      mount(body, table([
        { label: 'Id', class: 'num', cell: (j) => h('a', { href: `#/jobs/${j.id}` }, String(j.id)) },
        { label: 'Job', cell: (j) => h('a', { href: `#/jobs/${j.id}` }, j.name || j.jobType) },
        { label: 'Type', cell: (j) => (TYPES.find(([t]) => t === j.jobType) || [0, j.jobType])[1] },
        { label: 'Status', cell: (j) => (waiting(j) ? h('div', { class: 'rstate' }, statusBadge(j.status), waitsUntil(j)) : statusBadge(j.status)) },
        { label: 'Policy', cell: (j) => pname(j.policyId) },
        { label: 'Client', cell: (j) => cname(j.clientId) },
        { label: 'Created', cell: (j) => h('span', { title: date(j.created) }, ago(j.created)) },
        { label: 'Duration', class: 'num', cell: (j) => (j.started ? duration(j.elapsed) : '—') },
        { label: 'Files', class: 'num', cell: (j) => (j.nfiles ? j.nfiles : '—') },
        { label: 'Size', class: 'num', cell: (j) => (j.originalSize ? bytes(j.originalSize) : '—') },
      ], rows, { empty: 'No job matches these filters.', key: (j) => j.id }), more);
    } catch (e) {
      mount(body, errorBox(e));
    }
  };
  const scope = [p.get('failed') && 'failed backups (failed, error, or canceled because the job they waited for failed)', p.get('since') && `since ${date(p.get('since'))}`].filter(Boolean);
  const chips = scope.length ? h('div', { class: 'note small', id: 'job-scope' }, `Showing ${scope.join(', ')}. `, h('a', { href: '#/jobs' }, 'Show all jobs')) : null;
  mount(content, h('div', { class: 'pagehead' }, search, filterBox('Filters', filters, ['status', 'type', 'policy', 'client'].some((k) => p.get(k))), h('div', { class: 'grow' }), h('span', { class: 'muted small' }, 'Updated live')), chips, body);
  // Listening starts before the first read: a change while it loads triggers a reload.
  let timer = null;
  const onJob = () => { clearTimeout(timer); timer = setTimeout(load, 300); };
  window.addEventListener('job-status', onJob);
  await load();
  return () => { clearTimeout(timer); window.removeEventListener('job-status', onJob); };
}
export { list_ as list };

export async function detail(content, r) {
  const id = Number(r.parts[0]);
  if (!Number.isInteger(id)) { mount(content, errorBox('no such job')); return undefined; }
  const head = h('div', { class: 'card', id: 'job-head' }, loading());
  const logBox = h('div', { class: 'log', id: 'job-log', role: 'log', 'aria-label': 'job output' });
  const logState = h('span', { class: 'muted small', id: 'log-state' }, 'connecting…');
  mount(content, h('div', { class: 'pagehead' }, h('a', { href: '#/jobs' }, '← All jobs')), head,
    h('div', { class: 'card' }, h('div', { class: 'row', style: 'margin-bottom: 8px' }, h('h2', { style: 'margin: 0' }, 'Output'), h('div', { class: 'grow spacer' }), logState), logBox));
  const progressBox = h('dd', { id: 'job-progress' }, progressView(null));
  // Lines are kept in seq order whatever order they arrive in. `contiguous` is the read
  // marker: every line up to it is shown, so reads and resubscriptions start after it and
  // never skip a line that has not arrived yet.
  const seen = new Set();
  let contiguous = 0;
  let newest = 0;
  let job = null;
  let stopped = false;
  const addLine = (l, via) => {
    if (seen.has(l.seq)) return;
    seen.add(l.seq);
    while (seen.has(contiguous + 1)) contiguous += 1;
    const atEnd = logBox.scrollTop + logBox.clientHeight >= logBox.scrollHeight - 30;
    const el = h('div', { class: l.stream === 'stderr' ? 'stderr' : '', dataset: { seq: l.seq, via } }, h('span', { class: 'ln' }, String(l.seq).padStart(4, ' ')), l.text);
    if (l.seq > newest) {
      logBox.appendChild(el);
      newest = l.seq;
    } else {
      const next = [...logBox.children].find((c) => Number(c.dataset.seq) > l.seq);
      logBox.insertBefore(el, next || null);
    }
    if (atEnd) logBox.scrollTop = logBox.scrollHeight;
    if (newest > contiguous) fillGap();
  };
  const fetchOutput = async () => {
    const d = await gql('query($id: Int!, $a: Int!) { job(id: $id) { output(after: $a, limit: 1000) { seq stream text } } }', { id, a: contiguous });
    d.job.output.forEach((l) => addLine(l, 'read'));
    return d.job.output.length;
  };
  /** Reads stored lines until the end (or until the marker stops moving). */
  const fetchAll = async () => {
    for (;;) {
      const before = contiguous;
      if ((await fetchOutput()) < 1000 || contiguous === before || stopped) return;
    }
  };
  // A line arrived ahead of others: read the missing ones if they have not come shortly after.
  let gapTimer = null;
  const fillGap = () => {
    if (gapTimer || stopped) return;
    gapTimer = setTimeout(async () => {
      gapTimer = null;
      if (stopped || newest <= contiguous) return;
      try { await fetchAll(); } catch { /* the next line retries */ }
    }, 500);
  };
  const names = {};
  let reads = 0;
  const refresh = async () => {
    const mine = ++reads;
    const d = await gql(`query($id: Int!) { job(id: $id) { ${JOB_FIELDS} dependsOn } }`, { id });
    if (mine !== reads) return; // a newer read is on its way
    job = d.job;
    if (job.policyId && !names.policy) names.policy = (await gql('query($id: Int!) { policy(id: $id) { name } }', { id: job.policyId }).catch(() => null))?.policy?.name;
    if (job.clientId && !names.client) names.client = (await gql('query($id: Int!) { client(id: $id) { hostname } }', { id: job.clientId }).catch(() => null))?.client?.hostname;
    renderHead();
    if (isFinished(job.status)) {
      await fetchAll();
      logState.textContent = `finished: ${job.status}`;
      logState.dataset.final = job.status;
    }
  };
  const renderHead = () => {
    const j = job;
    const running = !isFinished(j.status);
    mount(head,
      h('div', { class: 'row', style: 'margin-bottom: 10px' },
        h('h2', { style: 'margin: 0' }, `Job ${j.id}: ${j.name || j.jobType}`), h('span', { id: 'job-status', dataset: { status: j.status } }, statusBadge(j.status)),
        h('div', { class: 'grow spacer' }),
        running && h('button', { class: 'danger', id: 'job-cancel', onclick: () => confirmDo('Cancel this job?', async () => {
          await gql('mutation($id: Int!) { cancelJob(id: $id) }', { id });
          toast('Cancel requested');
        }) }, 'Cancel'),
        !running && h('button', { id: 'job-relaunch', onclick: async () => {
          try {
            const d = await gql('mutation($id: Int!) { relaunchJob(id: $id) { id } }', { id });
            location.hash = `#/jobs/${d.relaunchJob.id}`;
          } catch (e) { toast(e.message, 'bad'); }
        } }, 'Relaunch')),
      h('dl', { class: 'kv' },
        h('dt', null, 'Type'), h('dd', null, `${j.jobType} (${j.launchType})`),
        j.archiveName && [h('dt', null, 'Archive'), h('dd', { class: 'mono' }, j.archiveName)],
        j.policyId && [h('dt', null, 'Policy'), h('dd', null, h('a', { href: `#/jobs?policy=${j.policyId}` }, names.policy || `#${j.policyId}`))],
        j.clientId && [h('dt', null, 'Client'), h('dd', null, h('a', { href: `#/jobs?client=${j.clientId}` }, names.client || `#${j.clientId}`))],
        j.dependsOn && [h('dt', null, 'After'), h('dd', null, h('a', { href: `#/jobs/${j.dependsOn}` }, `job ${j.dependsOn}`))],
        h('dt', null, 'Created'), h('dd', null, date(j.created)),
        waiting(j) && [h('dt', null, 'Waits'), h('dd', { id: 'job-waits' }, waitsUntil(j))],
        h('dt', null, 'Started'), h('dd', null, date(j.started)),
        h('dt', null, 'Finished'), h('dd', null, date(j.finished)),
        h('dt', null, 'Duration'), h('dd', { id: 'job-duration' }, j.started ? duration(running ? sinceStart(j) : j.elapsed) : '—'),
        running && j.status === 'running' && [h('dt', null, 'Progress'), progressBox],
        j.exitCode !== null && [h('dt', null, 'Exit code'), h('dd', null, String(j.exitCode))],
        h('dt', null, 'Files'), h('dd', null, String(j.nfiles)),
        h('dt', null, 'Sizes'), h('dd', null, `${bytes(j.originalSize)} original, ${bytes(j.deduplicatedSize)} deduplicated`),
        j.jobExplanation && [h('dt', null, 'Explanation'), h('dd', { id: 'job-explanation', style: ['failed', 'error'].includes(j.status) ? 'color: var(--bad)' : '' }, j.jobExplanation, fixFor(j.jobExplanation))]));
  };
  // The log: stored lines after the marker first, then live ones, resumed after the marker
  // when the connection comes back. Status changes come from the shared feed.
  const stopOut = liveSubscribe('subscription($id: Int!, $a: Int) { jobOutput(job: $id, after: $a) { seq stream text } }', () => ({ id, a: contiguous }), {
    onData: (d) => {
      logBox.dataset.live = String(Number(logBox.dataset.live || 0) + 1);
      addLine(d.jobOutput, 'ws');
    },
    onError: () => { if (!logState.dataset.final) logState.textContent = 'live view unavailable'; },
    onState: (st) => { if (!logState.dataset.final && job) logState.textContent = st === 'live' ? 'live' : 'reconnecting…'; },
  });
  const stopProgress = liveSubscribe('subscription($id: Int!) { jobProgress(job: $id) { progress { files originalBytes current percent } } }', () => ({ id }), {
    onData: (d) => mount(progressBox, progressView(d.jobProgress.progress)),
  });
  const onStatus = (ev) => { if (ev.detail.resync || ev.detail.jobId === id) refresh().catch(() => {}); };
  window.addEventListener('job-status', onStatus);
  try {
    await refresh();
    if (!isFinished(job.status)) logState.textContent = 'live';
  } catch (e) {
    mount(head, errorBox(e));
  }
  // The duration of a running job counts up.
  const ticker = setInterval(() => {
    if (!job || isFinished(job.status) || !job.started) return;
    const el = document.getElementById('job-duration');
    if (el) el.textContent = duration(sinceStart(job));
  }, 1000);
  return () => {
    stopped = true;
    clearTimeout(gapTimer);
    clearInterval(ticker);
    window.removeEventListener('job-status', onStatus);
    stopOut();
    stopProgress();
  };
}
