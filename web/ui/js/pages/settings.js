// Settings: instance settings (public URL, backup user, catalog, auto-prune, restore drills,
// integrity checks), mail with a test message, the server's SSH key, host keys, the caller's
// notification preferences and API tokens.
import { h, mount, table, badge, loading, errorBox, toast, copyText, confirmDo, modal, closeModal } from '../dom.js';
import { gql, list as listOf } from '../api.js';
import { form } from '../forms.js';
import { date, ago } from '../format.js';
import { hostKeys } from './hostkeys.js';
import { loadSettings, settingsForm } from './settingsform.js';

/** Setting groups shown on the mail tab (the others are on the general tab). */
const MAIL_GROUPS = ['mail', 'webhooks', 'reports', 'metrics'];
const SECTIONS = [['general', 'General'], ['mail', 'Mail & notifications'], ['ssh', 'SSH'], ['me', 'My notifications'], ['tokens', 'API tokens']];

export async function render(content, r) {
  const sub = r.parts[0] || 'general';
  const tabs = h('nav', { class: 'tabs' }, SECTIONS.map(([id, l]) => h('a', { href: `#/settings/${id}`, class: sub === id ? 'active' : '' }, l)));
  const box = h('div', { id: `settings-${sub}` });
  mount(content, tabs, box);
  const f = { general, mail, ssh, me, tokens }[sub] || general;
  await f(box);
}

async function general(box) {
  mount(box, loading());
  try {
    const [items, v] = await Promise.all([loadSettings(), gql('{ version }')]);
    const mine = items.filter((x) => !MAIL_GROUPS.includes(x.group));
    mount(box, h('div', { class: 'card' }, h('h2', null, 'Instance settings'),
      h('div', { class: 'muted small', style: 'margin-bottom: 8px' }, `CyBorgBackup ${v.version}. Times are UTC.`),
      settingsForm(mine, 'settings-form-general')));
  } catch (e) { mount(box, errorBox(e)); }
}

/** The outbox: every queued mail and webhook with its state and, when it failed, why. */
async function outbox(el) {
  let rows = [];
  try {
    rows = (await listOf('outgoingMessages', 'id channel kind recipients subject state attempts lastError created', {}, { first: 30 })).nodes.slice(0, 30);
  } catch (e) { mount(el, errorBox(e)); return; }
  const kind = (st) => (st === 'sent' ? 'ok' : st === 'failed' ? 'bad' : 'warn');
  mount(el, table([
    { label: 'When', cell: (m) => h('span', { title: date(m.created) }, ago(m.created)) },
    { label: 'Channel', cell: (m) => m.channel },
    { label: 'Subject', cell: (m) => h('div', null, m.subject, h('div', { class: 'muted small' }, m.kind)) },
    { label: 'To', cell: (m) => h('span', { class: 'ellipsis', style: 'max-width: 24ch; display: inline-block', title: m.recipients }, m.recipients) },
    { label: 'State', cell: (m) => h('div', null, badge(m.state, kind(m.state)), m.attempts ? h('div', { class: 'muted small' }, `${m.attempts} attempt${m.attempts === 1 ? '' : 's'}`) : null) },
    { label: 'Error', cell: (m) => (m.lastError ? h('div', { class: 'outbox-error', dataset: { outboxError: m.id } }, m.lastError) : h('span', { class: 'muted' }, '—')) },
  ], rows, { empty: 'Nothing sent yet.', key: (m) => m.id }));
}

async function mail(box) {
  mount(box, loading());
  try {
    const items = (await loadSettings()).filter((x) => MAIL_GROUPS.includes(x.group));
    const to = h('input', { type: 'email', placeholder: 'you@example.com (default: you)', id: 'test-mail-to', 'aria-label': 'send the test mail to', style: 'min-width: 240px; max-width: 100%' });
    const result = h('div', { id: 'test-mail-result' });
    const sent = h('div', { id: 'outbox' }, loading());
    const send = h('button', { class: 'primary', id: 'send-test-mail', onclick: async () => {
      send.disabled = true;
      mount(result, h('span', { class: 'muted' }, 'Sending…'));
      try {
        const r = await gql('mutation($t: String) { sendTestMail(to: $t) { sent error } }', { t: to.value.trim() || null });
        mount(result, r.sendTestMail.sent ? h('span', { class: 'badge ok' }, 'sent') : h('div', { class: 'error-box' }, r.sendTestMail.error || 'not sent'));
      } catch (e) { mount(result, errorBox(e)); } finally { send.disabled = false; outbox(sent); }
    } }, 'Send test mail');
    mount(box,
      h('div', { class: 'card' }, h('h2', null, 'Mail server, webhook, reports'), settingsForm(items, 'settings-form-mail', { onSaved: () => outbox(sent) })),
      h('div', { class: 'card' }, h('h2', null, 'Test'), h('div', { class: 'muted small', style: 'margin-bottom: 6px' }, 'Save first: the test uses the saved settings and shows the mail server’s answer.'), h('div', { class: 'row' }, to, send), result),
      h('div', { class: 'card' }, h('h2', null, 'Outgoing messages'), sent));
    await outbox(sent);
  } catch (e) { mount(box, errorBox(e)); }
}

