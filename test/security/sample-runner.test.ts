import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { type IncomingMessage, type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SIGNATURE_HEADER, signPayload } from '#shared/runs/signature';
import { freePort } from '#test/support/net';

const TSX = 'node_modules/.bin/tsx';
const SECRET = 'avs_sample-runner-test';

let runner: ChildProcess;
let port: number;
let stdout = '';
let stderr = '';

/** A stand-in for the vault's POST /v1/proxy: records what the runner sent, answers as `proxyAnswer` says. */
let proxy: Server;
let proxyUrl: string;
const proxied: { headers: IncomingMessage['headers']; body: string }[] = [];
let proxyAnswer: { status: number; body: unknown } = { status: 200, body: {} };

beforeAll(async () => {
  proxy = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    proxied.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
    res.writeHead(proxyAnswer.status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(proxyAnswer.body));
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/v1/proxy`;
  port = await freePort();
  runner = spawn(TSX, ['infra/local/sample-runner.ts'], {
    env: { ...process.env, RUNNER_SIGNING_SECRET: SECRET, RUNNER_PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  runner.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  runner.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  for (let i = 0; i < 150 && !stdout.includes('listening'); i++) await new Promise((r) => setTimeout(r, 100));
  expect(stdout).toContain('listening');
}, 30_000);

afterAll(async () => {
  runner?.kill();
  await new Promise<void>((r) => (proxy ? proxy.close(() => r()) : r()));
});

/** POSTs a signed run payload to the sample runner, as the vault does. */
async function signedRun(payload: Record<string, unknown>) {
  const body = JSON.stringify({ session_id: 's-1', agent_id: 'crm-bot', session: null, ...payload });
  const res = await fetch(`http://127.0.0.1:${port}/run`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signPayload(SECRET, body, Math.floor(Date.now() / 1000)) },
    body,
  });
  return { status: res.status, json: (await res.json()) as any };
}

const newGrant = () => `avg_${randomBytes(52).toString('base64url').slice(0, 70)}`;

describe('the sample runner', () => {
  it('answers with field names only: no hash or fingerprint of the credential values', async () => {
    const parameters = { password: '1234', username: 'bob' };
    const body = JSON.stringify({ session_id: 's-1', agent_id: 'crm-bot', parameters, session: null });
    const res = await fetch(`http://127.0.0.1:${port}/run`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signPayload(SECRET, body, Math.floor(Date.now() / 1000)) },
      body,
    });
    const answer = (await res.json()) as { output: Record<string, unknown> };

    expect(res.status).toBe(200);
    expect(answer.output).toEqual({ received_fields: ['password', 'username'], runs: 1 });
    // A short hash of weak values is enough to test guesses offline: nothing hex-like anywhere.
    const hash = createHash('sha256')
      .update(
        JSON.stringify([
          ['password', '1234'],
          ['username', 'bob'],
        ]),
      )
      .digest('hex');
    for (const text of [JSON.stringify(answer), stdout]) {
      expect(text).not.toContain(hash.slice(0, 8));
      expect(text).not.toMatch(/[0-9a-f]{10,}/);
    }
  });

  it('with a grant (credential_delivery "proxy"), makes its call through the vault proxy with the grant and answers with the redacted result', async () => {
    const grant = newGrant();
    proxyAnswer = { status: 200, body: { status: 201, headers: {}, body: '{"saw":"[REDACTED]"}', body_encoding: 'utf8' } };
    proxied.length = 0;

    const res = await signedRun({
      parameters: { url: 'http://127.0.0.1:9/v1/items', method: 'post' },
      grant,
      grant_expires_at: new Date().toISOString(),
      proxy_url: proxyUrl,
    });

    expect(res.status).toBe(200);
    expect(proxied).toHaveLength(1);
    expect(proxied[0]?.headers.authorization).toBe(`Bearer ${grant}`);
    expect(JSON.parse(proxied[0]?.body ?? '')).toEqual({ method: 'post', url: 'http://127.0.0.1:9/v1/items' });
    expect(res.json).toEqual({
      output: { delivery: 'proxy', upstream_status: 201, upstream_body: '{"saw":"[REDACTED]"}', body_encoding: 'utf8', runs: 1 },
      session: { runs: 1 },
    });
    // The grant is a capability: it goes to the proxy and nowhere else.
    expect(JSON.stringify(res.json) + stdout + stderr).not.toContain(grant);
    expect(stdout).toMatch(/proxy delivery, POST 127\.0\.0\.1:9 → upstream 201/);
  });

  it('with a grant but no parameters.url, fails the run with a message that says what to pass, and calls nothing', async () => {
    proxied.length = 0;

    const res = await signedRun({ parameters: {}, grant: newGrant(), proxy_url: proxyUrl });

    expect(res.json.error).toMatch(/pass the URL to call as parameters\.url/);
    expect(proxied).toHaveLength(0);
  });

  it("with a grant the vault refuses, fails the run with the vault's error code and status", async () => {
    proxyAnswer = { status: 403, body: { error: { code: 'host_not_allowed', message: 'host 127.0.0.1:9 is not in allowed_hosts' } } };

    const res = await signedRun({ parameters: { url: 'http://127.0.0.1:9/' }, grant: newGrant(), proxy_url: proxyUrl });

    expect(res.json.error).toBe('the vault proxy refused the call: host_not_allowed (HTTP 403): host 127.0.0.1:9 is not in allowed_hosts');
    expect(res.json.output).toBeUndefined();
  });

  it("answers a GET (the README's wait loop) with 200 and logs no rejected request; an unsigned POST is still refused and logged", async () => {
    const before = stdout.length;

    const probe = await fetch(`http://127.0.0.1:${port}/run`);
    expect(probe.status).toBe(200);
    await new Promise((r) => setTimeout(r, 100));
    expect(stdout.slice(before)).not.toContain('rejected');

    const unsigned = await fetch(`http://127.0.0.1:${port}/run`, { method: 'POST', body: '{}' });
    expect(unsigned.status).toBe(401);
    for (let i = 0; i < 20 && !stdout.slice(before).includes('rejected'); i++) await new Promise((r) => setTimeout(r, 50));
    expect(stdout.slice(before)).toContain('rejected a request with a bad signature');
  });
});
