// Inventory pages: clients, repositories, schedules and users, each a searchable list with
// create / edit / delete forms built on one generic CRUD view.
import { h, mount, modal, closeModal, toast, table, badge, confirmDo, loading, errorBox, focusRow } from '../dom.js';
import { gql, list } from '../api.js';
import { form } from '../forms.js';
import { date, bytes, ago } from '../format.js';
import { clientSetup, repositorySetup, generatePassphrase, encryptionControls, checkEncryption } from './setup.js';
import { fillHealth } from './health.js';

/** A list page with search, paging and create/edit/delete in a modal. */
function crud(cfg) {
  return async (content, route) => {
    const search = h('input', { type: 'search', class: 'search', placeholder: `Search ${cfg.plural}…`, 'data-search': true, 'aria-label': `search ${cfg.plural}` });
    const body = h('div', { id: `${cfg.field}-list` });
    const count = h('span', { class: 'muted' });
    let rows = [];
    let cursor = null;
    const load = async (more = false) => {
      if (!more) mount(body, loading());
      try {
        const r = await list(cfg.field, cfg.fields, {}, { first: 50, after: more ? cursor : null, search: search.value.trim() }, cfg.searchText);
        rows = more ? rows.concat(r.nodes) : r.nodes;
        cursor = r.endCursor;
        count.textContent = `${r.totalCount} ${r.totalCount === 1 ? cfg.singular : cfg.plural}`;
        const actions = (row) => [
          ...(cfg.actions || (() => []))(row, () => load()),
          cfg.update && h('button', { class: 'link', dataset: { edit: cfg.label(row) }, 'aria-label': `edit ${cfg.singular} ${cfg.label(row)}`, onclick: () => edit(row) }, 'Edit'),
          cfg.del && h('button', { class: 'link danger', 'aria-label': `delete ${cfg.singular} ${cfg.label(row)}`, onclick: () => confirmDo(`Delete ${cfg.singular} “${cfg.label(row)}”?`, async () => {
            await gql(`mutation($id: Int!) { ${cfg.del}(id: $id) }`, { id: row.id });
            toast(`${cfg.Singular} deleted`, 'ok');
            load();
          }) }, 'Delete')];
        const cols = cfg.columns.concat([{ label: 'Actions', class: 'actions', cell: actions }]);
        mount(body, table(cols, rows, { empty: search.value ? `No ${cfg.singular} matches “${search.value}”.` : `No ${cfg.plural} yet: create the first one.`, key: (r) => r.id }),
          r.hasNextPage && h('div', { class: 'row', style: 'margin-top: 10px' }, h('button', { onclick: () => load(true) }, 'Load more')));
        if (!more && route) focusRow(body, route.params.get('focus'));
        if (cfg.afterLoad) cfg.afterLoad(body);
      } catch (e) {
        mount(body, errorBox(e));
      }
    };
    const open = async (row) => {
      const extra = cfg.prepareForm ? await cfg.prepareForm(row) : {};
      const specs = cfg.form(row, extra);
      const f = form(specs, row ? cfg.initial(row, extra) : cfg.defaults ? cfg.defaults(extra) : {}, {
        submitLabel: row ? 'Save' : `Create ${cfg.singular}`,
        onCancel: closeModal,
        extra: cfg.formExtra && cfg.formExtra(row),
        onSubmit: async (v) => {
          const input = cfg.input(v, row);
          let created = null;
          if (row) await gql(`mutation($id: Int!, $i: ${cfg.updateInputType || cfg.inputType}!) { ${cfg.update}(id: $id, input: $i) { id } }`, { id: row.id, i: input });
          else created = (await gql(`mutation($i: ${cfg.inputType}!) { ${cfg.create}(input: $i) { id } }`, { i: input }))[cfg.create].id;
          if (cfg.afterSave) await cfg.afterSave(v, row);
          closeModal();
          toast(`${cfg.Singular} ${row ? 'saved' : 'created'}`, 'ok');
          load();
          // The next step of a new object (the setup of a client or repository).
          if (created !== null && cfg.afterCreate) cfg.afterCreate(created, input);
        },
      });
      f.id = `${cfg.singular}-form`;
      if (cfg.decorate) cfg.decorate(f, row);
      modal(row ? `Edit ${cfg.singular}` : `New ${cfg.singular}`, f, { wide: cfg.wide });
    };
    const edit = (row) => open(row).catch((e) => toast(e.message, 'bad'));
    let timer = null;
    search.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(() => load(), 200); });
    search.addEventListener('keydown', (e) => { if (e.key === 'Enter') { clearTimeout(timer); load(); } });
    mount(content,
      h('div', { class: 'pagehead' }, search, count, h('div', { class: 'grow' }),
        cfg.headerExtra && cfg.headerExtra(),
        cfg.create && h('button', { class: 'primary', id: `new-${cfg.singular}`, onclick: () => open(null).catch((e) => toast(e.message, 'bad')) }, `New ${cfg.singular}`)),
      body, cfg.below && cfg.below());
    await load();
    const onJob = () => { if (cfg.refreshOnJobs) load(); };
    window.addEventListener('job-status', onJob);
    return () => window.removeEventListener('job-status', onJob);
  };
}

