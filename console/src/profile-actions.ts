import { disableAll, keyName } from './access.ts';
import { api, errorText, path } from './api.ts';
import { badge, type Child, field, h, notice, replace, table, time } from './dom.ts';
import { registerProfileSection } from './profile-extensions.ts';
import { secretOnce } from './secret-once.ts';
import type { Profile } from './types.ts';

/**
 * The lifecycle sections of a profile's page: usage, Test, Rotate, Activate/Deactivate. Test and
 * Rotate need the profile's current auth token, which the vault never stores: the user pastes it
 * into a password field, it goes in the request body only and the field is emptied afterwards.
 */

interface TestResult {
  readonly ok: boolean;
  readonly status?: number;
  readonly latency_ms: number;
  readonly error?: string;
}
interface Rotated {
  readonly auth_token: string;
  readonly generation: number;
  readonly token_expires_at?: string;
}
export interface Use {
  readonly at: string;
  readonly action: string;
  readonly key_id: string;
  readonly status: number;
  readonly result: string;
  readonly source_ip?: string;
}
/**
 * The other copy of a new auth token: the vault takes it in the request body (`auth_token` of
 * /run_agent, /v1/proxy, test, rotate), never in a header, so that is what is offered.
 */
export const TOKEN_COPIES = { 'Copy "auth_token" field': (t: string) => `"auth_token": "${t}"` };

export interface Usage {
  readonly last_used_at?: string;
  readonly use_count: number;
  readonly uses_last_7_days: { readonly run: number; readonly proxy: number; readonly test: number };
  readonly in_flight_until?: string;
  readonly uses: readonly Use[];
}

export const profileUrl = (p: Profile) => path`/v1/agents/${p.agent_id}/auth-profiles/${p.name}`;
const tokenInput = (testId: string) => h('input', { type: 'password', autocomplete: 'off', required: true, 'data-testid': testId, placeholder: 'avt_…' });
/** The result of a test, as the vault answered it (never a body). */
export const testResult = (r: TestResult) =>
  h('p', { 'data-testid': 'test-outcome' }, r.ok ? badge('ok', 'ok') : badge('failed', 'bad'), ` status ${r.status ?? '—'}, ${Math.round(r.latency_ms)} ms`, r.error ? `: ${r.error}` : '');

/** The recent uses of a profile: when, what, by which key (its name where known), result. */
export const usesTable = (uses: readonly Use[], me: Parameters<typeof keyName>[0], testId = 'usage-table') =>
  table<Use>(
    uses,
    [
      { header: 'When', cell: (u) => time(u.at) },
      { header: 'Action', cell: (u) => u.action },
      { header: 'Result', cell: (u) => `${u.status} ${u.result}` },
      { header: 'API key', cell: (u) => h('span', { title: u.key_id }, keyName(me, u.key_id)) },
      { header: 'Source IP', cell: (u) => u.source_ip ?? '—', present: (rows) => rows.some((u) => u.source_ip) },
    ],
    'Not used yet.',
    testId,
  );

/** Submits `form` once at a time; `run` gets the notice to report on. */
export function onSubmit(form: HTMLFormElement, msg: ReturnType<typeof notice>, run: () => Promise<void>): void {
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const button = form.querySelector('button[type="submit"]') as HTMLButtonElement | null;
    if (button) button.disabled = true;
    msg.clear();
    try {
      await run();
    } catch (err) {
      msg.show(errorText(err));
    } finally {
      if (button) button.disabled = false;
    }
  });
}

/** The methods a test may use. */
export const methodSelect = (testId: string) => h('select', { 'data-testid': testId }, ...['GET', 'HEAD', 'POST'].map((m) => h('option', { value: m }, m)));

/** Tests the saved profile `p` with `token`: one call (or, for OAuth2 without a URL, a token fetch); the vault's answer. */
export async function runTest(p: Pick<Profile, 'agent_id' | 'name'>, token: string, method: string, url: string): Promise<TestResult> {
  return api<TestResult>('POST', `${path`/v1/agents/${p.agent_id}/auth-profiles/${p.name}`}/test`, { auth_token: token, ...(url ? { request: { method, url } } : {}) });
}

registerProfileSection({
  id: 'usage',
  order: 10,
  async render({ profile, me }) {
    const usage = await api<Usage>('GET', `${profileUrl(profile)}/usage`);
    const w = usage.uses_last_7_days;
    return h(
      'section',
      { class: 'card', 'data-testid': 'usage' },
      h('h2', {}, 'Usage'),
      h('p', {}, `Last 7 days: ${w.run} runs, ${w.proxy} proxied calls, ${w.test} tests. `, usage.in_flight_until ? h('span', {}, 'A run may be going until ', time(usage.in_flight_until), '.') : null),
      usesTable(usage.uses, me),
    );
  },
});

