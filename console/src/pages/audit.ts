import type { AuditAction } from '../../../shared/audit/record.ts';
import { keyName, whoami } from '../access.ts';
import { api, errorText } from '../api.ts';
import { type Child, field, h, notice, replace, table, time } from '../dom.ts';
import type { Page } from '../router.ts';

interface AuditEntry {
  readonly id: string;
  readonly at: string;
  readonly action: string;
  readonly key_id: string;
  readonly agent_id?: string;
  readonly profile?: string;
  readonly principal?: string;
  readonly permission?: string;
  readonly role?: string;
  readonly generation?: number;
  readonly status: number;
  readonly result: string;
  readonly source_ip?: string;
  readonly session_id?: string;
}

/** The audit actions, as a list for the filter (the type check keeps it equal to the server's). */
const ACTIONS = ['create', 'replace', 'update', 'rotate', 'patch', 'rename', 'delete', 'share', 'unshare', 'connect', 'disconnect', 'api_key_create', 'api_key_revoke', 'agent_create', 'agent_update', 'agent_delete', 'agent_rotate_signing_secret', 'webhook_create', 'webhook_update', 'webhook_delete', 'webhook_rotate_secret', 'webhook_test', 'run', 'proxy', 'test'] as const satisfies readonly AuditAction[];
const exhaustive: [Exclude<AuditAction, (typeof ACTIONS)[number]>] extends [never] ? true : never = true;
void exhaustive;

/**
 * The audit log (GET /v1/audit): newest first, filtered by agent, profile (needs the agent) and
 * action, one page of 50 at a time; "Older" follows the vault's opaque cursor.
 */
export const auditPage: Page = {
  path: '/audit',
  title: 'Audit log',
  nav: { label: 'Audit log', order: 30 },
  async render() {
    const me = await whoami();
    const agent = h('input', { type: 'text', 'data-testid': 'audit-agent', placeholder: 'any agent' });
    // The vault filters by profile within one agent only: the profile waits for an agent.
    const profile = h('input', { type: 'text', 'data-testid': 'audit-profile', placeholder: 'give the agent first', disabled: true });
    agent.addEventListener('input', () => {
      profile.disabled = !agent.value.trim();
      profile.placeholder = profile.disabled ? 'give the agent first' : 'any profile';
    });
    const key = (id: string) => h('span', { title: id }, keyName(me, id));
    const action = h('select', { 'data-testid': 'audit-action' }, h('option', { value: '' }, 'any action'), ...ACTIONS.map((a) => h('option', { value: a }, a)));
    const msg = notice();
    const results = h('div', { class: 'table-wrap' });
    const more = h('div', { class: 'actions' });

    const load = async (cursor?: string) => {
      msg.clear();
      const q = new URLSearchParams({ limit: '50' });
      if (agent.value.trim()) q.set('agent_id', agent.value.trim());
      if (agent.value.trim() && profile.value.trim()) q.set('profile', profile.value.trim());
      if (action.value) q.set('action', action.value);
      if (cursor) q.set('cursor', cursor);
      try {
        const page = await api<{ records: AuditEntry[]; next_cursor?: string }>('GET', `/v1/audit?${q}`);
        const rows = table<AuditEntry>(
          page.records,
          [
            { header: 'When', cell: (r) => time(r.at) },
            { header: 'Action', cell: (r) => r.action },
            { header: 'Agent', cell: (r) => r.agent_id ?? '—' },
            { header: 'Profile', cell: (r) => r.profile ?? '—' },
            { header: 'Generation', cell: (r) => r.generation ?? '—' },
            { header: 'Status', cell: (r) => r.status },
            { header: 'Result', cell: (r) => r.result },
            { header: 'API key', cell: (r) => key(r.key_id) },
            { header: 'Source IP', cell: (r) => r.source_ip ?? '—', present: (all) => all.some((r) => r.source_ip) },
            // Whom a share, unshare or API-key change is about (a key id or role:member) and what it got.
            { header: 'Principal', cell: (r) => (r.principal ? h('span', {}, r.principal.startsWith('role:') ? r.principal : key(r.principal), r.permission ?? r.role ? ` ${r.permission ?? r.role}` : '') : '—'), present: (all) => all.some((r) => r.principal) },
          ],
          'No audit records match.',
          'audit-table',
        );
        // A next page appends below, so the user keeps what they read.
        if (cursor) results.append(rows);
        else replace(results, rows);
        const next = page.next_cursor;
        replace(more, next ? h('button', { type: 'button', class: 'secondary', 'data-testid': 'audit-more', on: { click: () => load(next) } }, 'Older records') : null);
      } catch (err) {
        msg.show(errorText(err));
      }
    };

    const form = h(
      'form',
      { class: 'card filters', on: { submit: (e) => { e.preventDefault(); void load(); } } },
      field('Agent id', agent),
      field('Profile', profile),
      field('Action', action),
      h('div', { class: 'actions' }, h('button', { type: 'submit', 'data-testid': 'audit-filter' }, 'Filter')),
    );
    void load();
    const out: Child = h('div', {}, h('h1', {}, 'Audit log'), h('p', { class: 'hint' }, 'Every change to a profile and every use of one, refusals included. Never a secret.'), form, msg.el, results, more);
    return out;
  },
};
