// Policies: the list (with readiness — why a policy cannot run —, next run, launch, prune) and a form per policy type that
// builds `extraVars` from typed fields (folders, databases, piped command, VM selection).
import { h, mount, modal, closeModal, toast, table, badge, confirmDo, loading, errorBox, focusRow } from '../dom.js';
import { gql, list } from '../api.js';
import { field, values, showErrors, clearErrors, form } from '../forms.js';
import { date, ago } from '../format.js';
import { drillsCard, drillRepositoryOptions } from './drills.js';
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
const POLICY_FIELDS = `id name policyType extraVars clientIds repositoryId copyRepositoryIds scheduleId keepHourly keepDaily keepWeekly keepMonthly keepYearly
  rpoHours copies { repositoryId keepHourly keepDaily keepWeekly keepMonthly keepYearly offsetMinutes }
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
        { label: 'Repository', cell: (p) => (p.copyRepositoryIds.length ? h('span', { title: 'primary, then copies' }, p.repository.name, h('span', { class: 'muted small' }, ` + ${p.copyRepositoryIds.length} cop${p.copyRepositoryIds.length === 1 ? 'y' : 'ies'}`)) : p.repository.name) },
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

/** A drill of every client of `p`: straight away, or in a chosen repository when it has copies. */
async function drill(p) {
  if (!p.copyRepositoryIds.length) {
    try { await launchDrill(p, null); } catch (e) { toast(e.message, 'bad'); }
    return;
  }
  let names = {};
  try {
    names = Object.fromEntries((await list('repositories', 'id name', {}, { first: 500 })).nodes.map((r) => [r.id, r.name]));
  } catch { /* ids then */ }
  const f = form([{ name: 'repository', label: 'Repository to restore from', type: 'select', options: drillRepositoryOptions(p, names),
    help: 'Automatic drills the repository of the series drilled longest ago, so that drills alternate between the primary and its copies.' }], {}, {
    submitLabel: 'Run the drill', onCancel: closeModal,
    onSubmit: async (v) => { await launchDrill(p, v.repository ? Number(v.repository) : null); },
  });
  f.id = 'drill-form';
  modal(`Restore drill of “${p.name}”`, f);
}

/** Queues the drill (errors are the caller's to show) and opens its first job. */
async function launchDrill(p, repository) {
  const d = await gql('mutation($p: Int!, $r: Int) { launchRestoreTest(policy: $p, repository: $r) { id } }', { p: p.id, r: repository });
  closeModal();
  toast(`Restore drill of “${p.name}” queued: ${d.launchRestoreTest.length} job(s)`, 'ok');
  if (d.launchRestoreTest[0]) location.hash = `#/jobs/${d.launchRestoreTest[0].id}`;
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

const COPY_FIELDS = [['offsetMinutes', 'Offset (min)'], ...KEEPS];

/**
 * The copies fieldset: the copy repositories, each selected one with its schedule offset and
 * optional retention of its own, and the recovery-point objective. `settings(ids)` reads them
 * back as `copySettings`.
 */
