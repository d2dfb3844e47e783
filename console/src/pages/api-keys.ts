import { forgetWhoami } from '../access.ts';
import { ApiError, api, errorText, path } from '../api.ts';
import { badge, type Child, field, h, notice, replace, table, time } from '../dom.ts';
import type { Page } from '../router.ts';
import { secretOnce } from '../secret-once.ts';
import { session } from '../session.ts';
import type { ApiKey, CreatedApiKey } from '../types.ts';
import { confirmButton } from './agent.ts';

/** What a member sees instead of the page: GET /v1/api-keys answers it 403 forbidden. */
function adminOnly(ownKeyId: string | undefined, vaultMessage: string): HTMLElement {
  return h(
    'div',
    {},
    h('h1', {}, 'API keys'),
    h(
      'section',
      { class: 'card', role: 'status', 'data-testid': 'admin-only' },
      h('h2', {}, 'Admins only'),
      h('p', {}, 'Only admin API keys can list, create or revoke the tenant\'s API keys. ', ownKeyId ? h('span', {}, 'You are signed in with a member key (key id ', h('code', {}, ownKeyId), ').') : null),
      h('p', {}, 'A member sees and uses the profiles it owns or that were shared with it. Ask an admin of your tenant for a new key or a different role.'),
      h('p', { class: 'hint' }, `The vault said: ${vaultMessage}`),
    ),
  );
}

const roleBadge = (role: string) => badge(role, role === 'admin' ? 'warn' : 'muted');

/**
 * API keys (admin only): the tenant's keys (name, role, key id, created; never a secret), Create
 * with a name and a role (the key shown once), and Revoke after a confirmation. The key the
 * console is signed in with is marked; revoking it signs the console out on the list's reload.
 */
export const apiKeysPage: Page = {
  path: '/api-keys',
  title: 'API keys',
  nav: { label: 'API keys', order: 40 },
  async render() {
    const own = await session.keyId();
    const msg = notice();
    const list = h('div', {});
    const more = h('div', { class: 'actions' });
    const rows: ApiKey[] = [];

    const columns = [
      { header: 'Name', cell: (k: ApiKey) => h('span', {}, k.name, k.key_id === own ? h('span', {}, ' ', badge('this console', 'ok')) : null) },
      { header: 'Role', cell: (k: ApiKey) => roleBadge(k.role) },
      { header: 'Key id', cell: (k: ApiKey) => h('code', { 'data-testid': 'key-id' }, k.key_id) },
      { header: 'Created', cell: (k: ApiKey) => time(k.created_at) },
      {
        header: '',
        cell: (k: ApiKey): Child =>
          confirmButton(
            'Revoke',
            k.key_id === own ? 'Click again: this is the key you are signed in with' : 'Click again: it stops working at once',
            async () => {
              msg.clear();
              try {
                await api('DELETE', path`/v1/api-keys/${k.key_id}`);
                msg.show(`Key ${k.name} (${k.key_id}) revoked: the vault refuses it from now on.`, 'info');
                // Reloading with the console's own key, if that was the one revoked, answers 401
                // and signs out: the very refusal the user would meet next.
                await reload();
              } catch (err) {
                msg.show(errorText(err));
              }
            },
            `revoke-${k.key_id}`,
          ),
      },
    ];
    const show = () => replace(list, table(rows, columns, 'No API keys listed yet.', 'api-keys-table'));
    const load = async (cursor?: string) => {
      const q = new URLSearchParams({ limit: '100', ...(cursor ? { cursor } : {}) });
      const page = await api<{ api_keys: ApiKey[]; next_cursor?: string }>('GET', `/v1/api-keys?${q}`);
      rows.push(...page.api_keys);
      show();
      const next = page.next_cursor;
      replace(more, next ? h('button', { type: 'button', class: 'secondary', on: { click: () => void load(next).catch((e) => msg.show(String(e))) } }, 'Load more') : null);
    };
    const reload = async () => {
      forgetWhoami(); // key names and roles changed
      rows.length = 0;
      await load();
    };

    try {
      await load();
    } catch (err) {
      if (err instanceof ApiError && err.status === 403) return adminOnly(own, err.message);
      throw err;
    }

    const name = h('input', { type: 'text', name: 'name', required: true, maxlength: 200, placeholder: 'ci pipeline, alice…', 'data-testid': 'key-name' });
    const role = h('select', { name: 'role', 'data-testid': 'key-role' }, h('option', { value: 'member', selected: true }, 'member'), h('option', { value: 'admin' }, 'admin'));
    const createMsg = notice();
    const created = h('div', {});
    const submit = h('button', { type: 'submit', 'data-testid': 'create-key' }, 'Create key');
    const form = h(
      'form',
      {
        class: 'card',
        on: {
          submit: async (e) => {
            e.preventDefault();
            createMsg.clear();
            submit.disabled = true;
            try {
              // The answer holds the key: it goes to the once-panel only, not into `rows` or any variable kept here.
              const k = await api<CreatedApiKey>('POST', '/v1/api-keys', { name: name.value.trim(), role: role.value });
              name.value = '';
              replace(
                created,
                secretOnce({
                  title: `API key ${k.name} (${k.role}, key id ${k.key_id}) created`,
                  value: k.api_key,
                  warning: 'It is shown once: the vault stores only its hash and cannot show it again. Copy it now and hand it over safely; if it is lost, revoke it and create another.',
                  testId: 'new-api-key',
                  copyLabel: 'Copy key',
                  // The header every request with this key carries (docs/api.md).
                  copies: { 'Copy Authorization header': (key) => `Authorization: Bearer ${key}` },
                  done: () => replace(created),
                }),
              );
              await reload();
            } catch (err) {
              createMsg.show(errorText(err));
            } finally {
              submit.disabled = false;
            }
          },
        },
      },
      h('h2', {}, 'Create an API key'),
      field('Name', name, 'Shown in this list and in the audit log; not a secret.'),
      field('Role', role, 'member: sees and uses the profiles it owns or was granted. admin: manages keys and every profile.'),
      createMsg.el,
      submit,
    );

    return h(
      'div',
      {},
      h('h1', {}, 'API keys'),
      h('p', { class: 'hint' }, 'Every key is a principal of this tenant. The vault stores only a hash: a key is shown once, when it is created. Revoking one refuses it at once on this server (within 5 s on every AWS instance).'),
      msg.el,
      list,
      more,
      created,
      form,
    );
  },
};
