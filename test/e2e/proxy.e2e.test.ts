import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EchoUpstream, startEchoUpstream } from '#test/support/upstream';
import { startTestVault, type TestVault } from '#test/support/vault';

let vault: TestVault;
let upstream: EchoUpstream;

beforeAll(async () => {
  [vault, upstream] = await Promise.all([startTestVault(), startEchoUpstream()]);
});

afterAll(async () => {
  await Promise.all([vault?.close(), upstream?.close()]);
});

let seq = 0;
async function newAgent() {
  const agentId = `proxy-e2e-${++seq}-${randomBytes(3).toString('hex')}`;
  const res = await vault.call('POST', '/v1/agents', { agent_id: agentId, name: 'Proxy bot', input_args: [{ name: 'query' }], runner: { type: 'webhook', url: 'http://127.0.0.1:9/run' } });
  expect(res.status).toBe(201);
  return agentId;
}

const canary = (label: string) => `canary-${label}-${randomBytes(8).toString('hex')}`;

/** Creates a typed profile allowed to reach the loopback upstream; returns agent and token. */
async function profile(body: Record<string, unknown>) {
  const agent = await newAgent();
  const res = await vault.call('POST', `/v1/agents/${agent}/auth-profiles`, { name: 'p', allowed_hosts: [`127.0.0.1:${upstream.port}`], ...body });
  expect(res.status, res.text).toBe(201);
  return { agent, token: res.json.auth_token as string };
}

const proxy = (agent: string, token: string, req: Record<string, unknown>) => vault.call('POST', '/v1/proxy', { agent_id: agent, auth_token: token, method: 'GET', ...req });
const lastSeen = () => upstream.seen[upstream.seen.length - 1];

describe('POST /v1/proxy: injection by type', () => {
  it('bearer: sends Authorization: Bearer, replacing the caller\'s own, and redacts the echo', async () => {
    const secret = canary('bearer');
    const { agent, token } = await profile({ auth_type: 'bearer', auth_data: { token: secret } });

    const res = await proxy(agent, token, { url: `${upstream.url}/v1/items?x=1`, headers: { Authorization: 'Bearer caller-own', accept: 'application/json' } });

    expect(res.status).toBe(200);
    expect(lastSeen()?.headers.authorization).toBe(`Bearer ${secret}`);
    expect(lastSeen()?.headers.accept).toBe('application/json');
    expect(res.json.status).toBe(200);
    expect(res.json.body_encoding).toBe('utf8');
    expect(JSON.parse(res.json.body).headers.authorization).toBe('[REDACTED]');
    expect(res.json.headers['x-echo-auth']).toBe('[REDACTED]');
    expect(res.text).not.toContain(secret);
  });

  it('basic: sends Authorization: Basic base64(user:pass) and redacts it', async () => {
    const password = canary('basic');
    const { agent, token } = await profile({ auth_type: 'basic', auth_data: { username: 'svc-user', password } });

    const res = await proxy(agent, token, { url: `${upstream.url}/` });

    const expected = Buffer.from(`svc-user:${password}`).toString('base64');
    expect(lastSeen()?.headers.authorization).toBe(`Basic ${expected}`);
    expect(res.text).not.toContain(expected);
    expect(res.text).not.toContain(password);
  });

  it('api_key header: sets every pair, overriding the caller\'s copies', async () => {
    const key = canary('hdr');
    const { agent, token } = await profile({ auth_type: 'api_key', auth_config: { api_key_method: 'header' }, auth_data: { 'X-Api-Key': key, 'X-App': 'app-1234' } });

    const res = await proxy(agent, token, { url: `${upstream.url}/`, headers: { 'x-api-key': 'caller-own' } });

    expect(lastSeen()?.headers['x-api-key']).toBe(key);
    expect(lastSeen()?.headers['x-app']).toBe('app-1234');
    expect(res.text).not.toContain(key);
  });

  it('api_key query: sets the parameter, replacing the caller\'s, keeping the others', async () => {
    const key = canary('qry');
    const { agent, token } = await profile({ auth_type: 'api_key', auth_config: { api_key_method: 'query' }, auth_data: { api_key: key } });

    const res = await proxy(agent, token, { url: `${upstream.url}/search?api_key=caller-own&q=a`, query: { page: '2' } });

    expect(lastSeen()?.query).toEqual({ api_key: [key], q: ['a'], page: ['2'] });
    expect(res.text).not.toContain(key);
  });

  it('api_key body: adds the field to a JSON body', async () => {
    const key = canary('body');
    const { agent, token } = await profile({ auth_type: 'api_key', auth_config: { api_key_method: 'body' }, auth_data: { api_key: key } });

    const res = await proxy(agent, token, { method: 'POST', url: `${upstream.url}/items`, body: { name: 'n', api_key: 'caller-own' } });

    expect(JSON.parse(lastSeen()?.body ?? '')).toEqual({ name: 'n', api_key: key });
    expect(lastSeen()?.headers['content-type']).toBe('application/json');
    expect(res.text).not.toContain(key);
  });

  it('redacts secrets from a gzip answer and from a non-UTF-8 answer', async () => {
    const secret = canary('enc');
    const { agent, token } = await profile({ auth_type: 'bearer', auth_data: { token: secret } });

    const gz = await proxy(agent, token, { url: `${upstream.url}/gzip` });
    const bin = await proxy(agent, token, { url: `${upstream.url}/binary` });

    expect(gz.json.body_encoding).toBe('utf8');
    expect(JSON.parse(gz.json.body).headers.authorization).toBe('[REDACTED]');
    expect(gz.json.headers['content-encoding']).toBeUndefined();
    expect(bin.json.body_encoding).toBe('base64');
    const bytes = Buffer.from(bin.json.body, 'base64').toString('latin1');
    expect(bytes).toContain('[REDACTED]');
    expect(bytes).not.toContain(secret);
  });

  it('returns a redirect as is, without following it', async () => {
    const { agent, token } = await profile({ auth_type: 'bearer', auth_data: { token: canary('r') } });
    const before = upstream.seen.length;
    const res = await proxy(agent, token, { url: `${upstream.url}/redirect` });
    expect(res.json.status).toBe(302);
    expect(res.json.headers.location).toBe('http://127.0.0.1:9/elsewhere');
    expect(upstream.seen.length).toBe(before + 1);
  });

  it('answers 502 for an answer over 1 MiB', async () => {
    const { agent, token } = await profile({ auth_type: 'bearer', auth_data: { token: canary('b') } });
    const res = await proxy(agent, token, { url: `${upstream.url}/big` });
    expect(res.status).toBe(502);
    expect(res.json.error.code).toBe('upstream_response_too_large');
  });

  it('counts the use in the profile\'s metadata', async () => {
    const { agent, token } = await profile({ auth_type: 'bearer', auth_data: { token: canary('u') } });
    await proxy(agent, token, { url: `${upstream.url}/` });
    const meta = await vault.call('GET', `/v1/agents/${agent}/auth-profiles/p`);
    expect(meta.json.use_count).toBe(1);
  });
});

