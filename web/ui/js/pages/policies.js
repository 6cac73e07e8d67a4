// Policies: the list (with readiness — why a policy cannot run —, next run, launch, prune) and a form per policy type that
// builds `extraVars` from typed fields (folders, databases, piped command, VM selection).
import { h, mount, modal, closeModal, toast, table, badge, confirmDo, loading, errorBox, focusRow } from '../dom.js';
import { gql, list } from '../api.js';
import { field, values, showErrors, clearErrors } from '../forms.js';
import { date, ago } from '../format.js';
import { drillsCard } from './drills.js';
import { providerOptions } from './vmproviders.js';
import { verified } from './inventory.js';
import { readiness, findingsView, fillHealth } from './health.js';

const TYPES = [
  ['folders', 'Folders (a list of paths)'], ['rootfs', 'Root filesystem'], ['config', 'Configuration (/etc)'],
  ['mail', 'Mail spool'], ['mysql', 'MySQL / MariaDB dump'], ['postgresql', 'PostgreSQL dump'],
  ['piped', 'Piped command (stdout)'], ['proxmox', 'Proxmox guests'], ['vm', 'Virtual machine'],
];

/** Typed fields of each policy type: [spec, extraVars key]. */
const TYPE_FIELDS = {
  folders: [{ name: 'folders', label: 'Folders', type: 'list', itemLabel: 'folder', placeholder: '/srv/www', help: 'Absolute paths on the client.' },
    { name: 'exclude', label: 'Exclude', type: 'list', itemLabel: 'pattern', placeholder: '/srv/www/cache' }],
  rootfs: [{ name: 'exclude', label: 'Exclude', type: 'list', itemLabel: 'pattern', placeholder: '/var/cache' }],
  config: [], mail: [], vm: [],
  mysql: [{ name: 'databases', label: 'Databases (empty: all)', type: 'list', itemLabel: 'database' },
    { name: 'user', label: 'User' }, { name: 'password', label: 'Password (write-only)', type: 'password', autocomplete: 'new-password' },
    { name: 'host', label: 'Host', placeholder: 'localhost' }, { name: 'port', label: 'Port', type: 'number', min: 1 }],
  postgresql: [{ name: 'database', label: 'Database (empty: all)' }],
  piped: [{ name: 'command', label: 'Command', placeholder: 'pg_dumpall -U postgres', help: 'Run on the client; its standard output is the backup.' }],
  proxmox: [{ name: 'vmids', label: 'Guest ids (empty: all)', type: 'list', itemLabel: 'guest id', placeholder: '101' },
    { name: 'mode', label: 'Mode', type: 'select', options: [['snapshot', 'snapshot'], ['suspend', 'suspend'], ['stop', 'stop']] }],
};

const KEEPS = [['keepHourly', 'Hourly'], ['keepDaily', 'Daily'], ['keepWeekly', 'Weekly'], ['keepMonthly', 'Monthly'], ['keepYearly', 'Yearly']];
const POLICY_FIELDS = `id name policyType extraVars clientIds repositoryId scheduleId keepHourly keepDaily keepWeekly keepMonthly keepYearly
  vmprovider nextRun modePull enabled prehook posthook blockers repository { name } schedule { name crontab } clients { hostname }`;