async function ssh(box) {
  const keyBox = h('div', { class: 'card', id: 'ssh-key' }, loading());
  const load = async () => {
    try {
      const d = await gql('{ sshPublicKey }');
      const key = d.sshPublicKey;
      mount(keyBox, h('h2', null, 'The server’s SSH key'),
        key ? [h('div', { class: 'pubkey', id: 'ssh-public-key' }, key), h('div', { class: 'muted small', style: 'margin: 6px 0' }, 'Add it to the backup user’s ~/.ssh/authorized_keys on every client and repository host.')]
          : h('div', { class: 'note' }, 'No key yet: generate one or import yours.'),
        h('div', { class: 'row' },
          key && h('button', { id: 'copy-key', onclick: () => copyText(key) }, 'Copy'),
          h('button', { class: key ? 'danger' : 'primary', id: 'generate-key', onclick: () => confirmDo(key ? 'Replace the key? Hosts trusting the old key will refuse the server until you add the new one.' : 'Generate an ed25519 key for the server?', async () => {
            await gql('mutation { generateSshKey }');
            toast('Key generated', 'ok');
            load();
          }) }, key ? 'Generate a new key' : 'Generate a key'),
          h('button', { onclick: importKey }, 'Import a key')));
    } catch (e) { mount(keyBox, errorBox(e)); }
  };
  const importKey = () => {
    const f = form([
      { name: 'privateKey', label: 'OpenSSH private key', type: 'textarea', rows: 8, placeholder: '-----BEGIN OPENSSH PRIVATE KEY-----', aliases: ['private_key'] },
      { name: 'passphrase', label: 'Passphrase (if any)', type: 'password' },
    ], {}, {
      submitLabel: 'Import', onCancel: closeModal,
      onSubmit: async (v) => {
        await gql('mutation($k: String!, $p: String) { importSshKey(privateKey: $k, passphrase: $p) }', { k: v.privateKey, p: v.passphrase || null });
        closeModal();
        toast('Key imported', 'ok');
        load();
      },
    });
    modal('Import an SSH key', f);
  };
  mount(box, keyBox, hostKeys());
  await load();
}

const PREFS = [['backupSuccess', 'A backup succeeded'], ['backupFailed', 'A backup failed'], ['launchSummary', 'Summary of each launch'], ['daily', 'Daily report'], ['weekly', 'Weekly report'], ['monthly', 'Monthly report']];

async function me(box) {
  mount(box, loading());
  try {
    const d = await gql(`{ me { email } notificationPreferences { ${PREFS.map(([k]) => k).join(' ')} } }`);
    const f = form(PREFS.map(([k, l]) => ({ name: k, label: l, type: 'checkbox' })), d.notificationPreferences, {
      submitLabel: 'Save preferences',
      onSubmit: async (v) => {
        await gql('mutation($i: NotificationPreferencesInput!) { setNotificationPreferences(input: $i) { backupFailed } }', { i: v });
        toast('Preferences saved', 'ok');
      },
    });
    mount(box, h('div', { class: 'card' }, h('h2', null, `Mail me (${d.me.email}) when…`), f));
  } catch (e) { mount(box, errorBox(e)); }
}

async function tokens(box) {
  const list = h('div', { id: 'tokens-list' }, loading());
  const shown = h('div');
  const load = async () => {
    try {
      const d = { apiTokens: (await listOf('apiTokens', 'id name created lastUsed', {}, { first: 200 })).nodes };
      mount(list, table([
        { label: 'Name', cell: (t) => t.name }, { label: 'Created', cell: (t) => date(t.created) },
        { label: 'Last used', cell: (t) => (t.lastUsed ? ago(t.lastUsed) : 'never') },
        { label: 'Actions', class: 'actions', cell: (t) => h('button', { class: 'link danger', 'aria-label': `revoke the token ${t.name}`, onclick: () => confirmDo(`Revoke the token “${t.name}”?`, async () => {
          await gql('mutation($id: Int!) { revokeApiToken(id: $id) }', { id: t.id });
          toast('Token revoked', 'ok');
          load();
        }) }, 'Revoke') },
      ], d.apiTokens, { empty: 'No API token.' }));
    } catch (e) { mount(list, errorBox(e)); }
  };
  const f = form([{ name: 'name', label: 'New token name', required: true, placeholder: 'ci-pipeline' }], {}, {
    submitLabel: 'Create token',
    onSubmit: async (v, formEl) => {
      const d = await gql('mutation($n: String!) { createApiToken(name: $n) { id token } }', { n: v.name });
      const tok = d.createApiToken.token;
      mount(shown, h('div', { class: 'note' }, 'Copy the token now: it is not shown again.', h('div', { class: 'pubkey', style: 'margin-top: 6px' }, tok), h('button', { onclick: () => copyText(tok) }, 'Copy')));
      formEl.reset();
      load();
    },
  });
  mount(box, h('div', { class: 'card' }, h('h2', null, 'API tokens'), h('div', { class: 'muted small' }, 'Send as Authorization: Bearer <token> (GraphQL) or Token <token> (REST).'), list), h('div', { class: 'card' }, f, shown));
  await load();
}
