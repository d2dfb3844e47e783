import { api, errorText, path } from '../api.ts';
import { type AuthType, type FieldSpec, authTypes } from '../auth-types.ts';
import { field, h, notice, replace } from '../dom.ts';
import { tokenHandoff } from '../handoff.ts';
import { TOKEN_COPIES, methodSelect, runTest, testResult } from '../profile-actions.ts';
import { type ConnectLink, connectLink } from '../profile-connection.ts';
import { settingsFields } from '../profile-settings.ts';
import { type Page, route } from '../router.ts';
import { secretOnce } from '../secret-once.ts';
import type { Agent } from '../types.ts';

type Input = HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement;
type Created = { auth_token: string; connect_url?: string; connect_expires_at?: string };

function input(spec: FieldSpec): Input {
  const common = { name: spec.name, required: spec.required, 'data-field': spec.name, autocomplete: 'off', spellcheck: 'false' };
  if (spec.kind === 'select') return h('select', common, ...(spec.options ?? []).map((o) => h('option', { value: o }, o)));
  if (spec.kind === 'textarea') return h('textarea', { ...common, rows: 3 });
  // Secret values use password inputs: not echoed on screen, not kept by form autofill.
  return h('input', { ...common, type: spec.secret ? 'password' : 'text' });
}

/** Name/value rows ("+ Add another"), e.g. an API Key profile's keys (values: password inputs) or extra authorize parameters (optional, in clear). */
function pairsEditor(labels: NonNullable<AuthType['pairs']>) {
  const secret = labels.secret !== false;
  const rows = h('div', { class: 'pairs', 'data-testid': 'pairs' });
  const add = () => {
    const row = h(
      'div',
      { class: 'pair-row' },
      h('input', { type: 'text', 'data-pair': 'name', required: secret, autocomplete: 'off', spellcheck: 'false', placeholder: labels.placeholder ?? 'X-Api-Key', 'aria-label': labels.name }),
      h('input', { type: secret ? 'password' : 'text', 'data-pair': 'value', required: secret, autocomplete: 'off', 'aria-label': secret ? `${labels.value} (secret)` : labels.value }),
    );
    row.append(h('button', { type: 'button', class: 'secondary small', on: { click: () => rows.children.length > 1 && row.remove() } }, 'Remove'));
    rows.append(row);
  };
  add();
  const inputs = () => [...rows.querySelectorAll<HTMLInputElement>('input')];
  return {
    el: h('fieldset', {}, h('legend', {}, `${labels.name}s and values${secret ? ' (secret)' : ' (optional)'}`), rows, h('button', { type: 'button', class: 'secondary small', 'data-testid': 'add-pair', on: { click: add } }, '+ Add another')),
    value: () =>
      Object.fromEntries(
        [...rows.children].map((r) => [(r.querySelector('[data-pair="name"]') as HTMLInputElement).value.trim(), (r.querySelector('[data-pair="value"]') as HTMLInputElement).value]).filter(([k, v]) => k && v),
      ),
    clear: () => {
      for (const el of inputs()) el.value = '';
    },
  };
}

