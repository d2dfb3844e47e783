import { randomBytes } from 'node:crypto';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openForUse } from '#shared/credentials/gate';
import { accessTokenFor } from '#shared/credentials/oauth2/access-token';
import { CONNECT_TTL_MS, STATE_PREFIX } from '#shared/credentials/oauth2/connection';
import { formatToken } from '#shared/crypto/token';
import type { Deps } from '#shared/deps';
import { ConflictError, HttpError } from '#shared/errors';
import { connectLink, disconnectProfile, oauthCallback, openConnectLink } from '#shared/services/connections';
import { proxyRequest } from '#shared/services/proxy';
import { type AuthServer, startAuthServer } from '#test/support/auth-server';
import { testCaller } from '#test/support/credentials';
import { useTestStore } from '#test/support/dynamo';
import { startTestRunner } from '#test/support/runner';
import { createAgent, createProfileRecord, getProfileMetadata, rotateProfile } from '#test/support/services';
import { startRun } from '#shared/services/runs';
import { createWebhook, listDeliveries } from '#shared/services/webhooks';
import { type EchoUpstream, startEchoUpstream } from '#test/support/upstream';

const TENANT = 'acme';
const caller = testCaller(TENANT);
const t = useTestStore();
const BASE = 'http://127.0.0.1:3999';
const RETURN = 'http://127.0.0.1:4999/done';
const NET = { timeoutMs: 2_000, allowPrivate: true, httpsOnly: false };

let as: AuthServer;
let upstream: EchoUpstream;
beforeAll(async () => {
  [as, upstream] = await Promise.all([startAuthServer(), startEchoUpstream()]);
});
afterAll(async () => {
  await Promise.all([as.close(), upstream.close()]);
});

let seq = 0;
/** An agent with an oauth2_authorization_code profile "acct" against the test authorization server. */
async function delegatedProfile(config: Record<string, unknown> = {}) {
  const agentId = `deleg-${++seq}-${randomBytes(3).toString('hex')}`;
  await createAgent(t.deps, TENANT, {
    agent_id: agentId,
    name: agentId,
    input_args: [],
    runner: { type: 'webhook', url: 'http://127.0.0.1:9/run' },
  });
  const { auth_token, record } = await createProfileRecord(t.deps, TENANT, {
    name: 'acct',
    agent_id: agentId,
    auth_type: 'oauth2_authorization_code',
    auth_config: {
      authorize_url: `${as.url}/authorize`,
      token_url: `${as.url}/token`,
      revocation_url: `${as.url}/revoke`,
      scopes: ['read', 'write'],
      return_url: RETURN,
      ...config,
    },
    auth_data: { client_id: 'vault-client', client_secret: `cs-${randomBytes(8).toString('hex')}` },
    end_user_id: 'user-42',
    allowed_hosts: [`127.0.0.1:${upstream.port}`],
  });
  return { agentId, token: auth_token, record };
}

/** What the browser does: open the link, follow the provider's redirect back to the callback; the callback's answer (return_url). */
async function connect(
  deps: Deps,
  agentId: string,
  token: string,
  tamper?: (callback: URL) => void,
): Promise<{ back: string; authorizeUrl: URL; callback: URL }> {
  const { connect_url } = await connectLink(deps, caller, agentId, 'acct', token, BASE);
  const link = new URL(connect_url).searchParams.get('link') ?? undefined;
  const authorizeUrl = new URL(await openConnectLink(deps, link, BASE));
  const res = await fetch(authorizeUrl, { redirect: 'manual' });
  const callback = new URL(res.headers.get('location') ?? '');
  tamper?.(callback);
  const q = Object.fromEntries(callback.searchParams);
  return { back: await oauthCallback(deps, q, '127.0.0.1', 'req-1'), authorizeUrl, callback };
}

const use = async (deps: Deps, agentId: string, token: string) => {
  const opened = await openForUse(deps, caller, { kind: 'token', agentId, token }, 'proxy', { withOAuthToken: true });
  return (await accessTokenFor(deps, opened, NET)).access_token;
};

const withClock = (deps: Deps, at: () => number): Deps => ({ ...deps, now: () => new Date(at()) });

async function rejection(p: Promise<unknown>): Promise<HttpError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof HttpError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

