import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRunner } from '#test/support/runner';
import { type EchoUpstream, startEchoUpstream } from '#test/support/upstream';
import { startTestVault, type TestVault } from '#test/support/vault';

/** Search, filters, the tenant-wide listing and rename, over HTTP (docs/api.md, "Search and filter", "Renaming a profile"). */
let vault: TestVault;
let upstream: EchoUpstream;
let runner: Awaited<ReturnType<typeof startTestRunner>>;

beforeAll(async () => {
  [vault, upstream, runner] = await Promise.all([
    startTestVault(),
    startEchoUpstream(),
    startTestRunner(({ body }) => ({ body: { output: { fields: Object.keys(body?.parameters ?? {}).sort() } } })),
  ]);
});

afterAll(async () => {
  await Promise.all([vault?.close(), upstream?.close(), runner?.close()]);
});

async function newAgent() {
  const agentId = `manage-${randomBytes(4).toString('hex')}`;
  const res = await vault.call('POST', '/v1/agents', {
    agent_id: agentId,
    name: 'bot',
    input_args: [{ name: 'password' }],
    runner: { type: 'webhook', url: runner.url },
  });
  expect(res.status, res.text).toBe(201);
  return agentId;
}

describe('GET /v1/auth-profiles and the filters', () => {
  it('lists across agents in name order with each entry’s agent_id, and filters by q', async () => {
    const [a, b] = [await newAgent(), await newAgent()];
    await vault.call('POST', `/v1/agents/${a}/auth-profiles`, { name: 'zz-e2e-github', auth_data: { password: 'x' } });
    await vault.call('POST', `/v1/agents/${b}/auth-profiles`, { name: 'zz-e2e-GitLab', auth_data: { password: 'x' } });
    await vault.call('POST', `/v1/agents/${b}/auth-profiles`, { name: 'zz-e2e-slack', auth_data: { password: 'x' } });

    const res = await vault.call('GET', '/v1/auth-profiles?q=ZZ-E2E-G&limit=100');

    expect(res.status, res.text).toBe(200);
    expect(res.json.profiles.map((p: { agent_id: string; name: string }) => [p.agent_id, p.name])).toEqual([
      [b, 'zz-e2e-GitLab'],
      [a, 'zz-e2e-github'],
    ]);
    const perAgent = await vault.call('GET', `/v1/agents/${b}/auth-profiles?q=slack`);
    expect(perAgent.json.profiles.map((p: { name: string }) => p.name)).toEqual(['zz-e2e-slack']);
  });

  it('answers 400 unknown_field for an unknown parameter and 400 naming the allowed values for a bad one', async () => {
    const agent = await newAgent();

    const unknown = await vault.call('GET', `/v1/agents/${agent}/auth-profiles?visibilty=shared`);
    const bad = await vault.call('GET', '/v1/auth-profiles?token_state=stale');

    expect(unknown.status).toBe(400);
    expect(unknown.json.error.code).toBe('unknown_field');
    expect(unknown.json.error.message).toContain('visibility');
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe('validation_error');
    expect(bad.json.error.message).toContain('valid, expiring_soon, expired');
  });
});

describe('PATCH {"name"}: rename over HTTP', () => {
  it('keeps the token working for run_agent and the proxy; the old name answers 404, the new one the profile', async () => {
    const agent = await newAgent();
    const created = await vault.call('POST', `/v1/agents/${agent}/auth-profiles`, {
      name: 'before',
      auth_type: 'bearer',
      auth_data: { token: `tok-${randomBytes(6).toString('hex')}` },
      allowed_hosts: [`127.0.0.1:${upstream.port}`],
    });
    expect(created.status, created.text).toBe(201);
    const token = created.json.auth_token as string;

    const renamed = await vault.call('PATCH', `/v1/agents/${agent}/auth-profiles/before`, { name: 'after' });

    expect(renamed.status, renamed.text).toBe(200);
    expect(renamed.json.name).toBe('after');
    expect((await vault.call('GET', `/v1/agents/${agent}/auth-profiles/before`)).status).toBe(404);
    expect((await vault.call('GET', `/v1/agents/${agent}/auth-profiles/after`)).json.name).toBe('after');
    const proxied = await vault.call('POST', '/v1/proxy', { agent_id: agent, auth_token: token, method: 'GET', url: `${upstream.url}/` });
    expect(proxied.status, proxied.text).toBe(200);
    expect(proxied.json.status).toBe(200);
    const run = await vault.call('POST', '/run_agent', { agent_id: agent, auth_token: token, run_async: false });
    expect(run.status, run.text).toBe(200);
    expect(run.json.agent_output).toBeDefined();
    const usage = await vault.call('GET', `/v1/agents/${agent}/auth-profiles/after/usage`);
    expect(usage.json.uses.map((u: { action: string }) => u.action).sort()).toEqual(['proxy', 'run']);
  });

  it('answers 409 profile_exists for a taken name, and 400 when a rename carries settings too', async () => {
    const agent = await newAgent();
    await vault.call('POST', `/v1/agents/${agent}/auth-profiles`, { name: 'one', auth_data: { password: 'x' } });
    await vault.call('POST', `/v1/agents/${agent}/auth-profiles`, { name: 'two', auth_data: { password: 'x' } });

    const taken = await vault.call('PATCH', `/v1/agents/${agent}/auth-profiles/one`, { name: 'two' });
    const mixed = await vault.call('PATCH', `/v1/agents/${agent}/auth-profiles/one`, { name: 'three', active: false });

    expect(taken.status).toBe(409);
    expect(taken.json.error.code).toBe('profile_exists');
    expect(mixed.status).toBe(400);
    expect(mixed.json.error.message).toMatch(/sent alone/);
  });
});
