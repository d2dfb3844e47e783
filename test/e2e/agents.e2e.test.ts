import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestVault, type TestVault } from '#test/support/vault';

let vault: TestVault;

beforeAll(async () => {
  vault = await startTestVault();
});

afterAll(async () => {
  await vault?.close();
});

const freshId = () => `bot-${randomBytes(4).toString('hex')}`;
const definition = (over: Record<string, unknown> = {}) => ({
  name: 'CRM bot',
  description: 'logs into the CRM',
  input_args: [{ name: 'username' }, { name: 'password', required: true, description: 'the CRM password' }],
  runner: { type: 'webhook', url: 'http://127.0.0.1:9/run', timeout_ms: 5000 },
  ...over,
});

async function registered(agentId = freshId()) {
  const res = await vault.call('POST', '/v1/agents', { agent_id: agentId, ...definition() });
  expect(res.status).toBe(201);
  return { agentId, secret: res.json.runner_signing_secret as string };
}

describe('POST /v1/agents', () => {
  it('answers 201 with the agent, its defaults, and the signing secret once', async () => {
    const agentId = freshId();

    const res = await vault.call('POST', '/v1/agents', { agent_id: agentId, ...definition() });

    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({
      agent_id: agentId,
      name: 'CRM bot',
      input_args: [
        { name: 'username', required: false, secret: true },
        { name: 'password', required: true, secret: true },
      ],
      runner: { type: 'webhook', url: 'http://127.0.0.1:9/run', timeout_ms: 5000 },
      runner_signing_secret: expect.stringMatching(/^avs_/),
    });
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('answers 409 agent_exists for a taken agent_id', async () => {
    const { agentId } = await registered();

    const res = await vault.call('POST', '/v1/agents', { agent_id: agentId, ...definition() });

    expect(res.status).toBe(409);
    expect(res.json.error.code).toBe('agent_exists');
  });

  it.each([
    ['name', { name: undefined }],
    ['runner', { runner: { type: 'lambda', url: 'http://127.0.0.1:9/run' } }],
    ['runner.url', { runner: { type: 'webhook', url: 'ftp://127.0.0.1/run' } }],
    ['input_args', { input_args: [{ name: 'password' }, { name: 'password' }] }],
    ['input_args[0].name', { input_args: [{ name: '__proto__' }] }],
    ['input_args[0].name', { input_args: [{ name: '9lives' }] }],
    ['input_args', { input_args: Array.from({ length: 65 }, (_, i) => ({ name: `k${i}` })) }],
    ['runner.timeout_ms', { runner: { type: 'webhook', url: 'http://127.0.0.1:9/run', timeout_ms: 50 } }],
  ])('answers 400 naming %s for an invalid definition', async (field, over) => {
    const res = await vault.call('POST', '/v1/agents', { agent_id: freshId(), ...definition(over) });

    expect(res.status).toBe(400);
    expect(res.json.error.message).toContain(field);
  });

  it('answers 400 naming agent_id for an id with a slash', async () => {
    const res = await vault.call('POST', '/v1/agents', { agent_id: 'a/b', ...definition() });

    expect(res.status).toBe(400);
    expect(res.json.error.message).toContain('agent_id');
  });

  it('answers 400 for a runner URL with credentials in it', async () => {
    const res = await vault.call('POST', '/v1/agents', {
      agent_id: freshId(),
      ...definition({ runner: { type: 'webhook', url: 'http://u:canary-pw@127.0.0.1:9/run' } }),
    });

    expect(res.status).toBe(400);
    expect(res.text).not.toContain('canary-pw');
  });
});

describe('GET /v1/agents', () => {
  it('reads one agent without any signing secret', async () => {
    const { agentId, secret } = await registered();

    const res = await vault.call('GET', `/v1/agents/${agentId}`);

    expect(res.status).toBe(200);
    expect(res.json.agent_id).toBe(agentId);
    expect(res.text).not.toContain(secret);
    expect(res.json).not.toHaveProperty('runner_signing_secret');
    expect(res.json).not.toHaveProperty('signing_secret');
  });

  it('lists agents without signing secrets', async () => {
    const { agentId, secret } = await registered();

    const res = await vault.call('GET', '/v1/agents?limit=100');

    expect(res.status).toBe(200);
    expect(res.json.agents.map((a: { agent_id: string }) => a.agent_id)).toContain(agentId);
    expect(res.text).not.toContain(secret);
  });

  it('answers 404 agent_not_found for an unknown agent', async () => {
    const res = await vault.call('GET', `/v1/agents/${freshId()}`);

    expect(res.status).toBe(404);
    expect(res.json.error.code).toBe('agent_not_found');
  });
});

describe('PUT /v1/agents/{agent_id}', () => {
  it('replaces the definition', async () => {
    const { agentId } = await registered();

    const res = await vault.call('PUT', `/v1/agents/${agentId}`, definition({ name: 'Renamed', input_args: [{ name: 'token' }] }));

    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ agent_id: agentId, name: 'Renamed', input_args: [{ name: 'token' }] });
    expect((await vault.call('GET', `/v1/agents/${agentId}`)).json.name).toBe('Renamed');
  });

  it('makes new auth_data keys acceptable and removed ones unknown', async () => {
    const { agentId } = await registered();
    await vault.call('PUT', `/v1/agents/${agentId}`, definition({ input_args: [{ name: 'token' }] }));

    const ok = await vault.call('POST', '/api/create_agent_auth_profile', { name: 'a', agent_id: agentId, auth_data: { token: 't' } });
    const refused = await vault.call('POST', '/api/create_agent_auth_profile', {
      name: 'b',
      agent_id: agentId,
      auth_data: { password: 'p' },
    });

    expect(ok.status).toBe(200);
    expect(refused.status).toBe(400);
    expect(refused.json.error.message).toContain('declared: token');
  });
});