const yes = (b, t = 'yes', f = 'no') => badge(b ? t : f, b ? 'ok' : '');

/** The latest passed restore drill: when, and how many files it verified. */
export const verified = (v) => (v ? h('span', { class: 'badge ok', title: `${v.filesChecked} files verified, ${date(v.created)}` }, ago(v.created)) : h('span', { class: 'muted' }, 'never'));

export const clients = crud({
  field: 'clients', singular: 'client', Singular: 'Client', plural: 'clients',
  fields: 'id hostname port ip version os ready enabled hypervisorReady hypervisorName created lastVerifiedRestore { created filesChecked }',
  searchText: (r) => `${r.hostname} ${r.ip} ${r.os}`,
  label: (r) => r.hostname,
  refreshOnJobs: true,
  columns: [
    { label: 'Hostname', cell: (r) => h('strong', null, r.hostname) },
    { label: 'Port', class: 'num', cell: (r) => r.port },
    { label: 'IP', cell: (r) => r.ip || '—' },
    { label: 'OS', cell: (r) => h('span', { dataset: { os: r.hostname } }, r.os || '—') },
    { label: 'Borg', cell: (r) => r.version || '—' },
    { label: 'Prepared', cell: (r) => yes(r.ready, 'ready', 'not yet') },
    { label: 'Enabled', cell: (r) => yes(r.enabled) },
    { label: 'Hypervisor', cell: (r) => r.hypervisorName || '—' },
    { label: 'Last verified restore', cell: (r) => verified(r.lastVerifiedRestore) },
    { label: 'Backups', cell: (r) => h('span', { dataset: { healthClient: r.id } }, '…') },
  ],
  afterLoad: (body) => fillHealth(body),
  actions: (r) => [
    h('button', { class: 'link', dataset: { setup: r.hostname }, 'aria-label': `set up ${r.hostname}: key line and connection test`, onclick: () => clientSetup(r.id) }, 'Set up'),
    h('button', { class: 'link', dataset: { prepare: r.hostname }, 'aria-label': `prepare ${r.hostname}`, onclick: () => prepare('prepareClient', r.id) }, 'Prepare'),
    h('a', { class: 'btn link', href: `#/policies?client=${r.id}`, 'aria-label': `restore drills of ${r.hostname}` }, 'Drills')],
  form: () => [
    { name: 'hostname', label: 'Hostname', required: true, placeholder: 'web1.example.com or localhost', help: '“localhost” runs borg on the server itself.' },
    { name: 'port', label: 'SSH port', type: 'number', min: 1 },
    { name: 'ip', label: 'IP address (optional)' },
    { name: 'hypervisorName', label: 'Hypervisor name (VM policies)' },
    { name: 'hypervisorReady', label: 'Hypervisor ready', type: 'checkbox' },
    { name: 'enabled', label: 'Enabled', type: 'checkbox', default: true },
  ],
  initial: (r) => r,
  defaults: () => ({ port: 22, enabled: true }),
  input: (v) => ({ hostname: v.hostname, port: v.port ?? 22, ip: v.ip, hypervisorName: v.hypervisorName, hypervisorReady: v.hypervisorReady, enabled: v.enabled }),
  inputType: 'ClientInput', create: 'createClient', update: 'updateClient', del: 'deleteClient',
  afterCreate: (id) => clientSetup(id, { created: true }),
});

