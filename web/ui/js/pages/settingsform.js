// Structured settings: one form per settings page built from the settings registry (label,
// help, kind, default, group of every key), with one Save that writes every changed field and
// puts each refusal next to its field. Servers without the registry's fields get labels and
// kinds from the table below, so the form looks the same either way.
import { h, mount, toast } from '../dom.js';
import { gqlAll } from '../api.js';

/** What the UI knows of settings when the server's registry does not say. */
const KNOWN = {
  url: ['general', 'Public URL', 'The address browsers and clients use to reach this server (links in mail).', 'url', ''],
  backup_user: ['general', 'Backup user', 'The user the server logs in as on clients: root, or a user allowed to run borg with sudo -n.', 'string', 'root'],
  install_borg: ['general', 'Install borg when missing', 'Client preparation installs the distribution’s borgbackup package when borg is missing.', 'bool', 'true'],
  integrity_check: ['checks', 'Integrity checks', 'Run borg check of every repository on the schedule below.', 'bool', 'false'],
  ic_cron: ['checks', 'Integrity check schedule', 'When integrity checks run (cron, UTC).', 'cron', '0 4 * * 0'],
  auto_restore_test: ['checks', 'Restore drills', 'Run a restore drill of every series on the schedule below.', 'bool', 'false'],
  restore_test_cron: ['checks', 'Restore drill schedule', 'When restore drills run (cron, UTC); a policy may set its own.', 'cron', '0 4 * * 0'],
  'mail.host': ['mail', 'SMTP server', 'Host name or address of the mail server. Empty: no mail is sent.', 'string', ''],
  'mail.port': ['mail', 'Port', 'Empty: 25 without TLS, 587 with STARTTLS, 465 with TLS.', 'port', ''],
  'mail.security': ['mail', 'Security', 'How the connection is protected.', 'enum:none,starttls,tls', 'none'],
  'mail.username': ['mail', 'User name', 'For SMTP AUTH; empty: no authentication.', 'string', ''],
  'mail.password': ['mail', 'Password', 'For SMTP AUTH. Stored encrypted, never shown again.', 'secret', ''],
  'mail.from': ['mail', 'Sender address', 'The From: of every mail, e.g. backup@example.com.', 'email', ''],
  'mail.ca_certificate': ['mail', 'Private CA certificate', 'PEM certificates trusted for the mail server besides the public roots.', 'pem', ''],
  'mail.timeout_seconds': ['mail', 'Timeout (seconds)', 'How long to wait for the mail server.', 'int', '30'],
  'mail.retry_seconds': ['mail', 'First retry after (seconds)', 'A failed delivery is retried after this delay, doubled each time.', 'int', '60'],
  'webhook.url': ['webhook', 'Webhook URL', 'Receives a JSON POST for every alert (failed backup, overdue series, failed check or drill).', 'url', ''],
  'webhook.secret': ['webhook', 'Webhook secret', 'Sent in the header below so the receiver can trust the call. Stored encrypted.', 'secret', ''],
  'webhook.secret_header': ['webhook', 'Secret header', 'The header that carries the secret.', 'string', 'X-CyBorgBackup-Secret'],
  'report.url': ['reports', 'Link in reports', 'The console’s address shown in reports.', 'url', ''],
  'report.daily_cron': ['reports', 'Daily report', 'When the daily report is sent (cron, UTC).', 'cron', '0 7 * * *'],
  'report.weekly_cron': ['reports', 'Weekly report', 'When the weekly report is sent.', 'cron', '0 7 * * 1'],
  'report.monthly_cron': ['reports', 'Monthly report', 'When the monthly report is sent.', 'cron', '0 7 1 * *'],
  'metrics.auth': ['metrics', 'Metrics access', 'Who may read /metrics: any API token, superusers only, or anyone.', 'enum:token,admin,none', 'token'],
};

const GROUP_LABEL = {
  general: 'General', checks: 'Integrity checks and restore drills', mail: 'Mail server', webhook: 'Webhook',
  reports: 'Scheduled reports', metrics: 'Prometheus metrics', retention: 'Retention', jobs: 'Jobs',
};

