// The catalog: search every version of every file, a file's history, an archive browser loaded
// lazily with `browse`, and the diff of two archives; restore from any result or node.
import { h, mount, table, loading, errorBox, toast, filterBox } from '../dom.js';
import { gql, list } from '../api.js';
import { bytes, date, ago } from '../format.js';
import { restoreDialog, download } from './restore.js';

const HIT = 'path name fileType size mtime mode owner group linktarget clientId clientHostname policyId repositoryId archiveCount archiveIds firstArchive { id name time } lastArchive { id name time }';
const TABS = [['', 'Search'], ['browse', 'Browse archives'], ['diff', 'Compare archives']];

export async function render(content, r) {
  const sub = r.parts[0] || '';
  const tabs = h('nav', { class: 'tabs' }, TABS.map(([id, l]) => h('a', { href: `#/catalog${id ? `/${id}` : ''}`, class: (sub === id || (sub === 'history' && id === '')) ? 'active' : '' }, l)));
  const box = h('div');
  mount(content, tabs, box);
  if (sub === 'history') return history(box, r.params);
  if (sub === 'browse') return browse(box, r.params);
  if (sub === 'diff') return diff(box, r.params);
  return search(box, r.params);
}

async function clientsList() {
  try { return (await list('clients', 'id hostname', {}, { first: 500 })).nodes; } catch { return []; }
}

function fileActions(hit, archiveId, archiveName) {
  const dl = h('span');
  return [
    h('button', { class: 'link', dataset: { history: hit.path }, onclick: () => { location.hash = `#/catalog/history?client=${hit.clientId}&path=${encodeURIComponent(hit.path)}`; } }, 'History'),
    h('button', { class: 'link', dataset: { restore: hit.path }, onclick: () => restoreDialog({ archive: archiveId, paths: [hit.path], clientId: hit.clientId, archiveName }) }, 'Restore'),
    hit.fileType !== 'd' && h('button', { class: 'link', dataset: { download: hit.path }, onclick: () => download(archiveId, [hit.path], dl) }, 'Download'), dl,
  ];
}

/** A labelled filter control. */
const labelled = (text, control) => h('label', null, text, control);