describe('POST /v1/proxy: method-override headers', () => {
  it('drops X-HTTP-Method-Override, X-HTTP-Method and X-Method-Override in any letter case, so a POST stays a POST upstream', async () => {
    const { agent, token } = await profile({ auth_type: 'bearer', auth_data: { token: canary('ovr') }, allowed_methods: ['POST'] });

    const res = await proxy(agent, token, {
      method: 'POST',
      url: `${upstream.url}/v1/items`,
      headers: { 'X-HTTP-Method-Override': 'DELETE', 'x-http-method': 'DELETE', 'X-METHOD-OVERRIDE': 'DELETE', 'x-request-id': 'kept' },
      body: { a: 1 },
    });

    expect(res.status).toBe(200);
    const seen = lastSeen();
    expect(seen?.method).toBe('POST');
    expect(seen?.headers['x-http-method-override']).toBeUndefined();
    expect(seen?.headers['x-http-method']).toBeUndefined();
    expect(seen?.headers['x-method-override']).toBeUndefined();
    expect(seen?.headers['x-request-id']).toBe('kept');
  });
});

describe('POST /v1/proxy: refusals', () => {
  it('answers 403 host_not_allowed for a host outside allowed_hosts, sending nothing', async () => {
    const { agent, token } = await profile({ auth_type: 'bearer', auth_data: { token: canary('h') } });
    const before = upstream.seen.length;
    const other = await proxy(agent, token, { url: `http://127.0.0.1:${upstream.port + 1}/` });
    const byName = await proxy(agent, token, { url: `http://localhost:${upstream.port}/` });
    expect([other.status, byName.status]).toEqual([403, 403]);
    expect(other.json.error.code).toBe('host_not_allowed');
    expect(upstream.seen.length).toBe(before);
  });

  it('answers 405 for a method outside allowed_methods and 403 for a path outside the prefixes', async () => {
    const { agent, token } = await profile({ auth_type: 'bearer', auth_data: { token: canary('m') }, allowed_methods: ['GET'], allowed_path_prefixes: ['/v1'] });
    const before = upstream.seen.length;
    const del = await proxy(agent, token, { method: 'DELETE', url: `${upstream.url}/v1/x` });
    const path = await proxy(agent, token, { url: `${upstream.url}/v1/../admin` });
    const ok = await proxy(agent, token, { url: `${upstream.url}/v1/x` });
    expect(del.status).toBe(405);
    expect(path.status).toBe(403);
    expect(path.json.error.code).toBe('path_not_allowed');
    expect(ok.status).toBe(200);
    expect(upstream.seen.length).toBe(before + 1);
  });

  it('answers 403 path_not_allowed for a ";" or "%25" in a path under allowed_path_prefixes, sending nothing', async () => {
    const { agent, token } = await profile({ auth_type: 'bearer', auth_data: { token: canary('semi') }, allowed_path_prefixes: ['/v1'] });
    const before = upstream.seen.length;

    const semicolon = await proxy(agent, token, { url: `${upstream.url}/v1/..;/admin` });
    const percent = await proxy(agent, token, { url: `${upstream.url}/v1/%252E%252E/admin` });

    expect([semicolon.status, percent.status]).toEqual([403, 403]);
    expect(semicolon.json.error.code).toBe('path_not_allowed');
    expect(semicolon.json.error.message).toContain('";" (path parameters)');
    expect(percent.json.error.code).toBe('path_not_allowed');
    expect(percent.json.error.message).toContain('"%25" (an encoded "%")');
    expect(upstream.seen.length).toBe(before);
  });

  it('answers 403 proxy_not_configured for a profile without allowed_hosts', async () => {
    const agent = await newAgent();
    const created = await vault.call('POST', `/v1/agents/${agent}/auth-profiles`, { name: 'p', auth_type: 'bearer', auth_data: { token: 't' } });
    const res = await proxy(agent, created.json.auth_token, { url: `${upstream.url}/` });
    expect(res.status).toBe(403);
    expect(res.json.error.code).toBe('proxy_not_configured');
  });

  it('answers 400 not_injectable for a custom profile, 502 for OAuth2 whose token endpoint gives no token, and 403 for its token_url', async () => {
    const agent = await newAgent();
    const custom = await vault.call('POST', `/v1/agents/${agent}/auth-profiles`, { name: 'c', auth_data: { query: 'x' }, allowed_hosts: ['127.0.0.1'] });
    const oauth = await vault.call('POST', `/v1/agents/${agent}/auth-profiles`, {
      name: 'o',
      auth_type: 'oauth2_client_credentials',
      auth_config: { token_url: `${upstream.url}/token` },
      auth_data: { client_id: 'c', client_secret: canary('cs') },
      allowed_hosts: ['127.0.0.1'],
    });
    const c = await proxy(agent, custom.json.auth_token, { url: `${upstream.url}/` });
    const o = await proxy(agent, oauth.json.auth_token, { url: `${upstream.url}/` });
    const t = await proxy(agent, oauth.json.auth_token, { url: `${upstream.url}/token` });
    expect([c.status, c.json.error.code]).toEqual([400, 'not_injectable']);
    expect([o.status, o.json.error.code]).toEqual([502, 'oauth_token_failed']);
    expect([t.status, t.json.error.code]).toEqual([403, 'token_url_not_proxied']);
  });

  it('answers the same 404 for an unknown token, and 400 for a malformed URL', async () => {
    const { agent, token } = await profile({ auth_type: 'bearer', auth_data: { token: canary('x') } });
    const other = await profile({ auth_type: 'bearer', auth_data: { token: canary('y') } });
    const wrongAgent = await proxy(agent, other.token, { url: `${upstream.url}/` });
    expect(wrongAgent.status).toBe(404);
    expect(wrongAgent.json.error.code).toBe('profile_not_found');
    expect((await proxy(agent, token, { url: 'file:///etc/passwd' })).status).toBe(400);
    expect((await proxy(agent, token, { url: `http://u:p@127.0.0.1:${upstream.port}/` })).status).toBe(400);
    expect((await proxy(agent, token, { method: 'TRACE', url: `${upstream.url}/` })).status).toBe(400);
    const badHeader = await proxy(agent, token, { url: `${upstream.url}/`, headers: { 'x-a': 'line\r\nx-injected: 1' } });
    expect(badHeader.status).toBe(400);
    expect(badHeader.json.error.message).toContain('headers.x-a');
  });

  it('requires the API key', async () => {
    const res = await vault.call('POST', '/v1/proxy', { agent_id: 'a', auth_token: 'x', method: 'GET', url: 'http://127.0.0.1/' }, { apiKey: null });
    expect(res.status).toBe(401);
  });
});

