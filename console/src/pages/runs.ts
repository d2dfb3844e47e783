import { keyName, whoami } from '../access.ts';
import { api, errorText, path } from '../api.ts';
import { runBadge } from '../badges.ts';
import { type Child, details, field, h, notice, replace, table, time } from '../dom.ts';
import { tokenHandoff } from '../handoff.ts';
import { type Page, type PageContext, route } from '../router.ts';
import type { Agent, RunStatus } from '../types.ts';

const POLL_MS = 1000;

/** The run form: agent, auth token (a password input, prefilled only from a just-created profile), parameters. */
async function runForm(ctx: PageContext, agentId?: string): Promise<Child> {
  const agents = await api<{ agents: Agent[] }>('GET', '/v1/agents?limit=100');
  const agent = h(
    'select',
    { name: 'agent_id', required: true, 'data-testid': 'run-agent' },
    ...agents.agents.map((a) => h('option', { value: a.agent_id, selected: a.agent_id === agentId }, `${a.agent_id} — ${a.name}`)),
  );
  const handed = agentId ? tokenHandoff.take(agentId) : undefined;
  const token = h('input', { type: 'password', name: 'auth_token', autocomplete: 'off', spellcheck: 'false', placeholder: 'avt_… (optional)', 'data-testid': 'run-token' });
  if (handed) token.value = handed.token;
  const params = h('textarea', { name: 'parameters', rows: 4, spellcheck: 'false', 'data-testid': 'run-parameters' }, '{}');
  const wait = h('input', { type: 'checkbox', name: 'wait', 'data-testid': 'run-wait' });
  const msg = notice();
  const form: HTMLFormElement = h(
    'form',
    {
      class: 'card',
      on: {
        submit: async (e) => {
          e.preventDefault();
          msg.clear();
          let parameters: unknown;
          try {
            parameters = JSON.parse(params.value || '{}');
          } catch {
            msg.show('Parameters must be a JSON object, e.g. {"query": "open deals"}.');
            return;
          }
          if (parameters === null || typeof parameters !== 'object' || Array.isArray(parameters)) {
            msg.show('Parameters must be a JSON object, e.g. {"query": "open deals"}.');
            return;
          }
          try {
            const res = await api<{ session_id: string }>('POST', '/run_agent', {
              agent_id: agent.value,
              parameters,
              ...(token.value.trim() ? { auth_token: token.value.trim() } : {}),
              run_async: !wait.checked,
            });
            token.value = '';
            ctx.navigate(route('/runs/:session_id', { session_id: res.session_id }));
          } catch (err) {
            msg.show(errorText(err));
          }
        },
      },
    },
    field('Agent', agent),
    field('Auth token', token, handed ? `The token of profile ${handed.profile}, just created (kept in memory only).` : 'The avt_… token of the profile to run with; it is sent once and not kept.'),
    field('Parameters (JSON object)', params, 'Input arguments besides the profile\'s credentials.'),
    h('label', { class: 'check' }, wait, 'Wait for the runner (run_async: false)'),
    msg.el,
    h('div', { class: 'actions' }, h('button', { type: 'submit', 'data-testid': 'start-run' }, 'Start run')),
  );

  const lookup = h('input', { type: 'text', name: 'session_id', placeholder: 'session id', 'data-testid': 'run-lookup' });
  const find = h(
    'form',
    {
      class: 'card',
      on: {
        submit: (e) => {
          e.preventDefault();
          if (lookup.value.trim()) ctx.navigate(route('/runs/:session_id', { session_id: lookup.value.trim() }));
        },
      },
    },
    h('h2', {}, 'Look up a run'),
    field('Session id', lookup),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'secondary' }, 'Show')),
  );
  return h('div', {}, h('h1', {}, 'Start a run'), agents.agents.length ? form : h('p', { class: 'empty' }, 'Register an agent first.'), await recentRuns(agentId), find);
}

/**
 * Recent runs. The vault has no run listing (GET /v1/runs/{session_id} reads one run); every run
 * with a profile is in the audit log (action "run", with its session id), which an admin reads
 * tenant-wide. So: an admin sees the last 20 from there; a member, who may read only one profile's
 * audit view, is told so.
 */