function copiesFieldset(copiesNode, f, policy, repositories, initial) {
  const saved = new Map((policy ? policy.copies || [] : []).map((c) => [c.repositoryId, c]));
  const name = (id) => (repositories.find((r) => r.id === id) || {}).name || `repository #${id}`;
  const input = (id, k) => f.elements.namedItem(`copy-${id}-${k}`);
  const num = (el) => (!el || el.value === '' ? null : Number(el.value));
  const box = h('div', { class: 'copy-settings', id: 'copy-settings' });
  const selected = () => [...copiesNode.querySelector('select').selectedOptions].map((o) => Number(o.value));
  const render = () => {
    // What was typed survives a change of the selection.
    for (const id of [...box.querySelectorAll('[data-copy]')].map((e) => Number(e.dataset.copy))) {
      saved.set(id, Object.fromEntries([['repositoryId', id], ...COPY_FIELDS.map(([k]) => [k, num(input(id, k))])]));
    }
    const ids = selected();
    mount(box, ids.length ? [
      h('div', { class: 'help' }, 'Offset: a scheduled run starts this copy’s backups that many minutes after the primary’s (0 to 1440). Keep: leave every one empty to follow the policy’s retention above; fill any to give the copy a retention of its own (the kinds left empty are then not kept).'),
      ids.map((id, i) => {
        const c = saved.get(id) || {};
        const note = h('span', { class: 'muted small', dataset: { copyNote: id } });
        const row = h('div', { class: 'copy-row', dataset: { copy: id } },
          h('div', { class: 'copy-title' }, h('strong', null, name(id)), h('span', { class: 'muted' }, ` copy ${i + 1}`), ' ', note),
          h('div', { class: 'copy-keeps' }, COPY_FIELDS.map(([k, l]) => {
            const node = field({ name: `copy-${id}-${k}`, label: l, type: 'number', min: 0, placeholder: k === 'offsetMinutes' ? '0' : '' }, c[k] ?? (k === 'offsetMinutes' ? 0 : null));
            node.querySelector('input').setAttribute('aria-label', `${l.replace(' (min)', ' in minutes')} of the copy in ${name(id)}`);
            return node;
          })));
        const own = () => { note.textContent = KEEPS.some(([k]) => input(id, k) && input(id, k).value !== '') ? '· own retention' : '· follows the policy’s retention'; };
        row.addEventListener('input', own);
        setTimeout(own, 0);
        return row;
      })] : null);
  };
  copiesNode.querySelector('select').addEventListener('change', render);
  copiesNode.insertBefore(box, copiesNode.querySelector('.ferr'));
  render();
  const rpo = field({ name: 'rpoHours', label: 'Recovery-point objective (hours, optional)', type: 'number', min: 1, placeholder: '24',
    help: 'The most data you accept to lose: the dashboard’s Recoverability marks a series “unmet” when its newest verified archive is older than this. Empty: no objective.' }, initial.rpoHours);
  rpo.dataset.aliases = 'rpo_hours';
  const node = h('fieldset', { id: 'policy-copies' }, h('legend', null, 'Copies (3-2-1) and recovery objective'), copiesNode, rpo);
  const settings = (ids) => ids.map((id) => Object.fromEntries([['repositoryId', id], ...COPY_FIELDS.map(([k]) => [k, num(input(id, k))])]));
  return { node, settings };
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
    { name: 'copies', label: 'Copy repositories (3-2-1: each run also backs up into each, ideally on another host)', type: 'select', multiple: true, numeric: true, options: refs.repositories.filter((r) => !policy || r.id !== policy.repositoryId).map((r) => [r.id, r.name]), aliases: ['copy_settings', 'copySettings'] },
    { name: 'schedule', label: 'Schedule', type: 'select', numeric: true, options: [['', '— choose —'], ...refs.schedules.map((s) => [s.id, `${s.name} (${s.crontab})`])] },
  ];
  const initial = policy ? { ...policy, clients: policy.clientIds, repository: policy.repositoryId, copies: policy.copyRepositoryIds, schedule: policy.scheduleId } : { policyType: 'folders' };
  const f = h('form', { class: 'form', id: 'policy-form', novalidate: true });
  const nodes = {};
  for (const s of base) {
    const node = field(s, initial[s.name]);
    if (s.aliases) node.dataset.aliases = s.aliases.join(',');
    nodes[s.name] = node;
    // The copies go with their own settings and the objective, below the retention.
    if (s.name !== 'copies') f.appendChild(node);
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
  const copies = copiesFieldset(nodes.copies, f, policy, refs.repositories, initial);
  f.appendChild(copies.node);
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
    const v = values(f, base.concat(KEEPS.map(([k]) => ({ name: k, type: 'number' })), [{ name: 'rpoHours', type: 'number' }],
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
      repository: v.repository, copySettings: copies.settings(v.copies || []), rpoHours: v.rpoHours, schedule: v.schedule, prehook: v.prehook, posthook: v.posthook,
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
      // The copy setting a message names ("repository 3: offset_minutes …") is marked too.
      const marks = Object.values(e.fields || {}).flatMap((m) => [...String(m).matchAll(/repository (\d+): (keep_[a-z]+|offset_minutes)/g)]);
      // The server names copies by id: the administrator knows them by name.
      for (const k of Object.keys(e.fields || {})) {
        e.fields[k] = String(e.fields[k]).replace(/repository (\d+)/g, (m, id) => {
          const r = refs.repositories.find((x) => x.id === Number(id));
          return r ? `repository “${r.name}”` : m;
        });
      }
      showErrors(f, e);
      for (const [, id, key] of marks) {
        const el = f.elements.namedItem(`copy-${id}-${key.replace(/_([a-z])/g, (m, c) => c.toUpperCase())}`);
        if (el) { el.closest('.field').classList.add('invalid'); el.setAttribute('aria-invalid', 'true'); }
      }
    } finally {
      submit.disabled = false;
    }
  });
  modal(policy ? `Edit policy “${policy.name}”` : 'New policy', f, { wide: true });
}