describe('oauth2_authorization_code: connect', () => {
  it('starts pending with end_user_id in the metadata, and a use answers 409 reauthorization_required', async () => {
    const { agentId, token } = await delegatedProfile();

    const meta = await getProfileMetadata(t.deps, TENANT, agentId, 'acct');
    const err = await rejection(use(t.deps, agentId, token));

    expect(meta).toMatchObject({ auth_type: 'oauth2_authorization_code', connection_state: 'pending', end_user_id: 'user-42' });
    expect(err).toBeInstanceOf(ConflictError);
    expect(err.code).toBe('reauthorization_required');
    expect(err.message).toContain(`/v1/agents/${agentId}/auth-profiles/acct/connect`);
  });

  it('sends the browser to the provider with code, S256 PKCE, state and the callback, then connects and injects the access token', async () => {
    const { agentId, token } = await delegatedProfile({ authorize_params: { access_type: 'offline', prompt: 'consent' } });

    const { back, authorizeUrl } = await connect(t.deps, agentId, token);

    const q = authorizeUrl.searchParams;
    expect(q.get('response_type')).toBe('code');
    expect(q.get('code_challenge_method')).toBe('S256');
    expect(q.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(q.get('state')).toMatch(/^avs_/);
    expect(q.get('redirect_uri')).toBe(`${BASE}/v1/oauth/callback`);
    expect(q.get('scope')).toBe('read write');
    expect(q.get('access_type')).toBe('offline');
    expect(back).toBe(`${RETURN}?status=connected`);
    const meta = await getProfileMetadata(t.deps, TENANT, agentId, 'acct');
    expect(meta).toMatchObject({ connection_state: 'connected', scopes_granted: ['read', 'write'] });
    expect(typeof meta.connected_at).toBe('string');
    const exchange = as.tokenCalls.at(-1);
    expect(exchange?.grant_type).toBe('authorization_code');
    expect(exchange?.authorization).toMatch(/^Basic /);

    const res = await proxyRequest(t.deps, caller, { agent_id: agentId, auth_token: token, method: 'GET', url: `${upstream.url}/me` });
    expect(res.status).toBe(200);
    expect(upstream.seen.at(-1)?.headers.authorization).toMatch(/^Bearer at-/);
  });

  it('refuses a replayed connect link, an expired one and a replayed state', async () => {
    const { agentId, token } = await delegatedProfile();
    const { connect_url } = await connectLink(t.deps, caller, agentId, 'acct', token, BASE);
    const link = new URL(connect_url).searchParams.get('link') ?? undefined;
    const later = withClock(t.deps, () => Date.now() + CONNECT_TTL_MS + 1_000);
    const { connect_url: second } = await connectLink(t.deps, caller, agentId, 'acct', token, BASE);

    const expired = await rejection(openConnectLink(later, new URL(second).searchParams.get('link') ?? undefined, BASE));
    const first = new URL(await openConnectLink(t.deps, link, BASE));
    const replayed = await rejection(openConnectLink(t.deps, link, BASE));

    expect(expired.code).toBe('connect_link_invalid');
    expect(replayed.code).toBe('connect_link_invalid');
    const callback = new URL((await fetch(first, { redirect: 'manual' })).headers.get('location') ?? '');
    const q = Object.fromEntries(callback.searchParams);
    expect(await oauthCallback(t.deps, q)).toBe(`${RETURN}?status=connected`);
    expect((await rejection(oauthCallback(t.deps, q))).code).toBe('oauth_state_invalid');
  });

  it('refuses a forged state without reading a profile, and a mismatched iss without exchanging the code', async () => {
    const { agentId, token } = await delegatedProfile();
    const forged = STATE_PREFIX + formatToken(randomBytes(16), randomBytes(32)).slice(4);

    const err = await rejection(oauthCallback(t.deps, { state: forged, code: 'x' }));
    as.behaviour.iss = 'http://evil.example';
    const calls = as.tokenCalls.length;
    const { back } = await connect(t.deps, agentId, token).finally(() => {
      as.behaviour.iss = undefined;
    });

    expect(err.code).toBe('oauth_state_invalid');
    expect(back).toBe(`${RETURN}?status=error&error=issuer_mismatch`);
    expect(as.tokenCalls.length).toBe(calls);
    expect((await getProfileMetadata(t.deps, TENANT, agentId, 'acct')).connection_state).toBe('pending');
  });

  it('passes a provider error to return_url as status=error', async () => {
    const { agentId, token } = await delegatedProfile();
    as.behaviour.authorizeError = 'access_denied';
    const { back } = await connect(t.deps, agentId, token).finally(() => {
      as.behaviour.authorizeError = undefined;
    });
    expect(back).toBe(`${RETURN}?status=error&error=access_denied`);
  });
});

describe('oauth2_authorization_code: refresh', () => {
  it('refreshes once for 50 parallel uses of an expired token, and the next refresh uses the rotated refresh token', async () => {
    const { agentId, token } = await delegatedProfile();
    await connect(t.deps, agentId, token);
    const rtAfterConnect = [...as.liveRefreshTokens].at(-1);
    let offset = 0;
    const clock = withClock(t.deps, () => Date.now() + offset);
    as.behaviour.delayMs = 100;
    offset = 3_600_000; // the access token has expired
    const before = as.tokenCalls.length;

    const tokens = await Promise.all(Array.from({ length: 50 }, () => use(clock, agentId, token)));

    const refreshes = as.tokenCalls.slice(before);
    expect(refreshes).toHaveLength(1);
    expect(refreshes[0]?.form.refresh_token).toBe(rtAfterConnect);
    expect(new Set(tokens).size).toBe(1);
    const rotated = [...as.liveRefreshTokens].at(-1);
    expect(rotated).not.toBe(rtAfterConnect);
    offset = 2 * 3_600_000;
    await use(clock, agentId, token);
    expect(as.tokenCalls.at(-1)?.form.refresh_token).toBe(rotated);
    as.behaviour.delayMs = 0;
    expect((await getProfileMetadata(clock, TENANT, agentId, 'acct')).last_refreshed_at).toBeDefined();
  });

  it('marks the profile needs_reauth on invalid_grant, logs the event, and every use answers reauthorization_required', async () => {
    const { agentId, token } = await delegatedProfile();
    await connect(t.deps, agentId, token);
    as.revokeAll();
    const clock = withClock(t.deps, () => Date.now() + 3_600_000);
    const logged = t.deps.logs.length;

    const first = await rejection(use(clock, agentId, token));
    const calls = as.tokenCalls.length;
    const second = await rejection(use(clock, agentId, token));

    expect(first.code).toBe('reauthorization_required');
    expect(second.code).toBe('reauthorization_required');
    expect(as.tokenCalls.length).toBe(calls); // no second request to the provider
    const meta = await getProfileMetadata(t.deps, TENANT, agentId, 'acct');
    expect(meta.connection_state).toBe('needs_reauth');
    expect(meta.last_error).toBe(`token endpoint ${as.host} answered 400 invalid_grant`);
    expect(t.deps.logs.slice(logged).join('\n')).toContain('"event":"connection.needs_reauth"');
  });
});

describe('oauth2_authorization_code: connection events reach the tenant webhooks', () => {
  it('enqueues connection.connected, then connection.needs_reauth after invalid_grant, for a webhook subscribed to them', async () => {
    const { agentId, token } = await delegatedProfile();
    const hook = await createWebhook(t.deps, caller, {
      url: 'http://127.0.0.1:9/hooks',
      events: ['connection.connected', 'connection.needs_reauth'],
      active: true,
    });
    const deliveries = async () =>
      (await listDeliveries(t.deps, caller, hook.webhook_id, 20)).deliveries.filter((d) => d.event_type.startsWith('connection.'));

    await connect(t.deps, agentId, token);
    expect((await deliveries()).map((d) => d.event_type)).toEqual(['connection.connected']);

    as.revokeAll();
    const clock = withClock(t.deps, () => Date.now() + 3_600_000);
    expect((await rejection(use(clock, agentId, token))).code).toBe('reauthorization_required');
    expect((await deliveries()).map((d) => d.event_type)).toEqual(['connection.needs_reauth', 'connection.connected']);
  });
});

describe('oauth2_authorization_code: rotation of the auth token', () => {
  it('carries the connection over to the new token: its access token and, after expiry, its refresh token', async () => {
    const { agentId, token } = await delegatedProfile();
    await connect(t.deps, agentId, token);
    const accessBefore = await use(t.deps, agentId, token);
    const calls = as.tokenCalls.length;

    const { auth_token: rotated } = await rotateProfile(t.deps, caller, agentId, 'acct', { auth_token: token });

    expect(await use(t.deps, agentId, rotated)).toBe(accessBefore);
    expect(as.tokenCalls.length).toBe(calls);
    const later = await use(
      withClock(t.deps, () => Date.now() + 3_600_000),
      agentId,
      rotated,
    );
    expect(later).not.toBe(accessBefore);
    expect(as.tokenCalls.at(-1)?.grant_type).toBe('refresh_token');
    expect((await getProfileMetadata(t.deps, TENANT, agentId, 'acct')).connection_state).toBe('connected');
  });
});

describe('oauth2_authorization_code: disconnect', () => {
  it('revokes the refresh token at the provider, says so, and uses then need a new connection', async () => {
    const { agentId, token } = await delegatedProfile();
    await connect(t.deps, agentId, token);
    const rt = [...as.liveRefreshTokens].at(-1);

    const out = await disconnectProfile(t.deps, caller, agentId, 'acct', token);

    expect(out).toEqual({ connection_state: 'disconnected', revocation: 'confirmed' });
    expect(as.revoked).toContain(rt);
    expect((await rejection(use(t.deps, agentId, token))).code).toBe('reauthorization_required');
    expect((await getProfileMetadata(t.deps, TENANT, agentId, 'acct')).connection_state).toBe('disconnected');
  });
});

describe('oauth2_authorization_code: endpoint connections', () => {
  it("keeps a kept-alive connection to the provider's endpoints to the profile it was opened for: exchange, refresh, revocation", async () => {
    const a = await delegatedProfile();
    const b = await delegatedProfile();
    let offset = 0;
    const clock = withClock(t.deps, () => Date.now() + offset);
    const before = as.endpointCalls.length;

    await connect(clock, a.agentId, a.token);
    await connect(clock, b.agentId, b.token);
    offset = 3_600_000; // the access tokens have expired: each use refreshes
    await use(clock, a.agentId, a.token);
    await use(clock, b.agentId, b.token);
    expect((await disconnectProfile(clock, caller, a.agentId, 'acct', a.token)).revocation).toBe('confirmed');

    const calls = as.endpointCalls.slice(before);
    expect(calls.map((c) => c.path)).toEqual(['/token', '/token', '/token', '/token', '/revoke']);
    const [exchangeA, exchangeB, refreshA, refreshB, revokeA] = calls.map((c) => c.connection);
    expect([refreshA, revokeA]).toEqual([exchangeA, exchangeA]);
    expect(refreshB).toBe(exchangeB);
    expect(exchangeB).not.toBe(exchangeA);
  });
});

describe('oauth2_authorization_code: custody', () => {
  it('stores no token the provider issued, no code and no link secret in clear in any table item', async () => {
    const { agentId, token } = await delegatedProfile();
    const { callback } = await connect(t.deps, agentId, token);
    await use(
      withClock(t.deps, () => Date.now() + 3_600_000),
      agentId,
      token,
    );

    const { Items = [] } = await t.store.db.doc.send(new ScanCommand({ TableName: t.store.db.tableName }));
    const dump = JSON.stringify(Items, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : v));
    for (const secret of [...as.issued, callback.searchParams.get('state') ?? 'none']) expect(dump).not.toContain(secret);
    expect(as.issued.length).toBeGreaterThan(3);
  });
});

