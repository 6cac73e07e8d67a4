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
    const hash = `#/catalog?${p}`;
    if (location.hash === hash) run(); else location.hash = hash;
  } }, h('div', { class: 'row' }, q, h('button', { class: 'primary', type: 'submit' }, 'Search')),
  filterBox('Filters', h('div', { class: 'filters small', id: 'catalog-filters' }, labelled('Client', client), labelled('Repository', repository), labelled('Policy', policy), labelled('Archive', archive),
    labelled('Type', ftype), labelled('Min size', minSize), labelled('Max size', maxSize), labelled('Modified from', from), labelled('Modified before', to),
    h('label', { class: 'inline' }, latest, 'only in the latest archive')),
  ['client', 'repository', 'archive', 'policy', 'type', 'min', 'max', 'from', 'to', 'latest'].some((k) => params.get(k))));
  await fillArchives();
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
      const d = await gql(`query($q: String!, $f: CatalogFilter, $a: String) { catalogSearch(query: $q, filter: $f, first: 50, after: $a) { total nextCursor hits { ${HIT} } } }`, { q: text, f: filter, a: after });
      const page = d.catalogSearch;
      hits = after ? hits.concat(page.hits) : page.hits;
      mount(results, h('div', { class: 'card' },
        h('div', { class: 'muted', id: 'catalog-total' }, `${page.total} version${page.total === 1 ? '' : 's'} found`),
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

async function browse(box, params) {
  const clients = await clientsList();
  const clientSel = h('select', { id: 'browse-client', 'aria-label': 'client' }, h('option', { value: '' }, 'Choose a client'), clients.map((c) => h('option', { value: String(c.id), selected: params.get('client') === String(c.id) }, c.hostname)));
  const archSel = h('select', { id: 'browse-archive', 'aria-label': 'archive' });
  const tree = h('div', { class: 'tree', id: 'browse-tree' });
  const fillArchives = async () => {
    mount(archSel, h('option', { value: '' }, 'Loading…'));
    if (!clientSel.value) { mount(archSel, h('option', { value: '' }, '—')); return; }
    try {
      const arch = await archivesOf(Number(clientSel.value));
      mount(archSel, h('option', { value: '' }, arch.length ? 'Choose an archive' : 'No archive'), arch.map((a) => h('option', { value: String(a.id), selected: params.get('archive') === String(a.id) }, `${a.name} (${date(a.time)})`)));
    } catch (e) { toast(e.message, 'bad'); }
  };
  const open = () => {
    if (!archSel.value) { mount(tree, h('div', { class: 'empty' }, 'Choose a client and an archive.')); return; }
    const archive = Number(archSel.value);
    const name = archSel.selectedOptions[0].textContent;
    mount(tree, h('ul', null, dirNode({ path: '/', name: '/', fileType: 'd', clientId: Number(clientSel.value) }, archive, name, true)));
  };
  clientSel.addEventListener('change', async () => { await fillArchives(); open(); });
  archSel.addEventListener('change', open);
  mount(box, h('div', { class: 'card' }, h('div', { class: 'row' }, clientSel, archSel)), h('div', { class: 'card' }, tree));
  await fillArchives();
  open();
}

/** A tree node; a directory loads its children (100 at a time) when first opened. */
function dirNode(entry, archive, archiveName, expand = false) {
  const isDir = entry.fileType === 'd';
  const children = h('ul', { hidden: true });
  let loaded = false;
  const toggle = h('button', { class: 'tg', type: 'button', 'aria-label': `open ${entry.name}`, 'aria-expanded': 'false' }, isDir ? '▸' : ' ');
  const loadMore = async (offset) => {
    const d = await gql('query($a: Int!, $d: String!, $o: Int!) { browse(archive: $a, directory: $d, first: 100, offset: $o) { total entries { path name fileType size mtime clientId } } }', { a: archive, d: entry.path, o: offset });
    for (const e of d.browse.entries) children.appendChild(dirNode(e, archive, archiveName));
    const shown = offset + d.browse.entries.length;
    if (shown < d.browse.total) {
      const more = h('li', null, h('button', { class: 'link', onclick: () => { more.remove(); loadMore(shown); } }, `… ${d.browse.total - shown} more`));
      children.appendChild(more);
    }
    if (!d.browse.total) children.appendChild(h('li', { class: 'muted' }, '(empty)'));
  };
  const flip = async () => {
    if (!isDir) return;
    const openNow = children.hidden;
    children.hidden = !openNow;
    toggle.textContent = openNow ? '▾' : '▸';
    toggle.setAttribute('aria-expanded', String(openNow));
    if (openNow && !loaded) {
      loaded = true;
      children.appendChild(h('li', { class: 'muted', 'data-loading': true }, 'loading…'));
      try { await loadMore(0); } catch (e) { children.appendChild(h('li', null, errorBox(e))); }
      const l = children.querySelector('[data-loading]');
      if (l) l.remove();
    }
  };
  toggle.addEventListener('click', flip);
  const dl = h('span');
  const node = h('li', null,
    h('div', { class: 'node', dataset: { path: entry.path } }, toggle,
      h('span', { style: isDir ? 'cursor: pointer; font-weight: 600' : '', onclick: flip }, isDir ? (entry.name.endsWith('/') ? entry.name : `${entry.name}/`) : entry.name),
      h('span', { class: 'sz' }, isDir ? '' : bytes(entry.size)),
      entry.path !== '/' && h('button', { class: 'link', onclick: () => restoreDialog({ archive, paths: [entry.path], clientId: entry.clientId, archiveName }) }, 'Restore'),
      !isDir && h('button', { class: 'link', onclick: () => download(archive, [entry.path], dl) }, 'Download'), dl),
    children);
  if (expand) setTimeout(flip, 0);
  return node;
}

async function diff(box, params) {
  const clients = await clientsList();
  const clientSel = h('select', { id: 'diff-client', 'aria-label': 'client' }, h('option', { value: '' }, 'Choose a client'), clients.map((c) => h('option', { value: String(c.id), selected: params.get('client') === String(c.id) }, c.hostname)));
  const a = h('select', { id: 'diff-a', 'aria-label': 'from archive' });
  const b = h('select', { id: 'diff-b', 'aria-label': 'to archive' });
  const out = h('div', { id: 'diff-result' });
  let archives = [];
  const fill = async () => {
    archives = clientSel.value ? await archivesOf(Number(clientSel.value)) : [];
    const opts = (sel, pick) => mount(sel, archives.map((x, i) => h('option', { value: String(x.id), selected: i === pick }, `${x.name} (${date(x.time)})`)));
    opts(a, 1);
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
