// Restore drills: the latest drills filtered by policy and client, their verdicts and findings,
// and a drill launched for one policy on one client (or each of its clients), in a chosen
// repository (the primary or a copy) or the one drilled longest ago.
import { h, mount, toast, table, badge, errorBox } from '../dom.js';
import { gql, list } from '../api.js';
import { date, ago, bytes, duration } from '../format.js';

const FIELDS = 'id jobId policyId clientId repositoryId archives filesChecked bytes duration verdict summary created mismatches { path archive reason } notes { path reason }';

/** The choices of a drill's repository: automatic, the primary, then each copy of policy `p`. */
export function drillRepositoryOptions(p, names) {
  const name = (id) => names[id] || `repository #${id}`;
  return [['', 'Automatic (alternates between primary and copies)'], [p.repositoryId, `${name(p.repositoryId)} (primary)`],
    ...p.copyRepositoryIds.map((id, i) => [id, `${name(id)} (copy ${i + 1})`])];
}

/**
 * The drills card. `params` may hold `policy` and `client` (ids) to filter on; returns the card
 * and a `reload` to call when a job finishes.
 */
export function drillsCard(params) {
  const card = h('section', { class: 'card', id: 'restore-drills', 'aria-labelledby': 'drills-title' });
  const policySel = h('select', { id: 'drill-policy', name: 'policy' }, h('option', { value: '' }, 'Any policy'));
  const clientSel = h('select', { id: 'drill-client', name: 'client' }, h('option', { value: '' }, 'Any client'));
  // Where the next drill restores from: the policy's primary or one of its copies.
  const repoSel = h('select', { id: 'drill-repository', name: 'repository', title: 'the repository the drill restores from' });
  const out = h('div', { id: 'drills-list' });
  let refs = { policies: [], clients: [], repositories: {} };
  const fillRepositories = () => {
    const p = refs.policies.find((x) => String(x.id) === policySel.value);
    const opts = p ? drillRepositoryOptions(p, refs.repositories) : [['', 'Automatic (alternates between primary and copies)']];
    mount(repoSel, opts.map(([v, l]) => h('option', { value: String(v) }, l)));
    repoSel.disabled = !p || !p.copyRepositoryIds.length;
  };
  const pname = (id) => (refs.policies.find((p) => p.id === id) || {}).name || `#${id}`;
  const cname = (id) => (refs.clients.find((c) => c.id === id) || {}).hostname || `#${id}`;
  const launch = h('button', { type: 'button', id: 'drill-launch', onclick: async () => {
    if (!policySel.value) { toast('Choose the policy to drill', 'bad'); policySel.focus(); return; }
    try {
      const d = await gql('mutation($p: Int!, $c: Int, $r: Int) { launchRestoreTest(policy: $p, client: $c, repository: $r) { id } }',
        { p: Number(policySel.value), c: clientSel.value ? Number(clientSel.value) : null, r: repoSel.value ? Number(repoSel.value) : null });
      toast(`Restore drill queued: ${d.launchRestoreTest.length} job(s)`, 'ok');
      if (d.launchRestoreTest[0]) location.hash = `#/jobs/${d.launchRestoreTest[0].id}`;
    } catch (e) { toast(e.message, 'bad'); }
  } }, 'Run a drill now');
  const reload = async () => {
    try {
      const d = await gql(`query($p: Int, $c: Int) { restoreTests(policy: $p, client: $c, first: 30) { totalCount nodes { ${FIELDS} } } }`,
        { p: policySel.value ? Number(policySel.value) : null, c: clientSel.value ? Number(clientSel.value) : null });
      mount(out, table([
        { label: 'When', cell: (t) => h('span', { title: date(t.created) }, ago(t.created)) },
        { label: 'Verdict', cell: (t) => badge(t.verdict, t.verdict === 'passed' ? 'ok' : 'bad') },
        { label: 'Policy', cell: (t) => pname(t.policyId) },
        { label: 'Client', cell: (t) => cname(t.clientId) },
        { label: 'Repository', cell: (t) => refs.repositories[t.repositoryId] || `#${t.repositoryId}` },
        { label: 'Files checked', class: 'num', cell: (t) => t.filesChecked },
        { label: 'Bytes', class: 'num', cell: (t) => bytes(t.bytes) },
        { label: 'Took', class: 'num', cell: (t) => duration(t.duration) },
        { label: 'Archives', cell: (t) => h('span', { class: 'mono small' }, t.archives.join(', ')) },
        { label: 'Summary', cell: (t) => h('div', null, t.summary,
          t.mismatches.length ? h('ul', { class: 'small', style: 'color: var(--bad); margin: 4px 0 0; padding-left: 16px' }, t.mismatches.slice(0, 5).map((m) => h('li', null, `${m.path || m.archive}: ${m.reason}`))) : null,
          t.notes.length ? h('div', { class: 'muted small', title: t.notes.map((n) => `${n.path}: ${n.reason}`).join('\n') }, `${t.notes.length} check(s) skipped`) : null) },
        { label: 'Job', cell: (t) => (t.jobId ? h('a', { href: `#/jobs/${t.jobId}` }, `#${t.jobId}`) : '—') },
      ], d.restoreTests.nodes, { empty: 'No drill yet: a drill restores a sample of files from the archives and verifies them.' }));
    } catch (e) {
      mount(out, errorBox(e));
    }
  };
  policySel.addEventListener('change', () => { fillRepositories(); reload(); });
  clientSel.addEventListener('change', reload);
  mount(card, h('h2', { id: 'drills-title' }, 'Restore drills'),
    h('div', { class: 'filters', style: 'margin-bottom: 10px' },
      h('label', { for: 'drill-policy' }, 'Policy', policySel), h('label', { for: 'drill-client' }, 'Client', clientSel),
      h('label', { for: 'drill-repository' }, 'Restore from', repoSel), launch), out);
  const ready = (async () => {
    try {
      const [p, c, r] = await Promise.all([list('policies', 'id name repositoryId copyRepositoryIds', {}, { first: 500 }), list('clients', 'id hostname', {}, { first: 500 }),
        list('repositories', 'id name', {}, { first: 500 }).catch(() => ({ nodes: [] }))]);
      refs = { policies: p.nodes, clients: c.nodes, repositories: Object.fromEntries(r.nodes.map((x) => [x.id, x.name])) };
    } catch { /* the filters stay empty */ }
    for (const p of refs.policies) policySel.appendChild(h('option', { value: String(p.id), selected: params.get('policy') === String(p.id) }, p.name));
    for (const c of refs.clients) clientSel.appendChild(h('option', { value: String(c.id), selected: params.get('client') === String(c.id) }, c.hostname));
    fillRepositories();
    await reload();
  })();
  return { card, reload, ready };
}