describe('POST /v1/agents/{agent_id}/rotate-signing-secret', () => {
  it('returns a new signing secret', async () => {
    const { agentId, secret } = await registered();

    const res = await vault.call('POST', `/v1/agents/${agentId}/rotate-signing-secret`);

    expect(res.status).toBe(200);
    expect(res.json.agent_id).toBe(agentId);
    expect(res.json.runner_signing_secret).toMatch(/^avs_/);
    expect(res.json.runner_signing_secret).not.toBe(secret);
  });
});

describe('DELETE /v1/agents/{agent_id}', () => {
  it('answers 409 agent_has_profiles while profiles exist, then 204 with force=true', async () => {
    const { agentId } = await registered();
    const { json } = await vault.call('POST', '/api/create_agent_auth_profile', {
      name: 'main',
      agent_id: agentId,
      auth_data: { password: 'pw' },
    });

    const refused = await vault.call('DELETE', `/v1/agents/${agentId}`);
    const forced = await vault.call('DELETE', `/v1/agents/${agentId}?force=true`);

    expect(refused.status).toBe(409);
    expect(refused.json.error.code).toBe('agent_has_profiles');
    expect(forced.status).toBe(204);
    expect(forced.text).toBe('');
    expect((await vault.call('GET', `/v1/agents/${agentId}`)).status).toBe(404);
    const reused = await vault.call('POST', '/api/upsert_agent_auth_profile', {
      agent_id: agentId,
      auth_token: json.auth_token,
      auth_data: { password: 'x' },
    });
    expect(reused.status).toBe(404);
  });

  it('deletes an agent without profiles', async () => {
    const { agentId } = await registered();

    const res = await vault.call('DELETE', `/v1/agents/${agentId}`);

    expect(res.status).toBe(204);
  });

  it('answers 404 for an unknown agent', async () => {
    const res = await vault.call('DELETE', `/v1/agents/${freshId()}`);

    expect(res.status).toBe(404);
    expect(res.json.error.code).toBe('agent_not_found');
  });
});