async function recentRuns(agentId?: string): Promise<Child> {
  const me = await whoami();
  const title = h('h2', {}, 'Recent runs');
  if (!me.admin) return h('section', { class: 'card' }, title, h('p', { class: 'hint' }, 'The vault lists runs only through the audit log, which a member key reads one profile at a time: open a run by its session id below, or see a profile\'s uses on its page.'));
  const q = new URLSearchParams({ action: 'run', limit: '20', ...(agentId ? { agent_id: agentId } : {}) });
  const page = await api<{ records: { at: string; agent_id?: string; profile?: string; session_id?: string; key_id: string; status: number; result: string }[] }>('GET', `/v1/audit?${q}`);
  return h(
    'section',
    { class: 'card' },
    title,
    h('p', { class: 'hint' }, 'Runs started with a profile, newest first, from the audit log (a run without a profile is not listed).'),
    table(
      page.records,
      [
        { header: 'Started', cell: (r) => time(r.at) },
        { header: 'Session', cell: (r) => (r.session_id ? h('a', { href: `#${route('/runs/:session_id', { session_id: r.session_id })}` }, r.session_id) : '—') },
        { header: 'Agent', cell: (r) => r.agent_id ?? '—' },
        { header: 'Profile', cell: (r) => r.profile ?? '—' },
        { header: 'Started by', cell: (r) => h('span', { title: r.key_id }, keyName(me, r.key_id)) },
        { header: 'Result', cell: (r) => (r.result === 'ok' ? 'started' : `refused: ${r.result}`) },
      ],
      'No runs with a profile yet.',
      'runs-table',
    ),
  );
}

/** Start a run with any agent. */
export const runsPage: Page = {
  path: '/runs',
  title: 'Runs',
  nav: { label: 'Runs', order: 20 },
  render: (ctx) => runForm(ctx),
};

/** Start a run with one agent preselected (from the agent, profile and New Profile pages). */
export const agentRunPage: Page = {
  path: '/agents/:agent_id/run',
  title: (p) => `Run ${p.agent_id}`,
  render: (ctx) => runForm(ctx, ctx.params.agent_id),
};

function runDetails(run: RunStatus): Child {
  return h(
    'div',
    {},
    details([
      ['Status', runBadge(run.status)],
      ['Agent', h('a', { href: `#${route('/agents/:agent_id', { agent_id: run.agent_id })}` }, run.agent_id)],
      ['Session id', h('code', {}, run.session_id)],
      ['Started', time(run.created_at)],
      ['Finished', time(run.finished_at, run.status === 'queued' || run.status === 'running' ? 'not yet' : '—')],
      ['Error', run.error_message],
    ]),
    run.agent_output !== undefined ? h('div', {}, h('h2', {}, 'Output'), h('pre', { class: 'output', 'data-testid': 'run-output' }, JSON.stringify(run.agent_output, null, 2))) : null,
  );
}

/** One run: status and output, polled until it succeeds or fails. */
export const runPage: Page = {
  path: '/runs/:session_id',
  title: 'Run',
  async render(ctx) {
    const id = ctx.params.session_id as string;
    const area = h('div', { 'data-testid': 'run-status' });
    const msg = notice();
    let timer: ReturnType<typeof setTimeout> | undefined;
    ctx.onLeave(() => clearTimeout(timer));
    const poll = async () => {
      try {
        const run = await api<RunStatus>('GET', path`/v1/runs/${id}`);
        if (!ctx.active()) return;
        replace(area, runDetails(run));
        if (run.status === 'queued' || run.status === 'running') timer = setTimeout(() => void poll(), POLL_MS);
      } catch (err) {
        msg.show(errorText(err));
      }
    };
    await poll();
    return h('div', {}, h('p', { class: 'crumbs' }, h('a', { href: '#/runs' }, 'Runs'), ' / ', id), h('h1', {}, 'Run'), area, msg.el);
  },
};
