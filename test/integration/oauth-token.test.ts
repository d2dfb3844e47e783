import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Db, createDb } from '#shared/clients';
import { dynamoStore } from '#shared/store/dynamodb';
import { openForUse } from '#shared/credentials/gate';
import { ERROR_HOLD_MS, accessTokenFor } from '#shared/credentials/oauth2/access-token';
import type { Deps } from '#shared/deps';
import { BadGatewayError, ValidationError } from '#shared/errors';
import { oauthTokenRepository } from '#shared/repositories/oauth-tokens';
import { testProfile } from '#shared/services/proxy';
import { testCaller } from '#test/support/credentials';
import { useTestStore, signerOf } from '#test/support/dynamo';
import { type MockTokenServer, startTokenServer } from '#test/support/token-server';
import { createAgent, createProfileRecord, deleteProfileChecked, getProfileMetadata, profileUsage, upsertProfileRecord } from '#test/support/services';
import { namedProfileRef } from '#shared/credentials/profile-keys';

const TENANT = 'acme';
const caller = testCaller(TENANT);
const t = useTestStore();
const NET = { timeoutMs: 2_000, allowPrivate: true, httpsOnly: false };
const CANARY = 'canary-oauth-body-9f3c';

let server: MockTokenServer;
beforeAll(async () => {
  server = await startTokenServer();
});
afterAll(async () => {
  await server.close();
});

let seq = 0;
async function oauthProfile(config: Record<string, unknown> = {}, secret = { client_id: 'cid-1', client_secret: 'csecret-canary-1' }) {
  const agentId = `oauth-${++seq}-${randomBytes(3).toString('hex')}`;
  await createAgent(t.deps, TENANT, { agent_id: agentId, name: agentId, input_args: [], runner: { type: 'webhook', url: 'http://127.0.0.1:9/run' } });
  const { auth_token } = await createProfileRecord(t.deps, TENANT, {
    name: 'svc',
    agent_id: agentId,
    auth_type: 'oauth2_client_credentials',
    auth_config: { token_url: server.url, scope: 'read write', ...config },
    auth_data: secret,
  });
  return { agentId, token: auth_token };
}

/** One use of the profile by `deps` (a "process"): open through the gate, then get the access token. */
async function tokenVia(deps: Deps, agentId: string, token: string): Promise<string | undefined> {
  const use = await openForUse(deps, caller, { kind: 'token', agentId, token }, 'proxy');
  return (await accessTokenFor(deps, use, NET)).access_token;
}

/** A second "process": its own DynamoDB client on the same table, the same server key ring. */
const secondProcess = (): Deps & { db: Db } => {
  const db = createDb({ dynamoEndpoint: t.store.endpoint, region: 'local', tableName: t.store.db.tableName });
  return { ...t.deps, db, store: dynamoStore(db, signerOf(t.deps)) };
};

const withClock = (deps: Deps, at: () => number): Deps => ({ ...deps, now: () => new Date(at()) });

/** The same vault deployed (VAULT_MODE=aws): only the mode differs. */
const deployed = (deps: Deps): Deps => ({ ...deps, config: { ...deps.config, mode: 'aws' } });
const DEPLOYED_NET = { ...NET, httpsOnly: true };

function reset(overrides: Partial<MockTokenServer['behaviour']> = {}) {
  server.seen.length = 0;
  Object.assign(server.behaviour, { status: 200, body: { token_type: 'Bearer', expires_in: 3600 }, delayMs: 50, fresh: true }, overrides);
}

