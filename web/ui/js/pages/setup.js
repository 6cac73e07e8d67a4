// Guided host setup: after a client or repository is added, the exact `authorized_keys` line
// (and a command that installs it) for the server's SSH key, a "Test connection" with each
// step's result (reachable, host key, login, borg version, sudo), and the next step.
// Also the repository form's encryption choice: a generated passphrase by default, and an
// explicit confirmation for an unencrypted repository.
import { h, mount, modal, closeModal, toast, copyText, badge, loading, errorBox } from '../dom.js';
import { gql, ApiError } from '../api.js';

const STEP_LABEL = { reachable: 'Reachable', host_key: 'Host key', login: 'Login', borg: 'Borg', sudo: 'Sudo', local: 'Local' };

/** Runs a connection test mutation and shows each step in `out`. */
async function runTest(mutation, id, out, button) {
  button.disabled = true;
  mount(out, loading('Testing the connection…'));
  try {
    const d = await gql(`mutation($id: Int!) { ${mutation}(id: $id) { host port user ok steps { step ok detail } } }`, { id });
    const t = d[mutation];
    mount(out, h('div', { class: `conn-result ${t.ok ? 'ok' : 'bad'}`, id: 'connection-result', dataset: { ok: String(t.ok) } },
      h('div', { class: 'row' }, badge(t.ok ? 'connection works' : 'connection fails', t.ok ? 'ok' : 'bad'),
        h('span', { class: 'muted small' }, t.port ? `${t.user}@${t.host}:${t.port}` : `${t.user}@${t.host}`)),
      h('ol', { class: 'steps', id: 'connection-steps' }, t.steps.map((s) => h('li', { class: s.ok ? 'ok' : 'bad', dataset: { step: s.step, ok: String(s.ok) } },
        h('span', { class: 'mark', 'aria-hidden': 'true' }, s.ok ? '✓' : '✗'),
        h('strong', null, STEP_LABEL[s.step] || s.step), ' ', h('span', { class: 'detail' }, s.detail))))));
  } catch (e) {
    mount(out, errorBox(e));
  } finally {
    button.disabled = false;
  }
}

/** The key line, its install command, and copy buttons. */
function keyBlock(setup, host) {
  if (setup.local) return h('p', { class: 'muted' }, `${host} is this server: borg runs here, no SSH key is needed.`);
  if (!setup.authorizedKeysLine) {
    return h('div', { class: 'note' }, 'The server has no SSH key yet. ', h('a', { href: '#/settings/ssh', onclick: closeModal }, 'Generate or import one on the SSH settings page'), ', then come back to this client.');
  }
  return h('div', { class: 'setup-key' },
    h('p', null, 'On ', h('strong', null, host), ', add this line to ', h('code', null, `~${setup.user}/.ssh/authorized_keys`), ':'),
    h('pre', { class: 'pubkey', id: 'authorized-keys-line' }, setup.authorizedKeysLine),
    h('div', { class: 'row' }, h('button', { type: 'button', onclick: () => copyText(setup.authorizedKeysLine) }, 'Copy the line')),
    h('p', null, `Or run this there as ${setup.user}:`),
    h('pre', { class: 'pubkey', id: 'install-command' }, setup.installCommand),
    h('div', { class: 'row' }, h('button', { type: 'button', onclick: () => copyText(setup.installCommand) }, 'Copy the command')),
    setup.user !== 'root' && h('p', { class: 'muted small' }, `${setup.user} is not root: borg runs with sudo -n, so ${setup.user} needs a NOPASSWD sudoers rule.`));
}

/** The setup dialog of a client: key line, connection test, then "Prepare". */
export async function clientSetup(id, { created = false } = {}) {
  let setup;
  try {
    setup = (await gql('query($id: Int!) { clientSetup(id: $id) { clientId hostname local user authorizedKeysLine installCommand } }', { id })).clientSetup;
  } catch (e) { toast(e.message, 'bad'); return; }
  const out = h('div', { id: 'connection-test' });
  const test = h('button', { type: 'button', class: 'primary', id: 'test-connection', onclick: () => runTest('testClientConnection', id, out, test) }, 'Test connection');
  const prepare = h('button', { type: 'button', id: 'setup-prepare', onclick: async () => {
    try {
      const d = await gql('mutation($id: Int!) { prepareClient(id: $id) { id } }', { id });
      closeModal();
      location.hash = `#/jobs/${d.prepareClient.id}`;
    } catch (e) { toast(e.message, 'bad'); }
  } }, 'Prepare now');
  modal(`${created ? 'Client added: ' : ''}set up ${setup.hostname}`, h('div', { class: 'setup', id: 'client-setup' },
    h('ol', { class: 'setup-steps' },
      h('li', null, h('strong', null, 'Let the server log in. '), keyBlock(setup, setup.hostname)),
      h('li', null, h('strong', null, 'Test the connection: '), 'reachability, host key, login, borg and sudo.', h('div', { class: 'row', style: 'margin: 8px 0' }, test), out),
      h('li', null, h('strong', null, 'Prepare the client: '), 'records its borg version and system, and installs borg when it is missing.', h('div', { class: 'row', style: 'margin-top: 8px' }, prepare))),
    h('div', { class: 'formactions' }, h('button', { type: 'button', onclick: closeModal }, 'Done'))), { wide: true });
}