export async function render(content, r) {
  const drills = drillsCard(r.params);
  const search = h('input', { type: 'search', class: 'search', placeholder: 'Search policies…', 'data-search': true, 'aria-label': 'search policies' });
  const body = h('div', { id: 'policies-list' });
  const load = async () => {
    mount(body, loading());
    try {
      const [res, ready] = await Promise.all([list('policies', POLICY_FIELDS, {}, { first: 100, search: search.value.trim() }, (p) => `${p.name} ${p.policyType}`),
        readiness().catch(() => ({}))]);
      mount(body, table([
        { label: 'Name', cell: (p) => h('strong', null, p.name) },
        { label: 'Type', cell: (p) => badge(p.policyType, '') },
        { label: 'Clients', cell: (p) => p.clients.map((c) => c.hostname).join(', ') || '—' },
        { label: 'Repository', cell: (p) => p.repository.name },
        { label: 'Schedule', cell: (p) => h('span', null, p.schedule.name, ' ', h('code', { class: 'muted' }, p.schedule.crontab)) },
        { label: 'Next run', cell: (p) => (p.nextRun ? h('span', { title: date(p.nextRun) }, ago(p.nextRun)) : '—') },
        { label: 'Last verified restore', cell: (p) => h('span', { class: 'muted', dataset: { verified: p.id } }, '—') },
        { label: 'Backups', cell: (p) => h('span', { dataset: { healthPolicy: p.id } }, '…') },
        { label: 'State', cell: (p) => {
          const rd = ready[p.id];
          const state = rd && !rd.ready ? badge('cannot run', 'bad')
            : p.blockers.length ? h('span', { title: p.blockers.join('\n') }, badge('blocked', 'warn'))
              : badge(p.enabled ? 'enabled' : 'disabled', p.enabled ? 'ok' : '');
          return h('div', { class: 'readiness', dataset: { policy: p.id, ready: String(!rd || rd.ready) } }, state, findingsView(rd));
        } },
        { label: 'Actions', class: 'actions', cell: (p) => [
          h('button', { class: 'primary', dataset: { launch: p.id }, 'aria-label': `launch ${p.name}`, onclick: () => launch(p) }, 'Launch'),
          h('button', { class: 'link', dataset: { drill: p.id }, 'aria-label': `restore drill of ${p.name}`, title: 'restore a sample of files and verify them', onclick: () => drill(p) }, 'Drill'),
          h('button', { class: 'link', 'aria-label': `prune ${p.name}`, onclick: () => confirmDo(`Prune the archives of “${p.name}” now by its keep values?`, async () => {
            const d = await gql('mutation($id: Int!) { prunePolicy(id: $id) { id } }', { id: p.id });
            toast(`${d.prunePolicy.length} prune job(s) queued`, 'ok');
          }) }, 'Prune'),
          h('button', { class: 'link', 'aria-label': `edit policy ${p.name}`, onclick: () => open(p, load) }, 'Edit'),
          h('button', { class: 'link danger', 'aria-label': `delete policy ${p.name}`, onclick: () => confirmDo(`Delete policy “${p.name}”?`, async () => {
            await gql('mutation($id: Int!) { deletePolicy(id: $id) }', { id: p.id });
            toast('Policy deleted', 'ok');
            load();
          }) }, 'Delete')] },
      ], res.nodes, { empty: search.value ? 'No policy matches.' : 'No policy yet: a policy ties clients, a repository and a schedule together.', key: (p) => p.id }));
      fillVerified(body);
      fillHealth(body);
      focusRow(body, r.params.get('focus'));
    } catch (e) {
      mount(body, errorBox(e));
    }
  };
  let timer = null;
  search.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(load, 200); });
  mount(content, h('div', { class: 'pagehead' }, search, h('div', { class: 'grow' }),
    h('button', { class: 'primary', id: 'new-policy', onclick: () => open(null, load) }, 'New policy')), body, drills.card);
  await Promise.all([load(), drills.ready]);
  if (r.params.get('client')) drills.card.scrollIntoView();
  // A finished job (a preparation that failed, a first backup) changes readiness and drills.
  let jobTimer = null;
  const onJob = (ev) => {
    if (!ev.detail.resync && !['successful', 'failed', 'error', 'canceled'].includes(ev.detail.status)) return;
    clearTimeout(jobTimer);
    jobTimer = setTimeout(() => { drills.reload(); load(); }, 500);
  };
  window.addEventListener('job-status', onJob);
  return () => { clearTimeout(jobTimer); window.removeEventListener('job-status', onJob); };
}