describe('accessTokenFor', () => {
  it('fetches once for 50 parallel uses in one process, and every use gets that token', async () => {
    reset();
    const { agentId, token } = await oauthProfile();

    const tokens = await Promise.all(Array.from({ length: 50 }, () => tokenVia(t.deps, agentId, token)));

    expect(server.seen).toHaveLength(1);
    expect(new Set(tokens)).toEqual(new Set(['tok-1']));
  });

  it('fetches once for 50 parallel uses split across two processes sharing the table', async () => {
    reset({ delayMs: 150 });
    const { agentId, token } = await oauthProfile();
    const other = secondProcess();

    const tokens = await Promise.all(Array.from({ length: 50 }, (_, i) => tokenVia(i % 2 ? other : t.deps, agentId, token)));

    expect(server.seen).toHaveLength(1);
    expect(new Set(tokens)).toEqual(new Set(['tok-1']));
    other.db.client.destroy();
  });

  it('serves later uses from the cache without a fetch', async () => {
    reset();
    const { agentId, token } = await oauthProfile();
    await tokenVia(t.deps, agentId, token);

    expect(await tokenVia(t.deps, agentId, token)).toBe('tok-1');
    expect(server.seen).toHaveLength(1);
  });

  it('keeps a kept-alive token endpoint connection to the profile it was opened for (fetch and profile test alike)', async () => {
    reset({ delayMs: 0 });
    const a = await oauthProfile();
    const b = await oauthProfile();
    const before = server.connections.length;

    await tokenVia(t.deps, a.agentId, a.token);
    await tokenVia(t.deps, b.agentId, b.token);
    // The profile test fetches for real (not from the cache): over a's connection again.
    expect((await testProfile(t.deps, caller, a.agentId, 'svc', { auth_token: a.token })).ok).toBe(true);

    expect(server.seen.map((s) => s.connection - before)).toEqual([0, 1, 0]);
    expect(server.connections).toHaveLength(before + 2);
  });

  it('sends client credentials by HTTP Basic (default) with grant_type and scope', async () => {
    reset();
    const { agentId, token } = await oauthProfile({}, { client_id: 'id:with space', client_secret: 's&cret' });
    await tokenVia(t.deps, agentId, token);

    const [req] = server.seen;
    expect(req?.method).toBe('POST');
    expect(req?.contentType).toBe('application/x-www-form-urlencoded');
    expect(req?.form).toEqual({ grant_type: 'client_credentials', scope: 'read write' });
    // RFC 6749 §2.3.1: form-encoded, then Basic.
    expect(req?.authorization).toBe(`Basic ${Buffer.from('id%3Awith+space:s%26cret').toString('base64')}`);
  });

  it('sends client credentials in the form body with client_auth post', async () => {
    reset();
    const { agentId, token } = await oauthProfile({ client_auth: 'post' });
    await tokenVia(t.deps, agentId, token);

    const [req] = server.seen;
    expect(req?.authorization).toBeUndefined();
    expect(req?.form).toEqual({ grant_type: 'client_credentials', scope: 'read write', client_id: 'cid-1', client_secret: 'csecret-canary-1' });
  });

  it('stores the token sealed: the cache item holds no clear token and binds expires_at into the AAD', async () => {
    reset();
    const { agentId, token } = await oauthProfile();
    await tokenVia(t.deps, agentId, token);
    const ref = namedProfileRef(TENANT, agentId, 'svc');
    const item = await oauthTokenRepository(t.store.db, signerOf(t.deps)).get(ref);
    expect(Buffer.from(JSON.stringify(item)).includes('tok-1')).toBe(false);
    expect(Buffer.from(item?.blob ?? []).includes(Buffer.from('tok-1'))).toBe(false);

    // Move the expiry one millisecond, re-signed (as the server key's holder could; a table writer
    // without it is refused by the signed store): the blob no longer opens, so the next use fetches anew.
    const { GetCommand, PutCommand } = await import('@aws-sdk/lib-dynamodb');
    const { keys } = await import('#shared/keys');
    const Key = keys.oauthToken(ref);
    const { Item } = await t.store.db.doc.send(new GetCommand({ TableName: t.store.db.tableName, Key }));
    const moved = signerOf(t.deps).seal('oauth-token', { ...(Item as typeof Key), token_expires_at: (Item?.token_expires_at as number) + 1 });
    await t.store.db.doc.send(new PutCommand({ TableName: t.store.db.tableName, Item: moved }));
    expect(await tokenVia(t.deps, agentId, token)).toBe('tok-2');
    expect(server.seen).toHaveLength(2);
  });

  it('refreshes ahead of expiry: one use refreshes while the others keep the still-valid token', async () => {
    reset({ body: { token_type: 'Bearer', expires_in: 100 }, delayMs: 200 });
    const { agentId, token } = await oauthProfile();
    let now = Date.now();
    const clocked = withClock(t.deps, () => now);
    expect(await tokenVia(clocked, agentId, token)).toBe('tok-1');

    now += 89_000; // before 100 s - 10 %: still fresh
    expect(await tokenVia(clocked, agentId, token)).toBe('tok-1');
    expect(server.seen).toHaveLength(1);

    now += 2_000; // inside the last 10 %: due for refresh, not expired
    const tokens = await Promise.all(Array.from({ length: 20 }, () => tokenVia(clocked, agentId, token)));
    expect(server.seen).toHaveLength(2);
    expect(tokens).toContain('tok-2'); // the leaseholder's
    expect(tokens.filter((x) => x === 'tok-1').length).toBeGreaterThan(0); // the others did not wait
    expect(await tokenVia(clocked, agentId, token)).toBe('tok-2');
  });

  it('fetches again once the token has expired', async () => {
    reset({ body: { token_type: 'Bearer', expires_in: 30 } });
    const { agentId, token } = await oauthProfile();
    let now = Date.now();
    const clocked = withClock(t.deps, () => now);
    await tokenVia(clocked, agentId, token);

    now += 31_000;
    expect(await tokenVia(clocked, agentId, token)).toBe('tok-2');
  });

  it('takes the lease over from a leaseholder that died', async () => {
    reset();
    const { agentId, token } = await oauthProfile();
    const ref = namedProfileRef(TENANT, agentId, 'svc');
    let now = Date.now();
    // A process took the lease and died before writing anything.
    expect(await oauthTokenRepository(t.store.db, signerOf(t.deps)).takeLease(ref, undefined, 'dead-process', now, now + 60_000)).toBe(true);
    const clocked = withClock(t.deps, () => now);

    const waiting = tokenVia(clocked, agentId, token);
    await new Promise((r) => setTimeout(r, 100));
    expect(server.seen).toHaveLength(0); // it waits while the lease is live
    now += 61_000;

    expect(await waiting).toBe('tok-1');
    expect(server.seen).toHaveLength(1);
  });

  it('does not reuse a token cached for the profile before it was replaced', async () => {
    reset();
    const { agentId, token } = await oauthProfile();
    await tokenVia(t.deps, agentId, token);
    const replaced = await upsertProfileRecord(t.deps, TENANT, {
      name: 'svc',
      agent_id: agentId,
      auth_type: 'oauth2_client_credentials',
      auth_config: { token_url: server.url },
      auth_data: { client_id: 'cid-2', client_secret: 'csecret-2' },
    });

    expect(await tokenVia(t.deps, agentId, replaced.auth_token)).toBe('tok-2');
  });
});

