// The server nodes sharing this database: each node's heartbeat and whether it is alive, which
// one holds the catalog, and the jobs each runs now; refreshed every few seconds.
import { h, mount, table, badge, loading, errorBox } from '../dom.js';
import { gql } from '../api.js';
import { date, ago } from '../format.js';

const QUERY = '{ cluster { database nodes { name address catalog version started heartbeat heartbeatAgeSeconds alive runningJobs thisNode } } }';

/** The page: one card listing every node; returns the stop function of its refresh. */
export async function render(content) {
  const box = h('section', { class: 'card', id: 'cluster', 'aria-labelledby': 'cluster-title' });
  const title = () => h('h2', { id: 'cluster-title' }, 'Server nodes');
  mount(content, h('div', { class: 'note', id: 'cluster-help' },
    'Every node serves the API and this console and runs jobs from the shared queue. ',
    'A node that stops sending heartbeats loses its running jobs when their lease runs out: another node marks them failed, and the next run goes ahead.'),
  box);
  mount(box, title(), loading());
  const load = async () => {
    try {
      const c = (await gql(QUERY)).cluster;
      const nodes = c.nodes;
      const dead = nodes.filter((n) => !n.alive).length;
      mount(box, title(),
        h('div', { class: 'muted small', id: 'cluster-database' }, c.database === 'postgresql' ? 'Shared PostgreSQL database' : 'Embedded SQLite database (one node)'),
        dead ? h('div', { class: 'note bad', role: 'alert', id: 'cluster-dead' }, `${dead} node${dead === 1 ? '' : 's'} sent no heartbeat within the job lease.`) : null,
        table([
          { label: 'Node', cell: (n) => h('div', null, h('strong', null, n.name), n.thisNode ? h('span', { class: 'muted small' }, ' (this node)') : null, h('div', { class: 'muted small mono' }, n.address || '—')) },
          { label: 'State', cell: (n) => (n.alive ? badge('alive', 'ok') : badge('silent', 'bad')) },
          { label: 'Role', cell: (n) => (n.catalog ? 'jobs, catalog' : 'jobs') },
          { label: 'Heartbeat', cell: (n) => h('span', { title: date(n.heartbeat), dataset: { heartbeat: n.name } }, ago(n.heartbeat)) },
          { label: 'Started', cell: (n) => h('span', { title: date(n.started) }, ago(n.started)) },
          { label: 'Running jobs', cell: (n) => (n.runningJobs.length ? h('span', { dataset: { running: n.name } }, ...n.runningJobs.flatMap((id, i) => [i ? ', ' : '', h('a', { href: `#/jobs/${id}` }, `#${id}`)])) : h('span', { class: 'muted' }, 'none')) },
          { label: 'Version', cell: (n) => h('span', { class: 'mono small' }, n.version) },
        ], nodes, { empty: 'No node has sent a heartbeat yet.', key: (n) => n.name }));
    } catch (e) {
      mount(box, title(), errorBox(e));
    }
  };
  await load();
  const timer = setInterval(load, 5000);
  return () => clearInterval(timer);
}