async function search(box, params) {
  const [clients, repos] = await Promise.all([clientsList(), list('repositories', 'id name', {}, { first: 500 }).then((r) => r.nodes).catch(() => [])]);
  const q = h('input', { type: 'search', class: 'search', id: 'catalog-query', name: 'q', 'aria-label': 'search the catalog', placeholder: 'File name, *.glob, /path/prefix/ or a substring', 'data-search': true, value: params.get('q') || '', style: 'flex: 1; min-width: 320px' });
  const opt = (name, v, l) => h('option', { value: String(v), selected: params.get(name) === String(v) }, l);
  const client = h('select', { name: 'client', id: 'catalog-client' }, h('option', { value: '' }, 'Any client'), clients.map((c) => opt('client', c.id, c.hostname)));
  const repository = h('select', { name: 'repository', id: 'catalog-repository' }, h('option', { value: '' }, 'Any repository'), repos.map((x) => opt('repository', x.id, x.name)));
  const archive = h('select', { name: 'archive', id: 'catalog-archive' }, h('option', { value: '' }, 'Any archive'));
  const ftype = h('select', { name: 'fileType', id: 'catalog-type' }, [['', 'Any type'], ['-', 'Files'], ['d', 'Directories'], ['l', 'Symlinks']].map(([v, l]) => opt('type', v, l)));
  let policies = [];
  try { policies = (await list('policies', 'id name', {}, { first: 500 })).nodes; } catch { /* no policy filter */ }
  const policy = h('select', { name: 'policy', id: 'catalog-policy' }, h('option', { value: '' }, 'Any policy'), policies.map((x) => opt('policy', x.id, x.name)));
  const from = h('input', { type: 'date', name: 'from', id: 'catalog-from', value: params.get('from') || '' });
  const to = h('input', { type: 'date', name: 'to', id: 'catalog-to', value: params.get('to') || '' });
  const minSize = h('input', { type: 'number', name: 'minSize', id: 'catalog-min', placeholder: 'bytes', min: 0, style: 'width: 110px', value: params.get('min') || '' });
  const maxSize = h('input', { type: 'number', name: 'maxSize', id: 'catalog-max', placeholder: 'bytes', min: 0, style: 'width: 110px', value: params.get('max') || '' });
  const latest = h('input', { type: 'checkbox', id: 'latest-only', checked: params.get('latest') === '1' });
  const ORDERS = [['NEWEST', 'Newest first'], ['PATH', 'Path A→Z'], ['LARGEST', 'Largest first']];
  const order = h('select', { name: 'order', id: 'catalog-order', 'aria-label': 'sort results' }, ORDERS.map(([v, l]) => h('option', { value: v, selected: (params.get('order') || 'NEWEST') === v }, l)));
  // The archive choice follows the client, repository and policy chosen.
  const fillArchives = async () => {
    const args = { client: ['Int', client.value ? Number(client.value) : null], repository: ['Int', repository.value ? Number(repository.value) : null], policy: ['Int', policy.value ? Number(policy.value) : null] };
    const keep = archive.value || params.get('archive') || '';
    try {
      const r = await list('archives', 'id name time', args, { first: 200 });
      mount(archive, h('option', { value: '' }, r.nodes.length ? 'Any archive' : 'No archive'), r.nodes.map((x) => h('option', { value: String(x.id), selected: keep === String(x.id) }, `${x.name} (${date(x.time)})`)));
    } catch { /* any archive then */ }
  };
  for (const s of [client, repository, policy]) s.addEventListener('change', fillArchives);
  const results = h('div', { id: 'catalog-results' });
  const f = h('form', { id: 'catalog-search', role: 'search', style: 'display: grid; gap: 10px', onsubmit: (e) => {
    e.preventDefault();
    const p = new URLSearchParams();
    if (q.value.trim()) p.set('q', q.value.trim());
    for (const [k, el] of [['client', client], ['repository', repository], ['archive', archive], ['policy', policy], ['type', ftype], ['min', minSize], ['max', maxSize], ['from', from], ['to', to]]) if (el.value) p.set(k, el.value);
    if (latest.checked) p.set('latest', '1');
    if (order.value !== 'NEWEST') p.set('order', order.value);
    const hash = `#/catalog?${p}`;
    if (location.hash === hash) run(); else location.hash = hash;
  } }, h('div', { class: 'row' }, q, labelled('Sort', order), h('button', { class: 'primary', type: 'submit' }, 'Search')),
  filterBox('Filters', h('div', { class: 'filters small', id: 'catalog-filters' }, labelled('Client', client), labelled('Repository', repository), labelled('Policy', policy), labelled('Archive', archive),
    labelled('Type', ftype), labelled('Min size', minSize), labelled('Max size', maxSize), labelled('Modified from', from), labelled('Modified before', to),
    h('label', { class: 'inline' }, latest, 'only in the latest archive')),
  ['client', 'repository', 'archive', 'policy', 'type', 'min', 'max', 'from', 'to', 'latest'].some((k) => params.get(k))));
  await fillArchives();
  order.addEventListener('change', () => f.requestSubmit());
  mount(box, h('div', { class: 'card' }, f), results);
  let hits = [];
  async function run(after = null) {
    const text = q.value.trim();
    if (!text) { mount(results, h('div', { class: 'empty' }, 'Search every version of every file in every archive.')); return; }
    if (!after) mount(results, loading('Searching…'));
    const filter = { latestOnly: latest.checked };
    if (client.value) filter.client = Number(client.value);
    if (repository.value) filter.repository = Number(repository.value);
    if (archive.value) filter.archive = Number(archive.value);
    if (ftype.value) filter.fileType = ftype.value;
    if (minSize.value) filter.minSize = Number(minSize.value);
    if (maxSize.value) filter.maxSize = Number(maxSize.value);
    if (policy.value) filter.policy = Number(policy.value);
    if (from.value) filter.mtimeFrom = `${from.value}T00:00:00Z`;
    if (to.value) filter.mtimeTo = `${to.value}T00:00:00Z`;
    try {
      const d = await gql(`query($q: String!, $f: CatalogFilter, $a: String, $o: CatalogOrder) { catalogSearch(query: $q, filter: $f, first: 50, after: $a, orderBy: $o) { total nextCursor hits { ${HIT} } } }`, { q: text, f: filter, a: after, o: order.value });
      const page = d.catalogSearch;
      hits = after ? hits.concat(page.hits) : page.hits;
      mount(results, h('div', { class: 'card' },
        h('div', { class: 'muted', id: 'catalog-total' }, `${hits.length} of ${page.total} version${page.total === 1 ? '' : 's'}, ${(ORDERS.find(([v]) => v === order.value) || ORDERS[0])[1].toLowerCase()}`),
        hits.length ? hits.map((x) => h('div', { class: 'hit', dataset: { path: x.path } },
          h('div', { class: 'row' }, h('span', { class: 'path' }, x.fileType === 'd' ? `${x.path}/` : x.path), h('div', { class: 'grow spacer' }), fileActions(x, x.lastArchive.id, x.lastArchive.name)),
          h('div', { class: 'meta' }, h('span', null, '⌂ ', x.clientHostname), h('span', null, bytes(x.size)), h('span', { title: 'modified' }, `modified ${date(x.mtime)}`),
            h('span', null, `${x.mode} ${x.owner}:${x.group}`),
            h('span', { title: x.archiveIds.join(', ') }, `in ${x.archiveCount} archive${x.archiveCount === 1 ? '' : 's'}: ${x.firstArchive.name}${x.archiveCount > 1 ? ` … ${x.lastArchive.name}` : ''}`)))) : h('div', { class: 'empty' }, 'No file matches.'),
        page.nextCursor && h('button', { onclick: () => run(page.nextCursor) }, 'More results')));
    } catch (e) {
      mount(results, errorBox(e));
    }
  }
  q.focus();
  await run();
}

