import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '#test/support/net';
import { type EchoUpstream, startEchoUpstream } from '#test/support/upstream';
import { type TestVault, startTestVault } from '#test/support/vault';

/**
 * `npm run sample-runner` (the real process) for an agent with credential_delivery "proxy",
 * against the local vault and a loopback upstream. Between the vault and the runner sits a
 * recording relay, so the test sees every byte the runner was given: the upstream receives the
 * injected credential, while the runner's input, output and logs never hold it.
 */

const TSX = 'node_modules/.bin/tsx';
let vault: TestVault;
let upstream: EchoUpstream;
let runner: ChildProcess | undefined;
let runnerLog = '';
let relay: Server;
let relayUrl: string;
/** Every request the vault sent to the runner, as the relay received it. */
const delivered: string[] = [];

beforeAll(async () => {
  [vault, upstream] = await Promise.all([startTestVault(), startEchoUpstream()]);
});

afterAll(async () => {
  runner?.kill();
  await new Promise<void>((r) => (relay ? relay.close(() => r()) : r()));
  await Promise.all([vault?.close(), upstream?.close()]);
});

/** Starts the sample runner with this signing secret and a relay in front of it that records what the vault sends. */
async function startSampleRunner(signingSecret: string): Promise<void> {
  const port = await freePort();
  runner = spawn(TSX, ['infra/local/sample-runner.ts'], {
    env: { ...process.env, RUNNER_SIGNING_SECRET: signingSecret, RUNNER_PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  runner.stdout?.on('data', (d: Buffer) => {
    runnerLog += d.toString();
  });
  runner.stderr?.on('data', (d: Buffer) => {
    runnerLog += d.toString();
  });
  for (let i = 0; i < 150 && !runnerLog.includes('listening'); i++) await new Promise((r) => setTimeout(r, 100));
  expect(runnerLog).toContain('listening');
  relay = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    delivered.push(body);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'host' && k !== 'content-length' && k !== 'connection') headers[k] = v;
    const answer = await fetch(`http://127.0.0.1:${port}/run`, { method: 'POST', headers, body });
    res.writeHead(answer.status, { 'content-type': 'application/json' });
    res.end(await answer.text());
  });
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', () => r()));
  relayUrl = `http://127.0.0.1:${(relay.address() as AddressInfo).port}/run`;
}

describe('the sample runner with credential_delivery "proxy"', () => {
  it('calls the upstream through the vault with its grant: the upstream gets the credential, the runner never has it', async () => {
    const agent = `sample-proxy-${randomBytes(3).toString('hex')}`;
    const credential = `sk-canary-${randomBytes(12).toString('hex')}`;
    // The agent is registered first (its signing secret starts the runner), then pointed at the relay.
    const created = await vault.call('POST', '/v1/agents', {
      agent_id: agent,
      name: 'Sample proxy bot',
      input_args: [{ name: 'url', required: true }],
      runner: { type: 'webhook', url: 'http://127.0.0.1:9/run' },
      credential_delivery: 'proxy',
    });
    expect(created.status, created.text).toBe(201);
    await startSampleRunner(created.json.runner_signing_secret);
    const moved = await vault.call('PUT', `/v1/agents/${agent}`, { name: 'Sample proxy bot', input_args: [{ name: 'url', required: true }], runner: { type: 'webhook', url: relayUrl }, credential_delivery: 'proxy' });
    expect(moved.status, moved.text).toBe(200);
    const profile = await vault.call('POST', `/v1/agents/${agent}/auth-profiles`, {
      name: 'crm-api',
      auth_type: 'bearer',
      auth_data: { token: credential },
      allowed_hosts: [`127.0.0.1:${upstream.port}`],
      allowed_methods: ['GET'],
    });
    expect(profile.status, profile.text).toBe(201);

    const run = await vault.call('POST', '/run_agent', { agent_id: agent, auth_token: profile.json.auth_token, parameters: { url: `${upstream.url}/v1/me` }, run_async: false });

    expect(run.status, run.text).toBe(200);
    expect(run.json.error_message).toBeUndefined();
    expect(run.json.agent_output).toMatchObject({ delivery: 'proxy', upstream_status: 200, body_encoding: 'utf8', runs: 1 });
    // The upstream received the injected credential…
    const seen = upstream.seen.at(-1);
    expect(seen?.path).toBe('/v1/me');
    expect(seen?.headers.authorization).toBe(`Bearer ${credential}`);
    // …and its echo of it came back to the runner redacted.
    expect(run.json.agent_output.upstream_body).toContain('[REDACTED]');
    // The runner was given a grant and the proxy URL, and nothing of the credential.
    expect(delivered).toHaveLength(1);
    const payload = JSON.parse(delivered[0] ?? '{}');
    expect(payload.grant).toMatch(/^avg_/);
    expect(payload.proxy_url).toBe(`${vault.url}/v1/proxy`);
    expect(payload.parameters).toEqual({ url: `${upstream.url}/v1/me` });
    for (const text of [delivered[0] ?? '', run.text, runnerLog]) expect(text).not.toContain(credential);
    // The grant went to the proxy only: never into the runner's output or log.
    expect(run.text + runnerLog).not.toContain(payload.grant);
    expect(runnerLog).toMatch(/proxy delivery, GET 127\.0\.0\.1:\d+ → upstream 200/);
  });
});