/** Fills the “last verified restore” cells (left as — when the server has no drills). */
async function fillVerified(body) {
  try {
    const r = await list('policies', 'id lastVerifiedRestore { created filesChecked }', {}, { first: 500 });
    for (const p of r.nodes) {
      const cell = body.querySelector(`[data-verified="${p.id}"]`);
      const v = p.lastVerifiedRestore;
      if (cell) mount(cell, verified(v));
    }
  } catch { /* no drills on this server */ }
}

async function drill(p) {
  try {
    const d = await gql('mutation($p: Int!) { launchRestoreTest(policy: $p) { id } }', { p: p.id });
    toast(`Restore drill of “${p.name}” queued: ${d.launchRestoreTest.length} job(s)`, 'ok');
    if (d.launchRestoreTest[0]) location.hash = `#/jobs/${d.launchRestoreTest[0].id}`;
  } catch (e) {
    toast(e.message, 'bad');
  }
}

async function launch(p) {
  try {
    const d = await gql('mutation($id: Int!) { launchPolicy(id: $id) { id jobType status } }', { id: p.id });
    const jobs = d.launchPolicy;
    const backup = jobs.find((j) => j.jobType === 'job') || jobs[0];
    toast(`Launched “${p.name}”: ${jobs.length} job(s)`, 'ok');
    if (backup) location.hash = `#/jobs/${backup.id}`;
  } catch (e) {
    toast(e.message, 'bad');
  }
}

/** The VM provider of a vm or proxmox policy: a choice among the providers (see VM providers). */
function vmField(providers, current) {
  const opts = providers.length ? providers.slice() : [['proxmox', 'proxmox']];
  if (current && !opts.some(([v]) => v === current)) opts.push([current, `${current} (unknown)`]);
  const node = field({ name: 'vmprovider', label: 'VM provider', type: 'select', options: opts, help: 'Providers are managed under VM providers.' }, current || (opts.find(([v]) => v === 'proxmox') || opts[0])[0]);
  node.querySelector('.help').append(' ', h('a', { href: '#/vmproviders', onclick: closeModal }, 'Manage them'));
  return node;
}