describe('accessTokenFor when the token endpoint fails', () => {
  it('answers 502 oauth_token_failed naming the status, records last_error, keeps the body out of logs and errors', async () => {
    reset({ status: 401, body: { error: 'invalid_client', error_description: CANARY }, fresh: false });
    const { agentId, token } = await oauthProfile();
    const before = t.deps.logs.length;

    const err = await tokenVia(t.deps, agentId, token).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(BadGatewayError);
    expect((err as BadGatewayError).code).toBe('oauth_token_failed');
    expect((err as BadGatewayError).message).toContain(`token endpoint ${server.host} answered 401`);
    expect((err as BadGatewayError).message).not.toContain(CANARY);
    const meta = await getProfileMetadata(t.deps, TENANT, agentId, 'svc');
    expect(meta.last_error).toBe(`token endpoint ${server.host} answered 401`);
    expect(meta.last_error_at).toBeDefined();
    const logged = t.deps.logs.slice(before).join('\n');
    expect(logged).toContain('oauth token fetch failed');
    expect(logged).not.toContain(CANARY);
    expect(logged).not.toContain('csecret-canary-1');
  });

  it('makes one request for 50 parallel uses, and all 50 get the 502', async () => {
    reset({ status: 503, body: 'down', fresh: false, delayMs: 150 });
    const { agentId, token } = await oauthProfile();

    const outcomes = await Promise.allSettled(Array.from({ length: 50 }, () => tokenVia(t.deps, agentId, token)));

    expect(server.seen).toHaveLength(1);
    expect(outcomes.every((o) => o.status === 'rejected' && (o.reason as BadGatewayError).code === 'oauth_token_failed')).toBe(true);
  });

  it('answers the same error for a few seconds, then tries again; a success clears last_error', async () => {
    reset({ status: 500, body: 'x', fresh: false });
    const { agentId, token } = await oauthProfile();
    let now = Date.now();
    const clocked = withClock(t.deps, () => now);
    await tokenVia(clocked, agentId, token).catch(() => undefined);
    reset();

    now += ERROR_HOLD_MS - 100;
    const held = (await tokenVia(clocked, agentId, token).catch((e: unknown) => e)) as BadGatewayError;
    expect([held.code, server.seen.length]).toEqual(['oauth_token_failed', 0]);
    now += 200;
    expect(await tokenVia(clocked, agentId, token)).toBe('tok-1');
    expect((await getProfileMetadata(t.deps, TENANT, agentId, 'svc')).last_error).toBeUndefined();
  });

  it.each([
    ['no access_token', { token_type: 'Bearer' }, 'without a usable access_token'],
    ['a token_type other than bearer', { access_token: 'abc', token_type: 'mac' }, 'token_type other than bearer'],
    ['a negative expires_in', { access_token: 'abc', expires_in: -1 }, 'expires_in that is not a positive number'],
    ['not JSON', `<html>${CANARY}</html>`, 'without a JSON token response'],
  ])('refuses an answer with %s', async (_what, body, message) => {
    reset({ body, fresh: false });
    const { agentId, token } = await oauthProfile();

    const err = (await tokenVia(t.deps, agentId, token).catch((e: unknown) => e)) as BadGatewayError;

    expect(err.code).toBe('oauth_token_failed');
    expect(err.message).toContain(message);
    expect(err.message).not.toContain(CANARY);
  });

  it('refuses a token endpoint on a private address when private upstreams are not allowed', async () => {
    reset();
    const { agentId, token } = await oauthProfile();
    const use = await openForUse(t.deps, caller, { kind: 'token', agentId, token }, 'proxy');

    const err = (await accessTokenFor(t.deps, use, { ...NET, allowPrivate: false }).catch((e: unknown) => e)) as BadGatewayError;

    expect(err.code).toBe('oauth_token_failed');
    expect(err.message).toContain('loopback, private or link-local');
    expect(server.seen).toHaveLength(0);
  });

  it('keeps using a still-valid token when an early refresh fails', async () => {
    reset({ body: { token_type: 'Bearer', expires_in: 100 } });
    const { agentId, token } = await oauthProfile();
    let now = Date.now();
    const clocked = withClock(t.deps, () => now);
    await tokenVia(clocked, agentId, token);
    reset({ status: 500, body: 'x', fresh: false });
    now += 95_000;

    expect(await tokenVia(clocked, agentId, token)).toBe('tok-1');
    expect(server.seen).toHaveLength(1);
    expect((await getProfileMetadata(t.deps, TENANT, agentId, 'svc')).last_error).toContain('answered 500');
    // Uses right after the failure keep the valid token without retrying the endpoint.
    await Promise.all(Array.from({ length: 5 }, () => tokenVia(clocked, agentId, token)));
    expect(server.seen).toHaveLength(1);
  });
});

