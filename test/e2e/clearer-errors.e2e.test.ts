import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestVault, startTestVault } from '#test/support/vault';

/** Issue 11, "clearer errors": each common mistake gets a message that says what to fix. */
let vault: TestVault;

beforeAll(async () => {
  vault = await startTestVault();
  const agent = await vault.call('POST', '/v1/agents', {
    agent_id: 'crm-bot',
    name: 'CRM bot',
    input_args: [{ name: 'username', required: true }, { name: 'password', required: true }, { name: 'otp' }],
    runner: { type: 'webhook', url: 'http://127.0.0.1:9/run' },
  });
  expect(agent.status, agent.text).toBe(201);
});

afterAll(async () => {
  await vault?.close();
});

describe('API key mistakes', () => {
  it('says to add "Bearer" when the Authorization header holds a bare key', async () => {
    const res = await vault.call('GET', '/v1/agents', undefined, { apiKey: null, headers: { authorization: vault.apiKey } });

    expect(res.status).toBe(401);
    expect(res.json.error.message).toMatch(/bare API key: add the scheme, "Authorization: Bearer avk_…"/);
    expect(res.text).not.toContain(vault.apiKey);
  });

  it('names another scheme when one is used', async () => {
    const res = await vault.call('GET', '/v1/agents', undefined, { apiKey: null, headers: { authorization: 'Basic dXNlcjpwYXNz' } });

    expect(res.status).toBe(401);
    expect(res.json.error.message).toContain('uses the "Basic" scheme: send "Authorization: Bearer avk_…"');
    expect(res.text).not.toContain('dXNlcjpwYXNz');
  });

  it('says a malformed key is malformed', async () => {
    const res = await vault.call('GET', '/v1/agents', undefined, { apiKey: vault.apiKey.slice(0, -1) });

    expect(res.status).toBe(401);
    expect(res.json.error.message).toMatch(/^Malformed API key: an API key is "avk_" followed by 43 base64url characters/);
  });

  it('says a well-formed but unknown key is invalid', async () => {
    const res = await vault.call('GET', '/v1/agents', undefined, { apiKey: `avk_${'A'.repeat(43)}` });

    expect(res.status).toBe(401);
    expect(res.json.error.message).toMatch(/^Invalid API key/);
  });

  it('logs the error code on the 4xx request line', async () => {
    await vault.call('GET', '/v1/agents?marker=logged-401', undefined, { apiKey: null });

    const line = vault.logs.map((l) => JSON.parse(l)).find((l) => l.msg === 'request' && l.status === 401 && l.path === '/v1/agents');
    expect(line).toMatchObject({ error_code: 'unauthorized' });
  });
});

describe('list limits', () => {
  it.each(['abc', '0', '101', '1.5', ''])('answers limit=%s with "limit must be an integer 1–100"', async (limit) => {
    const agents = await vault.call('GET', `/v1/agents?limit=${limit}`);
    const profiles = await vault.call('GET', `/v1/agents/crm-bot/auth-profiles?limit=${limit}`);

    for (const res of [agents, profiles]) {
      expect(res.status).toBe(400);
      expect(res.json.error.message).toBe('Invalid query string: limit must be an integer 1–100');
    }
  });
});

describe('a profile without a required input argument', () => {
  it('is created, with a warning naming what a run will need', async () => {
    const res = await vault.call('POST', '/api/create_agent_auth_profile', { agent_id: 'crm-bot', name: 'no-password', auth_data: { username: 'alice' } });

    expect(res.status, res.text).toBe(200);
    expect(res.json.warnings).toEqual([
      'agent "crm-bot" requires input argument "password", which this profile does not hold: pass it in parameters when running, or add it to the profile',
    ]);
  });

  it('carries no warnings field when every required argument is there', async () => {
    const res = await vault.call('POST', '/api/upsert_agent_auth_profile', { agent_id: 'crm-bot', name: 'complete', auth_data: { username: 'a', password: 'b' } });

    expect(res.status, res.text).toBe(200);
    expect(Object.keys(res.json).sort()).toEqual(['auth_token', 'name', 'type']);
  });

  it('warns on upsert too, and the warning goes once an update adds the argument', async () => {
    const created = await vault.call('POST', '/api/upsert_agent_auth_profile', { agent_id: 'crm-bot', name: 'later', auth_data: { otp: '1' } });
    const updated = await vault.call('POST', '/api/upsert_agent_auth_profile', {
      agent_id: 'crm-bot',
      auth_token: created.json.auth_token,
      auth_data: { username: 'u', password: 'p' },
    });

    expect(created.json.warnings?.[0]).toContain('requires input arguments "username", "password"');
    expect(updated.json).not.toHaveProperty('warnings');
  });
});

describe('HEAD', () => {
  it.each(['/healthz', '/openapi.json', '/v1/agents', '/v1/agents/crm-bot', '/v1/agents/crm-bot/auth-profiles'])('answers HEAD %s like GET, without a body', async (path) => {
    const get = await vault.call('GET', path);
    const head = await vault.call('HEAD', path);

    expect(get.status).toBe(200);
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toBe(get.headers.get('content-type'));
    expect(head.text).toBe('');
  });

  it('authenticates HEAD like GET', async () => {
    expect((await vault.call('HEAD', '/v1/agents', undefined, { apiKey: null })).status).toBe(401);
  });

  it('lists HEAD in Allow next to GET, and refuses HEAD on a POST-only route with 405', async () => {
    const wrong = await vault.call('DELETE', '/healthz');
    const headOnPost = await vault.call('HEAD', '/run_agent');

    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET, HEAD');
    expect(headOnPost.status).toBe(405);
    expect(headOnPost.headers.get('allow')).toBe('POST');
  });
});
