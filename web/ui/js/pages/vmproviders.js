// VM module providers: the built-in ones (read-only) and those added by administrators, with
// create, edit (by name; a rename that policies use is refused) and delete.
import { h, mount, modal, closeModal, toast, table, badge, confirmDo, loading, errorBox } from '../dom.js';
import { gql, list } from '../api.js';
import { form } from '../forms.js';
import { date } from '../format.js';

const FIELDS = 'name moduleName moduleType client script image builtIn created modified';

/** Every provider, for the policy form's VM selection: [[name, label]]. */
export async function providerOptions() {
  const r = await list('vmProviders', 'name moduleName builtIn', {}, { first: 500 });
  return r.nodes.map((p) => [p.name, p.moduleName && p.moduleName !== p.name ? `${p.moduleName} (${p.name})` : p.name]);
}

export async function render(content) {
  const search = h('input', { type: 'search', class: 'search', placeholder: 'Search VM providers…', 'data-search': true, 'aria-label': 'search VM providers' });
  const body = h('div', { id: 'vmproviders-list' });
  const count = h('span', { class: 'muted' });
  const load = async () => {
    mount(body, loading());
    try {
      const r = await list('vmProviders', FIELDS, {}, { first: 200, search: search.value.trim() }, (p) => `${p.name} ${p.moduleName}`);
      count.textContent = `${r.totalCount} provider${r.totalCount === 1 ? '' : 's'}`;
      mount(body, table([
        { label: 'Name', cell: (p) => h('strong', null, p.name) },
        { label: 'Shown as', cell: (p) => p.moduleName },
        { label: 'Hypervisor', cell: (p) => h('code', null, p.client || '—') },
        { label: 'Script', cell: (p) => (p.script == null ? h('span', { class: 'muted' }, 'hidden (superusers only)') : h('code', { class: 'small', title: p.script }, p.script.length > 60 ? `${p.script.slice(0, 60)}…` : p.script)) },
        { label: 'Image', cell: (p) => p.image || h('span', { class: 'muted' }, 'HOSTNAME.img') },
        { label: 'Kind', cell: (p) => (p.builtIn ? badge('built-in', 'running') : badge('added', '')) },
        { label: 'Modified', cell: (p) => (p.modified ? date(p.modified) : '—') },
        { label: 'Actions', class: 'actions', cell: (p) => (p.builtIn ? h('button', { class: 'link', dataset: { view: p.name }, 'aria-label': `view VM provider ${p.name} (read-only)`, onclick: () => view(p) }, 'View') : [
          h('button', { class: 'link', dataset: { edit: p.name }, 'aria-label': `edit VM provider ${p.name}`, onclick: () => open(p, load) }, 'Edit'),
          h('button', { class: 'link danger', dataset: { delete: p.name }, 'aria-label': `delete VM provider ${p.name}`, onclick: () => confirmDo(`Delete the VM provider “${p.name}”?`, async () => {
            await gql('mutation($n: String!) { deleteVmProvider(name: $n) }', { n: p.name });
            toast('VM provider deleted', 'ok');
            load();
          }) }, 'Delete')]) },
      ], r.nodes, { empty: search.value ? 'No provider matches.' : 'No VM provider.', key: (p) => p.name }));
    } catch (e) {
      mount(body, errorBox(e));
    }
  };
  let timer = null;
  search.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(load, 200); });
  mount(content,
    h('div', { class: 'pagehead' }, search, count, h('div', { class: 'grow' }),
      h('button', { class: 'primary', id: 'new-vmprovider', onclick: () => open(null, load) }, 'New VM provider')),
    h('p', { class: 'muted small' }, 'A vm policy runs the provider’s script on the hypervisor with the VM’s name as $1 and stores its output as one image file in the archive.'),
    body);
  await load();
}

function open(p, reload) {
  const f = form([
    { name: 'name', label: 'Name (what policies refer to)', required: true, placeholder: 'libvirt' },
    { name: 'moduleName', label: 'Display name', required: true, placeholder: 'libvirt / KVM', aliases: ['module_name'] },
    { name: 'client', label: 'Hypervisor', placeholder: '{hypervisor_name}', help: 'A hostname, {hypervisor_name} (the client’s hypervisor) or {hostname}.' },
    { name: 'script', label: 'Script (runs on the hypervisor, $1 is the VM)', type: 'textarea', rows: 6, required: true, placeholder: 'virsh dumpxml "$1" >/dev/null && cat "/var/lib/libvirt/images/$1.qcow2"' },
    { name: 'image', label: 'Image file name in the archive (empty: HOSTNAME.img)' },
  ], p || { client: '{hypervisor_name}' }, {
    submitLabel: p ? 'Save' : 'Create VM provider',
    onCancel: closeModal,
    onSubmit: async (v) => {
      const input = { name: v.name.trim(), moduleName: v.moduleName, moduleType: 'vm', client: v.client, script: v.script, image: v.image };
      if (p) await gql('mutation($n: String!, $i: VmProviderInput!) { updateVmProvider(name: $n, input: $i) { name } }', { n: p.name, i: input });
      else await gql('mutation($i: VmProviderInput!) { createVmProvider(input: $i) { name } }', { i: input });
      closeModal();
      toast(p ? 'VM provider saved' : 'VM provider created', 'ok');
      reload();
    },
  });
  f.id = 'vmprovider-form';
  modal(p ? `Edit VM provider “${p.name}”` : 'New VM provider', f, { wide: true });
}

/** A built-in provider, read-only: its hypervisor and whole script. */
function view(p) {
  modal(`VM provider “${p.name}” (built-in)`, h('div', { id: 'vmprovider-view' },
    h('dl', { class: 'kv' }, h('dt', null, 'Shown as'), h('dd', null, p.moduleName), h('dt', null, 'Hypervisor'), h('dd', { class: 'mono' }, p.client),
      h('dt', null, 'Image'), h('dd', null, p.image || 'HOSTNAME.img')),
    h('pre', { class: 'pubkey', style: 'white-space: pre-wrap; max-height: 50vh; overflow: auto' }, p.script ?? 'hidden (superusers only)')), { wide: true });
}
