import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuthServer, startAuthServer } from '#test/support/auth-server';
import { hasChromium, launchChromium } from '#test/support/browser';
import { type EchoUpstream, startEchoUpstream } from '#test/support/upstream';
import { type TestVault, startTestVault } from '#test/support/vault';

// Screenshots for docs/console.md: `npm run screenshots` sets this and writes docs/screenshots/*.png.
const SHOTS = process.env.VAULT_SCREENSHOTS ? join(process.cwd(), 'docs', 'screenshots') : undefined;
const CLIENT_SECRET = 'canary-oauth-client-secret-51c0e2';

if (!hasChromium()) console.warn('console OAuth e2e skipped: /usr/bin/chromium is missing (apt-get install -y chromium; .ci/run does it)');

/**
 * Delegated OAuth in the console (issue 19, item 6; docs/api.md "Delegated OAuth"): a profile of
 * type oauth2_authorization_code created from New Profile with every setting, its token shown
 * once and its connect link copyable with its expiry; the end user's browser opens the link and
 * comes back connected through the loopback authorization server (test/support/auth-server.ts);
 * the connection badge on the profile page and in the agent's list; Disconnect with the
 * provider's confirmation; Reconnect with a new link; a read-only member's actions disabled.
 */
describe.skipIf(!hasChromium())('browser console: delegated OAuth (headless Chromium)', () => {
  let vault: TestVault;
  let as: AuthServer;
  let app: EchoUpstream;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  let page: Page;
  const problems: string[] = [];
  const AGENT = 'mail-bot';
  const PROFILE = 'alice-mail';
  const PROFILE_URL = `/v1/agents/${AGENT}/auth-profiles/${PROFILE}`;
  let token = '';
  let firstLink = '';

  const open = async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: vault.url });
    contexts.push(context);
    const p = await context.newPage();
    p.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy|Trusted Type/i.test(m.text())) problems.push(m.text());
    });
    p.on('pageerror', (e) => problems.push(e.message));
    return p;
  };
  const shot = async (p: Page | Locator, name: string) => {
    if (SHOTS) await p.screenshot({ path: join(SHOTS, `${name}.png`), ...('goto' in p ? { fullPage: true } : {}) });
  };
  const dd = (p: Page, label: string) => p.getByTestId('profile-meta').locator(`dt:text-is("${label}") + dd`);
  const stored = async () => (await vault.call('GET', PROFILE_URL)).json;
  /** The end user's browser (its own context, no console session): opens the link, ends on the return URL. */
  const endUserOpens = async (link: string): Promise<URL> => {
    const browserOfUser = await browser.newContext();
    contexts.push(browserOfUser);
    const p = await browserOfUser.newPage();
    await p.goto(link);
    await p.waitForURL((u) => u.href.startsWith(app.url));
    return new URL(p.url());
  };

  beforeAll(async () => {
    if (SHOTS) mkdirSync(SHOTS, { recursive: true });
    vault = await startTestVault();
    [as, app] = await Promise.all([startAuthServer(), startEchoUpstream()]);
    browser = await launchChromium();
    page = await open();
    const agent = await vault.call('POST', '/v1/agents', {
      agent_id: AGENT,
      name: 'Mail bot',
      input_args: [],
      runner: { type: 'webhook', url: 'http://127.0.0.1:9/run' },
    });
    expect(agent.status).toBe(201);
  });

  afterAll(async () => {
    for (const c of contexts) await c.close();
    await browser?.close();
    await Promise.all([vault?.close(), as?.close(), app?.close()]);
  });

  it('creates an Authorization Code profile from New Profile, shows the token once and the connect link with Copy and its expiry', async () => {
    await page.goto(`${vault.url}/console/#/agents/${AGENT}/profiles/new`);
    await page.getByTestId('api-key').fill(vault.apiKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('auth-type').waitFor();
    expect(await page.getByTestId('auth-type').locator('option').allTextContents()).toContain(
      "OAuth 2.0 Authorization Code (connect a user's account)",
    );
    await page.getByTestId('auth-type').selectOption('oauth2_authorization_code');
    await page.getByTestId('profile-name').fill(PROFILE);
    const f = (name: string) => page.locator(`[data-field="${name}"]`);
    await f('authorize_url').fill(`${as.url}/authorize`);
    await f('token_url').fill(`${as.url}/token`);
    await f('revocation_url').fill(`${as.url}/revoke`);
    await f('scopes').fill('read  write');
    await f('return_url').fill(`${app.url}/connected`);
    await f('end_user_id').fill('user-42');
    await f('client_id').fill('console-client');
    // A public client has no secret: the input goes away with client_auth none, and comes back.
    await f('client_auth').selectOption('none');
    expect(await f('client_secret').isVisible()).toBe(false);
    await f('client_auth').selectOption('post');
    expect(await f('client_secret').isVisible()).toBe(true);
    expect(await f('client_secret').getAttribute('type')).toBe('password');
    await f('client_secret').fill(CLIENT_SECRET);
    await page.locator('[data-pair="name"]').fill('access_type');
    await page.locator('[data-pair="value"]').fill('offline');
    expect(await page.locator('[data-pair="value"]').getAttribute('type')).toBe('text'); // a parameter, not a secret
    await page.getByTestId('allowed-hosts').fill(as.host);
    expect(await page.getByTestId('new-test-url').count()).toBe(0); // nothing to test before the end user connects
    await shot(page, 'new-profile-oauth-form');
    await page.getByTestId('create-profile').click();

    await page.getByTestId('auth-token').waitFor();
    expect(await page.getByTestId('auth-token').getAttribute('data-masked')).toBe('true');
    await page.getByTestId('auth-token-toggle').click();
    token = (await page.getByTestId('auth-token').textContent()) ?? '';
    expect(token).toMatch(/^avt_/);
    firstLink = (await page.getByTestId('connect-url').textContent()) ?? '';
    expect(firstLink).toMatch(new RegExp(`^${vault.url}/v1/oauth/connect\\?link=avc_`));
    const expires = await page.getByTestId('connect-expires').locator('time').getAttribute('datetime');
    const left = Date.parse(expires ?? '') - Date.now();
    expect(left).toBeGreaterThan(10 * 60_000);
    expect(left).toBeLessThanOrEqual(15 * 60_000);
    await page.getByTestId('connect-link').getByRole('button', { name: 'Copy link' }).click();
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(firstLink);

    expect(await stored()).toMatchObject({
      auth_type: 'oauth2_authorization_code',
      auth_config: {
        authorize_url: `${as.url}/authorize`,
        token_url: `${as.url}/token`,
        revocation_url: `${as.url}/revoke`,
        scopes: ['read', 'write'],
        authorize_params: { access_type: 'offline' },
        client_auth: 'post',
        return_url: `${app.url}/connected`,
      },
      fields: ['client_id', 'client_secret'],
      end_user_id: 'user-42',
      connection_state: 'pending',
    });
    expect(await page.content()).not.toContain(CLIENT_SECRET);
    await page.getByTestId('auth-token-toggle').click(); // masked again for the picture
    await shot(page, 'new-profile-oauth-link');
  });

  it('turns the badge connected once the end user has used the shown link, on the profile page and in the list', async () => {
    const back = await endUserOpens(firstLink);
    expect(back.searchParams.get('status')).toBe('connected');
    expect(as.tokenCalls.map((c) => c.grant_type)).toEqual(['authorization_code']);

    await page.getByRole('button', { name: 'I have saved it' }).click();
    await page.getByRole('heading', { name: `Profile ${PROFILE}` }).waitFor();
    expect(await page.getByTestId('connection-state').textContent()).toBe('connected');
    expect(await dd(page, 'Scopes granted').textContent()).toBe('read write');
    expect(await dd(page, 'Connected').locator('time').count()).toBe(1);
    expect(await dd(page, 'Last refreshed').locator('time').count()).toBe(1);
    expect(await dd(page, 'End user').textContent()).toBe('user-42');
    expect(await dd(page, 'Authorize parameters').textContent()).toBe('access_type=offline');
    await shot(page.getByTestId('profile-meta'), 'profile-oauth-connected');

    await page.goto(`${vault.url}/console/#/agents/${AGENT}`);
    const cell = page.getByTestId('profiles-table').getByTestId('connection-cell');
    await cell.waitFor();
    expect(await cell.textContent()).toBe('connected user-42');
    expect(await cell.locator('[data-badge]').getAttribute('class')).toContain('badge-ok');

    // The tenant-wide Profiles page lists it with the same column, and its type filter finds it.
    await page.goto(`${vault.url}/console/#/profiles`);
    await page.getByTestId('filter-auth_type').selectOption('oauth2_authorization_code');
    await expect.poll(() => page.getByTestId('connection-cell').allTextContents()).toEqual(['connected user-42']);
  });

  it('Disconnect asks for the token and a second click, shows that the provider confirmed the revocation, and the badge turns disconnected', async () => {
    await page.goto(`${vault.url}/console/#/agents/${AGENT}/profiles/${PROFILE}`);
    await page.getByTestId('connection').waitFor();
    const disconnect = page.getByTestId('disconnect');
    await disconnect.click();
    await disconnect.click(); // armed: without a token nothing is sent
    expect(as.revoked).toEqual([]);
    expect((await stored()).connection_state).toBe('connected');

    await page.getByTestId('connection-token').fill(token);
    await disconnect.click();
    expect(await disconnect.textContent()).toMatch(/Really disconnect/);
    expect(as.revoked).toEqual([]); // one click only arms it
    await disconnect.click();
    await page.getByTestId('revocation').waitFor();
    expect(await page.getByTestId('revocation').textContent()).toMatch(/^revocation confirmed Disconnected/);
    expect(as.revoked).toHaveLength(1);
    expect(as.liveRefreshTokens.size).toBe(0);
    await expect.poll(() => page.getByTestId('connection-state').textContent()).toBe('disconnected');
    expect(await page.getByTestId('connection-token').inputValue()).toBe('');
    expect((await stored()).connection_state).toBe('disconnected');
    await shot(page.getByTestId('connection'), 'profile-oauth-disconnected');
  });

  it('Reconnect gives a new link to copy; the end user uses it and the badge is connected again', async () => {
    await page.getByTestId('connection-token').fill(token);
    await page.getByTestId('reconnect').click();
    const url = page.getByTestId('connect-url');
    await url.waitFor();
    const link = (await url.textContent()) ?? '';
    expect(link).toMatch(/\/v1\/oauth\/connect\?link=avc_/);
    expect(link).not.toBe(firstLink);
    await page.getByTestId('connect-link').getByRole('button', { name: 'Copy link' }).click();
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(link);

    expect((await endUserOpens(link)).searchParams.get('status')).toBe('connected');
    await page.reload();
    await expect.poll(() => page.getByTestId('connection-state').textContent()).toBe('connected');
    expect(problems).toEqual([]);
  });

  it('shows a read-only member Reconnect and Disconnect disabled, with the reason', async () => {
    const bob = (await vault.call('POST', '/v1/api-keys', { name: 'bob', role: 'member' })).json;
    expect((await vault.call('POST', `${PROFILE_URL}/share`, { principal: bob.key_id, permission: 'read' })).status).toBe(200);
    const member = await open();
    await member.goto(`${vault.url}/console/#/agents/${AGENT}/profiles/${PROFILE}`);
    await member.getByTestId('api-key').fill(bob.api_key);
    await member.getByRole('button', { name: 'Sign in' }).click();
    await member.getByTestId('connection').waitFor();
    const reason = (await member.getByTestId('read-only').textContent()) ?? '';
    expect(reason).toMatch(/^Read only/);
    for (const id of ['reconnect', 'disconnect', 'connection-token']) {
      expect(await member.getByTestId(id).isDisabled(), id).toBe(true);
      expect(await member.getByTestId(id).getAttribute('title'), id).toBe(reason);
    }
    expect(await member.getByTestId('connection-state').textContent()).toBe('connected');
  });
});