describe('POST /v1/agents/{agent_id}/auth-profiles/{name}/test', () => {
  it('answers ok with the status and latency, never the body, and stores the outcome in metadata', async () => {
    const secret = canary('test');
    const { agent, token } = await profile({ auth_type: 'bearer', auth_data: { token: secret } });

    const good = await vault.call('POST', `/v1/agents/${agent}/auth-profiles/p/test`, { auth_token: token, request: { method: 'GET', url: `${upstream.url}/me` } });
    expect(good.status).toBe(200);
    expect(good.json).toMatchObject({ ok: true, status: 200 });
    expect(typeof good.json.latency_ms).toBe('number');
    expect(Object.keys(good.json).sort()).toEqual(['latency_ms', 'ok', 'status']);
    expect(lastSeen()?.headers.authorization).toBe(`Bearer ${secret}`);
    const okMeta = await vault.call('GET', `/v1/agents/${agent}/auth-profiles/p`);
    expect(okMeta.json).toMatchObject({ last_test_ok: true });
    expect(typeof okMeta.json.last_tested_at).toBe('string');

    const bad = await vault.call('POST', `/v1/agents/${agent}/auth-profiles/p/test`, { auth_token: token, request: { url: `${upstream.url}/status/401` } });
    expect(bad.json).toMatchObject({ ok: false, status: 401, error: 'upstream answered HTTP 401' });
    expect(bad.text).not.toContain(secret);
    expect((await vault.call('GET', `/v1/agents/${agent}/auth-profiles/p`)).json.last_test_ok).toBe(false);
  });

  it('applies the outbound policy, refuses another profile\'s token, and asks for a request when it needs one', async () => {
    const { agent, token } = await profile({ auth_type: 'bearer', auth_data: { token: canary('t2') }, allowed_methods: ['GET'] });
    const path = `/v1/agents/${agent}/auth-profiles/p/test`;
    expect((await vault.call('POST', path, { auth_token: token, request: { url: 'http://127.0.0.2/' } })).status).toBe(403);
    expect((await vault.call('POST', path, { auth_token: token, request: { method: 'POST', url: `${upstream.url}/` } })).status).toBe(405);
    expect((await vault.call('POST', `/v1/agents/${agent}/auth-profiles/other/test`, { auth_token: token, request: { url: `${upstream.url}/` } })).status).toBe(404);
    const missing = await vault.call('POST', path, { auth_token: token });
    expect(missing.status).toBe(400);
    expect(missing.json.error.message).toContain('request {method, url} is required');
  });
});

