import { agentReadOnly, disableAll, readOnlyNote, whoami } from '../access.ts';
import { api, errorText, path } from '../api.ts';
import { details, h, notice, replace, time } from '../dom.ts';
import { profileList } from '../profile-list.ts';
import { type Page, route } from '../router.ts';
import { secretOnce } from '../secret-once.ts';
import type { Agent } from '../types.ts';
import { agentForm } from './agents.ts';

/** A button that asks once more before `action` ("Delete" → "Really delete?"). */
export function confirmButton(label: string, confirmLabel: string, action: () => Promise<void>, testId?: string): HTMLButtonElement {
  let armed = false;
  const button = h('button', {
    type: 'button',
    class: 'danger',
    'data-testid': testId,
    on: {
      click: async () => {
        if (!armed) {
          armed = true;
          button.textContent = confirmLabel;
          setTimeout(() => {
            armed = false;
            button.textContent = label;
          }, 5000);
          return;
        }
        button.disabled = true;
        try {
          await action();
        } finally {
          button.disabled = false;
          armed = false;
          button.textContent = label;
        }
      },
    },
  }, label);
  return button;
}

/** One agent: its definition, Edit, Rotate signing secret, Delete, and its profiles. */
export const agentPage: Page = {
  path: '/agents/:agent_id',
  title: (p) => `Agent ${p.agent_id}`,
  async render(ctx) {
    const id = ctx.params.agent_id as string;
    const profiles = profileList({ agentId: id, empty: 'No profiles for this agent yet.' });
    const [agent, me] = await Promise.all([api<Agent>('GET', path`/v1/agents/${id}`), whoami(), profiles.load()]);
    const readOnly = agentReadOnly(me, agent);

    const msg = notice();
    const secretArea = h('div', {});
    const view = h('div', {});
    const showDetails = (a: Agent) =>
      replace(
        view,
        details([
          ['Agent id', a.agent_id],
          ['Name', a.name],
          ['Description', a.description],
          ['Input arguments', a.input_args.map((x) => `${x.name}${x.required ? ' (required)' : ''}${x.secret ? '' : ' (not secret)'}`).join(', ') || '—'],
          ['Runner', `${a.runner.type} ${a.runner.url}`],
          ['Runner timeout', `${a.runner.timeout_ms ?? 30000} ms`],
          ['Credential delivery', a.credential_delivery === 'proxy' ? 'proxy (run grant; the runner never sees a value)' : 'parameters (the runner receives the values)'],
          ['Owner', a.owner ?? 'admins only (registered before owners)'],
          ['Created', time(a.created_at)],
          ['Updated', time(a.updated_at)],
        ]),
      );
    showDetails(agent);

    const form = agentForm(agent);
    const edit = h(
      'form',
      {
        class: 'card',
        hidden: true,
        on: {
          submit: async (e) => {
            e.preventDefault();
            msg.clear();
            try {
              const updated = await api<Agent>('PUT', path`/v1/agents/${id}`, form.value());
              showDetails(updated);
              edit.hidden = true;
              msg.show('Agent saved.', 'info');
            } catch (err) {
              msg.show(errorText(err));
            }
          },
        },
      },
      h('h2', {}, 'Edit agent'),
      form.el,
      h('button', { type: 'submit', 'data-testid': 'save-agent' }, 'Save'),
    );

    const rotate = confirmButton('Rotate signing secret', 'Click again: the old secret stops working', async () => {
      msg.clear();
      try {
        const r = await api<{ runner_signing_secret: string }>('POST', path`/v1/agents/${id}/rotate-signing-secret`);
        replace(
          secretArea,
          secretOnce({
            title: 'New runner signing secret',
            value: r.runner_signing_secret,
            warning: 'Shown once. Runs are signed with it from now on: update your runner now, or it will reject them.',
            testId: 'signing-secret',
            done: () => replace(secretArea),
          }),
        );
      } catch (err) {
        msg.show(errorText(err));
      }
    }, 'rotate-secret');

    const remove = confirmButton('Delete agent', 'Click again to delete', async () => {
      msg.clear();
      try {
        await api('DELETE', path`/v1/agents/${id}`);
        ctx.navigate('/agents');
      } catch (err) {
        msg.show(errorText(err));
      }
    });

    const writeButtons = h('div', { class: 'actions' }, h('button', { type: 'button', class: 'secondary', 'data-testid': 'edit-agent', on: { click: () => (edit.hidden = !edit.hidden) } }, 'Edit'), rotate, remove);
    disableAll(readOnly, writeButtons);
    return h(
      'div',
      {},
      h('p', { class: 'crumbs' }, h('a', { href: '#/agents' }, 'Agents'), ' / ', id),
      h('h1', {}, agent.name),
      view,
      readOnlyNote(readOnly),
      writeButtons,
      h('div', { class: 'actions' }, h('a', { class: 'button secondary', href: `#${route('/agents/:agent_id/run', { agent_id: id })}` }, 'Start a run')),
      msg.el,
      secretArea,
      edit,
      h('h2', {}, 'Auth profiles'),
      h('div', { class: 'actions' }, h('a', { class: 'button', href: `#${route('/agents/:agent_id/profiles/new', { agent_id: id })}`, 'data-testid': 'new-profile' }, 'New profile')),
      profiles.el,
    );
  },
};
