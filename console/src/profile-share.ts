import { disableAll } from './access.ts';
import { api, errorText, isRace, path } from './api.ts';
import { badge, type Child, details, field, h, notice, table } from './dom.ts';
import { confirmButton } from './pages/agent.ts';
import { registerProfileSection } from './profile-extensions.ts';
import type { Grant } from './types.ts';

/**
 * The Access section of a profile's page: its owner and visibility, the grants (each with
 * Remove), and Share — a principal picked from the tenant's API keys (or "all members") with Read
 * or Read·Write. Share and Remove are single conditional writes in the vault; one that lost a race
 * with another change answers 409 conflict, shown as "changed by someone else" with a Reload.
 */

/** The principal every member key of the tenant matches. */
const ALL_MEMBERS = 'role:member';
const PERMISSIONS: readonly { value: Grant['permission']; label: string }[] = [
  { value: 'read', label: 'Read' },
  { value: 'read_write', label: 'Read·Write' },
];
const permissionLabel = (p: string) => PERMISSIONS.find((x) => x.value === p)?.label ?? p;

registerProfileSection({
  id: 'access',
  order: 5,
  render({ profile, reload, me, readOnly }): Child {
    const { keyId: own, keys, admin: listed } = me;
    const who = (principal: string): Child => {
      if (principal === ALL_MEMBERS) return h('span', {}, 'All members ', h('code', {}, ALL_MEMBERS));
      const k = keys.get(principal);
      return h('span', {}, k ? `${k.name} (${k.role}) ` : '', h('code', {}, principal), principal === own ? h('span', {}, ' ', badge('you', 'ok')) : null);
    };

    // What this console's key may do, by the vault's rules (shared/credentials/access.ts); only a
    // hint: the vault decides on every request. Only an admin can read the key listing.
    const yours = (): string => {
      if (me.admin) return 'Read·Write (admin)';
      if (own && profile.owner === own) return 'Read·Write (owner)';
      const mine = profile.grants.filter((g) => g.principal === own || g.principal === ALL_MEMBERS).map((g) => g.permission);
      return mine.includes('read_write') ? 'Read·Write (shared)' : mine.includes('read') ? 'Read (shared)' : 'Read·Write (admin)';
    };

    const msg = notice();
    const reloadButton = h('button', { type: 'button', class: 'secondary small', hidden: true, 'data-testid': 'access-reload', on: { click: reload } }, 'Reload');
    const fail = (err: unknown) => {
      msg.show(errorText(err));
      reloadButton.hidden = !isRace(err);
    };
    const base = path`/v1/agents/${profile.agent_id}/auth-profiles/${profile.name}`;

    const grants = table<Grant>(
      profile.grants,
      [
        { header: 'Principal', cell: (g) => who(g.principal) },
        { header: 'Permission', cell: (g) => permissionLabel(g.permission) },
        {
          header: '',
          cell: (g) =>
            confirmButton(
              'Remove',
              'Click again: it loses access at once',
              async () => {
                msg.clear();
                try {
                  await api('DELETE', `${base}/share/${encodeURIComponent(g.principal)}`);
                  reload();
                } catch (err) {
                  fail(err);
                }
              },
              `unshare-${g.principal}`,
            ),
        },
      ],
      'Not shared: only its owner and the admins see and use it.',
      'grants-table',
    );

    // The picker: every member key but the owner (an admin key already sees every profile), and
    // "all members"; without the key listing (a member's console), a key id typed in.
    const candidates = [...keys.values()].filter((k) => k.role === 'member' && k.key_id !== profile.owner);
    const principal = h(
      'select',
      { 'data-testid': 'share-principal' },
      h('option', { value: ALL_MEMBERS }, 'All members (every member key, now and later)'),
      ...candidates.map((k) => h('option', { value: k.key_id }, `${k.name} (${k.key_id})`)),
      h('option', { value: '' }, 'Another key, by key id…'),
    );
    const keyId = h('input', { type: 'text', pattern: '[0-9a-f]{16}', placeholder: '16 hex digits, as the API keys page lists it', 'data-testid': 'share-key-id', spellcheck: 'false' });
    const keyIdField = field('Key id', keyId);
    const syncKeyId = () => {
      keyIdField.hidden = principal.value !== '';
      keyId.required = principal.value === '';
    };
    principal.addEventListener('change', syncKeyId);
    syncKeyId();
    const permission = h('select', { 'data-testid': 'share-permission' }, ...PERMISSIONS.map((p) => h('option', { value: p.value }, p.label)));
    const submit = h('button', { type: 'submit', 'data-testid': 'share-profile' }, 'Share');
    const form = h(
      'form',
      {
        on: {
          submit: async (e) => {
            e.preventDefault();
            msg.clear();
            submit.disabled = true;
            try {
              await api('POST', `${base}/share`, { principal: principal.value || keyId.value.trim(), permission: permission.value });
              reload();
            } catch (err) {
              fail(err);
            } finally {
              submit.disabled = false;
            }
          },
        },
      },
      h('h3', {}, 'Share'),
      field('With', principal, listed ? undefined : 'The key listing is for admins: pick "all members" or type a key id.'),
      keyIdField,
      field('Permission', permission, 'Read: see it and use it (run, proxy, test). Read·Write: also update, rotate, activate, share and delete.'),
      h('div', { class: 'actions' }, submit),
    );

    const section = h(
      'section',
      { class: 'card', 'data-testid': 'access' },
      h('h2', {}, 'Access'),
      details([
        ['Owner', profile.owner ? who(profile.owner) : 'none (created before principals: admins only)'],
        [
          'Visibility',
          h(
            'span',
            { 'data-testid': 'visibility' },
            badge(profile.visibility, profile.visibility === 'shared' ? 'warn' : 'muted'),
            profile.visibility === 'shared' ? ' its owner, the admins and the grants below' : ' its owner and the admins only',
          ),
        ],
        ['Your access', h('span', { 'data-testid': 'your-access' }, yours())],
      ]),
      h('h3', {}, 'Grants'),
      grants,
      form,
      msg.el,
      h('div', { class: 'actions' }, reloadButton),
    );
    disableAll(readOnly, grants);
    disableAll(readOnly, form);
    return section;
  },
});