registerProfileSection({
  id: 'test',
  order: 20,
  render({ profile, refresh }) {
    // A custom profile's values go to its runner as they are: there is no call to inject them into.
    if (profile.auth_type === 'custom') return null;
    const msg = notice();
    const result = h('div', { 'data-testid': 'test-result' });
    const token = tokenInput('test-token');
    // OAuth2 client credentials test with a token fetch; the other types need a call to make.
    const needsRequest = profile.auth_type !== 'oauth2_client_credentials';
    const url = h('input', { type: 'url', 'data-testid': 'test-url', placeholder: 'https://api.example.com/v1/me', required: needsRequest });
    const method = methodSelect('test-method');
    const form = h(
      'form',
      { class: 'card' },
      h('h2', {}, 'Test'),
      h('p', { class: 'hint' }, 'Makes one call with the credentials injected and reports the status, never the body.'),
      field('Current auth token', token, 'Not kept: sent once in the request body.'),
      field('Method', method),
      field(needsRequest ? 'URL' : 'URL (optional: without one the test fetches an access token)', url),
      h('div', { class: 'actions' }, h('button', { type: 'submit', 'data-testid': 'test-profile' }, 'Test')),
      msg.el,
      result,
    );
    onSubmit(form, msg, async () => {
      replace(result); // an earlier result must not pass for this one's
      const current = token.value;
      token.value = '';
      replace(result, testResult(await runTest(profile, current, method.value, url.value)));
      await refresh(); // Last test
    });
    return form;
  },
});

registerProfileSection({
  id: 'rotate',
  order: 30,
  render({ profile, reload, refresh, readOnly }) {
    const msg = notice();
    const slot = h('div', {});
    const token = tokenInput('rotate-token');
    const hours = h('input', { type: 'number', min: '1', step: 'any', 'data-testid': 'rotate-hours', placeholder: 'keep the current expiry' });
    const noExpiry = h('input', { type: 'checkbox', 'data-testid': 'rotate-no-expiry' });
    const form = h(
      'form',
      { class: 'card' },
      h('h2', {}, 'Rotate token'),
      h('p', { class: 'hint' }, 'Issues a new auth token; the current one stops working at once.'),
      field('Current auth token', token, 'Not kept: sent once in the request body.'),
      field('Expires in hours', hours, 'Leave empty to keep the current expiry (an expired token needs a new one, or no expiry).'),
      field('No expiry', noExpiry, 'The new token works until it is rotated or the profile deleted.'),
      h('div', { class: 'actions' }, h('button', { type: 'submit', 'data-testid': 'rotate-profile' }, 'Rotate')),
      msg.el,
    );
    onSubmit(form, msg, async () => {
      const body: Record<string, unknown> = { auth_token: token.value };
      // Empty: the vault keeps the current expiry; null removes it.
      if (noExpiry.checked) body.expires_in_hours = null;
      else if (hours.value) body.expires_in_hours = Number(hours.value);
      token.value = '';
      const r = await api<Rotated>('POST', `${profileUrl(profile)}/rotate`, body);
      hours.value = '';
      noExpiry.checked = false;
      replace(
        slot,
        secretOnce({
          title: `New token for ${profile.name} (generation ${r.generation})`,
          value: r.auth_token,
          warning: 'It is shown once: the vault keeps no copy. Save it now; the old token no longer works.',
          testId: 'auth-token',
          copyLabel: 'Copy token',
          copies: TOKEN_COPIES,
          done: reload,
        }),
      );
      await refresh(); // generation, expiry and its badge, as the vault now has them
    });
    disableAll(readOnly, form);
    return h('div', {}, slot, form);
  },
});

registerProfileSection({
  id: 'active',
  order: 40,
  render({ profile, reload, readOnly }): Child {
    const msg = notice();
    const active = profile.active !== false;
    const button = h('button', {
      type: 'button',
      class: active ? 'danger' : undefined,
      'data-testid': 'toggle-active',
      on: {
        click: async () => {
          button.disabled = true;
          msg.clear();
          try {
            await api('PATCH', profileUrl(profile), { active: !active });
            reload();
          } catch (err) {
            msg.show(errorText(err));
            button.disabled = false;
          }
        },
      },
    }, active ? 'Deactivate' : 'Activate');
    const section = h(
      'section',
      { class: 'card' },
      h('h2', {}, active ? 'Active' : 'Inactive'),
      h('p', { class: 'hint' }, active ? 'Deactivating refuses every use with 403 profile_inactive; nothing is deleted.' : 'Every use is refused until the profile is activated again.'),
      h('div', { class: 'actions' }, button),
      msg.el,
    );
    disableAll(readOnly, section);
    return section;
  },
});