describe('SSRF guard through the proxy', () => {
  let strict: TestVault;
  beforeAll(async () => {
    strict = await startTestVault({ VAULT_ALLOW_PRIVATE_UPSTREAMS: 'false' });
  });
  afterAll(async () => {
    await strict?.close();
  });

  it('refuses loopback upstreams (literal and by name) with 403 destination_blocked when private upstreams are not allowed', async () => {
    const agentId = `ssrf-${randomBytes(3).toString('hex')}`;
    await strict.call('POST', '/v1/agents', { agent_id: agentId, name: 'x', input_args: [], runner: { type: 'webhook', url: 'http://127.0.0.1:9/run' } });
    const created = await strict.call('POST', `/v1/agents/${agentId}/auth-profiles`, {
      name: 'p',
      auth_type: 'bearer',
      auth_data: { token: canary('ssrf') },
      allowed_hosts: ['127.0.0.1', 'localhost', '[::1]', '[::ffff:127.0.0.1]'],
    });
    expect(created.status).toBe(201);
    const before = upstream.seen.length;
    for (const url of [`${upstream.url}/`, `http://localhost:${upstream.port}/`, `http://2130706433:${upstream.port}/`, `http://[::ffff:127.0.0.1]:${upstream.port}/`]) {
      const res = await strict.call('POST', '/v1/proxy', { agent_id: agentId, auth_token: created.json.auth_token, method: 'GET', url });
      expect(res.status, url).toBe(403);
      expect(res.json.error.code, url).toBe('destination_blocked');
    }
    expect(upstream.seen.length).toBe(before);
  });
});