async function history(box, params) {
  const client = Number(params.get('client'));
  const path = params.get('path') || '';
  mount(box, loading());
  try {
    const d = await gql(`query($c: Int!, $p: String!) { fileHistory(client: $c, path: $p) { fate fateArchive { id name time } version { ${HIT} } } }`, { c: client, p: path });
    const items = d.fileHistory;
    mount(box, h('div', { class: 'card', id: 'file-history' },
      h('div', { class: 'row' }, h('a', { href: `#/catalog?q=${encodeURIComponent(path.split('/').pop())}` }, '← Search'), h('h2', { style: 'margin: 0' }, 'History of ', h('span', { class: 'mono' }, path))),
      h('div', { class: 'muted', style: 'margin: 6px 0 14px' }, `${items.length} version${items.length === 1 ? '' : 's'} on ${items[0] ? items[0].version.clientHostname : `client ${client}`}, oldest first`),
      items.length ? h('ol', { class: 'timeline' }, items.map((it) => {
        const v = it.version;
        return h('li', { class: it.fate, dataset: { fate: it.fate } },
          h('div', { class: 'row' }, h('strong', null, bytes(v.size)), h('span', { class: 'muted' }, `modified ${date(v.mtime)}`),
            h('span', { class: `badge ${it.fate === 'current' ? 'ok' : it.fate === 'deleted' ? 'bad' : 'warn'}` }, it.fate),
            it.fateArchive && h('span', { class: 'muted small' }, `${it.fate} in ${it.fateArchive.name}`), h('div', { class: 'grow spacer' }),
            fileActions(v, v.lastArchive.id, v.lastArchive.name).slice(1)),
          h('div', { class: 'muted small' }, `in ${v.archiveCount} archive(s): ${v.firstArchive.name} (${ago(v.firstArchive.time)}) … ${v.lastArchive.name}`));
      })) : h('div', { class: 'empty' }, 'This path is in no archive.')));
  } catch (e) {
    mount(box, errorBox(e));
  }
}

async function archivesOf(clientId) {
  const r = await list('archives', 'id name time clientId policyId repositoryId nfiles originalSize catalogState', { client: ['Int', clientId] }, { first: 200 });
  return r.nodes;
}

/** Keeps the browser's state in the URL without a new history entry or a re-render. */
function browseUrl(state) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(state)) if (v) q.set(k, v);
  window.history.replaceState(null, '', `#/catalog/browse?${q}`);
}

/**
 * The archive browser: a single client and the newest archive are chosen by themselves, a
 * directory with a single subdirectory opens it, breadcrumbs lead back, a filter narrows the
 * listing, and several entries can be restored or downloaded as one tar. The client, archive
 * and directory are kept in the URL.
 */