/** Queues preparation of a client or repository and opens its job (the live log). */
async function prepare(mutation, id) {
  try {
    const d = await gql(`mutation($id: Int!) { ${mutation}(id: $id) { id } }`, { id });
    toast(`Preparation queued: job ${d[mutation].id}`, 'ok');
    location.hash = `#/jobs/${d[mutation].id}`;
  } catch (e) {
    toast(e.message, 'bad');
  }
}

export const repositories = crud({
  field: 'repositories', singular: 'repository', Singular: 'Repository', plural: 'repositories',
  fields: 'id name path hasKey originalSize deduplicatedSize ready enabled created tampered tamperedArchives lastGoodTransaction encryptionMode checkCron',
  searchText: (r) => `${r.name} ${r.path}`,
  label: (r) => r.name,
  refreshOnJobs: true,
  columns: [
    { label: 'Name', cell: (r) => h('strong', null, r.name) },
    { label: 'Path', cell: (r) => h('span', { class: 'mono' }, r.path) },
    { label: 'Encrypted', cell: (r) => yes(r.hasKey, 'passphrase', 'none') },
    { label: 'Original', class: 'num', cell: (r) => bytes(r.originalSize) },
    { label: 'Deduplicated', class: 'num', cell: (r) => bytes(r.deduplicatedSize) },
    { label: 'Prepared', cell: (r) => yes(r.ready, 'ready', 'not yet') },
    { label: 'Enabled', cell: (r) => yes(r.enabled) },
    { label: 'Check schedule', cell: (r) => (r.checkCron ? h('code', { title: 'this repository’s own borg check schedule (UTC)' }, r.checkCron) : h('span', { class: 'muted', title: 'the global integrity check schedule (Settings → General, Checks)' }, 'global')) },
    // Archives vanished without a prune by the server: prune and compact stopped until cleared.
    { label: 'Integrity', cell: (r) => (r.tampered
      ? h('span', { class: 'badge bad', dataset: { tampered: r.name }, title: `Missing: ${r.tamperedArchives.join(', ')}${r.lastGoodTransaction != null ? ` — roll back to transaction ${r.lastGoodTransaction}` : ''}` }, 'tampered')
      : h('span', { class: 'muted' }, 'ok')) },
  ],
  actions: (r, reload) => [
    h('button', { class: 'link', dataset: { setup: r.name }, 'aria-label': `test the connection to ${r.name}`, onclick: () => repositorySetup(r) }, 'Test'),
    r.tampered && h('button', { class: 'link danger', dataset: { clearTamper: r.name }, 'aria-label': `clear the tamper mark of ${r.name}`, onclick: () => confirmDo(`Clear the tamper mark of “${r.name}”? Do it after rolling the repository back (README, Security): the next prune accepts its archive list as it is.`, async () => {
      await gql('mutation($id: Int!) { clearRepositoryTamper(id: $id) { id } }', { id: r.id });
      toast('Tamper mark cleared', 'ok');
      reload();
    }) }, 'Clear tamper mark'),
    h('button', { class: 'link', dataset: { prepare: r.name }, 'aria-label': `prepare ${r.name}`, onclick: () => prepare('prepareRepository', r.id) }, 'Prepare'),
    h('button', { class: 'link', onclick: async () => {
      try {
        const d = await gql('mutation($id: Int!) { checkRepository(id: $id) { id } }', { id: r.id });
        toast(`Integrity check queued: job ${d.checkRepository.id}`, 'ok');
      } catch (e) { toast(e.message, 'bad'); }
    } }, 'Check', h('span', { class: 'sr-only' }, ` ${r.name}`))],
  form: (row) => [
    { name: 'name', label: 'Name', required: true },
    { name: 'path', label: 'Path', required: true, placeholder: '/srv/borg/repo or ssh://backup@host:22/srv/borg/repo', help: 'A local path on the server, or user@host:path / ssh://user@host:port/path.' },
    !row && { name: 'encryption', label: 'Encryption', type: 'select', options: [['repokey', 'Encrypted (borg repokey, with a passphrase)'], ['none', 'Not encrypted']] },
    row
      ? { name: 'repositoryKey', label: 'New passphrase (leave empty to keep)', type: 'password', autocomplete: 'new-password', help: 'Write-only: stored encrypted, never shown again.' }
      : { name: 'repositoryKey', label: 'Passphrase', type: 'text', autocomplete: 'off', help: 'Generated for you: keep a copy in your password manager — without it the archives cannot be read. Stored encrypted on this server, never shown again.' },
    !row && { name: 'confirmUnencrypted', label: 'I understand that the archives will be stored unencrypted: anyone who can read the repository can read every backed-up file.', type: 'checkbox' },
    { name: 'checkCron', label: 'Integrity check schedule (cron, UTC, optional)', type: 'cron', placeholder: '0 5 * * 6', aliases: ['check_cron'],
      help: 'When borg check verifies this repository, on its own host, even if scheduled checks are off in Settings. Empty: the global integrity check schedule (Settings → General, when turned on).' },
    { name: 'enabled', label: 'Enabled', type: 'checkbox', default: true },
  ].filter(Boolean),
  initial: (r) => ({ ...r, repositoryKey: '' }),
  defaults: () => ({ enabled: true, encryption: 'repokey', repositoryKey: generatePassphrase() }),
  decorate: (f, row) => { if (!row) encryptionControls(f); },
  input: (v, row) => {
    if (!row) checkEncryption(v);
    const i = { name: v.name, path: v.path, enabled: v.enabled, checkCron: (v.checkCron || '').trim() };
    if (row ? v.repositoryKey : v.encryption !== 'none') i.repositoryKey = v.repositoryKey.trim();
    return i;
  },
  inputType: 'RepositoryInput', create: 'createRepository', update: 'updateRepository', del: 'deleteRepository',
  afterCreate: (id, input) => repositorySetup({ id, name: input.name, path: input.path }, { created: true }),
});

