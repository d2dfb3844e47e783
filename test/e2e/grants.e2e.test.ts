import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatToken } from '#shared/crypto/token';
import { type ReceivedCall, startTestRunner } from '#test/support/runner';
import { type EchoUpstream, startEchoUpstream } from '#test/support/upstream';
import { startTestVault, type TestVault } from '#test/support/vault';

let vault: TestVault;
let upstream: EchoUpstream;
let runner: Awaited<ReturnType<typeof startTestRunner>>;

/** What the runner does during a run; each test sets it. */
let during: (call: ReceivedCall) => Promise<unknown> = async () => ({});

beforeAll(async () => {
  [vault, upstream, runner] = await Promise.all([startTestVault(), startEchoUpstream(), startTestRunner(async (call) => ({ body: { output: await during(call) } }))]);
});

afterAll(async () => {
  await Promise.all([vault?.close(), upstream?.close(), runner?.close()]);
});

const canary = (label: string) => `canary-${label}-${randomBytes(8).toString('hex')}`;

let seq = 0;
/** An agent with credential_delivery "proxy" and a bearer profile "p" allowed to reach the echo upstream. */
async function proxyAgent(delivery: 'proxy' | 'parameters' = 'proxy') {
  const agent = `grant-e2e-${++seq}-${randomBytes(3).toString('hex')}`;
  const a = await vault.call('POST', '/v1/agents', { agent_id: agent, name: 'Grant bot', input_args: [{ name: 'query' }], runner: { type: 'webhook', url: runner.url }, credential_delivery: delivery });
  expect(a.status, a.text).toBe(201);
  expect(a.json.credential_delivery).toBe(delivery);
  const secret = canary('bearer');
  const p = await vault.call('POST', `/v1/agents/${agent}/auth-profiles`, { name: 'p', auth_type: 'bearer', auth_data: { token: secret }, allowed_hosts: [`127.0.0.1:${upstream.port}`] });
  expect(p.status, p.text).toBe(201);
  return { agent, token: p.json.auth_token as string, secret };
}

/** The runner's side: POST the proxy URL it was given, with only its grant. */
async function viaGrant(call: ReceivedCall, path = '/items', grant = call.body.grant as string) {
  const res = await fetch(call.body.proxy_url, {
    method: 'POST',
    headers: { authorization: `Bearer ${grant}`, 'content-type': 'application/json' },
    body: JSON.stringify({ method: 'GET', url: `${upstream.url}${path}` }),
  });
  return { status: res.status, json: (await res.json()) as any };
}

const runSync = (agent: string, token: string, parameters: Record<string, unknown> = {}) =>
  vault.call('POST', '/run_agent', { agent_id: agent, auth_token: token, parameters, run_async: false });