/** The setup dialog of a repository: its host's key line when remote, and a connection test. */
export async function repositorySetup(repo, { created = false } = {}) {
  const remote = !repo.path.startsWith('/');
  let setup = null;
  if (remote) {
    const host = repo.path.replace(/^ssh:\/\//, '').split(/[:/]/)[0];
    try {
      setup = (await gql('{ sshPublicKey }')).sshPublicKey;
    } catch { setup = null; }
    const user = host.includes('@') ? host.split('@')[0] : 'the backup user';
    setup = { local: false, user, authorizedKeysLine: setup || null, installCommand: setup ? `umask 077; mkdir -p ~/.ssh && echo '${setup.trim()}' >> ~/.ssh/authorized_keys` : null };
  }
  const out = h('div', { id: 'connection-test' });
  const test = h('button', { type: 'button', class: 'primary', id: 'test-connection', onclick: () => runTest('testRepositoryConnection', repo.id, out, test) }, 'Test connection');
  modal(`${created ? 'Repository added: ' : ''}${repo.name}`, h('div', { class: 'setup', id: 'repository-setup' },
    remote ? keyBlock(setup, repo.path.replace(/^ssh:\/\//, '').split(/[:/]/)[0]) : h('p', { class: 'muted' }, `${repo.path} is on this server.`),
    h('div', { class: 'row', style: 'margin: 8px 0' }, test), out,
    h('p', { class: 'muted small' }, 'The repository is initialised (borg init) before its first backup, or now with Prepare in its row.'),
    h('div', { class: 'formactions' }, h('button', { type: 'button', onclick: closeModal }, 'Done'))), { wide: true });
}

/** A strong random passphrase: 6 groups of 5 characters (about 150 bits). */
export function generatePassphrase() {
  const abc = 'abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  const bytes = new Uint32Array(30);
  crypto.getRandomValues(bytes);
  const chars = [...bytes].map((b) => abc[b % abc.length]);
  return Array.from({ length: 6 }, (_, i) => chars.slice(i * 5, i * 5 + 5).join('')).join('-');
}

/** Shows the passphrase or the confirmation by the encryption chosen; adds "Generate". */
export function encryptionControls(form) {
  const mode = form.elements.namedItem('encryption');
  const keyField = form.querySelector('.field[data-field=repositoryKey]');
  const confirmField = form.querySelector('.field[data-field=confirmUnencrypted]');
  if (!mode || !keyField || !confirmField) return;
  const input = keyField.querySelector('input');
  const regen = h('button', { type: 'button', class: 'link', id: 'generate-passphrase', onclick: () => { input.value = generatePassphrase(); input.focus(); input.select(); } }, 'Generate another');
  const copy = h('button', { type: 'button', class: 'link', onclick: () => copyText(input.value) }, 'Copy');
  keyField.insertBefore(h('div', { class: 'row' }, regen, copy), keyField.querySelector('.help'));
  const sync = () => {
    const none = mode.value === 'none';
    keyField.hidden = none;
    confirmField.hidden = !none;
  };
  mode.addEventListener('change', sync);
  sync();
}

/** Refuses an unencrypted repository without its confirmation, or a missing passphrase. */
export function checkEncryption(v) {
  const err = (field, message) => new ApiError([{ message, extensions: { code: 'VALIDATION', field } }]);
  if (v.encryption === 'none' && !v.confirmUnencrypted) {
    throw err('confirmUnencrypted', 'confirm that the archives will be stored unencrypted, or choose an encrypted repository');
  }
  if (v.encryption !== 'none' && !String(v.repositoryKey || '').trim()) {
    throw err('repositoryKey', 'an encrypted repository needs a passphrase (or generate one)');
  }
}