export const schedules = crud({
  field: 'schedules', singular: 'schedule', Singular: 'Schedule', plural: 'schedules',
  fields: 'id name crontab enabled created nextRuns(count: 1)',
  searchText: (r) => `${r.name} ${r.crontab}`,
  label: (r) => r.name,
  columns: [
    { label: 'Name', cell: (r) => h('strong', null, r.name) },
    { label: 'Cron', cell: (r) => h('code', null, r.crontab) },
    { label: 'Next run', cell: (r) => (r.nextRuns && r.nextRuns[0] ? `${date(r.nextRuns[0])} (${ago(r.nextRuns[0])})` : '—') },
    { label: 'Enabled', cell: (r) => yes(r.enabled) },
  ],
  form: () => [
    { name: 'name', label: 'Name', required: true },
    { name: 'crontab', label: 'Cron expression (UTC)', type: 'cron', required: true, placeholder: '30 2 * * *', help: '5 fields (minute hour day month weekday), @hourly, @daily, @weekly, @monthly, or the original 6-field form ending with the year. Pick a preset to start from.' },
    { name: 'enabled', label: 'Enabled', type: 'checkbox', default: true },
  ],
  initial: (r) => r,
  defaults: () => ({ enabled: true, crontab: '0 3 * * *' }),
  input: (v) => ({ name: v.name, crontab: v.crontab.trim(), enabled: v.enabled }),
  inputType: 'ScheduleInput', create: 'createSchedule', update: 'updateSchedule', del: 'deleteSchedule',
});

const ROLES = [['VIEWER', 'Viewer: reads granted clients and policies'], ['OPERATOR', 'Operator: also launches, cancels and restores'], ['SUPERUSER', 'Superuser: everything']];
const roleBadge = (r) => badge((r.role || (r.isSuperuser ? 'SUPERUSER' : 'VIEWER')).toLowerCase(), r.role === 'SUPERUSER' ? 'running' : '');
const ids = (grants, key, restore) => grants.filter((g) => g[key] != null && (restore === undefined || g.restore === restore)).map((g) => g[key]);

/** Grants from the four selects: every granted client or policy, restore where ticked. */
function grantsOf(v) {
  const restoreC = new Set(v.restoreClients || []);
  const restoreP = new Set(v.restorePolicies || []);
  const c = new Set([...(v.grantClients || []), ...restoreC]);
  const p = new Set([...(v.grantPolicies || []), ...restoreP]);
  return [...[...c].map((id) => ({ client: id, restore: restoreC.has(id) })), ...[...p].map((id) => ({ policy: id, restore: restoreP.has(id) }))];
}