describe('oauth2_authorization_code: deployed mode', () => {
  const deployed = (allowed: string[]): Deps => ({ ...t.deps, config: { ...t.deps.config, mode: 'aws', allowedReturnHosts: allowed } });
  const httpsConfig = (returnUrl: string) => ({
    authorize_url: 'https://id.example.com/authorize',
    token_url: 'https://id.example.com/token',
    return_url: returnUrl,
  });
  const create = async (deps: Deps, config: Record<string, unknown>) => {
    const agentId = `deleg-d-${++seq}-${randomBytes(3).toString('hex')}`;
    await createAgent(t.deps, TENANT, {
      agent_id: agentId,
      name: agentId,
      input_args: [],
      runner: { type: 'webhook', url: 'http://127.0.0.1:9/run' },
    });
    return createProfileRecord(deps, TENANT, {
      name: 'acct',
      agent_id: agentId,
      auth_type: 'oauth2_authorization_code',
      auth_config: config,
      auth_data: { client_id: 'c', client_secret: 's' },
    });
  };

  it("refuses an attacker's return_url whose host is not allowed, and http anywhere", async () => {
    const deps = deployed(['app.example.com']);

    const attacker = await rejection(create(deps, httpsConfig('https://evil.example.net/steal')));
    const plain = await rejection(
      create(deps, { ...httpsConfig('https://app.example.com/back'), token_url: 'http://id.example.com/token' }),
    );
    const none = await rejection(create(deployed([]), httpsConfig('https://app.example.com/back')));
    const fine = await create(deps, httpsConfig('https://app.example.com/back'));

    expect(attacker.code).toBe('validation_error');
    expect(attacker.message).toContain('return_url host "evil.example.net" is not allowed (allowed: app.example.com)');
    expect(plain.message).toContain('token_url must use https in deployed mode');
    expect(none.message).toContain('VAULT_ALLOWED_RETURN_HOSTS');
    expect(fine.record.auth_type).toBe('oauth2_authorization_code');
  });

  it('refuses to open the connect link of a stored profile the deployment does not allow (written locally), and consumes nothing else', async () => {
    const { agentId, token } = await delegatedProfile();
    const { connect_url } = await connectLink(t.deps, caller, agentId, 'acct', token, BASE);
    const calls = as.tokenCalls.length;

    const err = await rejection(
      openConnectLink(deployed(['app.example.com']), new URL(connect_url).searchParams.get('link') ?? undefined, BASE),
    );

    expect(err.code).toBe('connect_not_allowed');
    expect(err.message).toContain('authorize_url must use https');
    expect(as.tokenCalls.length).toBe(calls);
  });

  it('takes end_user_id only for oauth2_authorization_code', async () => {
    const agentId = `deleg-e-${++seq}`;
    await createAgent(t.deps, TENANT, {
      agent_id: agentId,
      name: agentId,
      input_args: [],
      runner: { type: 'webhook', url: 'http://127.0.0.1:9/run' },
    });
    const err = await rejection(
      createProfileRecord(t.deps, TENANT, {
        name: 'b',
        agent_id: agentId,
        auth_type: 'bearer',
        auth_data: { token: 'x' },
        end_user_id: 'u',
      }),
    );
    expect(err.message).toContain('end_user_id is only for auth_type oauth2_authorization_code');
  });
});