describe('token_url over plain http when deployed', () => {
  it('refuses to create an oauth2 profile with an http token_url (400 naming auth_config.token_url, asking for https)', async () => {
    const agentId = `oauth-http-${randomBytes(3).toString('hex')}`;
    await createAgent(t.deps, TENANT, { agent_id: agentId, name: agentId, input_args: [], runner: { type: 'webhook', url: 'http://127.0.0.1:9/run' } });

    const err = await createProfileRecord(deployed(t.deps), TENANT, {
      name: 'svc',
      agent_id: agentId,
      auth_type: 'oauth2_client_credentials',
      auth_config: { token_url: server.url },
      auth_data: { client_id: 'cid-1', client_secret: 'csecret-canary-1' },
    }).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).status).toBe(400);
    expect((err as ValidationError).message).toContain('auth_config.token_url must use https');
  });

  it('refuses an update in place that keeps a stored http token_url, and accepts one that moves it to https', async () => {
    reset();
    const { agentId, token } = await oauthProfile(); // written in local mode: http allowed
    const update = (auth_config?: Record<string, unknown>) =>
      upsertProfileRecord(deployed(t.deps), TENANT, { agent_id: agentId, auth_token: token, auth_data: { client_secret: 'csecret-2' }, ...(auth_config ? { auth_config } : {}) });

    const err = await update().catch((e: unknown) => e);

    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).message).toContain('auth_config.token_url must use https');
    await expect(update({ token_url: 'https://auth.example.com/token' })).resolves.toMatchObject({ type: 'update' });
    expect(server.seen).toHaveLength(0);
  });

  it('never sends the client secret to a stored http token_url: 502 oauth_token_failed, no request', async () => {
    reset();
    const { agentId, token } = await oauthProfile(); // as a table writer or local mode could have left it
    const use = await openForUse(deployed(t.deps), caller, { kind: 'token', agentId, token }, 'proxy');

    const err = await accessTokenFor(deployed(t.deps), use, DEPLOYED_NET).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(BadGatewayError);
    expect((err as BadGatewayError).code).toBe('oauth_token_failed');
    expect((err as BadGatewayError).message).toContain('token_url must use https in deployed mode');
    expect(server.seen).toHaveLength(0);
  });

  it('answers the profile test with the refusal instead of sending the client secret over http', async () => {
    reset();
    const { agentId, token } = await oauthProfile();

    const result = await testProfile(deployed(t.deps), caller, agentId, 'svc', { auth_token: token });

    expect(result).toMatchObject({ ok: false, error: expect.stringContaining('token_url must use https in deployed mode') });
    expect(server.seen).toHaveLength(0);
  });

  it('keeps fetching over http in local mode (loopback token servers)', async () => {
    reset();
    const { agentId, token } = await oauthProfile();

    const result = await testProfile(t.deps, caller, agentId, 'svc', { auth_token: token });

    expect(result).toMatchObject({ ok: true });
    expect(server.seen).toHaveLength(1);
  });
});