describe('run grants (credential_delivery "proxy")', () => {
  it('gives the runner no secret, only a grant and the proxy URL, and the grant works during the run', async () => {
    const { agent, token, secret } = await proxyAgent();
    let seen: ReceivedCall | undefined;
    during = async (call) => {
      seen = call;
      const r = await viaGrant(call);
      return { proxy_status: r.status, upstream_status: r.json.status };
    };

    const run = await runSync(agent, token, { query: 'q' });

    expect(run.status, run.text).toBe(200);
    expect(run.json.agent_output).toEqual({ proxy_status: 200, upstream_status: 200 });
    expect(upstream.seen.at(-1)?.headers.authorization).toBe(`Bearer ${secret}`);
    expect(seen?.rawBody).not.toContain(secret);
    expect(seen?.body.parameters).toEqual({ query: 'q' });
    expect(seen?.body.grant).toMatch(/^avg_[A-Za-z0-9_-]{70}$/);
    expect(seen?.body.proxy_url).toBe(`${vault.url}/v1/proxy`);
    expect(Date.parse(seen?.body.grant_expires_at)).toBeGreaterThan(Date.now());
    expect(vault.logs.join('\n')).not.toContain(seen?.body.grant);
  });

  it('refuses the grant once its run has ended, with the same answer as a forged one', async () => {
    const { agent, token } = await proxyAgent();
    let grant = '';
    during = async (call) => {
      grant = call.body.grant;
      return {};
    };
    await runSync(agent, token);

    const ended = await viaGrant({ body: { proxy_url: `${vault.url}/v1/proxy` } } as ReceivedCall, '/x', grant);
    const forgedGrant = `avg_${formatToken(randomBytes(16), randomBytes(32)).slice(4)}`;
    const forged = await viaGrant({ body: { proxy_url: `${vault.url}/v1/proxy` } } as ReceivedCall, '/x', forgedGrant);

    expect(ended.status).toBe(401);
    expect(ended.json.error.code).toBe('invalid_grant');
    expect(forged).toEqual(ended);
  });

  it('kills the grant when the profile is replaced or deleted during the run', async () => {
    for (const change of ['replace', 'delete'] as const) {
      const { agent, token } = await proxyAgent();
      during = async (call) => {
        const before = await viaGrant(call);
        if (change === 'replace') {
          await vault.call('PUT', `/v1/agents/${agent}/auth-profiles/p`, { auth_type: 'bearer', auth_data: { token: canary('new') }, allowed_hosts: [`127.0.0.1:${upstream.port}`] });
        } else {
          // A profile in use by a run needs ?force=true to be deleted.
          expect((await vault.call('DELETE', `/v1/agents/${agent}/auth-profiles/p?force=true`)).status).toBe(204);
        }
        const after = await viaGrant(call);
        return { before: before.status, after: after.status, code: after.json.error?.code };
      };

      const run = await runSync(agent, token);

      expect(run.json.agent_output, change).toEqual({ before: 200, after: 401, code: 'invalid_grant' });
    }
  });

  it('works for an async run too (the proxy URL travels with the job)', async () => {
    const { agent, token } = await proxyAgent();
    during = async (call) => ({ proxy_status: (await viaGrant(call)).status });

    const started = await vault.call('POST', '/run_agent', { agent_id: agent, auth_token: token, parameters: {}, run_async: true });
    expect(started.status, started.text).toBe(200);
    let status: any;
    for (let i = 0; i < 100; i++) {
      status = (await vault.call('GET', `/v1/runs/${started.json.session_id}`)).json;
      if (status.status === 'succeeded' || status.status === 'failed') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(status).toMatchObject({ status: 'succeeded', agent_output: { proxy_status: 200 } });
  });

  it('answers a malformed grant with 400 before any read', async () => {
    const res = await vault.call('POST', '/v1/proxy', { method: 'GET', url: `${upstream.url}/` }, { apiKey: null, headers: { authorization: 'Bearer avg_short' } });
    expect([res.status, res.json.error.code]).toEqual([400, 'invalid_grant_format']);
  });

  it('refuses to run a custom profile through the proxy (400 not_injectable), and parameters delivery is unchanged', async () => {
    const agent = `grant-e2e-custom-${randomBytes(3).toString('hex')}`;
    await vault.call('POST', '/v1/agents', { agent_id: agent, name: 'c', input_args: [{ name: 'password' }], runner: { type: 'webhook', url: runner.url }, credential_delivery: 'proxy' });
    const p = await vault.call('POST', '/api/create_agent_auth_profile', { name: 'c', agent_id: agent, auth_data: { password: 'pw-123456' } });
    const refused = await runSync(agent, p.json.auth_token);
    expect([refused.status, refused.json.error.code]).toEqual([400, 'not_injectable']);

    const classic = await proxyAgent('parameters');
    let seen: ReceivedCall | undefined;
    during = async (call) => {
      seen = call;
      return {};
    };
    await runSync(classic.agent, classic.token);
    expect(seen?.body.parameters.token).toBe(classic.secret);
    expect(seen?.body.grant).toBeUndefined();
  });
});