/** Whether a key is written with `setNotificationSetting` (else `updateSetting`). */
const isNotification = (key) => /^(mail|webhook|report|metrics)\./.test(key);

/** The settings with their description, from the registry when the server has it. */
export async function loadSettings({ notifications = true } = {}) {
  const rich = 'settings { key label help kind default group value isSecret }';
  let r = await gqlAll(`{ ${rich} ${notifications ? 'notificationSettings { key value isSecret }' : ''} }`);
  let registry = true;
  if (r.errors && !r.data) {
    registry = false;
    r = await gqlAll(`{ settings { key value isSecret description } ${notifications ? 'notificationSettings { key value isSecret }' : ''} }`);
  }
  if (r.errors && !r.data) throw new Error(r.errors[0].message);
  const items = new Map();
  for (const s of [...(r.data.notificationSettings || []), ...(r.data.settings || [])]) {
    const known = KNOWN[s.key] || [];
    const prev = items.get(s.key) || {};
    items.set(s.key, {
      key: s.key,
      value: s.value ?? prev.value ?? '',
      isSecret: !!(s.isSecret || prev.isSecret || (s.kind || known[3]) === 'secret'),
      group: (registry && s.group) || prev.group || known[0] || (s.key.includes('.') ? s.key.split('.')[0] : 'general'),
      label: (registry && s.label) || prev.label || known[1] || s.key,
      help: (registry && s.help) || prev.help || known[2] || s.description || '',
      kind: String((registry && s.kind) || prev.kind || known[3] || 'string'),
      default: (registry && s.default !== undefined && s.default !== null) ? String(s.default) : (prev.default ?? known[4] ?? ''),
    });
  }
  return [...items.values()];
}

/** The input for a setting by its kind. */
function input(s, id) {
  const kind = s.kind.toLowerCase();
  const base = { id, name: s.key, 'aria-describedby': `${id}-help` };
  if (s.isSecret || /secret|password/.test(kind)) {
    return h('input', { ...base, type: 'password', autocomplete: 'new-password', value: '', placeholder: s.value ? 'set: type to replace' : 'not set' });
  }
  if (/bool/.test(kind)) {
    return h('select', base, [['', `default (${s.default || 'false'})`], ['true', 'yes'], ['false', 'no']]
      .map(([v, l]) => h('option', { value: v, selected: s.value === v }, l)));
  }
  const choices = kind.startsWith('enum:') ? kind.slice(5).split(',') : null;
  if (choices) {
    return h('select', base, h('option', { value: '' }, `default (${s.default || choices[0]})`),
      choices.map((c) => h('option', { value: c, selected: s.value === c }, c)));
  }
  if (/pem|multiline|text$/.test(kind)) return h('textarea', { ...base, rows: 4 }, s.value);
  const type = /port|int|number|seconds|days|count|u16|u32|u64|i64/.test(kind) ? 'number'
    : /url/.test(kind) ? 'url' : /email/.test(kind) ? 'email' : 'text';
  return h('input', { ...base, type, value: s.value, placeholder: s.default ? `default: ${s.default}` : '', min: type === 'number' ? 0 : undefined, class: /cron/.test(kind) ? 'mono' : undefined });
}

/**
 * A form over `items` grouped in fieldsets, with one Save. `onSaved()` runs after a save
 * without refusals. The form's id is `id`.
 */
