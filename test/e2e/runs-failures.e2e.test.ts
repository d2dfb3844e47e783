import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type ReceivedCall, type RunnerBehaviour, startTestRunner } from '#test/support/runner';
import { startTestVault, type TestVault } from '#test/support/vault';
import { createAgent } from '#test/support/services';

type Runner = Awaited<ReturnType<typeof startTestRunner>>;

const ARGS = [{ name: 'username', required: true }, { name: 'password', required: true }, { name: 'query' }];

/** One vault and one runner per describe block (the handlers share one process-wide deps). */
function harness(env: Record<string, string> = {}) {
  const h = {} as { vault: TestVault; runner: Runner; behaviours: Map<string, RunnerBehaviour> };
  beforeAll(async () => {
    h.behaviours = new Map();
    h.vault = await startTestVault(env);
    h.runner = await startTestRunner((call) => (h.behaviours.get(call.body?.agent_id) ?? (() => ({ body: { output: 'ok' } })))(call));
  });
  afterAll(async () => {
    await h.vault?.deps.dispatcher.drain();
    await h.runner?.close();
    await h.vault?.close();
  });
  return h;
}

async function setup(
  h: ReturnType<typeof harness>,
  behaviour: RunnerBehaviour,
  opts: { timeoutMs?: number; url?: string; registeredWhilePrivateAllowed?: boolean; registeredWithoutAllowList?: boolean } = {},
): Promise<{ agentId: string; token: string; calls: () => ReceivedCall[] }> {
  const agentId = `agent-${randomBytes(6).toString('hex')}`;
  const body = {
    agent_id: agentId,
    name: 'Failing agent',
    input_args: ARGS,
    runner: { type: 'webhook' as const, url: opts.url ?? h.runner.url, ...(opts.timeoutMs ? { timeout_ms: opts.timeoutMs } : {}) },
  };
  if (opts.registeredWhilePrivateAllowed || opts.registeredWithoutAllowList) {
    // Registration refuses private hosts now; this agent stands for one whose host was public when
    // it was registered and resolves to a private address at call time (DNS changed since).
    const { deps } = h.vault;
    await createAgent({ ...deps, config: { ...deps.config, allowPrivateRunners: true, allowedRunnerHosts: [] } }, 'acme', {
      ...body,
      input_args: ARGS.map((a) => ({ secret: true, required: false, ...a })),
    });
  } else {
    const created = await h.vault.call('POST', '/v1/agents', body);
    expect(created.status, created.text).toBe(201);
  }
  h.behaviours.set(agentId, behaviour);
  const profile = await h.vault.call('POST', '/api/create_agent_auth_profile', {
    agent_id: agentId,
    name: 'main',
    auth_data: { username: 'user-one', password: 'p-secret' },
  });
  expect(profile.status, profile.text).toBe(200);
  return { agentId, token: profile.json.auth_token, calls: () => h.runner.calls.filter((c) => c.body?.agent_id === agentId) };
}

