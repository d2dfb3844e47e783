import { api, errorText, path } from './api.ts';
import { authLabel, authTypes } from './auth-types.ts';
import { type Column, field, h, notice, replace, table } from './dom.ts';
import { profileColumns } from './profile-columns.ts';
import { route } from './router.ts';
import type { Profile } from './types.ts';

const select = (testId: string, label: string, options: readonly (readonly [string, string])[]) =>
  field(label, h('select', { 'data-testid': testId, 'data-filter': testId.replace('filter-', '') }, h('option', { value: '' }, 'any'), ...options.map(([v, t]) => h('option', { value: v }, t))));

/**
 * A searchable, filterable list of profiles: an agent's (`GET /v1/agents/{agent_id}/auth-profiles`)
 * or the tenant's (`GET /v1/auth-profiles`, with an Agent column and filter). The vault filters and
 * orders by name (q: name contains, case-insensitive; auth_type, visibility, token_state, active);
 * only set filters are sent. "Name" and "Last used" sort the rows loaded so far, in the browser (an agent's list is not served in name order).
 */
export function profileList(opts: { agentId?: string; empty: string }) {
  const q = h('input', { type: 'search', 'data-testid': 'profile-search', 'data-filter': 'q', placeholder: 'Search by name', 'aria-label': 'Search profiles by name' });
  const agent = opts.agentId ? null : h('input', { type: 'text', 'data-testid': 'filter-agent', 'data-filter': 'agent_id', placeholder: 'any agent' });
  const filters = [
    select('filter-auth_type', 'Type', authTypes().map((t) => [t.id, authLabel(t.id)] as const)),
    select('filter-visibility', 'Visibility', [['private', 'private'], ['shared', 'shared']]),
    select('filter-token_state', 'Token', [['valid', 'valid'], ['expiring_soon', 'expiring soon'], ['expired', 'expired']]),
    select('filter-active', 'Active', [['true', 'active'], ['false', 'inactive']]),
  ];
  const sort = h('select', { 'data-testid': 'profile-sort' }, h('option', { value: 'name' }, 'Name'), h('option', { value: 'last_used' }, 'Last used'));
  const msg = notice();
  const list = h('div', { class: 'table-wrap' });
  const more = h('button', { type: 'button', class: 'secondary', hidden: true, 'data-testid': 'profiles-more' }, 'Load more');
  const columns: Column<Profile>[] = opts.agentId
    ? profileColumns
    : [
        profileColumns[0] as Column<Profile>,
        { header: 'Agent', cell: (p) => h('a', { href: `#${route('/agents/:agent_id', { agent_id: p.agent_id })}` }, p.agent_id) },
        ...profileColumns.slice(1),
      ];
  let rows: Profile[] = [];
  let cursor: string | undefined;
  let generation = 0;
  const inputs = () => [q, ...(agent ? [agent] : []), ...filters.map((f) => f.querySelector('select') as HTMLSelectElement)];
  const filtered = () => inputs().some((el) => el.value.trim() !== '');
  const show = () => {
    // The tenant-wide list comes in name order; an agent's comes in storage order: name sorts the rows loaded so far too.
    const sorted =
      sort.value === 'last_used'
        ? [...rows].sort((a, b) => (b.last_used_at ?? '').localeCompare(a.last_used_at ?? ''))
        : [...rows].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.agent_id < b.agent_id ? -1 : a.agent_id > b.agent_id ? 1 : 0));
    replace(list, table(sorted, columns, filtered() ? 'No profiles match.' : opts.empty, 'profiles-table'));
  };
  const load = async (next?: string) => {
    const mine = ++generation;
    const params = new URLSearchParams({ limit: '50' });
    for (const el of inputs()) if (el.value.trim()) params.set(el.dataset.filter as string, el.value.trim());
    if (next) params.set('cursor', next);
    const base = opts.agentId ? path`/v1/agents/${opts.agentId}/auth-profiles` : '/v1/auth-profiles';
    more.disabled = true;
    try {
      const page = await api<{ profiles: Profile[]; next_cursor?: string }>('GET', `${base}?${params}`);
      if (mine !== generation) return; // a newer search answered meanwhile
      msg.clear();
      rows = next ? [...rows, ...page.profiles] : page.profiles;
      cursor = page.next_cursor;
      more.hidden = !cursor;
      show();
    } catch (err) {
      if (mine === generation) msg.show(errorText(err));
    } finally {
      more.disabled = false;
    }
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const reload = () => {
    clearTimeout(timer);
    timer = setTimeout(() => void load(), 250);
  };
  for (const el of inputs()) el.addEventListener(el instanceof HTMLInputElement ? 'input' : 'change', reload);
  sort.addEventListener('change', show);
  more.addEventListener('click', () => void load(cursor));
  const el = h(
    'div',
    { class: 'profile-list' },
    h('div', { class: 'filters card' }, field('Search', q), agent ? field('Agent id', agent) : null, ...filters, field('Sort by', sort)),
    msg.el,
    list,
    h('div', { class: 'actions' }, more),
  );
  return { el, load };
}
