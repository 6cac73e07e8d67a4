// Jobs: the filtered list (updated live) and a job's detail with its log streamed over the
// websocket (`jobOutput`, `jobStatus`), sizes, duration, cancel and relaunch.
import { h, mount, toast, table, badge, loading, errorBox, confirmDo } from '../dom.js';
import { gql, list, subscribe } from '../api.js';
import { bytes, date, duration, ago, isFinished } from '../format.js';

const STATUSES = ['new', 'pending', 'waiting', 'running', 'successful', 'failed', 'error', 'canceled'];
const TYPES = [['job', 'backup'], ['prepare_client', 'prepare client'], ['prepare_repository', 'prepare repository'], ['catalog', 'catalog'], ['prune', 'prune'], ['check', 'check'], ['restore', 'restore'], ['restore_test', 'restore test']];
const JOB_FIELDS = 'id name jobType status policyId clientId repositoryId archiveName launchType created started finished elapsed exitCode jobExplanation originalSize deduplicatedSize nfiles';

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
    location.hash = `#/jobs${q.toString() ? `?${q}` : ''}`;
  }
  const pname = (id) => (refs.policies.find((x) => x.id === id) || {}).name || (id ? `#${id}` : '—');
  const cname = (id) => (refs.clients.find((x) => x.id === id) || {}).hostname || (id ? `#${id}` : '—');
  const body = h('div', { id: 'jobs-list' }, loading());
  const num = (k) => (p.get(k) ? Number(p.get(k)) : null);
  let rows = [];
  let shown = 100;
  const load = async () => {
    try {
      const res = await list('jobs', JOB_FIELDS, {
        status: ['String', p.get('status')], jobType: ['String', p.get('type')], policy: ['Int', num('policy')], client: ['Int', num('client')],
      }, { first: Math.min(shown, 500), search: p.get('q') || '' }, (j) => `${j.name} ${j.archiveName}`);
      rows = res.nodes;
      const more = res.hasNextPage && shown < 500 && h('div', { class: 'row', style: 'margin-top: 10px' },
        h('span', { class: 'muted' }, `${rows.length} of ${res.totalCount}`), h('button', { onclick: () => { shown += 100; load(); } }, 'Show more'));
      mount(body, table([
        { label: 'Id', class: 'num', cell: (j) => h('a', { href: `#/jobs/${j.id}` }, String(j.id)) },
        { label: 'Job', cell: (j) => h('a', { href: `#/jobs/${j.id}` }, j.name || j.jobType) },
        { label: 'Type', cell: (j) => (TYPES.find(([t]) => t === j.jobType) || [0, j.jobType])[1] },
        { label: 'Status', cell: (j) => statusBadge(j.status) },
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
  mount(content, h('div', { class: 'pagehead' }, search, filters, h('div', { class: 'grow' }), h('span', { class: 'muted small' }, 'Updated live')), body);
  await load();
  let timer = null;
  const onJob = () => { clearTimeout(timer); timer = setTimeout(load, 300); };
  window.addEventListener('job-status', onJob);
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
  const seen = new Set();
  let lastSeq = 0;
  let job = null;
  let stopped = false;
  const addLine = (l) => {
    if (seen.has(l.seq)) return;
    seen.add(l.seq);
    lastSeq = Math.max(lastSeq, l.seq);
    const atEnd = logBox.scrollTop + logBox.clientHeight >= logBox.scrollHeight - 30;
    logBox.appendChild(h('div', { class: l.stream === 'stderr' ? 'stderr' : '', dataset: { seq: l.seq } }, h('span', { class: 'ln' }, String(l.seq).padStart(4, ' ')), l.text));
    if (atEnd) logBox.scrollTop = logBox.scrollHeight;
  };
  const fetchOutput = async () => {
    const d = await gql('query($id: Int!, $a: Int!) { job(id: $id) { output(after: $a, limit: 1000) { seq stream text } } }', { id, a: lastSeq });
    d.job.output.forEach(addLine);
    return d.job.output.length;
  };
  const names = {};
  const refresh = async () => {
    const d = await gql(`query($id: Int!) { job(id: $id) { ${JOB_FIELDS} dependsOn } }`, { id });
    job = d.job;
    if (job.policyId && !names.policy) names.policy = (await gql('query($id: Int!) { policy(id: $id) { name } }', { id: job.policyId }).catch(() => null))?.policy?.name;
    if (job.clientId && !names.client) names.client = (await gql('query($id: Int!) { client(id: $id) { hostname } }', { id: job.clientId }).catch(() => null))?.client?.hostname;
    renderHead();
    if (isFinished(job.status)) {
      while ((await fetchOutput()) === 1000);
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
        h('dt', null, 'Started'), h('dd', null, date(j.started)),
        h('dt', null, 'Finished'), h('dd', null, date(j.finished)),
        h('dt', null, 'Duration'), h('dd', { id: 'job-duration' }, j.started ? duration(running ? sinceStart(j) : j.elapsed) : '—'),
        running && j.status === 'running' && [h('dt', null, 'Progress'), progressBox],
        j.exitCode !== null && [h('dt', null, 'Exit code'), h('dd', null, String(j.exitCode))],
        h('dt', null, 'Files'), h('dd', null, String(j.nfiles)),
        h('dt', null, 'Sizes'), h('dd', null, `${bytes(j.originalSize)} original, ${bytes(j.deduplicatedSize)} deduplicated`),
        j.jobExplanation && [h('dt', null, 'Explanation'), h('dd', { style: ['failed', 'error'].includes(j.status) ? 'color: var(--bad)' : '' }, j.jobExplanation)]));
  };
  // Subscribe first, then read what is already there: a line is shown once by its seq.
  const stopOut = subscribe('subscription($id: Int!) { jobOutput(job: $id) { seq stream text } }', { id }, {
    onData: (d) => {
      logBox.dataset.live = String(Number(logBox.dataset.live || 0) + 1);
      addLine(d.jobOutput);
    },
    onError: () => { logState.textContent = 'live view unavailable: polling'; },
  });
  const stopProgress = subscribe('subscription($id: Int!) { jobProgress(job: $id) { progress { files originalBytes current percent } } }', { id }, {
    onData: (d) => mount(progressBox, progressView(d.jobProgress.progress)),
  });
  const stopStatus = subscribe('subscription($id: Int!) { jobStatus(job: $id) { jobId status } }', { id }, {
    onData: () => refresh().catch(() => {}),
  });
  try {
    await refresh();
    await fetchOutput();
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
  // A safety net for a lost websocket: poll slowly while the job runs.
  const poll = setInterval(() => {
    if (stopped || !job || isFinished(job.status)) return;
    refresh().then(fetchOutput).catch(() => {});
  }, 4000);
  return () => { stopped = true; clearInterval(poll); clearInterval(ticker); stopOut(); stopStatus(); stopProgress(); };
}