describe('run_agent when the runner misbehaves', () => {
  const h = harness();

  const runSync = (agentId: string, token: string) =>
    h.vault.call('POST', '/run_agent', { agent_id: agentId, auth_token: token, run_async: false });
  const getRun = (sessionId: string) => h.vault.call('GET', `/v1/runs/${sessionId}`);

  it('fails a run whose runner does not answer within timeout_ms, naming the timeout', async () => {
    const { agentId, token } = await setup(h, () => ({ delayMs: 1_500, body: { output: 'too late' } }), { timeoutMs: 200 });

    const res = await runSync(agentId, token);
    const stored = await getRun(res.json.session_id);

    expect(res.status).toBe(200);
    expect(res.json.error_message).toMatch(/did not answer within 200 ms/);
    expect(res.json.agent_output).toBeUndefined();
    expect(stored.json.status).toBe('failed');
    expect(stored.json.error_message).toMatch(/200 ms/);
  });

  it('fails an async run whose runner times out', async () => {
    const { agentId, token } = await setup(h, () => ({ delayMs: 1_500, body: {} }), { timeoutMs: 150 });

    const { json } = await h.vault.call('POST', '/run_agent', { agent_id: agentId, auth_token: token });
    await h.vault.deps.dispatcher.drain();
    const stored = await getRun(json.session_id);

    expect(stored.json.status).toBe('failed');
    expect(stored.json.error_message).toMatch(/did not answer within 150 ms/);
  });

  it('fails a run whose runner answers HTTP 500', async () => {
    const { agentId, token } = await setup(h, () => ({ status: 500, body: { error: 'boom' } }));

    const res = await runSync(agentId, token);
    const stored = await getRun(res.json.session_id);

    expect(res.json.error_message).toMatch(/HTTP 500/);
    expect(stored.json.status).toBe('failed');
  });

  it('fails an async run whose runner answers HTTP 500', async () => {
    const { agentId, token } = await setup(h, () => ({ status: 500, body: {} }));

    const { json } = await h.vault.call('POST', '/run_agent', { agent_id: agentId, auth_token: token });
    await h.vault.deps.dispatcher.drain();
    const stored = await getRun(json.session_id);

    expect(stored.json).toMatchObject({ status: 'failed', error_message: expect.stringMatching(/HTTP 500/) });
  });

  it('fails a run whose runner answers with a body that is not JSON', async () => {
    const { agentId, token } = await setup(h, () => ({ body: 'Internal things happened' }));

    const res = await runSync(agentId, token);
    const stored = await getRun(res.json.session_id);

    expect(res.json.error_message).toMatch(/not JSON/);
    expect(stored.json.status).toBe('failed');
  });

  it('fails a run whose runner answers JSON that is not an object', async () => {
    const { agentId, token } = await setup(h, () => ({ body: '["a","b"]' }));

    const res = await runSync(agentId, token);

    expect(res.json.error_message).toMatch(/not an object/);
    expect((await getRun(res.json.session_id)).json.status).toBe('failed');
  });

  it('fails a run whose runner answers more than 1 MiB', async () => {
    const { agentId, token } = await setup(h, () => ({ body: { output: 'y'.repeat(1024 * 1024 + 10) } }));

    const res = await runSync(agentId, token);
    const stored = await getRun(res.json.session_id);

    expect(res.json.error_message).toMatch(/1 MiB/);
    expect(res.json.agent_output).toBeUndefined();
    expect(stored.json.status).toBe('failed');
  });

  it('fails a run whose runner answers JSON nested too deeply to handle safely', async () => {
    const deep = `${'['.repeat(5_000)}"x"${']'.repeat(5_000)}`;
    const { agentId, token } = await setup(h, () => ({ body: `{"output":${deep}}` }));

    const res = await runSync(agentId, token);

    expect(res.status).toBe(200);
    expect(res.json.error_message).toMatch(/nested more than \d+ levels/);
    expect((await getRun(res.json.session_id)).json.status).toBe('failed');
  });

  it('fails a run whose output is too large to store with the run (over 300 KiB)', async () => {
    const { agentId, token } = await setup(h, () => ({ body: { output: 'z'.repeat(400 * 1024) } }));

    const res = await runSync(agentId, token);
    const stored = await getRun(res.json.session_id);

    expect(res.json.agent_output).toBeUndefined();
    expect(res.json.error_message).toMatch(/300 KiB/);
    expect(stored.json.status).toBe('failed');
  });

  it('does not follow a redirect: the run fails and the target gets no call', async () => {
    const target = await startTestRunner(() => ({ body: { output: 'followed' } }));
    try {
      const { agentId, token } = await setup(h, () => ({ status: 302, headers: { location: target.url }, body: {} }));

      const res = await runSync(agentId, token);

      expect(res.json.error_message).toMatch(/HTTP 302.*redirects are not followed/);
      expect((await getRun(res.json.session_id)).json.status).toBe('failed');
      expect(target.calls).toHaveLength(0);
    } finally {
      await target.close();
    }
  });

  it('fails a run whose runner cannot be reached', async () => {
    const gone = await startTestRunner(() => ({}));
    await gone.close();
    const { agentId, token } = await setup(h, () => ({}), { url: gone.url });

    const res = await runSync(agentId, token);

    const reason = `runner could not be reached: ECONNREFUSED 127.0.0.1:${new URL(gone.url).port}`;
    expect(res.json.error_message).toBe(reason);
    expect((await getRun(res.json.session_id)).json.status).toBe('failed');
    // Logged at warn with the reason, so the server's console says why.
    const logged = h.vault.logs.map((l) => JSON.parse(l)).find((l) => l.msg === 'run failed' && l.session_id === res.json.session_id);
    expect(logged).toMatchObject({ level: 'warn', reason });
  });

  it('hints at a rotated signing secret when the runner answers 401', async () => {
    const { agentId, token } = await setup(h, () => ({ status: 401, body: { error: 'bad signature' } }));

    const res = await runSync(agentId, token);

    expect(res.json.error_message).toBe("runner answered HTTP 401: was the signing secret rotated? The runner must verify with the agent's current runner_signing_secret");
  });

  it("keeps the vault's own error message intact when a credential is a short string found in it", async () => {
    const gone = await startTestRunner(() => ({}));
    await gone.close();
    const { agentId, token } = await setup(h, () => ({}), { url: gone.url });
    const updated = await h.vault.call('POST', '/api/upsert_agent_auth_profile', { agent_id: agentId, auth_token: token, auth_data: { username: 'u' } });
    expect(updated.status, updated.text).toBe(200);

    const res = await runSync(agentId, token);

    expect(res.json.error_message).toBe(`runner could not be reached: ECONNREFUSED 127.0.0.1:${new URL(gone.url).port}`);
  });

  it('fails a run whose runner reports an error, keeping its output', async () => {
    const { agentId, token } = await setup(h, () => ({ body: { output: { partial: true }, error: 'the site changed its login page' } }));

    const res = await runSync(agentId, token);
    const stored = await getRun(res.json.session_id);

    expect(res.json).toMatchObject({ agent_output: { partial: true }, error_message: 'the site changed its login page' });
    expect(stored.json).toMatchObject({
      status: 'failed',
      agent_output: { partial: true },
      error_message: 'the site changed its login page',
    });
  });

  it('answers 200 with the failure in error_message (the run_agent call itself succeeded)', async () => {
    const { agentId, token } = await setup(h, () => ({ status: 502, body: {} }));

    const res = await runSync(agentId, token);

    expect(res.status).toBe(200);
    expect(typeof res.json.session_id).toBe('string');
    expect(typeof res.json.agent_run_url).toBe('string');
  });
});

