import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRunner } from '#test/support/runner';
import { startTestVault, type TestVault } from '#test/support/vault';

let vault: TestVault;

beforeAll(async () => {
  vault = await startTestVault();
});

afterAll(async () => {
  await vault?.close();
});

let seq = 0;
async function newAgent(args: readonly string[] = ['username', 'password']) {
  const agentId = `typed-e2e-${++seq}-${randomBytes(3).toString('hex')}`;
  const res = await vault.call('POST', '/v1/agents', {
    agent_id: agentId,
    name: 'Typed bot',
    input_args: args.map((name) => ({ name })),
    runner: { type: 'webhook', url: 'http://127.0.0.1:9/run' },
  });
  expect(res.status).toBe(201);
  return agentId;
}

describe('typed profiles over HTTP', () => {
  it('creates a bearer profile on the native endpoint: 201 with the token once and metadata without the value', async () => {
    const agent = await newAgent();
    const canary = `canary-${randomBytes(6).toString('hex')}`;

    const res = await vault.call('POST', `/v1/agents/${agent}/auth-profiles`, {
      name: 'gh',
      auth_type: 'bearer',
      auth_data: { token: canary },
      allowed_hosts: ['api.github.com'],
      allowed_methods: ['GET'],
    });

    expect(res.status).toBe(201);
    expect(res.json.auth_token).toMatch(/^avt_/);
    expect(res.json).toMatchObject({ type: 'create', profile: { name: 'gh', auth_type: 'bearer', fields: ['token'], allowed_hosts: ['api.github.com'], allowed_methods: ['GET'] } });
    expect(res.text).not.toContain(canary);
    const meta = await vault.call('GET', `/v1/agents/${agent}/auth-profiles/gh`);
    expect(meta.json).toMatchObject({ auth_type: 'bearer', fields: ['token'] });
    expect(meta.text).not.toContain(canary);
    const dup = await vault.call('POST', `/v1/agents/${agent}/auth-profiles`, { name: 'gh', auth_type: 'bearer', auth_data: { token: 'x' } });
    expect(dup.status).toBe(409);
  });

  it('upserts by name with PUT: create, replace (new token), then update in place with the token', async () => {
    const agent = await newAgent();
    const path = `/v1/agents/${agent}/auth-profiles/svc`;
    const body = { auth_type: 'api_key', auth_config: { api_key_method: 'header' }, auth_data: { 'X-Api-Key': 'k1' }, allowed_hosts: ['api.example.com'] };

    const first = await vault.call('PUT', path, body);
    const second = await vault.call('PUT', path, body);
    const third = await vault.call('PUT', path, { auth_token: second.json.auth_token, auth_data: { 'X-Api-Key': 'k3' } });

    expect([first.status, second.status, third.status]).toEqual([200, 200, 200]);
    expect([first.json.type, second.json.type, third.json.type]).toEqual(['create', 'replace', 'update']);
    expect(second.json.auth_token).not.toBe(first.json.auth_token);
    expect(third.json.auth_token).toBe(second.json.auth_token);
    expect(third.json.profile).toMatchObject({ auth_type: 'api_key', auth_config: { api_key_method: 'header' }, allowed_hosts: ['api.example.com'], generation: 2, record_version: 3 });
  });

  it('accepts typed fields on the compatible create and upsert, answering their usual shapes', async () => {
    const agent = await newAgent();
    const created = await vault.call('POST', '/api/create_agent_auth_profile', { name: 'b', agent_id: agent, auth_type: 'basic', auth_data: { username: 'u', password: 'p' } });
    expect(created.status).toBe(200);
    expect(Object.keys(created.json)).toEqual(['auth_token']);
    const upserted = await vault.call('POST', '/api/upsert_agent_auth_profile', {
      agent_id: agent,
      name: 'o',
      auth_type: 'oauth2_client_credentials',
      auth_config: { token_url: 'https://auth.example.com/token', client_auth: 'post' },
      auth_data: { client_id: 'c', client_secret: 's' },
    });
    expect(upserted.status).toBe(200);
    expect(Object.keys(upserted.json).sort()).toEqual(['auth_token', 'name', 'type']);

    const list = await vault.call('GET', `/v1/agents/${agent}/auth-profiles`);
    const byName = Object.fromEntries((list.json.profiles as { name: string; auth_type: string }[]).map((p) => [p.name, p.auth_type]));
    expect(byName).toEqual({ b: 'basic', o: 'oauth2_client_credentials' });
  });

  it.each([
    [{ auth_type: 'bearer', auth_data: {} }, 'auth_data: auth_data must contain at least one key'],
    [{ auth_type: 'bearer', auth_data: { tok: 'x' } }, 'auth_data.token: is required'],
    [{ auth_type: 'api_key', auth_data: { k: 'v' } }, 'auth_config.api_key_method: is required'],
    [{ auth_type: 'oauth2_client_credentials', auth_data: { client_id: 'c', client_secret: 's' } }, 'auth_config.token_url: is required'],
    [{ auth_type: 'nope', auth_data: { token: 'x' } }, 'auth_type'],
    [{ auth_type: 'bearer', auth_data: { token: 'x' }, allowed_hosts: ['http://x'] }, 'allowed_hosts'],
    [{ auth_type: 'bearer', auth_data: { token: 'x' }, allowed_methods: ['TRACE'] }, 'allowed_methods'],
  ])('answers 400 for %j, saying what to fix', async (body, expected) => {
    const agent = await newAgent();
    const res = await vault.call('POST', `/v1/agents/${agent}/auth-profiles`, { name: 'x', ...body });
    expect(res.status).toBe(400);
    expect(res.json.error.message).toContain(expected.replace(/^auth_data: /, ''));
    const meta = await vault.call('GET', `/v1/agents/${agent}/auth-profiles/x`);
    expect(meta.status).toBe(404);
  });
});

describe('typed profiles on run_agent (credentials delivered as parameters)', () => {
  it('hands a typed profile\'s secrets to the runner under the type\'s field names, merged with the parameters', async () => {
    const runner = await startTestRunner(() => ({ body: { output: 'ok' } }));
    try {
      const agentId = `typed-run-${randomBytes(3).toString('hex')}`;
      const agent = await vault.call('POST', '/v1/agents', { agent_id: agentId, name: 'Run bot', input_args: [{ name: 'query', required: true }, { name: 'username' }], runner: { type: 'webhook', url: runner.url } });
      expect(agent.status).toBe(201);
      const basic = await vault.call('POST', `/v1/agents/${agentId}/auth-profiles`, { name: 'b', auth_type: 'basic', auth_data: { username: 'svc', password: 'pw-run' } });

      const run = await vault.call('POST', '/run_agent', { agent_id: agentId, auth_token: basic.json.auth_token, parameters: { query: 'q' }, run_async: false });
      const conflict = await vault.call('POST', '/run_agent', { agent_id: agentId, auth_token: basic.json.auth_token, parameters: { query: 'q', username: 'x' }, run_async: false });

      expect(run.status, run.text).toBe(200);
      expect(runner.calls[0]?.body?.parameters).toEqual({ query: 'q', username: 'svc', password: 'pw-run' });
      expect([conflict.status, conflict.json.error.code]).toEqual([400, 'parameter_conflict']);
    } finally {
      await runner.close();
    }
  });
});