export function settingsForm(items, id, { onSaved = () => {} } = {}) {
  const groups = new Map();
  for (const s of items) {
    if (!groups.has(s.group)) groups.set(s.group, []);
    groups.get(s.group).push(s);
  }
  const fieldOf = new Map();
  const f = h('form', { class: 'form settings-form', id, novalidate: true });
  for (const [g, list] of groups) {
    f.appendChild(h('fieldset', { dataset: { group: g } }, h('legend', null, GROUP_LABEL[g] || g),
      list.map((s) => {
        const fid = `set-${s.key.replace(/[^a-z0-9]/gi, '-')}`;
        const el = input(s, fid);
        const box = h('div', { class: 'field', dataset: { field: s.key } },
          h('label', { for: fid }, s.label, ' ', h('code', { class: 'muted small key' }, s.key)), el,
          h('div', { class: 'help', id: `${fid}-help` }, s.help, s.default && !s.isSecret ? h('span', { class: 'dflt' }, ` Default: ${s.default}.`) : null),
          h('div', { class: 'ferr', id: `${fid}-error`, role: 'alert' }));
        fieldOf.set(s.key, { s, el, box });
        return box;
      })));
  }
  const save = h('button', { type: 'submit', class: 'primary', id: `${id}-save` }, 'Save');
  const state = h('span', { class: 'muted small', 'aria-live': 'polite' });
  f.appendChild(h('div', { class: 'formactions' }, save, state));
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    for (const { box } of fieldOf.values()) { box.classList.remove('invalid'); box.querySelector('.ferr').textContent = ''; }
    const changed = [...fieldOf.values()].filter(({ s, el }) => (s.isSecret ? el.value !== '' : el.value.trim() !== s.value));
    if (!changed.length) { state.textContent = 'Nothing changed.'; return; }
    save.disabled = true;
    state.textContent = 'Saving…';
    const decl = changed.map((_, i) => `$v${i}: String!`).join(', ');
    const body = changed.map(({ s }, i) => `s${i}: ${isNotification(s.key) ? 'setNotificationSetting' : 'updateSetting'}(key: ${JSON.stringify(s.key)}, value: $v${i}) { key }`).join(' ');
    const vars = Object.fromEntries(changed.map(({ s, el }, i) => [`v${i}`, s.isSecret ? el.value : el.value.trim()]));
    try {
      const r = await gqlAll(`mutation(${decl}) { ${body} }`, vars);
      const refused = new Map();
      for (const e of r.errors || []) {
        const i = e.path && /^s\d+$/.test(e.path[0]) ? Number(e.path[0].slice(1)) : -1;
        const x = e.extensions || {};
        const reason = (x.fields && x.fields[0] && x.fields[0].reason) || e.message;
        if (i >= 0) refused.set(changed[i].s.key, reason.replace(new RegExp(`^${changed[i].s.key.replace('.', '\\.')}: `), ''));
        else refused.set('', e.message);
      }
      const saved = changed.filter((c, i) => !refused.has(c.s.key) && r.data && r.data[`s${i}`]);
      for (const { s, el } of saved) {
        if (s.isSecret) { s.value = '(set)'; el.value = ''; el.placeholder = 'set: type to replace'; } else s.value = el.value.trim();
      }
      let first = null;
      for (const [key, reason] of refused) {
        const target = fieldOf.get(key);
        if (!target) { toast(reason, 'bad'); continue; }
        target.box.classList.add('invalid');
        target.box.querySelector('.ferr').textContent = reason;
        target.el.setAttribute('aria-invalid', 'true');
        first = first || target.el;
      }
      if (first) first.focus();
      state.textContent = refused.size ? `${saved.length} saved, ${refused.size} refused: see the marked field${refused.size > 1 ? 's' : ''}.` : 'Saved.';
      if (saved.length) toast(saved.length === 1 ? `${saved[0].s.key} saved` : `${saved.length} settings saved`, 'ok');
      if (!refused.size) onSaved();
    } catch (e) {
      state.textContent = '';
      toast(e.message, 'bad');
    } finally {
      save.disabled = false;
    }
  });
  for (const { el } of fieldOf.values()) el.addEventListener('input', () => { state.textContent = 'Unsaved changes.'; });
  return f;
}

/** Mounts a settings form for the groups `keep(group)` into `box`, with a title. */
export async function settingsCard(box, title, keep, id) {
  const items = (await loadSettings()).filter((s) => keep(s.group, s.key));
  mount(box, h('div', { class: 'card' }, h('h2', null, title), settingsForm(items, id)));
}