describe('run_agent with private runners refused (VAULT_ALLOW_PRIVATE_RUNNERS=false)', () => {
  const h = harness({ VAULT_ALLOW_PRIVATE_RUNNERS: 'false' });

  it('fails a sync run to a runner on 127.0.0.1 with the refusal message, and the runner gets no call', async () => {
    const { agentId, token, calls } = await setup(h, () => ({ body: { output: 'should not run' } }), {
      registeredWhilePrivateAllowed: true,
    });

    const res = await h.vault.call('POST', '/run_agent', { agent_id: agentId, auth_token: token, run_async: false });
    const stored = await h.vault.call('GET', `/v1/runs/${res.json.session_id}`);

    expect(res.status).toBe(200);
    expect(res.json.error_message).toMatch(/loopback, private or link-local address, which is refused/);
    expect(res.json.agent_output).toBeUndefined();
    expect(stored.json.status).toBe('failed');
    expect(calls()).toHaveLength(0);
  });

  it('fails an async run to a runner on 127.0.0.1 the same way', async () => {
    const { agentId, token, calls } = await setup(h, () => ({ body: { output: 'should not run' } }), {
      registeredWhilePrivateAllowed: true,
    });

    const { json } = await h.vault.call('POST', '/run_agent', { agent_id: agentId, auth_token: token });
    await h.vault.deps.dispatcher.drain();
    const stored = await h.vault.call('GET', `/v1/runs/${json.session_id}`);

    expect(stored.json).toMatchObject({ status: 'failed', error_message: expect.stringMatching(/which is refused/) });
    expect(calls()).toHaveLength(0);
  });

  it('refuses a runner registered as localhost, which resolves to loopback', async () => {
    const { agentId, token, calls } = await setup(h, () => ({ body: { output: 'should not run' } }), {
      url: h.runner.url.replace('127.0.0.1', 'localhost'),
      registeredWhilePrivateAllowed: true,
    });

    const res = await h.vault.call('POST', '/run_agent', { agent_id: agentId, auth_token: token, run_async: false });

    expect(res.json.error_message).toMatch(/which is refused/);
    expect(calls()).toHaveLength(0);
  });

  it('refuses a runner registered with a decimal loopback address', async () => {
    const port = new URL(h.runner.url).port;
    const { agentId, token, calls } = await setup(h, () => ({ body: { output: 'should not run' } }), {
      url: `http://2130706433:${port}/run`,
      registeredWhilePrivateAllowed: true,
    });

    const res = await h.vault.call('POST', '/run_agent', { agent_id: agentId, auth_token: token, run_async: false });

    expect(res.json.error_message).toMatch(/which is refused/);
    expect(calls()).toHaveLength(0);
    expect(h.runner.calls).toHaveLength(0);
  });

  it('refuses to register an agent whose runner is on 127.0.0.1 (400)', async () => {
    const res = await h.vault.call('POST', '/v1/agents', {
      name: 'Private agent',
      input_args: ARGS,
      runner: { type: 'webhook', url: h.runner.url },
    });

    expect(res.status).toBe(400);
    expect(res.json.error.message).toMatch(/VAULT_ALLOW_PRIVATE_RUNNERS/);
  });
});

