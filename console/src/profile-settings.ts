import type { ProxyMethod } from '../../shared/schemas/policy.ts';
import { api, path } from './api.ts';
import { disableAll } from './access.ts';
import { details, field, h, notice, time } from './dom.ts';
import { onSubmit } from './profile-actions.ts';
import { registerProfileSection } from './profile-extensions.ts';
import type { Profile } from './types.ts';

/** The methods the proxy may send (the type check keeps the list equal to shared/schemas/policy.ts). */
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const satisfies readonly ProxyMethod[];
const exhaustive: [Exclude<ProxyMethod, (typeof METHODS)[number]>] extends [never] ? true : never = true;
void exhaustive;

/** The non-secret settings of a profile, as New Profile and the Settings section edit them. */
export interface Settings {
  readonly description: string;
  readonly allowed_hosts: string[];
  readonly allowed_path_prefixes: string[];
  readonly allowed_methods: string[];
  readonly allowed_source_ips: string[];
}

/** One entry a line, as the gateway console takes lists; blank lines and spaces around are dropped. */
const lines = (el: HTMLTextAreaElement) =>
  el.value
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
const list = (id: string, value: readonly string[] | undefined, placeholder: string) =>
  h('textarea', { rows: 3, spellcheck: 'false', 'data-testid': id, placeholder }, (value ?? []).join('\n'));

/**
 * The settings inputs. `outbound` adds where the credentials may be sent (hosts, paths, methods):
 * a custom profile's values go to the runner, never through the proxy, so it has none.
 */
export function settingsFields(p: Partial<Profile> = {}, outbound = true) {
  const description = h('input', { type: 'text', maxlength: 512, value: p.description ?? '', 'data-testid': 'profile-description' });
  const hosts = list('allowed-hosts', p.allowed_hosts, 'api.example.com\n*.example.org\n127.0.0.1:8080');
  const prefixes = list('allowed-prefixes', p.allowed_path_prefixes, '/v1/\n/graphql');
  const ips = list('allowed-ips', p.allowed_source_ips, '203.0.113.7\n10.0.0.0/16\n2001:db8::/32');
  const methods = METHODS.map((m) => h('input', { type: 'checkbox', value: m, checked: p.allowed_methods?.includes(m) ?? false, 'data-method': m }));
  const el = h(
    'div',
    { class: 'settings' },
    field('Description', description, 'Optional; shown in lists. Not a secret.'),
    outbound ? field('Allowed hosts (one per line)', hosts, 'Where the vault may send these credentials (proxy and Test): a host, *.domain for its subdomains, or host:port. Without one the profile can be neither proxied nor tested.') : null,
    outbound ? field('Allowed path prefixes (one per line)', prefixes, 'Optional: only paths under these; empty allows every path.') : null,
    outbound
      ? h('fieldset', { 'data-testid': 'allowed-methods' }, h('legend', {}, 'Allowed methods'), h('div', { class: 'methods' }, ...methods.map((c) => h('label', { class: 'check' }, c, c.value))), h('span', { class: 'hint' }, 'None ticked allows every method.'))
      : null,
    field('Caller IP restrictions (one per line)', ips, 'Optional: addresses or CIDR ranges (IPv4 or IPv6) allowed to use the profile; empty allows any caller.'),
  );
  return {
    el,
    value: (): Settings => ({
      description: description.value.trim(),
      allowed_hosts: outbound ? lines(hosts) : [],
      allowed_path_prefixes: outbound ? lines(prefixes) : [],
      allowed_methods: outbound ? methods.filter((c) => c.checked).map((c) => c.value) : [],
      allowed_source_ips: lines(ips),
    }),
  };
}

const same = (a: readonly string[] | undefined, b: readonly string[]) => (a ?? []).join('\n') === b.join('\n');

/** The PATCH body that turns `p`'s settings into `s` (emptied lists and description removed): only what changed. */
export function settingsPatch(p: Partial<Profile>, s: Settings): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if ((p.description ?? '') !== s.description) body.description = s.description || null;
  if (!same(p.allowed_hosts, s.allowed_hosts)) body.allowed_hosts = s.allowed_hosts.length ? s.allowed_hosts : null;
  if (!same(p.allowed_path_prefixes, s.allowed_path_prefixes)) body.allowed_path_prefixes = s.allowed_path_prefixes.length ? s.allowed_path_prefixes : null;
  if (!same(p.allowed_methods, s.allowed_methods)) body.allowed_methods = s.allowed_methods.length ? s.allowed_methods : null;
  if (!same(p.allowed_source_ips, s.allowed_source_ips)) body.allowed_source_ips = s.allowed_source_ips;
  return body;
}

registerProfileSection({
  id: 'settings',
  order: 3,
  render({ profile, readOnly, refresh }) {
    let current: Profile = profile;
    const fields = settingsFields(profile, profile.auth_type !== 'custom');
    const msg = notice();
    const form = h(
      'form',
      { class: 'card', 'data-testid': 'settings' },
      h('h2', {}, 'Settings'),
      fields.el,
      details([['Token expiry', h('span', {}, time(profile.token_expires_at, 'none'), ' · set it with Rotate below (it issues a new token)')]]),
      h('div', { class: 'actions' }, h('button', { type: 'submit', 'data-testid': 'save-settings' }, 'Save settings')),
      msg.el,
    );
    onSubmit(form, msg, async () => {
      const body = settingsPatch(current, fields.value());
      if (Object.keys(body).length === 0) return msg.show('Nothing changed.', 'info');
      current = await api<Profile>('PATCH', path`/v1/agents/${profile.agent_id}/auth-profiles/${profile.name}`, body);
      await refresh(current);
      msg.show('Settings saved.', 'info');
    });
    disableAll(readOnly, form);
    return form;
  },
});
