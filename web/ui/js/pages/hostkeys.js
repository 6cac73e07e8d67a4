// SSH host keys pinned on first connection: every pinned key, and for a host that presented a
// different key, both fingerprints side by side and “accept new fingerprint” behind a dialog.
import { h, mount, modal, closeModal, toast, table, badge, loading, errorBox } from '../dom.js';
import { gql, list } from '../api.js';
import { date, ago } from '../format.js';

const FIELDS = 'host port keyType fingerprint firstSeen acceptedBy pendingFingerprint';

/** The page: changed keys first, then every pinned key. */
export async function render(content) {
  mount(content, h('div', { class: 'note', id: 'host-keys-help' },
    'The server pins each host’s SSH key on first connection and refuses a host whose key changed. ',
    'Check a changed fingerprint out of band (on the host: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) before accepting it.'),
  hostKeys());
}

/** A card listing the pinned keys; reused by the SSH settings tab. */
export function hostKeys() {
  const box = h('section', { class: 'card', id: 'host-keys', 'aria-labelledby': 'host-keys-title' });
  const title = () => h('h2', { id: 'host-keys-title' }, 'SSH host keys');
  mount(box, title(), loading());
  const load = async () => {
    try {
      const keys = (await list('hostKeys', FIELDS, {}, { first: 500 })).nodes
        .slice().sort((a, b) => Number(!!b.pendingFingerprint) - Number(!!a.pendingFingerprint) || a.host.localeCompare(b.host));
      const changed = keys.filter((k) => k.pendingFingerprint).length;
      mount(box, title(),
        changed ? h('div', { class: 'note bad', role: 'alert', id: 'host-keys-changed' }, `${changed} host${changed === 1 ? '' : 's'} presented a changed key: jobs on ${changed === 1 ? 'it' : 'them'} fail until you accept the new key.`) : null,
        table([
          { label: 'Host', cell: (k) => h('strong', null, `${k.host}:${k.port}`) },
          { label: 'State', cell: (k) => (k.pendingFingerprint ? badge('changed', 'bad') : badge('pinned', 'ok')) },
          { label: 'Pinned key', cell: (k) => h('div', null, h('div', { class: 'muted small' }, k.keyType), h('span', { class: 'mono fp', dataset: { fingerprint: k.host } }, k.fingerprint)) },
          { label: 'Presented now', cell: (k) => (k.pendingFingerprint ? h('span', { class: 'mono fp', style: 'color: var(--bad)', dataset: { pending: k.host } }, k.pendingFingerprint) : h('span', { class: 'muted' }, 'the pinned key')) },
          { label: 'First seen', cell: (k) => h('span', { title: date(k.firstSeen) }, ago(k.firstSeen)) },
          { label: 'Accepted by', cell: (k) => k.acceptedBy || '—' },
          { label: 'Actions', class: 'actions', cell: (k) => k.pendingFingerprint && h('button', { class: 'danger', dataset: { accept: `${k.host}:${k.port}` }, 'aria-label': `accept the new fingerprint of ${k.host}:${k.port}`, onclick: () => accept(k, load) }, 'Accept new fingerprint') },
        ], keys, { empty: 'No host pinned yet: keys are pinned on first connection.', key: (k) => `${k.host}:${k.port}` }));
    } catch (e) {
      mount(box, title(), errorBox(e));
    }
  };
  load();
  return box;
}

/** Confirms the change with both fingerprints shown, then accepts the presented key. */
function accept(k, reload) {
  const err = h('div', { class: 'error-box', role: 'alert', hidden: true });
  const yes = h('button', { class: 'danger', id: 'accept-host-key', type: 'button', onclick: async () => {
    yes.disabled = true;
    err.hidden = true;
    try {
      await gql('mutation($h: String!, $p: Int!) { acceptHostKey(host: $h, port: $p) { host fingerprint } }', { h: k.host, p: k.port });
      closeModal();
      toast(`New key of ${k.host}:${k.port} accepted`, 'ok');
      reload();
    } catch (e) {
      err.hidden = false;
      err.textContent = e.message;
      yes.disabled = false;
    }
  } }, 'Accept new fingerprint');
  const { el } = modal(`Changed host key of ${k.host}:${k.port}`, h('div', { id: 'accept-dialog' },
    h('dl', { class: 'kv' },
      h('dt', null, 'Pinned'), h('dd', { class: 'mono' }, `${k.keyType} ${k.fingerprint}`),
      h('dt', null, 'Presented now'), h('dd', { class: 'mono', style: 'color: var(--bad)' }, k.pendingFingerprint)),
    h('p', { class: 'muted' }, 'A changed key is expected after reinstalling the host; otherwise it may be someone in between. Accept only a fingerprint you checked on the host itself.'),
    err, h('div', { class: 'formactions' }, yes, h('button', { type: 'button', onclick: closeModal }, 'Cancel'))));
  el.querySelector('#accept-host-key').focus();
}