async function browse(box, params) {
  const clients = await clientsList();
  const only = clients.length === 1 ? String(clients[0].id) : '';
  const clientSel = h('select', { id: 'browse-client', 'aria-label': 'client' }, h('option', { value: '' }, 'Choose a client'),
    clients.map((c) => h('option', { value: String(c.id), selected: (params.get('client') || only) === String(c.id) }, c.hostname)));
  const archSel = h('select', { id: 'browse-archive', 'aria-label': 'archive' });
  const crumbs = h('nav', { class: 'crumbs', 'aria-label': 'directory', id: 'browse-crumbs' });
  const filter = h('input', { type: 'search', id: 'browse-filter', 'aria-label': 'filter this directory', placeholder: 'Filter this directory…' });
  const actions = h('div', { class: 'row', id: 'browse-actions' });
  const tree = h('div', { class: 'listing', id: 'browse-tree' });
  const dl = h('span');
  let dir = params.get('dir') || '';
  let entries = [];
  let total = 0;
  let token = 0;
  const selected = new Set();
  const archive = () => Number(archSel.value);
  const archiveName = () => (archSel.selectedOptions[0] ? archSel.selectedOptions[0].textContent : '');
  const fillArchives = async (pickNewest) => {
    mount(archSel, h('option', { value: '' }, 'Loading…'));
    if (!clientSel.value) { mount(archSel, h('option', { value: '' }, '—')); return; }
    try {
      const arch = (await archivesOf(Number(clientSel.value))).sort((x, y) => y.time.localeCompare(x.time));
      const want = params.get('archive') || (pickNewest && arch[0] ? String(arch[0].id) : '');
      mount(archSel, h('option', { value: '' }, arch.length ? 'Choose an archive' : 'No archive'),
        arch.map((x) => h('option', { value: String(x.id), selected: want === String(x.id) }, `${x.name} (${date(x.time)})`)));
    } catch (e) { toast(e.message, 'bad'); }
  };
  const renderActions = () => (!archSel.value ? mount(actions) : mount(actions,
    h('span', { class: 'muted small' }, selected.size ? `${selected.size} selected` : 'Tick entries to restore or download several at once.'),
    selected.size > 0 && h('button', { class: 'primary', id: 'browse-restore', onclick: () => restoreDialog({ archive: archive(), paths: [...selected], clientId: Number(clientSel.value), archiveName: archiveName() }) }, 'Restore selected'),
    selected.size > 0 && h('button', { id: 'browse-download', onclick: () => download(archive(), [...selected], dl) }, selected.size > 1 ? 'Download as tar' : 'Download'), dl));
  const row = (e) => {
    const isDir = e.fileType === 'd';
    const box = h('input', { type: 'checkbox', 'aria-label': `select ${e.name}`, checked: selected.has(e.path), onchange: () => { if (box.checked) selected.add(e.path); else selected.delete(e.path); renderActions(); } });
    return h('tr', { class: 'node', dataset: { path: e.path } },
      h('td', null, box),
      h('td', { class: 'name' }, isDir ? h('a', { href: '#', onclick: (ev) => { ev.preventDefault(); openDir(e.path); } }, `${e.name}/`) : h('span', { class: 'mono' }, e.fileType === 'l' ? `${e.name} → ${e.linktarget}` : e.name)),
      h('td', { class: 'num' }, isDir ? '' : bytes(e.size)),
      h('td', null, h('span', { title: date(e.mtime) }, date(e.mtime).slice(0, 16))),
      h('td', { class: 'mono' }, e.mode),
      h('td', null, `${e.owner}:${e.group}`));
  };
  const renderList = () => {
    const q = filter.value.trim().toLowerCase();
    const shown = q ? entries.filter((e) => e.name.toLowerCase().includes(q)) : entries;
    mount(tree, h('div', { class: 'tablewrap' }, h('table', { class: 'list' },
      h('thead', null, h('tr', null, h('th', null, h('span', { class: 'sr-only' }, 'select')), h('th', null, 'Name'), h('th', { class: 'num' }, 'Size'), h('th', null, 'Modified'), h('th', null, 'Mode'), h('th', null, 'Owner'))),
      h('tbody', null, shown.map(row)))),
    h('div', { class: 'row muted small', style: 'margin-top: 8px' }, `${shown.length} shown of ${total} entries`,
      entries.length < total && h('button', { class: 'link', onclick: () => load(entries.length) }, `load ${Math.min(500, total - entries.length)} more`)));
  };
  const renderCrumbs = () => {
    const parts = dir.split('/').filter(Boolean);
    mount(crumbs, h('a', { href: '#', onclick: (ev) => { ev.preventDefault(); openDir(''); } }, archiveName().split(' (')[0] || '/'),
      parts.map((p, i) => [' / ', i === parts.length - 1 ? h('strong', null, p) : h('a', { href: '#', onclick: (ev) => { ev.preventDefault(); openDir(parts.slice(0, i + 1).join('/')); } }, p)]));
  };
  async function load(offset) {
    const mine = ++token;
    const d = await gql('query($a: Int!, $d: String!, $o: Int!) { browse(archive: $a, directory: $d, first: 500, offset: $o) { total entries { path name fileType size mtime mode owner group linktarget clientId } } }',
      { a: archive(), d: dir ? `/${dir}` : '/', o: offset });
    if (mine !== token) return null;
    entries = offset ? entries.concat(d.browse.entries) : d.browse.entries;
    total = d.browse.total;
    renderList();
    return d.browse;
  }
  async function openDir(path, descend = false) {
    dir = path.replace(/^\/+|\/+$/g, '');
    filter.value = '';
    browseUrl({ client: clientSel.value, archive: archSel.value, dir });
    renderCrumbs();
    mount(tree, loading());
    try {
      const page = await load(0);
      // A directory holding a single directory (tmp/ → backups/ → …) opens it.
      if (descend && page && page.total === 1 && page.entries[0].fileType === 'd') await openDir(page.entries[0].path, true);
    } catch (e) { mount(tree, errorBox(e)); }
  }
  const open = () => {
    selected.clear();
    renderActions();
    if (!archSel.value) { browseUrl({ client: clientSel.value }); mount(crumbs); mount(tree, h('div', { class: 'empty' }, 'Choose a client and an archive.')); return; }
    openDir(dir, !dir);
  };
  clientSel.addEventListener('change', async () => { dir = ''; params.delete('archive'); await fillArchives(true); open(); });
  archSel.addEventListener('change', () => { dir = ''; open(); });
  filter.addEventListener('input', renderList);
  mount(box, h('div', { class: 'card' }, h('div', { class: 'row' }, clientSel, archSel)),
    h('div', { class: 'card' }, h('div', { class: 'row', style: 'margin-bottom: 8px' }, crumbs, h('div', { class: 'grow spacer' }), filter), actions, tree));
  await fillArchives(true);
  open();
}