describe('oauth2_authorization_code: runs', () => {
  it('hands a parameters runner the access token only, never the refresh token or the client secret', async () => {
    const runner = await startTestRunner(() => ({ body: { output: 'ok' } }));
    try {
      const agentId = `deleg-r-${++seq}-${randomBytes(3).toString('hex')}`;
      await createAgent(t.deps, TENANT, { agent_id: agentId, name: agentId, input_args: [], runner: { type: 'webhook', url: runner.url } });
      const { auth_token: token } = await createProfileRecord(t.deps, TENANT, {
        name: 'acct',
        agent_id: agentId,
        auth_type: 'oauth2_authorization_code',
        auth_config: { authorize_url: `${as.url}/authorize`, token_url: `${as.url}/token`, return_url: RETURN },
        auth_data: { client_id: 'vault-client', client_secret: 'cs-run-canary-77' },
      });
      await connect(t.deps, agentId, token);

      await startRun(t.deps, caller, { agent_id: agentId, auth_token: token, parameters: {}, run_async: false }, BASE);

      const params = runner.calls.at(-1)?.body.parameters;
      expect(Object.keys(params)).toEqual(['access_token']);
      expect(params.access_token).toMatch(/^at-/);
      const sent = JSON.stringify(runner.calls.at(-1)?.body);
      for (const rt of as.issued.filter((x) => x.startsWith('rt-'))) expect(sent).not.toContain(rt);
      expect(sent).not.toContain('cs-run-canary-77');
    } finally {
      await runner.close();
    }
  });
});