describe('run_agent with sync waits capped (VAULT_SYNC_RUN_MAX_MS, as on AWS behind API Gateway)', () => {
  const h = harness({ VAULT_SYNC_RUN_MAX_MS: '300' });

  it('stops waiting for a sync run at the cap even when the agent allows longer', async () => {
    const { agentId, token } = await setup(h, () => ({ delayMs: 1_500, body: { output: 'too late' } }), { timeoutMs: 10_000 });

    const res = await h.vault.call('POST', '/run_agent', { agent_id: agentId, auth_token: token, run_async: false });

    expect(res.status).toBe(200);
    expect(res.json.error_message).toMatch(/did not answer within 300 ms/);
  });

  it('lets an async run wait the agent’s full timeout_ms', async () => {
    const { agentId, token } = await setup(h, () => ({ delayMs: 600, body: { output: 'worth the wait' } }), { timeoutMs: 10_000 });

    const res = await h.vault.call('POST', '/run_agent', { agent_id: agentId, auth_token: token });
    await h.vault.deps.dispatcher.drain();
    const stored = await h.vault.call('GET', `/v1/runs/${res.json.session_id}`);

    expect(stored.json).toMatchObject({ status: 'succeeded', agent_output: 'worth the wait' });
  });
});

describe('run_agent when the runner host allow-list tightened after registration (VAULT_ALLOWED_RUNNER_HOSTS)', () => {
  const h = harness({ VAULT_ALLOWED_RUNNER_HOSTS: 'runner.example.com' });

  it('fails the run with the allow-list message and never calls the runner', async () => {
    // Registered while any host was allowed (the agent predates the allow-list).
    const { agentId, token, calls } = await setup(h, () => ({ body: { output: 'should not run' } }), { registeredWithoutAllowList: true });

    const res = await h.vault.call('POST', '/run_agent', { agent_id: agentId, auth_token: token, run_async: false });

    expect(res.status).toBe(200);
    expect(res.json.error_message).toMatch(/not allowed \(allowed: runner\.example\.com\)/);
    expect(calls()).toHaveLength(0);
  });
});
