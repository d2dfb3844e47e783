import { randomBytes } from 'node:crypto';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalAuthServer, startLocalAuthServer } from '#infra/local/auth-server';
import { hasChromium, launchChromium } from '#test/support/browser';
import { type EchoUpstream, startEchoUpstream } from '#test/support/upstream';
import { type TestVault, startTestVault } from '#test/support/vault';

/**
 * Delegated OAuth end to end (docs/architecture.md, "Delegated OAuth 2.0") against the reference
 * authorization server, oidc-provider (OpenID Certified), on loopback with refresh-token rotation
 * and revocation on: the end user's browser (headless Chromium) opens the connect link, signs in
 * and consents on the provider's pages, and comes back through the vault's callback.
 */

if (!hasChromium())
  console.warn('delegated OAuth e2e skipped: /usr/bin/chromium is missing (apt-get install -y chromium; .ci/run does it)');

describe.skipIf(!hasChromium())('oauth2_authorization_code against oidc-provider', () => {
  let vault: TestVault;
  let as: LocalAuthServer;
  let app: EchoUpstream;
  let browser: Browser;
  let context: BrowserContext | undefined;
  let page: Page;
  /** Every token and code the provider issued (the leak canary looks for them everywhere). */
  const issued: string[] = [];
  /** Successful token requests at the provider, by grant type. */
  const grants: string[] = [];
  /** What the vault answered the browser: redirect targets and page bodies. */
  const vaultLocations: string[] = [];
  const vaultPages: string[] = [];
  const callbackUrls: string[] = [];
  const clientSecret = `canary-client-secret-${randomBytes(8).toString('hex')}`;

  beforeAll(async () => {
    vault = await startTestVault();
    [as, app] = await Promise.all([
      startLocalAuthServer({ redirectUri: `${vault.url}/v1/oauth/callback`, clientSecret }),
      startEchoUpstream(),
    ]);
    as.provider.on('grant.success', (ctx) => {
      const body = ctx.body as Record<string, string>;
      grants.push(String(ctx.oidc.params?.grant_type));
      for (const k of ['access_token', 'refresh_token', 'id_token']) if (body[k]) issued.push(body[k]);
    });
    as.provider.on('authorization_code.saved', (code) => issued.push(code.jti));
    browser = await launchChromium();
  });

  /** A fresh browser (no session at the provider), recording what the vault answers it. */
  async function newBrowserPage(): Promise<Page> {
    await context?.close();
    context = await browser.newContext();
    // Nothing leaves the machine: the provider's pages link a web font, which is refused here.
    await context.route(/^(?!http:\/\/127\.0\.0\.1[:/])/, (route) => route.abort());
    page = await context.newPage();
    page.on('response', async (res) => {
      if (!res.url().startsWith(vault.url)) return;
      if (res.url().includes('/v1/oauth/callback')) callbackUrls.push(res.url());
      const location = res.headers().location;
      if (location) vaultLocations.push(location);
      else vaultPages.push(await res.text().catch(() => ''));
    });
    return page;
  }

  afterAll(async () => {
    await browser?.close();
    await Promise.all([vault?.close(), as?.close(), app?.close()]);
  });

  let seq = 0;
  async function profile(config: Record<string, unknown> = {}) {
    const agent = `deleg-e2e-${++seq}-${randomBytes(3).toString('hex')}`;
    expect(
      (
        await vault.call('POST', '/v1/agents', {
          agent_id: agent,
          name: 'Delegated',
          input_args: [],
          runner: { type: 'webhook', url: 'http://127.0.0.1:9/run' },
        })
      ).status,
    ).toBe(201);
    const res = await vault.call('POST', `/v1/agents/${agent}/auth-profiles`, {
      name: 'acct',
      auth_type: 'oauth2_authorization_code',
      auth_config: { ...as.authConfig(`${app.url}/connected`), ...config },
      auth_data: { client_id: as.clientId, client_secret: clientSecret },
      end_user_id: 'end-user-7',
      allowed_hosts: [new URL(as.issuer).host],
    });
    expect(res.status, res.text).toBe(201);
    return { agent, token: res.json.auth_token as string, connectUrl: res.json.connect_url as string, created: res.json };
  }

  /** The end user: open the link, sign in, consent; the URL the browser ends on. */
  async function consent(connectUrl: string, login = 'alice'): Promise<URL> {
    const page = await newBrowserPage();
    await page.goto(connectUrl);
    await page.fill('input[name=login]', login);
    await page.fill('input[name=password]', 'any');
    await page.click('button[type=submit]');
    await page.waitForSelector('button:has-text("Continue")');
    await page.click('button:has-text("Continue")');
    await page.waitForURL((u) => u.href.startsWith(app.url));
    return new URL(page.url());
  }

  const proxyMe = (agent: string, token: string) =>
    vault.call('POST', '/v1/proxy', { agent_id: agent, auth_token: token, method: 'GET', url: `${as.issuer}/me` });
  const refreshes = () => grants.filter((g) => g === 'refresh_token').length;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('connects through the browser (sign-in and consent), exchanges the code, and uses the account through the proxy', async () => {
    const { agent, token, connectUrl, created } = await profile();
    expect(created.profile).toMatchObject({ connection_state: 'pending', end_user_id: 'end-user-7' });
    expect(connectUrl).toMatch(new RegExp(`^${vault.url}/v1/oauth/connect\\?link=avc_`));

    const back = await consent(connectUrl);

    expect(back.searchParams.get('status')).toBe('connected');
    expect([...back.searchParams.keys()].sort()).toEqual(['status']);
    expect(grants).toContain('authorization_code');
    const meta = await vault.call('GET', `/v1/agents/${agent}/auth-profiles/acct`);
    expect(meta.json).toMatchObject({ connection_state: 'connected', scopes_granted: ['openid', 'offline_access'] });
    const me = await proxyMe(agent, token);
    expect(me.status, me.text).toBe(200);
    expect(me.json.status).toBe(200);
    expect(JSON.parse(me.json.body)).toEqual({ sub: 'alice' });
  });

  it('refreshes an expired token once for 50 parallel proxy calls', async () => {
    as.options.accessTokenTtl = 3;
    const { agent, token, connectUrl } = await profile();
    await consent(connectUrl);
    as.options.accessTokenTtl = 3600;
    await sleep(3_200);
    const before = refreshes();

    const answers = await Promise.all(Array.from({ length: 50 }, () => proxyMe(agent, token)));

    expect(answers.map((a) => a.json?.status)).toEqual(Array(50).fill(200));
    expect(refreshes() - before).toBe(1);
    const meta = await vault.call('GET', `/v1/agents/${agent}/auth-profiles/acct`);
    expect(meta.json.connection_state).toBe('connected');
  });

  it('uses the rotated refresh token for the next refresh (the provider refuses a reused one and revokes the grant)', async () => {
    as.options.accessTokenTtl = 2;
    const { agent, token, connectUrl } = await profile();
    await consent(connectUrl);
    await sleep(2_200);
    expect((await proxyMe(agent, token)).json.status).toBe(200); // refresh 1 (rotates)
    await sleep(2_200);
    const before = refreshes();

    const again = await proxyMe(agent, token); // refresh 2: only the rotated token is valid now

    as.options.accessTokenTtl = 3600;
    expect(again.json?.status, again.text).toBe(200);
    expect(refreshes() - before).toBe(1);
  });

  it('answers reauthorization_required and shows needs_reauth once the grant is revoked at the provider', async () => {
    as.options.accessTokenTtl = 2;
    const { agent, token, connectUrl } = await profile();
    await consent(connectUrl);
    as.options.accessTokenTtl = 3600;
    const rt = issued.filter((t) => t.length > 20).at(-2) as string; // the refresh token of the exchange (before its id_token)
    // The end user revokes the app at the provider (RFC 7009, as the client would).
    const revoke = await fetch(`${as.issuer}/token/revocation`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${as.clientId}:${clientSecret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ token: rt, token_type_hint: 'refresh_token' }),
    });
    expect(revoke.status).toBe(200);
    await sleep(2_200);

    const use = await proxyMe(agent, token);

    expect(use.status).toBe(409);
    expect(use.json.error.code).toBe('reauthorization_required');
    expect(use.json.error.message).toContain(`/v1/agents/${agent}/auth-profiles/acct/connect`);
    const meta = await vault.call('GET', `/v1/agents/${agent}/auth-profiles/acct`);
    expect(meta.json.connection_state).toBe('needs_reauth');
    expect(meta.json.last_error).toMatch(/invalid_grant$/);
    expect(vault.logs.join('\n')).toContain('"event":"connection.needs_reauth"');
  });

  it('disconnects with the revocation confirmed at the provider', async () => {
    const { agent, token, connectUrl } = await profile();
    const start = issued.length;
    await consent(connectUrl);
    const mine = issued.slice(start);
    const live = async () => (await Promise.all(mine.map((t) => as.provider.RefreshToken.find(t)))).filter(Boolean).length;
    expect(await live()).toBe(1);

    const res = await vault.call('POST', `/v1/agents/${agent}/auth-profiles/acct/disconnect`, { auth_token: token });

    expect(res.status, res.text).toBe(200);
    expect(res.json).toEqual({ connection_state: 'disconnected', revocation: 'confirmed' });
    // At the provider: the connection's refresh token is gone.
    expect(await live()).toBe(0);
    expect((await proxyMe(agent, token)).json.error.code).toBe('reauthorization_required');
  });

  it('deletes with the auth token and says the provider confirmed the revocation', async () => {
    const { agent, token, connectUrl } = await profile();
    await consent(connectUrl);

    const res = await vault.call('DELETE', `/v1/agents/${agent}/auth-profiles/acct`, { auth_token: token });

    expect(res.status, res.text).toBe(204);
    expect(res.headers.get('x-revocation')).toBe('confirmed');
  });

  it('refuses a replayed connect link and a replayed or forged state with a clear HTML page', async () => {
    const { connectUrl } = await profile();
    await consent(connectUrl);
    const callback = callbackUrls.at(-1) as string;

    const replayedLink = await fetch(connectUrl, { redirect: 'manual' });
    const replayedState = await fetch(callback, { redirect: 'manual' });
    const forged = await fetch(`${vault.url}/v1/oauth/callback?state=avs_${'A'.repeat(70)}&code=stolen`, { redirect: 'manual' });

    for (const [res, words] of [
      [replayedLink, 'was already used'],
      [replayedState, 'already completed'],
      [forged, 'cannot be completed'],
    ] as const) {
      const html = await res.text();
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toContain('text/html');
      expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
      expect(html).toContain(words);
      expect(html).not.toMatch(/\bat \S+\.ts:\d+/); // no stack
      vaultPages.push(html);
    }
  });

  it('sends the end user back with status=error&error=issuer_mismatch when the response names another issuer, without exchanging the code', async () => {
    const { agent, connectUrl } = await profile({ issuer: 'http://127.0.0.1:1' });
    const exchanges = grants.filter((g) => g === 'authorization_code').length;

    const back = await consent(connectUrl);

    expect(back.searchParams.get('status')).toBe('error');
    expect(back.searchParams.get('error')).toBe('issuer_mismatch');
    expect(grants.filter((g) => g === 'authorization_code').length).toBe(exchanges);
    expect((await vault.call('GET', `/v1/agents/${agent}/auth-profiles/acct`)).json.connection_state).toBe('pending');
  });

  it('leaks no token, code or client secret into table items, logs, pages or redirects (leak canary)', async () => {
    const secrets = [...new Set([...issued, clientSecret])].filter((s) => s.length >= 16);
    expect(secrets.length).toBeGreaterThan(10);
    const { Items = [] } = await vault.deps.db.doc.send(new ScanCommand({ TableName: vault.deps.db.tableName }));
    const table = JSON.stringify(Items, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : v));
    const logs = vault.logs.join('\n');
    const places = {
      table,
      logs,
      pages: vaultPages.join('\n'),
      redirects: vaultLocations.join('\n'),
      returns: JSON.stringify(app.seen.map((s) => s.query)),
    };
    for (const [where, text] of Object.entries(places))
      for (const s of secrets) expect(text.includes(s), `${where} holds an issued secret`).toBe(false);
    expect(vaultLocations.length).toBeGreaterThan(10);
  });
});
