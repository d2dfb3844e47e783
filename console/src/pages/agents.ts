import { api, errorText } from '../api.ts';
import { type Column, type Child, field, h, notice, replace, table, time } from '../dom.ts';
import type { Page } from '../router.ts';
import { route } from '../router.ts';
import { secretOnce } from '../secret-once.ts';
import type { Agent } from '../types.ts';

/** Everything of an agent's form except the id; PUT takes this, POST adds agent_id. */
export interface AgentForm {
  readonly el: HTMLElement;
  value(): Record<string, unknown>;
}

/** One row of the input-arguments editor. */
function argRow(arg: { name?: string; required?: boolean; secret?: boolean; description?: string } = {}) {
  const row = h(
    'div',
    { class: 'arg-row' },
    h('input', { type: 'text', 'data-arg': 'name', placeholder: 'name', value: arg.name ?? '', 'aria-label': 'input argument name' }),
    h('label', { class: 'check' }, h('input', { type: 'checkbox', 'data-arg': 'required', checked: arg.required ?? false }), 'required'),
    h('label', { class: 'check' }, h('input', { type: 'checkbox', 'data-arg': 'secret', checked: arg.secret ?? true }), 'secret'),
    h('input', { type: 'text', 'data-arg': 'description', placeholder: 'description (optional)', value: arg.description ?? '', 'aria-label': 'input argument description' }),
  );
  row.appendChild(h('button', { type: 'button', class: 'secondary small', on: { click: () => row.remove() } }, 'Remove'));
  return row;
}

/** The agent form shared by "Register" (agents page) and "Edit" (agent page). */
export function agentForm(agent?: Agent): AgentForm {
  const name = h('input', { type: 'text', name: 'name', required: true, value: agent?.name ?? '', 'data-testid': 'agent-name' });
  const description = h('input', { type: 'text', name: 'description', value: agent?.description ?? '' });
  const url = h('input', { type: 'url', name: 'runner_url', required: true, placeholder: 'https://runner.example.com/run', value: agent?.runner.url ?? '', 'data-testid': 'runner-url' });
  const timeout = h('input', { type: 'number', name: 'timeout_ms', min: 100, max: 900000, placeholder: '30000', value: agent?.runner.timeout_ms ?? '' });
  // Always sent, so Edit → Save keeps what the agent has (the vault also keeps it when left out).
  const delivery = h(
    'select',
    { name: 'credential_delivery', 'data-testid': 'credential-delivery' },
    h('option', { value: 'parameters', selected: (agent?.credential_delivery ?? 'parameters') === 'parameters' }, 'Parameters: the runner receives the values'),
    h('option', { value: 'proxy', selected: agent?.credential_delivery === 'proxy' }, 'Proxy: the runner gets a run grant, never a value'),
  ) as HTMLSelectElement;
  const args = h('div', { class: 'args', 'data-testid': 'input-args' }, ...(agent?.input_args.length ? agent.input_args.map((a) => argRow(a)) : [argRow()]));
  const el = h(
    'div',
    {},
    field('Name', name),
    field('Description', description),
    h('fieldset', {}, h('legend', {}, 'Input arguments'), args, h('button', { type: 'button', class: 'secondary small', on: { click: () => args.appendChild(argRow()) } }, 'Add argument')),
    field('Runner webhook URL', url, 'The vault POSTs signed run requests here.'),
    field('Runner timeout (ms)', timeout, 'Optional; 30000 by default.'),
    field('Credential delivery', delivery, 'Switching from proxy to parameters stops runs (409 delivery_changed) until each profile\'s token holder updates the profile.'),
  );
  return {
    el,
    value() {
      const inputArgs = [...args.querySelectorAll<HTMLElement>('.arg-row')]
        .map((row) => {
          const get = (k: string) => row.querySelector<HTMLInputElement>(`[data-arg="${k}"]`);
          const desc = get('description')?.value.trim();
          return { name: get('name')?.value.trim() ?? '', required: get('required')?.checked ?? false, secret: get('secret')?.checked ?? true, ...(desc ? { description: desc } : {}) };
        })
        .filter((a) => a.name !== '');
      return {
        name: name.value.trim(),
        ...(description.value.trim() ? { description: description.value.trim() } : {}),
        input_args: inputArgs,
        runner: { type: 'webhook', url: url.value.trim(), ...(timeout.value ? { timeout_ms: Number(timeout.value) } : {}) },
        credential_delivery: delivery.value,
      };
    },
  };
}

