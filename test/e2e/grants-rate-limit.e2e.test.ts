import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatToken, parseGrant } from '#shared/crypto/token';
import { sleep } from '#shared/sleep';
import { type ReceivedCall, startTestRunner } from '#test/support/runner';
import { type EchoUpstream, startEchoUpstream } from '#test/support/upstream';
import { type TestVault, startTestVault } from '#test/support/vault';

/**
 * A runner's grant calls to POST /v1/proxy count against the grant's tenant under
 * VAULT_TENANT_RATE_LIMIT, like the tenant's API-key calls: over HTTP, a grant call while the
 * tenant is over its limit gets 429 + Retry-After. A forged grant still hears what an unknown
 * grant hears (401 invalid_grant), over the limit or not, and spends nobody's budget.
 */

const LIMIT = 4;
let vault: TestVault;
let upstream: EchoUpstream;
let runner: Awaited<ReturnType<typeof startTestRunner>>;
let during: (call: ReceivedCall) => Promise<unknown> = async () => ({});

beforeAll(async () => {
  [vault, upstream, runner] = await Promise.all([
    startTestVault({ VAULT_TENANT_RATE_LIMIT: String(LIMIT) }),
    startEchoUpstream(),
    startTestRunner(async (call) => ({ body: { output: await during(call) } })),
  ]);
});

afterAll(async () => {
  await Promise.all([vault?.close(), upstream?.close(), runner?.close()]);
});

/** Waits until just after the next one-second window opens: a fresh budget for the tenant. */
const freshWindow = () => sleep(1000 - (Date.now() % 1000) + 30);
const second = () => Math.floor(Date.now() / 1000);

/** An API-key call for setup: waits out a 429 instead of failing on it. */
async function setupCall(method: string, path: string, body?: unknown) {
  for (;;) {
    const res = await vault.call(method, path, body);
    if (res.status !== 429) return res;
    await freshWindow();
  }
}

/** The runner's side: the proxy URL it was given, with only a grant. */
async function viaGrant(proxyUrl: string, grant: string) {
  const res = await fetch(proxyUrl, {
    method: 'POST',
    headers: { authorization: `Bearer ${grant}`, 'content-type': 'application/json' },
    body: JSON.stringify({ method: 'GET', url: `${upstream.url}/items` }),
  });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), json: (await res.json()) as any };
}

describe('run grants under the tenant rate limit (HTTP)', () => {
  it("answer 429 when the grant's tenant is over its limit; forged grants answer 401 like unknown ones and spend nothing", async () => {
    const agent = `grant-rl-${randomBytes(3).toString('hex')}`;
    const secret = `canary-rl-${randomBytes(8).toString('hex')}`;
    expect((await setupCall('POST', '/v1/agents', { agent_id: agent, name: 'rl', input_args: [], runner: { type: 'webhook', url: runner.url }, credential_delivery: 'proxy' })).status).toBe(201);
    const p = await setupCall('POST', `/v1/agents/${agent}/auth-profiles`, { name: 'p', auth_type: 'bearer', auth_data: { token: secret }, allowed_hosts: [`127.0.0.1:${upstream.port}`] });
    expect(p.status, p.text).toBe(201);

    let over: { grant: Awaited<ReturnType<typeof viaGrant>>; forged: Awaited<ReturnType<typeof viaGrant>>; unknown: Awaited<ReturnType<typeof viaGrant>> } | undefined;
    let forgedFlood: number[] = [];
    let afterFlood: number[] = [];
    during = async (call) => {
      const grant = call.body.grant as string;
      const forged = `avg_${formatToken(parseGrant(grant).id, randomBytes(32)).slice(4)}`;
      const unknown = `avg_${formatToken(randomBytes(16), randomBytes(32)).slice(4)}`;
      // Fill the tenant's window with API-key calls, then call with the grant in that same window
      // (retried if a window boundary fell in between: the machine may be loaded).
      for (let attempt = 0; attempt < 5 && over === undefined; attempt++) {
        await freshWindow();
        const start = second();
        const flood = await Promise.all(Array.from({ length: LIMIT + 2 }, () => vault.call('GET', '/v1/agents')));
        const result = { grant: await viaGrant(call.body.proxy_url, grant), forged: await viaGrant(call.body.proxy_url, forged), unknown: await viaGrant(call.body.proxy_url, unknown) };
        if (second() === start && flood.some((r) => r.status === 429)) over = result;
      }
      // A fresh window flooded with forged grants leaves the tenant's whole budget to the real one.
      await freshWindow();
      const start = second();
      forgedFlood = (await Promise.all(Array.from({ length: LIMIT * 2 }, () => viaGrant(call.body.proxy_url, forged)))).map((r) => r.status);
      afterFlood = [];
      for (let i = 0; i < LIMIT; i++) afterFlood.push((await viaGrant(call.body.proxy_url, grant)).status);
      return { same_window: second() === start };
    };

    const run = await setupCall('POST', '/run_agent', { agent_id: agent, auth_token: p.json.auth_token, parameters: {}, run_async: false });

    expect(run.status, run.text).toBe(200);
    expect(over, 'no attempt fitted in one window').toBeDefined();
    expect(over?.grant.status).toBe(429);
    expect(over?.grant.retryAfter).toBe('1');
    expect(over?.grant.json.error).toMatchObject({ code: 'too_many_requests', message: expect.stringMatching(/4 requests per second/) });
    expect(over?.forged.status).toBe(401);
    expect(over?.forged).toEqual(over?.unknown);
    expect(over?.forged.json.error.code).toBe('invalid_grant');
    expect(forgedFlood).toEqual(Array(LIMIT * 2).fill(401));
    if (run.json.agent_output.same_window) expect(afterFlood).toEqual(Array(LIMIT).fill(200));
    else expect(afterFlood).toContain(200);
    expect(upstream.seen.at(-1)?.headers.authorization).toBe(`Bearer ${secret}`);
  }, 60_000);
});
