import { api, path } from '../api.ts';
import { type AuthType, type FieldSpec, authTypes } from '../auth-types.ts';
import { field, h, notice, replace } from '../dom.ts';
import { tokenHandoff } from '../handoff.ts';
import { type Page, route } from '../router.ts';
import { secretOnce } from '../secret-once.ts';
import type { Agent } from '../types.ts';

function input(spec: FieldSpec): HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement {
  const common = { name: spec.name, required: spec.required, 'data-field': spec.name, autocomplete: 'off', spellcheck: 'false' };
  if (spec.kind === 'select') return h('select', common, ...(spec.options ?? []).map((o) => h('option', { value: o }, o)));
  if (spec.kind === 'textarea') return h('textarea', { ...common, rows: 3 });
  // Secret values use password inputs: not echoed on screen, not kept by form autofill.
  return h('input', { ...common, type: spec.secret ? 'password' : 'text' });
}

/** New Profile: fields by auth type; the new token is shown once with a copy button and a warning. */
export const newProfilePage: Page = {
  path: '/agents/:agent_id/profiles/new',
  title: (p) => `New profile · ${p.agent_id}`,
  async render(ctx) {
    const id = ctx.params.agent_id as string;
    const agent = await api<Agent>('GET', path`/v1/agents/${id}`);
    const types = authTypes();
    let type: AuthType = types[0] as AuthType;

    const name = h('input', { type: 'text', name: 'name', required: true, maxlength: 128, autocomplete: 'off', 'data-testid': 'profile-name' });
    const fieldsArea = h('div', { class: 'type-fields' });
    let inputs: HTMLInputElement[] | (HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement)[] = [];
    const renderFields = () => {
      const specs = type.fields(agent);
      inputs = specs.map(input);
      replace(
        fieldsArea,
        h('p', { class: 'hint' }, type.description),
        ...specs.map((s, i) => field(s.label + (s.secret ? ' (secret)' : ''), inputs[i] as HTMLElement, s.hint)),
        specs.length === 0 ? h('p', { class: 'notice notice-error' }, 'This agent declares no input arguments: edit the agent first.') : null,
      );
    };
    renderFields();
    // The type picker appears once more than one auth type is registered (auth-types.ts).
    const picker =
      types.length > 1
        ? field(
            'Type',
            h(
              'select',
              {
                name: 'auth_type',
                'data-testid': 'auth-type',
                on: {
                  change: (e) => {
                    type = types.find((t) => t.id === (e.target as HTMLSelectElement).value) ?? type;
                    renderFields();
                  },
                },
              },
              ...types.map((t) => h('option', { value: t.id }, t.label)),
            ),
          )
        : null;

    const msg = notice();
    const result = h('div', {});
    const form: HTMLFormElement = h(
      'form',
      {
        class: 'card',
        on: {
          submit: async (e) => {
            e.preventDefault();
            msg.clear();
            const values = Object.fromEntries(inputs.map((el) => [el.name, el.value]));
            try {
              const { auth_token } = await api<{ auth_token: string }>('POST', '/api/create_agent_auth_profile', { name: name.value, agent_id: id, ...type.body(values, agent) });
              const profileName = name.value;
              // The form held secrets: clear every input before showing the token.
              for (const el of inputs) el.value = '';
              form.remove();
              const toProfile = () => ctx.navigate(route('/agents/:agent_id/profiles/:name', { agent_id: id, name: profileName }));
              const runWithIt = h(
                'button',
                {
                  type: 'button',
                  class: 'secondary',
                  'data-testid': 'run-with-token',
                  on: {
                    click: () => {
                      tokenHandoff.give(id, profileName, auth_token);
                      ctx.navigate(route('/agents/:agent_id/run', { agent_id: id }));
                    },
                  },
                },
                'Start a run with it',
              );
              replace(
                result,
                secretOnce({
                  title: `Profile ${profileName} created`,
                  value: auth_token,
                  warning:
                    'This auth token is shown once. The vault keeps only ciphertext it cannot open without this token: copy it now and store it where your platform keeps secrets. If it is lost, replace the profile.',
                  testId: 'auth-token',
                  done: toProfile,
                  extra: runWithIt,
                }),
              );
            } catch (err) {
              msg.show(err instanceof Error ? err.message : String(err));
            }
          },
        },
      },
      field('Name', name, 'Unique for this agent.'),
      picker,
      fieldsArea,
      msg.el,
      h('div', { class: 'actions' }, h('button', { type: 'submit', 'data-testid': 'create-profile' }, 'Create profile'), h('a', { class: 'button secondary', href: `#${route('/agents/:agent_id', { agent_id: id })}` }, 'Cancel')),
    );
    return h('div', {}, h('p', { class: 'crumbs' }, h('a', { href: '#/agents' }, 'Agents'), ' / ', h('a', { href: `#${route('/agents/:agent_id', { agent_id: id })}` }, id), ' / new profile'), h('h1', {}, 'New profile'), result, form);
  },
};