async function diff(box, params) {
  const clients = await clientsList();
  const clientSel = h('select', { id: 'diff-client', 'aria-label': 'client' }, h('option', { value: '' }, 'Choose a client'), clients.map((c) => h('option', { value: String(c.id), selected: params.get('client') === String(c.id) }, c.hostname)));
  const a = h('select', { id: 'diff-a', 'aria-label': 'from archive' });
  const b = h('select', { id: 'diff-b', 'aria-label': 'to archive' });
  const out = h('div', { id: 'diff-result' });
  let archives = [];
  const fill = async () => {
    archives = clientSel.value ? (await archivesOf(Number(clientSel.value))).sort((x, y) => y.time.localeCompare(x.time)) : [];
    // The newest archive against the one before it in the same series (policy and client).
    const prev = archives.findIndex((x, i) => i > 0 && archives[0] && x.policyId === archives[0].policyId);
    const opts = (sel, pick) => mount(sel, h('option', { value: '' }, '—'), archives.map((x, i) => h('option', { value: String(x.id), selected: i === pick }, `${x.name} (${date(x.time)})`)));
    opts(a, prev);
    opts(b, 0);
  };
  const run = async () => {
    if (!a.value || !b.value) { mount(out, h('div', { class: 'empty' }, 'Choose two archives of the same policy and client.')); return; }
    mount(out, loading());
    try {
      const d = await gql('query($a: Int!, $b: Int!) { archiveDiff(a: $a, b: $b, first: 500) { added removed changed total entries { path kind old { size mtime } new { size mtime } } } }', { a: Number(a.value), b: Number(b.value) });
      const p = d.archiveDiff;
      mount(out, h('div', { class: 'row', style: 'margin-bottom: 10px' }, h('span', { class: 'diff-added' }, `+${p.added} added`), h('span', { class: 'diff-removed' }, `−${p.removed} removed`), h('span', { class: 'diff-changed' }, `~${p.changed} changed`)),
        table([
          { label: '', cell: (e) => h('span', { class: `diff-${e.kind}` }, { added: '+', removed: '−', changed: '~' }[e.kind] || e.kind) },
          { label: 'Path', cell: (e) => h('span', { class: 'mono' }, e.path) },
          { label: 'Before', class: 'num', cell: (e) => (e.old ? bytes(e.old.size) : '—') },
          { label: 'After', class: 'num', cell: (e) => (e.new ? bytes(e.new.size) : '—') },
          { label: 'Modified', cell: (e) => date((e.new || e.old).mtime) },
        ], p.entries, { empty: 'The two archives hold the same files.' }),
        p.total > p.entries.length && h('div', { class: 'muted' }, `${p.total - p.entries.length} more entries not shown`));
    } catch (e) {
      mount(out, errorBox(e));
    }
  };
  clientSel.addEventListener('change', async () => { await fill(); run(); });
  mount(box, h('div', { class: 'card' }, h('div', { class: 'row' }, clientSel, 'from', a, 'to', b, h('button', { class: 'primary', type: 'button', onclick: run }, 'Compare'))), h('div', { class: 'card' }, out));
  if (clientSel.value) { await fill(); await run(); } else run();
}