const columns: Column<Agent>[] = [
  { header: 'Agent', cell: (a) => h('a', { href: `#${route('/agents/:agent_id', { agent_id: a.agent_id })}` }, a.agent_id) },
  { header: 'Name', cell: (a) => a.name },
  { header: 'Input arguments', cell: (a) => a.input_args.map((x) => x.name).join(', ') || '—' },
  { header: 'Runner', cell: (a) => a.runner.url },
  { header: 'Updated', cell: (a) => time(a.updated_at) },
];

/** Agents: the list (paged) and the Register form; the signing secret is shown once. */
export const agentsPage: Page = {
  path: '/agents',
  title: 'Agents',
  nav: { label: 'Agents', order: 10 },
  async render(ctx) {
    const list = h('div', {});
    let cursor: string | undefined;
    const more = h('button', { type: 'button', class: 'secondary', hidden: true, 'data-testid': 'agents-more' }, 'Load more');
    const rows: Agent[] = [];
    const listMsg = notice();
    const load = async () => {
      const q = new URLSearchParams({ limit: '50', ...(cursor ? { cursor } : {}) });
      more.disabled = true; // one page at a time: a second click must not fetch the same page again
      try {
        const page = await api<{ agents: Agent[]; next_cursor?: string }>('GET', `/v1/agents?${q}`);
        rows.push(...page.agents);
        cursor = page.next_cursor;
      } finally {
        more.disabled = false;
      }
      more.hidden = !cursor;
      replace(list, table(rows, columns, 'No agents yet: register one below.', 'agents-table'));
    };
    more.addEventListener('click', () => void load().catch((err) => listMsg.show(errorText(err))));
    await load();

    const form = agentForm();
    const agentId = h('input', { type: 'text', name: 'agent_id', placeholder: 'generated when empty', pattern: '[A-Za-z0-9][A-Za-z0-9._:\\-]{0,127}', 'data-testid': 'agent-id' });
    const msg = notice();
    const result = h('div', {});
    const register = h(
      'form',
      {
        class: 'card',
        on: {
          submit: async (e) => {
            e.preventDefault();
            msg.clear();
            const id = agentId.value.trim();
            try {
              const created = await api<Agent & { runner_signing_secret: string }>('POST', '/v1/agents', { ...(id ? { agent_id: id } : {}), ...form.value() });
              register.hidden = true;
              const open = () => ctx.navigate(route('/agents/:agent_id', { agent_id: created.agent_id }));
              replace(
                result,
                secretOnce({
                  title: `Agent ${created.agent_id} registered`,
                  value: created.runner_signing_secret,
                  warning: 'This is the runner signing secret, shown once: configure your runner with it now (it verifies X-Agent-Vault-Signature). The console will not show it again; rotate it on the agent page if it is lost.',
                  testId: 'signing-secret',
                  done: open,
                }),
              );
            } catch (err) {
              msg.show(errorText(err));
            }
          },
        },
      },
      h('h2', {}, 'Register an agent'),
      field('Agent id', agentId, 'Letters, digits, ".", "_", ":", "-".'),
      form.el,
      msg.el,
      h('button', { type: 'submit', 'data-testid': 'register-agent' }, 'Register'),
    );
    const content: Child[] = [h('h1', {}, 'Agents'), list, listMsg.el, more, result, register];
    return h('div', {}, ...content);
  },
};
