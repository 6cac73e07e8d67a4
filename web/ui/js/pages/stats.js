// Statistics: charts per repository, client or policy over a chosen range, the series table,
// the last backup of every policy on every client, and repository capacities.
import { h, mount, table, loading, errorBox, inlineSvg, toast, badge } from '../dom.js';
import { gql, list, chartSvg } from '../api.js';
import { bytes, ago, date } from '../format.js';

const KINDS = [['size', 'Repository size'], ['jobs', 'Backups (success / failure)'], ['files', 'Files'], ['forecast', 'Growth forecast']];
const RANGES = [[7, '7 days'], [30, '30 days'], [90, '90 days'], [365, '1 year']];

export async function render(content, r) {
  const p = r.params;
  const [repos, clients, policies] = await Promise.all(['repositories', 'clients', 'policies'].map((f) => list(f, f === 'clients' ? 'id hostname' : 'id name', {}, { first: 500 }).then((x) => x.nodes).catch(() => [])));
  const scope = h('select', { id: 'stats-scope', 'aria-label': 'scope' },
    h('option', { value: '' }, 'All backups'),
    h('optgroup', { label: 'Repository' }, repos.map((x) => h('option', { value: `repository:${x.id}` }, x.name))),
    h('optgroup', { label: 'Client' }, clients.map((x) => h('option', { value: `client:${x.id}` }, x.hostname))),
    h('optgroup', { label: 'Policy' }, policies.map((x) => h('option', { value: `policy:${x.id}` }, x.name))));
  scope.value = p.get('scope') || '';
  const range = h('div', { class: 'row', role: 'group', 'aria-label': 'range' });
  let days = Number(p.get('days') || 30);
  const charts = h('div', { class: 'grid g2', id: 'stats-charts' });
  const series = h('div', { class: 'card', id: 'series-status' }, loading());
  const drawRange = () => mount(range, RANGES.map(([d, l]) => h('button', { class: d === days ? 'primary' : '', onclick: () => { days = d; drawRange(); draw(); } }, l)));
  const draw = () => {
    const [kind, id] = scope.value.split(':');
    const opts = { days, width: 640, height: 300 };
    if (kind) opts[kind] = Number(id);
    mount(charts, KINDS.map(([k, label]) => {
      const el = h('div', { class: 'chart', dataset: { chart: k } }, loading());
      // A forecast is about one repository: say so rather than draw an error.
      if (k === 'forecast' && kind !== 'repository' && repos.length !== 1) {
        mount(el, h('div', { class: 'empty' }, repos.length ? 'A growth forecast is per repository: choose one in the list above.' : 'No repository yet.'));
        return h('div', { class: 'card' }, h('h2', null, label), el);
      }
      // Drawn at the size shown (once on the page), so that its text is as large as the page's.
      requestAnimationFrame(() => {
        const width = Math.max(320, Math.min(1600, Math.round(el.clientWidth || 640)));
        chartSvg(k, { ...opts, width, height: Math.round(Math.max(240, width * 0.5)) }).then((svg) => inlineSvg(el, svg)).catch((e) => mount(el, errorBox(e)));
      });
      return h('div', { class: 'card' }, h('h2', null, label), el);
    }));
  };
  scope.addEventListener('change', draw);
  drawRange();
  mount(content, h('div', { class: 'pagehead' }, scope, range), charts, series, capacities(repos));
  draw();
  try {
    const d = { seriesStatus: (await list('seriesStatus', 'policyName hostname repositoryName lastBackup lastStatus lastSuccess originalSize deduplicatedSize catalogState archives', {}, { first: 500 })).nodes };
    mount(series, h('h2', null, 'Last backup of every policy on every client'), table([
      { label: 'Policy', cell: (s) => s.policyName }, { label: 'Client', cell: (s) => s.hostname }, { label: 'Repository', cell: (s) => s.repositoryName },
      { label: 'Last backup', cell: (s) => (s.lastBackup ? h('span', { title: date(s.lastBackup) }, ago(s.lastBackup)) : 'never') },
      { label: 'Status', cell: (s) => (s.lastStatus ? badge(s.lastStatus) : '—') },
      { label: 'Archives', class: 'num', cell: (s) => s.archives },
      { label: 'Original', class: 'num', cell: (s) => bytes(s.originalSize) },
      { label: 'Deduplicated', class: 'num', cell: (s) => bytes(s.deduplicatedSize) },
      { label: 'Catalog', cell: (s) => s.catalogState || '—' },
    ], d.seriesStatus, { empty: 'No backup yet.' }));
  } catch (e) {
    mount(series, errorBox(e));
  }
}

function capacities(repos) {
  const box = h('div', { class: 'card' }, h('h2', null, 'Repository capacity'), h('div', { class: 'muted small' }, 'Set the size of a repository’s storage to get a “full in N days” forecast on the dashboard.'));
  const rows = repos.map((r) => {
    const input = h('input', { type: 'number', min: 0, placeholder: 'GiB', style: 'width: 120px', 'aria-label': `capacity of ${r.name}` });
    const save = async () => {
      try {
        const v = input.value === '' ? null : Math.round(Number(input.value) * 1024 ** 3);
        await gql('mutation($r: Int!, $c: Int) { setRepositoryCapacity(repository: $r, capacity: $c) }', { r: r.id, c: v });
        toast(`Capacity of ${r.name} ${v === null ? 'cleared' : 'saved'}`, 'ok');
      } catch (e) { toast(e.message, 'bad'); }
    };
    input.addEventListener('keydown', (e) => { if (e.key === 'Enter') save(); });
    return { r, input, save };
  });
  box.appendChild(table([
    { label: 'Repository', cell: (x) => x.r.name },
    { label: 'Capacity (GiB)', cell: (x) => x.input },
    { label: '', class: 'actions', cell: (x) => h('button', { onclick: x.save }, 'Save') },
  ], rows, { empty: 'No repository.' }));
  return box;
}