describe('the cached token error and the profile state', () => {
  it('fetches at once after an update corrects the client secret, instead of answering the error cached for the old secret', async () => {
    reset({ status: 401, body: { error: 'invalid_client' }, fresh: false });
    const { agentId, token } = await oauthProfile({}, { client_id: 'cid-1', client_secret: 'wrong-secret' });
    const now = Date.now();
    const clocked = withClock(t.deps, () => now); // the clock stands still: well inside ERROR_HOLD_MS
    const failed = await tokenVia(clocked, agentId, token).catch((e: unknown) => e);
    expect((failed as BadGatewayError).code).toBe('oauth_token_failed');
    reset();

    await upsertProfileRecord(clocked, TENANT, { agent_id: agentId, auth_token: token, auth_data: { client_secret: 'right-secret' } });

    expect(await tokenVia(clocked, agentId, token)).toBe('tok-1');
    expect(server.seen.map((r) => r.authorization)).toEqual([`Basic ${Buffer.from('cid-1:right-secret').toString('base64')}`]);
  });

  it('fetches at once for a profile replaced after a failure (new generation)', async () => {
    reset({ status: 401, body: { error: 'invalid_client' }, fresh: false });
    const { agentId, token } = await oauthProfile({}, { client_id: 'cid-1', client_secret: 'wrong-secret' });
    const now = Date.now();
    const clocked = withClock(t.deps, () => now);
    await tokenVia(clocked, agentId, token).catch(() => undefined);
    reset();

    const replaced = await upsertProfileRecord(clocked, TENANT, {
      name: 'svc',
      agent_id: agentId,
      auth_type: 'oauth2_client_credentials',
      auth_config: { token_url: server.url },
      auth_data: { client_id: 'cid-1', client_secret: 'right-secret' },
    });

    expect(await tokenVia(clocked, agentId, replaced.auth_token)).toBe('tok-1');
    expect(server.seen).toHaveLength(1);
  });

  it('still answers the cached error to the same profile state without a request', async () => {
    reset({ status: 401, body: { error: 'invalid_client' }, fresh: false });
    const { agentId, token } = await oauthProfile();
    const now = Date.now();
    const clocked = withClock(t.deps, () => now);
    await tokenVia(clocked, agentId, token).catch(() => undefined);
    reset();

    const err = await tokenVia(clocked, agentId, token).catch((e: unknown) => e);

    expect((err as BadGatewayError).code).toBe('oauth_token_failed');
    expect(server.seen).toHaveLength(0);
  });
});

describe('a test is not a use that makes the profile "in use"', () => {
  it('deletes without force after a failed OAuth2 test alone, whose counters still show the test', async () => {
    reset({ status: 401, body: { error: 'invalid_client' } });
    const { agentId, token } = await oauthProfile();

    const result = await testProfile(t.deps, caller, agentId, 'svc', { auth_token: token });
    expect(result.ok).toBe(false);

    const usage = await profileUsage(t.deps, caller, agentId, 'svc');
    expect(usage).toMatchObject({ use_count: 1, uses_last_7_days: { run: 0, proxy: 0, test: 1 } });
    expect(usage.last_used_at).toBeDefined();
    expect(usage.uses.map((u) => u.action)).toEqual(['test']);
    await deleteProfileChecked(t.deps, caller, agentId, 'svc', false);
    await expect(getProfileMetadata(t.deps, TENANT, agentId, 'svc')).rejects.toMatchObject({ status: 404 });
  });

  it('still refuses to delete a profile after a proxied use (a real one)', async () => {
    reset();
    const { agentId, token } = await oauthProfile();
    await tokenVia(t.deps, agentId, token);
    const use = await openForUse(t.deps, caller, { kind: 'token', agentId, token }, 'proxy');
    await use.recordUse();
    await expect(deleteProfileChecked(t.deps, caller, agentId, 'svc', false)).rejects.toMatchObject({ status: 409, code: 'profile_in_use' });
  });
});
