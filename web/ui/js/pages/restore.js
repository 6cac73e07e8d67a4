// Restore from a catalog result or a tree node: to the original host, another client, or as a
// download (a single-use link from `restoreDownload`).
import { h, mount, modal, closeModal, toast } from '../dom.js';
import { gql, list } from '../api.js';
import { form } from '../forms.js';

const missing = (e) => /Unknown field|Cannot query|unknown type/i.test(e.message);

/** Opens the restore dialog for `paths` of archive `archive` (held by client `clientId`). */
export async function restoreDialog({ archive, paths, clientId, archiveName }) {
  let clients = [];
  try { clients = (await list('clients', 'id hostname', {}, { first: 500 })).nodes; } catch { /* only the original host then */ }
  const where = h('div', { class: 'muted small' }, `${paths.join(', ')} from ${archiveName || `archive ${archive}`}`);
  const dl = h('div', { id: 'download-box' });
  const downloadBtn = h('button', { type: 'button', id: 'restore-download', onclick: () => download(archive, paths, dl) }, 'Download instead');
  const f = form([
    { name: 'client', label: 'Restore to', type: 'select', numeric: true, options: clients.map((c) => [c.id, c.id === clientId ? `${c.hostname} (original host)` : c.hostname]) },
    { name: 'targetDirectory', label: 'Target directory (empty: the original location)', placeholder: '/tmp/restored', aliases: ['target_directory'] },
    { name: 'overwrite', label: 'Overwrite existing files', type: 'checkbox' },
    { name: 'dryRun', label: 'Dry run (list what would be restored)', type: 'checkbox', aliases: ['dry_run'] },
  ], { client: clientId }, {
    submitLabel: 'Restore',
    onCancel: closeModal,
    extra: h('div', null, h('div', { class: 'row' }, downloadBtn, h('span', { class: 'muted small' }, 'a single-use link, no authentication needed')), dl),
    onSubmit: async (v) => {
      try {
        const d = await gql(`mutation($i: RestoreInput!) { restore(input: $i) { id status } }`, {
          i: { archive, paths, client: v.client, targetDirectory: v.targetDirectory || null, overwrite: v.overwrite, dryRun: v.dryRun },
        });
        closeModal();
        toast(`Restore queued: job ${d.restore.id}`, 'ok');
        location.hash = `#/jobs/${d.restore.id}`;
      } catch (e) {
        if (missing(e)) throw new Error('this server does not offer restores through the API yet');
        throw e;
      }
    },
  });
  f.id = 'restore-form';
  modal('Restore', h('div', null, where, f));
}

/** Asks for a download ticket and offers (and follows) its link. */
export async function download(archive, paths, box) {
  mount(box, h('div', { class: 'muted' }, 'Preparing the download…'));
  try {
    const d = await gql('mutation($a: Int!, $p: [String!]!) { restoreDownload(archive: $a, paths: $p) { url expiresAt filename } }', { a: archive, p: paths });
    const r = d.restoreDownload;
    const link = h('a', { href: r.url, download: r.filename, id: 'download-link', class: 'btn primary' }, `Download ${r.filename}`);
    const note = h('span', { class: 'muted small' }, `valid once, until ${r.expiresAt}`);
    // The link works once: after it is followed it is no longer offered, a new one is.
    link.addEventListener('click', () => setTimeout(() => {
      link.removeAttribute('href');
      link.classList.remove('primary');
      link.classList.add('used');
      link.setAttribute('aria-disabled', 'true');
      link.textContent = `${r.filename}: downloaded`;
      mount(note, h('button', { type: 'button', class: 'link', onclick: () => download(archive, paths, box) }, 'Download again (new link)'));
    }, 0));
    mount(box, h('div', { class: 'row', style: 'margin-top: 8px' }, link, note));
    link.click();
  } catch (e) {
    mount(box, h('div', { class: 'error-box', role: 'alert' }, missing(e) ? 'This server does not offer downloads through the API yet.' : e.message));
  }
}