export const users = crud({
  field: 'users', singular: 'user', Singular: 'User', plural: 'users',
  fields: 'id email firstName lastName isSuperuser role grants { clientId policyId restore } isActive created lastLogin',
  searchText: (r) => `${r.email} ${r.firstName} ${r.lastName}`,
  label: (r) => r.email,
  columns: [
    { label: 'Email', cell: (r) => h('strong', null, r.email) },
    { label: 'Name', cell: (r) => `${r.firstName} ${r.lastName}`.trim() || '—' },
    { label: 'Role', cell: roleBadge },
    { label: 'Grants', cell: (r) => (r.role === 'SUPERUSER' ? 'all' : `${(r.grants || []).length || 'none'}`) },
    { label: 'Active', cell: (r) => yes(r.isActive) },
    { label: 'Last login', cell: (r) => (r.lastLogin ? ago(r.lastLogin) : 'never') },
  ],
  actions: (r) => [h('button', { class: 'link', 'aria-label': `set the password of ${r.email}`, onclick: () => setPassword(r) }, 'Set password')],
  // Clients and policies offered by the grants editor.
  prepareForm: async () => {
    const [clients, policies] = await Promise.all([list('clients', 'id hostname', {}, { first: 500 }), list('policies', 'id name', {}, { first: 500 })]);
    return { clients: clients.nodes.map((c) => [c.id, c.hostname]), policies: policies.nodes.map((p) => [p.id, p.name]) };
  },
  form: (row, refs) => [
    { name: 'email', label: 'Email', type: 'email', required: true },
    !row && { name: 'password', label: 'Password', type: 'password', required: true, autocomplete: 'new-password' },
    { name: 'firstName', label: 'First name', aliases: ['first_name'] },
    { name: 'lastName', label: 'Last name', aliases: ['last_name'] },
    { name: 'role', label: 'Role', type: 'select', options: ROLES, aliases: ['is_superuser', 'isSuperuser'] },
    { name: 'grantClients', label: 'Clients granted', type: 'select', multiple: true, numeric: true, options: refs.clients, aliases: ['grants'], help: 'Every policy backing up these clients: inventory, jobs, statistics, catalog.' },
    { name: 'grantPolicies', label: 'Policies granted', type: 'select', multiple: true, numeric: true, options: refs.policies, help: 'Every client these policies back up.' },
    { name: 'restoreClients', label: 'Restore and download on clients', type: 'select', multiple: true, numeric: true, options: refs.clients, help: 'File contents of these clients, and restoring onto them (operators).' },
    { name: 'restorePolicies', label: 'Restore and download on policies', type: 'select', multiple: true, numeric: true, options: refs.policies },
  ].filter(Boolean),
  initial: (r) => {
    const g = r.grants || [];
    return { ...r, role: r.role, grantClients: ids(g, 'clientId'), grantPolicies: ids(g, 'policyId'), restoreClients: ids(g, 'clientId', true), restorePolicies: ids(g, 'policyId', true) };
  },
  defaults: () => ({ role: 'VIEWER' }),
  // A new user takes every field; an edit sends a patch without the password (set apart).
  input: (v, row) => {
    const access = { role: v.role, grants: v.role === 'SUPERUSER' ? [] : grantsOf(v) };
    const profile = { email: v.email, firstName: v.firstName, lastName: v.lastName };
    return row ? { ...profile, ...access } : { ...profile, password: v.password, ...access };
  },
  inputType: 'UserInput', updateInputType: 'UserPatch', create: 'createUser', update: 'updateUser', del: 'deleteUser',
});

// Your own password needs the current one; another user's (as a superuser) does not.
async function setPassword(user) {
  let own = false;
  try { own = (await gql('{ me { id } }')).me.id === user.id; } catch { /* asked by the server then */ }
  const fields = [{ name: 'password', label: `New password for ${user.email}`, type: 'password', required: true, autocomplete: 'new-password' }];
  if (own) fields.unshift({ name: 'currentPassword', label: 'Your current password', type: 'password', required: true, autocomplete: 'current-password' });
  const f = form(fields, {}, {
    submitLabel: 'Set password', onCancel: closeModal,
    onSubmit: async (v) => {
      await gql('mutation($u: Int!, $p: String!, $c: String) { setPassword(userId: $u, password: $p, currentPassword: $c) }', { u: user.id, p: v.password, c: v.currentPassword || null });
      closeModal();
      toast('Password changed', 'ok');
    },
  });
  modal('Set password', f);
}
