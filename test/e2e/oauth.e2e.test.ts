import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MockTokenServer, startTokenServer } from '#test/support/token-server';
import { type EchoUpstream, startEchoUpstream } from '#test/support/upstream';
import { startTestVault, type TestVault } from '#test/support/vault';

let vault: TestVault;
let upstream: EchoUpstream;
let tokens: MockTokenServer;

beforeAll(async () => {
  [vault, upstream, tokens] = await Promise.all([startTestVault(), startEchoUpstream(), startTokenServer()]);
});

afterAll(async () => {
  await Promise.all([vault?.close(), upstream?.close(), tokens?.close()]);
});

const canary = (label: string) => `canary-${label}-${randomBytes(8).toString('hex')}`;

function reset(overrides: Partial<MockTokenServer['behaviour']> = {}) {
  tokens.seen.length = 0;
  Object.assign(tokens.behaviour, { status: 200, body: { token_type: 'Bearer', expires_in: 3600 }, delayMs: 50, fresh: true }, overrides);
}

let seq = 0;
/** An agent with an oauth2_client_credentials profile "svc" allowed to reach the echo upstream. */
async function oauthProfile(clientSecret = canary('cs'), extra: Record<string, unknown> = {}) {
  const agent = `oauth-e2e-${++seq}-${randomBytes(3).toString('hex')}`;
  expect((await vault.call('POST', '/v1/agents', { agent_id: agent, name: 'OAuth bot', input_args: [], runner: { type: 'webhook', url: 'http://127.0.0.1:9/run' } })).status).toBe(201);
  const res = await vault.call('POST', `/v1/agents/${agent}/auth-profiles`, {
    name: 'svc',
    auth_type: 'oauth2_client_credentials',
    auth_config: { token_url: tokens.url, scope: 'items:read' },
    auth_data: { client_id: 'client-1', client_secret: clientSecret },
    allowed_hosts: [`127.0.0.1:${upstream.port}`],
    ...extra,
  });
  expect(res.status, res.text).toBe(201);
  return { agent, token: res.json.auth_token as string, clientSecret };
}

const proxy = (agent: string, token: string, url: string) => vault.call('POST', '/v1/proxy', { agent_id: agent, auth_token: token, method: 'GET', url });

describe('POST /v1/proxy with an oauth2_client_credentials profile', () => {
  it('injects the fetched access token as a bearer token and redacts it and the client secret from the answer', async () => {
    reset();
    const { agent, token, clientSecret } = await oauthProfile();

    // The upstream echoes what it got; the caller also smuggles the client secret in to be echoed.
    const res = await vault.call('POST', '/v1/proxy', { agent_id: agent, auth_token: token, method: 'GET', url: `${upstream.url}/echo`, headers: { 'x-note': clientSecret } });

    expect(res.status, res.text).toBe(200);
    expect(upstream.seen.at(-1)?.headers.authorization).toBe('Bearer tok-1');
    expect(res.text).not.toContain('tok-1');
    expect(res.text).not.toContain(clientSecret);
    expect(JSON.parse(res.json.body).headers.authorization).toBe('[REDACTED]');
  });

  it('makes exactly one token request for 50 parallel proxy calls', async () => {
    reset({ delayMs: 200 });
    const { agent, token } = await oauthProfile();

    const answers = await Promise.all(Array.from({ length: 50 }, () => proxy(agent, token, `${upstream.url}/par`)));

    expect(answers.map((a) => a.status)).toEqual(Array(50).fill(200));
    expect(tokens.seen).toHaveLength(1);
  });

  it('answers 502 oauth_token_failed naming the endpoint status, shows last_error in metadata, and logs no body', async () => {
    const body = canary('tokenbody');
    reset({ status: 401, body: { error: 'invalid_client', error_description: body }, fresh: false });
    const { agent, token, clientSecret } = await oauthProfile();
    const before = vault.logs.length;

    const res = await proxy(agent, token, `${upstream.url}/x`);

    expect(res.status).toBe(502);
    expect(res.json.error.code).toBe('oauth_token_failed');
    expect(res.json.error.message).toContain(`token endpoint ${tokens.host} answered 401`);
    expect(res.text).not.toContain(body);
    const meta = await vault.call('GET', `/v1/agents/${agent}/auth-profiles/svc`);
    expect(meta.json.last_error).toBe(`token endpoint ${tokens.host} answered 401`);
    expect(typeof meta.json.last_error_at).toBe('string');
    expect(meta.text).not.toContain(body);
    const logged = vault.logs.slice(before).join('\n');
    expect(logged).not.toContain(body);
    expect(logged).not.toContain(clientSecret);
  });

  it('does not reach the token endpoint through the proxy: its host is not in allowed_hosts', async () => {
    reset();
    const { agent, token } = await oauthProfile();

    const res = await proxy(agent, token, `http://${tokens.host}/other`);

    expect(res.status).toBe(403);
    expect(res.json.error.code).toBe('host_not_allowed');
  });
});

describe('POST …/auth-profiles/{name}/test with an oauth2_client_credentials profile', () => {
  it('performs a real token fetch when no request is given, and reports a failure with the status', async () => {
    reset();
    const { agent, token } = await oauthProfile();
    const path = `/v1/agents/${agent}/auth-profiles/svc/test`;

    const good = await vault.call('POST', path, { auth_token: token });
    expect(good.status, good.text).toBe(200);
    expect(good.json).toMatchObject({ ok: true, status: 200 });
    expect(good.text).not.toContain('tok-1');
    expect(tokens.seen).toHaveLength(1);

    reset({ status: 400, body: { error: 'invalid_scope' }, fresh: false });
    const bad = await vault.call('POST', path, { auth_token: token });
    expect(bad.json).toMatchObject({ ok: false, status: 400, error: `token endpoint ${tokens.host} answered 400` });
    const meta = await vault.call('GET', `/v1/agents/${agent}/auth-profiles/svc`);
    expect(meta.json).toMatchObject({ last_test_ok: false, last_error: `token endpoint ${tokens.host} answered 400` });
  });
});