async function open(policy, reload) {
  let refs;
  try {
    const [clients, repositories, schedules] = await Promise.all([list('clients', 'id hostname', {}, { first: 500 }),
      list('repositories', 'id name', {}, { first: 500 }), list('schedules', 'id name crontab', {}, { first: 500 })]);
    refs = { clients: clients.nodes, repositories: repositories.nodes, schedules: schedules.nodes, providers: await providerOptions().catch(() => []) };
  } catch (e) {
    toast(e.message, 'bad');
    return;
  }
  let vars = {};
  try { vars = policy ? JSON.parse(policy.extraVars || '{}') : {}; } catch { vars = {}; }
  const base = [
    { name: 'name', label: 'Name', required: true },
    { name: 'policyType', label: 'Type', type: 'select', options: TYPES, aliases: ['policy_type'] },
    { name: 'clients', label: 'Clients', type: 'select', multiple: true, numeric: true, options: refs.clients.map((c) => [c.id, c.hostname]), aliases: ['client_ids'] },
    { name: 'repository', label: 'Repository', type: 'select', numeric: true, options: [['', '— choose —'], ...refs.repositories.map((r) => [r.id, r.name])] },
    { name: 'schedule', label: 'Schedule', type: 'select', numeric: true, options: [['', '— choose —'], ...refs.schedules.map((s) => [s.id, `${s.name} (${s.crontab})`])] },
  ];
  const initial = policy ? { ...policy, clients: policy.clientIds, repository: policy.repositoryId, schedule: policy.scheduleId } : { policyType: 'folders' };
  const f = h('form', { class: 'form', id: 'policy-form', novalidate: true });
  for (const s of base) {
    const node = field(s, initial[s.name]);
    if (s.aliases) node.dataset.aliases = s.aliases.join(',');
    f.appendChild(node);
  }
  const typeBox = h('fieldset', { id: 'policy-type-fields' });
  const renderType = () => {
    const t = f.elements.namedItem('policyType').value;
    const specs = TYPE_FIELDS[t] || [];
    mount(typeBox, h('legend', null, `What to back up (${t})`),
      specs.length ? specs.map((s) => field(s, s.type === 'list' ? [].concat(vars[s.name] ?? []).map(String) : vars[s.name])) : h('div', { class: 'muted' }, 'Nothing to set for this type.'),
      t === 'vm' || t === 'proxmox' ? vmField(refs.providers, policy ? policy.vmprovider : '') : null);
  };
  f.elements.namedItem('policyType').addEventListener('change', renderType);
  f.appendChild(typeBox);
  renderType();
  const keeps = h('fieldset', null, h('legend', null, 'Retention (borg prune --keep-*)'),
    h('div', { class: 'keeps' }, KEEPS.map(([k, l]) => field({ name: k, label: l, type: 'number', min: 0 }, initial[k]))));
  f.appendChild(keeps);
  const adv = h('fieldset', null, h('legend', null, 'Hooks and options'),
    field({ name: 'prehook', label: 'Before the backup (command on the client)' }, initial.prehook),
    field({ name: 'posthook', label: 'After the backup' }, initial.posthook),
    field({ name: 'restoreTestCron', label: 'Restore drill schedule (cron, optional)', type: 'text', placeholder: '0 4 * * SUN', help: 'Restores a sample of files from the latest archive and verifies them.' }, vars.restore_test_cron),
    field({ name: 'modePull', label: 'Pull mode: the repository host connects to the client', type: 'checkbox' }, initial.modePull),
    field({ name: 'enabled', label: 'Enabled', type: 'checkbox', default: true }, policy ? policy.enabled : true));
  adv.querySelector('[data-field="restoreTestCron"]').dataset.aliases = 'restore_test_cron';
  f.appendChild(adv);
  const submit = h('button', { type: 'submit', class: 'primary' }, policy ? 'Save' : 'Create policy');
  f.appendChild(h('div', { class: 'formactions' }, submit, h('button', { type: 'button', onclick: closeModal }, 'Cancel')));
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(f);
    const v = values(f, base.concat(KEEPS.map(([k]) => ({ name: k, type: 'number' })),
      [{ name: 'prehook' }, { name: 'posthook' }, { name: 'modePull', type: 'checkbox' }, { name: 'enabled', type: 'checkbox' }, { name: 'restoreTestCron' }, { name: 'vmprovider' }]));
    const typeSpecs = TYPE_FIELDS[v.policyType] || [];
    const tv = values(f, typeSpecs);
    const extra = { ...vars };
    for (const s of Object.values(TYPE_FIELDS).flat()) delete extra[s.name];
    for (const s of typeSpecs) {
      const x = tv[s.name];
      if (x === null || x === '' || (Array.isArray(x) && !x.length)) continue;
      extra[s.name] = x;
    }
    if (v.restoreTestCron && v.restoreTestCron.trim()) extra.restore_test_cron = v.restoreTestCron.trim(); else delete extra.restore_test_cron;
    const input = {
      name: v.name, policyType: v.policyType, extraVars: JSON.stringify(extra), clients: v.clients,
      repository: v.repository, schedule: v.schedule, prehook: v.prehook, posthook: v.posthook,
      modePull: v.modePull, enabled: v.enabled, vmprovider: v.vmprovider ?? (policy ? policy.vmprovider : ''),
    };
    for (const [k] of KEEPS) input[k] = v[k];
    submit.disabled = true;
    try {
      if (policy) await gql('mutation($id: Int!, $i: PolicyInput!) { updatePolicy(id: $id, input: $i) { id } }', { id: policy.id, i: input });
      else await gql('mutation($i: PolicyInput!) { createPolicy(input: $i) { id } }', { i: input });
      closeModal();
      toast(policy ? 'Policy saved' : 'Policy created', 'ok');
      reload();
    } catch (e) {
      showErrors(f, e);
    } finally {
      submit.disabled = false;
    }
  });
  modal(policy ? `Edit policy “${policy.name}”` : 'New policy', f, { wide: true });
}