/**
 * New Profile: fields by auth type (API Key: several name/value pairs), the settings (description,
 * allowed hosts, paths, methods, caller IPs) and the token's expiry. The new token is shown once
 * (Show/Hide, Copy). The vault tests saved profiles only (POST …/{name}/test takes the token of an
 * existing profile), so Test Profile runs right after Create, with the new token, from the panel.
 */
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
    const settingsArea = h('div', {});
    const testArea = h('div', {});
    let inputs: Input[] = [];
    let pairs: ReturnType<typeof pairsEditor> | undefined;
    let settings = settingsFields({}, false);
    const expires = h('input', { type: 'number', min: '1', step: 'any', placeholder: 'no expiry', 'data-testid': 'expires-hours' });
    const testUrl = h('input', { type: 'url', placeholder: 'https://api.example.com/v1/me', 'data-testid': 'new-test-url' });
    const testMethod = methodSelect('new-test-method');
    // A custom profile's values go to its runner, and a delegated OAuth profile has no account until its connect link is used: nothing to test yet.
    const testable = () => type.id !== 'custom' && type.id !== 'oauth2_authorization_code';
    const renderFields = () => {
      const specs = type.fields(agent);
      inputs = specs.map(input);
      pairs = type.pairs ? pairsEditor(type.pairs) : undefined;
      const labels = specs.map((s, i) => field(s.label + (s.secret ? ' (secret)' : ''), inputs[i] as HTMLElement, s.hint));
      // A field `unless` another input has a value is hidden (and not required) while it has it.
      const toggle = () =>
        specs.forEach((s, i) => {
          const off = s.unless !== undefined && inputs.find((el) => el.name === s.unless?.[0])?.value === s.unless[1];
          (labels[i] as HTMLElement).hidden = off;
          (inputs[i] as Input).required = s.required && !off;
        });
      for (const el of inputs) el.addEventListener('change', toggle);
      toggle();
      replace(
        fieldsArea,
        h('p', { class: 'hint' }, type.description),
        ...labels,
        pairs?.el,
        specs.length === 0 && !pairs ? h('p', { class: 'notice notice-error' }, 'This agent declares no input arguments: edit the agent first.') : null,
      );
      settings = settingsFields({}, type.id !== 'custom');
      replace(settingsArea, h('fieldset', {}, h('legend', {}, 'Settings'), settings.el, field('Token expires in hours', expires, 'Optional: the token stops working then (Rotate issues a new one). Empty: no expiry.')));
      replace(
        testArea,
        !testable()
          ? null
          : h(
              'fieldset',
              {},
              h('legend', {}, 'Test Profile'),
              h('p', { class: 'hint' }, 'The vault can test a saved profile only: give the call to make here, and Test Profile makes it with the new token right after Create. The test reports the status, never the body; the URL must be under Allowed hosts.'),
              field('Method', testMethod),
              field(type.id === 'oauth2_client_credentials' ? 'URL (optional: without one the test fetches an access token)' : 'URL', testUrl),
            ),
      );
    };
    renderFields();
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
    const submit = h('button', { type: 'submit', 'data-testid': 'create-profile' }, 'Create profile');
    const form: HTMLFormElement = h(
      'form',
      {
        class: 'card',
        on: {
          submit: async (e) => {
            e.preventDefault();
            msg.clear();
            const values = Object.fromEntries(inputs.map((el) => [el.name, el.value]));
            const s = settings.value();
            const hours = expires.value ? Number(expires.value) : undefined;
            const outbound = {
              ...(s.allowed_hosts.length ? { allowed_hosts: s.allowed_hosts } : {}),
              ...(s.allowed_path_prefixes.length ? { allowed_path_prefixes: s.allowed_path_prefixes } : {}),
              ...(s.allowed_methods.length ? { allowed_methods: s.allowed_methods } : {}),
            };
            submit.disabled = true;
            let created: Created;
            try {
              // The native create: it answers an oauth2_authorization_code profile's connect link too.
              created = await api<Created>('POST', path`/v1/agents/${id}/auth-profiles`, {
                name: name.value,
                ...type.body(values, agent, pairs?.value() ?? {}),
                ...outbound,
                ...(hours !== undefined ? { expires_in_hours: hours } : {}),
              });
            } catch (err) {
              msg.show(errorText(err));
              submit.disabled = false;
              return;
            }
            const { auth_token } = created;
            const profileName = name.value;
            const profile = { agent_id: id, name: profileName };
            // The form held secrets: clear every input before showing the token.
            for (const el of inputs) el.value = '';
            pairs?.clear();
            form.remove();
            // Create takes no description or caller IPs (shared/schemas/profiles.ts): they follow as one PATCH.
            const later = { ...(s.description ? { description: s.description } : {}), ...(s.allowed_source_ips.length ? { allowed_source_ips: s.allowed_source_ips } : {}) };
            const settingsMsg = notice();
            if (Object.keys(later).length) {
              await api('PATCH', path`/v1/agents/${id}/auth-profiles/${profileName}`, later).catch((err) =>
                settingsMsg.show(`The profile was created, but its description and caller IPs were not saved: set them under Settings on its page. ${errorText(err)}`),
              );
            }
            const toProfile = () => ctx.navigate(route('/agents/:agent_id/profiles/:name', { agent_id: id, name: profileName }));
            const runWithIt = h('button', {
              type: 'button',
              class: 'secondary',
              'data-testid': 'run-with-token',
              on: {
                click: () => {
                  tokenHandoff.give(id, profileName, auth_token);
                  ctx.navigate(route('/agents/:agent_id/run', { agent_id: id }));
                },
              },
            }, 'Start a run with it');
            const testMsg = notice();
            const testOut = h('div', { 'data-testid': 'new-test-result' });
            const url = testUrl.value.trim();
            const method = testMethod.value;
            const testButton = h('button', {
              type: 'button',
              class: 'secondary',
              'data-testid': 'new-test',
              on: {
                click: async () => {
                  testButton.disabled = true;
                  testMsg.clear();
                  replace(testOut);
                  try {
                    replace(testOut, testResult(await runTest(profile, auth_token, method, url)));
                  } catch (err) {
                    testMsg.show(errorText(err));
                  } finally {
                    testButton.disabled = false;
                  }
                },
              },
            }, 'Test Profile');
            const canTest = testable() && (url !== '' || type.id === 'oauth2_client_credentials');
            replace(
              result,
              secretOnce({
                title: `Profile ${profileName} created`,
                value: auth_token,
                warning:
                  'This auth token is shown once. The vault keeps only ciphertext it cannot open without this token: copy it now and store it where your platform keeps secrets. If it is lost, replace the profile.',
                testId: 'auth-token',
                copyLabel: 'Copy token',
                copies: TOKEN_COPIES,
                done: toProfile,
                extra: runWithIt,
                below: h('div', {}, created.connect_url ? connectLink(created as ConnectLink) : null, settingsMsg.el, canTest ? h('div', { class: 'actions' }, testButton, h('span', { class: 'hint' }, `${method} ${url || '(token fetch)'}`)) : null, testMsg.el, testOut),
              }),
            );
          },
        },
      },
      field('Name', name, 'Unique for this agent.'),
      picker,
      fieldsArea,
      settingsArea,
      testArea,
      msg.el,
      h('div', { class: 'actions' }, submit, h('a', { class: 'button secondary', href: `#${route('/agents/:agent_id', { agent_id: id })}` }, 'Cancel')),
    );
    return h('div', {}, h('p', { class: 'crumbs' }, h('a', { href: '#/agents' }, 'Agents'), ' / ', h('a', { href: `#${route('/agents/:agent_id', { agent_id: id })}` }, id), ' / new profile'), h('h1', {}, 'New profile'), result, form);
  },
};
