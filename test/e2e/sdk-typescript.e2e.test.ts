import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  OPERATIONS,
  type RetryInfo,
  RunFailure,
  VaultClient,
  VaultConnectionError,
  VaultError,
  createRunnerHandler,
  nodeRunnerListener,
  signWebhook,
  verifyWebhookSignature,
} from '../../clients/typescript/src/index.ts';
import { generateSchema } from '../../clients/typescript/scripts/generate.ts';
import { buildOpenApi } from '#shared/schemas/openapi';
import { signPayload } from '#shared/runs/signature';
import { startEchoUpstream, type EchoUpstream } from '#test/support/upstream';
import { startTestVault, type TestVault } from '#test/support/vault';

let vault: TestVault;
let upstream: EchoUpstream;
let client: VaultClient;

/** The vault's tenant rate limit (requests per second): the default client retries the 429s it causes. */
const RATE_LIMIT = 8;

beforeAll(async () => {
  [vault, upstream] = await Promise.all([startTestVault({ VAULT_TENANT_RATE_LIMIT: String(RATE_LIMIT) }), startEchoUpstream()]);
  client = new VaultClient({ baseUrl: vault.url, apiKey: vault.apiKey });
});

afterAll(async () => {
  await Promise.all([vault?.close(), upstream?.close()]);
});

let seq = 0;
const agentId = (label: string) => `sdk-${label}-${++seq}-${randomBytes(3).toString('hex')}`;
const agentBody = (agent_id: string, runnerUrl = 'http://127.0.0.1:9/run', credential_delivery: 'parameters' | 'proxy' = 'parameters') => ({
  agent_id,
  name: 'SDK bot',
  input_args: [
    { name: 'query', required: false, secret: false },
    { name: 'fail', required: false, secret: false },
  ],
  runner: { type: 'webhook' as const, url: runnerUrl },
  credential_delivery,
});

/** A loopback HTTP server answering each request with the next scripted answer; records arrival times. */
async function scripted(answers: Array<{ status: number; headers?: Record<string, string>; body?: unknown; hang?: boolean }>) {
  const seen: Array<{ method: string; url: string; at: number; authorization?: string }> = [];
  const server: Server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', at: Date.now(), authorization: req.headers.authorization });
    req.resume();
    const next = answers[Math.min(seen.length - 1, answers.length - 1)]!;
    if (next.hang) return;
    res.writeHead(next.status, { 'content-type': 'application/json', ...next.headers });
    res.end(next.body === undefined ? '' : JSON.stringify(next.body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

function exec(cmd: string, args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    execFile(cmd, args, { env: { ...process.env, ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr }),
    ),
  );
}

const busy = (code = 'too_many_requests', retryAfter = '0') => ({
  status: code === 'too_many_requests' ? 429 : 503,
  headers: { 'retry-after': retryAfter },
  body: { error: { code, message: 'busy; retry' } },
});
const okAgents = { status: 200, body: { agents: [] } };

describe('@agent-vault/client: generated types and the operation table', () => {
  it('the committed schema.d.ts is what openapi-typescript generates from the current document', () => {
    const committed = readFileSync(new URL('../../clients/typescript/src/schema.d.ts', import.meta.url), 'utf8');

    expect(
      generateSchema() === committed,
      'clients/typescript/src/schema.d.ts is stale: run `npm run generate -w @agent-vault/client`',
    ).toBe(true);
  });

  it('has a method named after every operationId of the document, at its method and path', () => {
    const doc = buildOpenApi();
    const fromDoc: Record<string, { method: string; path: string }> = {};
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item))
        fromDoc[(op as { operationId: string }).operationId] = { method: method.toUpperCase(), path };
    }

    expect(OPERATIONS).toEqual(fromDoc);
    for (const id of Object.keys(fromDoc)) expect(typeof (client as unknown as Record<string, unknown>)[id], id).toBe('function');
  });
});

describe('@agent-vault/client against the local vault', () => {
  it('runs an agent and profile lifecycle through the typed methods', async () => {
    const id = agentId('life');
    const created = await client.createAgent(agentBody(id));
    expect(created.runner_signing_secret).toMatch(/^avs_/);
    expect((await client.getAgent(id)).name).toBe('SDK bot');
    const { agent_id: _id, ...definition } = agentBody(id);
    expect((await client.updateAgent(id, { ...definition, name: 'Renamed' })).name).toBe('Renamed');
    expect((await client.rotateAgentSigningSecret(id)).runner_signing_secret).not.toBe(created.runner_signing_secret);

    const secret = `canary-${randomBytes(8).toString('hex')}`;
    const profile = await client.createAuthProfile(id, {
      name: 'p',
      auth_type: 'bearer',
      auth_data: { token: secret },
      allowed_hosts: [`127.0.0.1:${upstream.port}`],
    });
    expect(profile.auth_token).toMatch(/^avt_/);
    expect((await client.getAgentAuthProfile(id, 'p')).auth_type).toBe('bearer');
    expect((await client.patchAuthProfile(id, 'p', { description: 'sdk' })).description).toBe('sdk');

    const proxied = await client.proxyRequest({
      agent_id: id,
      auth_token: profile.auth_token,
      method: 'GET',
      url: `${upstream.url}/items`,
    });
    expect(proxied.status).toBe(200);
    expect(upstream.seen.at(-1)?.headers.authorization).toBe(`Bearer ${secret}`);
    expect(proxied.body).not.toContain(secret);
    const tested = await client.testAuthProfile(id, 'p', { auth_token: profile.auth_token, request: { url: `${upstream.url}/ping` } });
    expect(tested.ok).toBe(true);
    const rotated = await client.rotateAuthProfile(id, 'p', { auth_token: profile.auth_token });
    expect(rotated.generation).toBe(2);
    expect((await client.getAuthProfileUsage(id, 'p')).use_count).toBe(2);

    const member = await client.createApiKey({ name: 'sdk member', role: 'member' });
    expect((await client.shareAuthProfile(id, 'p', { principal: member.key_id, permission: 'read' })).visibility).toBe('shared');
    expect((await client.unshareAuthProfile(id, 'p', member.key_id)).visibility).toBe('private');
    expect((await client.listApiKeys()).api_keys.map((k) => k.key_id)).toContain(member.key_id);
    await client.revokeApiKey(member.key_id);

    const put = await client.putAuthProfile(id, 'q', { auth_type: 'bearer', auth_data: { token: 'x'.repeat(20) } });
    expect(put.type).toBe('create');
    const compat = await client.createAgentAuthProfile({ name: 'c', agent_id: id, auth_data: { query: 'v' } });
    expect(
      (await client.upsertAgentAuthProfile({ agent_id: id, name: 'c', auth_data: { query: 'w' }, auth_token: compat.auth_token })).type,
    ).toBe('update');
    expect((await client.listAgentAuthProfiles(id)).profiles.map((p) => p.name).sort()).toEqual(['c', 'p', 'q']);
    expect(await client.deleteAgentAuthProfile(id, 'q', { force: true })).toBeUndefined();
    expect(await client.deleteAgent(id, { force: true })).toBeUndefined();
    expect((await client.getHealth()).status).toBe('ok');
    expect(((await client.getOpenApiDocument()) as { openapi: string }).openapi).toBe('3.1.0');
  });

  it('throws VaultError with the status, the code, the message and the request id, never the API key', async () => {
    const err = await client.getAgent('no-such-agent').catch((e: unknown) => e);

    expect(err).toBeInstanceOf(VaultError);
    const e = err as VaultError;
    expect([e.status, e.code, e.operation]).toEqual([404, 'agent_not_found', 'getAgent']);
    expect(e.message).toMatch(/no-such-agent|agent/i);
    expect(e.requestId).toMatch(/^[0-9a-f-]{36}$/);

    const badKey = `avk_${randomBytes(32).toString('base64url')}`;
    const unauth = (await new VaultClient({ baseUrl: vault.url, apiKey: badKey }).listAgents().catch((x: unknown) => x)) as VaultError;
    expect([unauth.status, unauth.code]).toEqual([401, 'unauthorized']);
    expect(`${unauth.message} ${unauth.stack} ${JSON.stringify(unauth)}`).not.toContain(badKey);
    expect(JSON.stringify(new VaultClient({ baseUrl: vault.url, apiKey: badKey }))).not.toContain(badKey);
  });

  it('carries unknown_fields and the other details of an error object', async () => {
    const e = (await client.createAgent({ ...agentBody(agentId('typo')), input_arg: [] } as never).catch((x: unknown) => x)) as VaultError;

    expect([e.status, e.code]).toEqual([400, 'unknown_field']);
    expect(e.unknownFields?.[0]).toMatchObject({ field: 'input_arg', suggestion: 'input_args' });
  });

  it('pages through a list with an async iterator following next_cursor', async () => {
    const prefix = agentId('page');
    for (let i = 0; i < 7; i++) await client.createAgent(agentBody(`${prefix}-${i}`));
    const pageSizes: number[] = [];
    const counting = new VaultClient({
      baseUrl: vault.url,
      apiKey: vault.apiKey,
      fetch: async (input, init) => {
        const res = await fetch(input, init);
        // A 429 of the file's tenant rate limit is retried by the client; only pages count.
        if (res.ok) pageSizes.push(((await res.clone().json()) as { agents: unknown[] }).agents.length);
        return res;
      },
    });

    const ids: string[] = [];
    for await (const a of counting.iterateAgents({ limit: 3 })) if (a.agent_id.startsWith(prefix)) ids.push(a.agent_id);

    expect(ids.sort()).toEqual(Array.from({ length: 7 }, (_, i) => `${prefix}-${i}`));
    expect(pageSizes.length).toBeGreaterThanOrEqual(3);
    expect(pageSizes.every((n) => n <= 3)).toBe(true);
    const audit: string[] = [];
    for await (const r of client.iterateAuditRecords({ limit: 2 })) {
      audit.push(r.id);
      if (audit.length === 5) break;
    }
    expect(new Set(audit).size).toBe(5);
  });

  it('retries the 429s of the tenant rate limit and every call succeeds', async () => {
    const retries: RetryInfo[] = [];
    const c = new VaultClient({ baseUrl: vault.url, apiKey: vault.apiKey, retry: { maxRetries: 6 }, onRetry: (i) => retries.push(i) });

    const results = await Promise.all(Array.from({ length: 3 * RATE_LIMIT }, () => c.listAgents({ limit: 1 })));

    expect(results.every((r) => Array.isArray(r.agents))).toBe(true);
    expect(retries.length).toBeGreaterThan(0);
    expect(retries.every((r) => r.status === 429 && r.code === 'too_many_requests' && r.retryAfterSeconds === 1)).toBe(true);
  });
});

describe("the README's SDK quick start", () => {
  it('runs as written against a vault with the walk-through agent', async () => {
    const readme = readFileSync('README.md', 'utf8');
    const section = readme.slice(readme.indexOf('## TypeScript SDK and CLI'));
    const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1] as string;
    expect(block.split('\n').length).toBeLessThanOrEqual(15);
    const runner = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ output: { ran: true } }));
    });
    await new Promise<void>((r) => runner.listen(0, '127.0.0.1', () => r()));
    try {
      await client.deleteAgent('crm-bot', { force: true }).catch(() => undefined);
      await client.createAgent({
        agent_id: 'crm-bot',
        name: 'CRM bot',
        input_args: ['username', 'password', 'query'].map((name) => ({ name, required: name !== 'query', secret: true })),
        runner: { type: 'webhook', url: `http://127.0.0.1:${(runner.address() as AddressInfo).port}/run` },
      });
      const dir = mkdtempSync(join(tmpdir(), 'agent-vault-readme-'));
      const file = join(dir, 'quick-start.mts');
      const index = fileURLToPath(new URL('../../clients/typescript/src/index.ts', import.meta.url));
      writeFileSync(file, block.replace("'@agent-vault/client'", JSON.stringify(index)).replace('http://127.0.0.1:3000', vault.url));

      // It typechecks with the package's TypeScript 5 against the generated types, as a user's project would…
      const pkg = fileURLToPath(new URL('../../clients/typescript/', import.meta.url));
      writeFileSync(join(dir, 'readme.mts'), block);
      writeFileSync(
        join(dir, 'tsconfig.json'),
        JSON.stringify({
          extends: join(pkg, 'tsconfig.json'),
          compilerOptions: { paths: { '@agent-vault/client': [index] } },
          files: [join(dir, 'readme.mts')],
          include: [],
        }),
      );
      const typecheck = await exec(process.execPath, [
        join(pkg, 'node_modules', 'typescript', 'bin', 'tsc'),
        '--noEmit',
        '-p',
        join(dir, 'tsconfig.json'),
      ]);
      expect(typecheck.code, typecheck.stdout).toBe(0);

      // …and runs as written.
      const out = await exec(process.execPath, ['--import', 'tsx', file], { KEY: vault.apiKey });

      expect(out.code, out.stderr).toBe(0);
      expect(out.stdout).toContain('{ ran: true }');
      expect(out.stdout).toMatch(/^crm-bot http:\/\/127\.0\.0\.1:\d+\/run$/m);
      expect(out.stdout).toMatch(/^404 agent_not_found [0-9a-f-]{36}$/m);
    } finally {
      await client.deleteAgent('crm-bot', { force: true }).catch(() => undefined);
      await new Promise<void>((r) => runner.close(() => r()));
    }
  });
});

describe('@agent-vault/client retries (a loopback server answering 429/503)', () => {
  it('waits at least Retry-After, with jitter, before retrying a 429', async () => {
    const server = await scripted([busy('too_many_requests', '1'), okAgents]);
    const retries: RetryInfo[] = [];
    try {
      const c = new VaultClient({ baseUrl: server.url, apiKey: 'avk_test', onRetry: (i) => retries.push(i) });

      expect(await c.listAgents()).toEqual({ agents: [] });

      expect(server.seen).toHaveLength(2);
      expect(server.seen[1]!.at - server.seen[0]!.at).toBeGreaterThanOrEqual(995);
      expect(retries).toHaveLength(1);
      expect(retries[0]).toMatchObject({ operation: 'listAgents', attempt: 1, status: 429, retryAfterSeconds: 1 });
      expect(retries[0]!.delayMs).toBeGreaterThanOrEqual(1000);
      expect(retries[0]!.delayMs).toBeLessThanOrEqual(1200);
    } finally {
      await server.close();
    }
  });

  it('reads Retry-After as an HTTP date too', async () => {
    const server = await scripted([busy('service_unavailable', new Date(Date.now() + 2000).toUTCString()), okAgents]);
    const retries: RetryInfo[] = [];
    try {
      await new VaultClient({ baseUrl: server.url, onRetry: (i) => retries.push(i) }).listAgents();

      expect(retries[0]!.retryAfterSeconds).toBeGreaterThanOrEqual(1);
      expect(retries[0]!.retryAfterSeconds).toBeLessThanOrEqual(3);
    } finally {
      await server.close();
    }
  });

  it('retries a POST on 429 (refused before any work) but not on 503, unless the call says it is idempotent', async () => {
    const server = await scripted([busy('too_many_requests'), busy('service_unavailable'), { status: 201, body: { ok: 1 } }]);
    try {
      const c = new VaultClient({ baseUrl: server.url });

      const e = (await c.createApiKey({ name: 'x', role: 'member' }).catch((x: unknown) => x)) as VaultError;

      expect(server.seen.map((s) => s.method)).toEqual(['POST', 'POST']);
      expect([e.status, e.code, e.retryAfterSeconds]).toEqual([503, 'service_unavailable', 0]);
      server.seen.length = 0;
      expect(await c.createApiKey({ name: 'x', role: 'member' }, { idempotent: true })).toEqual({ ok: 1 });
    } finally {
      await server.close();
    }
  });

  it('retries a 503 of a GET, and stops after maxRetries', async () => {
    const server = await scripted([busy('service_unavailable')]);
    try {
      const e = (await new VaultClient({ baseUrl: server.url, retry: { maxRetries: 3 } })
        .getRun('s-1')
        .catch((x: unknown) => x)) as VaultError;

      expect(e).toBeInstanceOf(VaultError);
      expect(e.status).toBe(503);
      expect(server.seen).toHaveLength(4);
      expect(server.seen[0]!.url).toBe('/v1/runs/s-1');
    } finally {
      await server.close();
    }
  });

  it('does not wait for a Retry-After beyond maxDelayMs, nor retry with retry: false', async () => {
    const server = await scripted([busy('too_many_requests', '120')]);
    try {
      const e = (await new VaultClient({ baseUrl: server.url }).listAgents().catch((x: unknown) => x)) as VaultError;
      expect([e.status, e.retryAfterSeconds]).toEqual([429, 120]);
      expect(server.seen).toHaveLength(1);

      await new VaultClient({ baseUrl: server.url, retry: false }).listAgents({}, { retry: false }).catch(() => undefined);
      expect(server.seen).toHaveLength(2);
    } finally {
      await server.close();
    }
  });

  it('times out an attempt with VaultConnectionError(timeout), and honours the caller AbortSignal', async () => {
    const server = await scripted([{ status: 200, hang: true }]);
    try {
      const c = new VaultClient({ baseUrl: server.url, timeoutMs: 150 });
      const t = (await c.getHealth().catch((x: unknown) => x)) as VaultConnectionError;
      expect(t).toBeInstanceOf(VaultConnectionError);
      expect(t.kind).toBe('timeout');
      expect(t.message).toMatch(/within 150 ms/);

      const controller = new AbortController();
      const pending = c.getHealth({ signal: controller.signal, timeoutMs: 10_000 }).catch((x: unknown) => x);
      controller.abort();
      expect(((await pending) as VaultConnectionError).kind).toBe('aborted');
    } finally {
      await server.close();
    }
  });

  it('names an unreachable vault as a network failure', async () => {
    const server = await scripted([okAgents]);
    const url = server.url;
    await server.close();

    const e = (await new VaultClient({ baseUrl: url, apiKey: 'avk_secret_value' })
      .listAgents()
      .catch((x: unknown) => x)) as VaultConnectionError;

    expect(e.kind).toBe('network');
    expect(e.message).toContain(`is the vault running at ${url}`);
    expect(e.message).not.toContain('avk_secret_value');
  });
});

describe('runner helpers', () => {
  const secret = `avs_${randomBytes(24).toString('base64url')}`;
  const body = JSON.stringify({ session_id: 's', agent_id: 'a', parameters: { q: 1 }, session: null });
  const now = Math.floor(Date.now() / 1000);

  it('accepts the signature the vault makes (shared/runs/signature.ts) and makes the same one', async () => {
    const header = signPayload(secret, body, now);

    expect(await verifyWebhookSignature(secret, body, header, { nowSeconds: now })).toBe(true);
    expect(await signWebhook(secret, body, now)).toBe(header);
    expect(await verifyWebhookSignature(['avs_old', secret], new TextEncoder().encode(body), header, { nowSeconds: now })).toBe(true);
  });

  it('refuses a tampered body, a tampered or foreign signature, a stale or future timestamp, and malformed headers', async () => {
    const header = signPayload(secret, body, now);
    const mac = header.split('v1=')[1]!;
    const flipped = `t=${now},v1=${mac.slice(0, -1)}${mac.endsWith('0') ? '1' : '0'}`;

    expect(await verifyWebhookSignature(secret, body.replace('"q":1', '"q":2'), header, { nowSeconds: now })).toBe(false);
    expect(await verifyWebhookSignature(secret, body, flipped, { nowSeconds: now })).toBe(false);
    expect(await verifyWebhookSignature('avs_other', body, header, { nowSeconds: now })).toBe(false);
    expect(await verifyWebhookSignature(secret, body, signPayload(secret, body, now - 301), { nowSeconds: now })).toBe(false);
    expect(await verifyWebhookSignature(secret, body, signPayload(secret, body, now + 301), { nowSeconds: now })).toBe(false);
    expect(await verifyWebhookSignature(secret, body, signPayload(secret, body, now - 299), { nowSeconds: now })).toBe(true);
    for (const bad of [undefined, '', `v1=${mac}`, `t=${now}`, `t=${now},v1=${mac.toUpperCase()}`, `t=abc,v1=${mac}`]) {
      expect(await verifyWebhookSignature(secret, body, bad, { nowSeconds: now }), String(bad)).toBe(false);
    }
  });

  it('createRunnerHandler answers fetch-style Requests: 401 unsigned, 200 with the answer, 500 without the message of a crash', async () => {
    const errors: unknown[] = [];
    const handler = createRunnerHandler({
      signingSecret: ['avs_old', secret],
      onError: (e) => errors.push(e),
      async handle({ run, proxy }) {
        if (run.parameters.q === 2) return proxy({ method: 'GET', url: 'http://127.0.0.1:9/' }).then(() => ({}));
        return { output: { seen: run.parameters }, session: { n: 1 } };
      },
    });
    const post = async (raw: string, signature?: string) => {
      const res = await handler(
        new Request('http://runner.local/run', {
          method: 'POST',
          body: raw,
          headers: signature ? { 'x-agent-vault-signature': signature } : {},
        }),
      );
      return { status: res.status, json: (await res.json()) as Record<string, unknown> };
    };

    expect(await post(body)).toEqual({ status: 401, json: { error: 'invalid or missing X-Agent-Vault-Signature' } });
    expect(await post(body, await signWebhook(secret, body))).toEqual({
      status: 200,
      json: { output: { seen: { q: 1 } }, session: { n: 1 } },
    });
    const noGrant = body.replace('"q":1', '"q":2');
    const crashed = await post(noGrant, await signWebhook(secret, noGrant));
    expect(crashed).toEqual({ status: 500, json: { error: 'runner handler failed' } });
    expect(String(errors[0])).toMatch(/carries no grant/);
  });

  it('verifies, handles and answers a real run, proxying through the vault with the run grant', async () => {
    let handled = 0;
    const errors: unknown[] = [];
    let listener: ReturnType<typeof nodeRunnerListener> = (_req, res) => res.end();
    const runner = createServer((req, res) => listener(req, res));
    await new Promise<void>((r) => runner.listen(0, '127.0.0.1', () => r()));
    const runnerUrl = `http://127.0.0.1:${(runner.address() as AddressInfo).port}/run`;
    const id = agentId('runner');
    const signingSecret = (await client.createAgent(agentBody(id, runnerUrl, 'proxy'))).runner_signing_secret;
    listener = nodeRunnerListener({
      signingSecret,
      onError: (e) => errors.push(e),
      async handle({ run, proxy }) {
        handled++;
        if (run.parameters.fail === 'run') throw new RunFailure('the CRM said no');
        if (run.parameters.fail === 'crash') throw new Error(`boom with ${run.grant}`);
        const answer = await proxy({ method: 'GET', url: `${upstream.url}/crm/contacts` });
        return { output: { upstream_status: answer.status, saw_grant: typeof run.grant === 'string' }, session: { runs: 1 } };
      },
    });
    try {
      const token = `canary-${randomBytes(8).toString('hex')}`;
      const p = await client.createAuthProfile(id, {
        name: 'crm',
        auth_type: 'bearer',
        auth_data: { token },
        allowed_hosts: [`127.0.0.1:${upstream.port}`],
      });

      const run = await client.runAgent({ agent_id: id, auth_token: p.auth_token, parameters: { query: 'x' }, run_async: false });

      expect(run.error_message).toBeUndefined();
      expect(run.agent_output).toEqual({ upstream_status: 200, saw_grant: true });
      expect(upstream.seen.at(-1)).toMatchObject({ path: '/crm/contacts' });
      expect(upstream.seen.at(-1)?.headers.authorization).toBe(`Bearer ${token}`);
      expect((await client.getRun(run.session_id)).status).toBe('succeeded');

      const failed = await client.runAgentAlias({ agent_id: id, auth_token: p.auth_token, parameters: { fail: 'run' }, run_async: false });
      expect(failed.error_message).toBe('the CRM said no');
      const crashed = await client.runAgent({ agent_id: id, auth_token: p.auth_token, parameters: { fail: 'crash' }, run_async: false });
      expect(crashed.error_message).toMatch(/HTTP 500/);
      expect(errors).toHaveLength(1);

      const before = handled;
      const forged = await fetch(runnerUrl, {
        method: 'POST',
        headers: { 'x-agent-vault-signature': signPayload('avs_wrong', body, now) },
        body,
      });
      expect(forged.status).toBe(401);
      const unsigned = await fetch(runnerUrl, { method: 'POST', body });
      expect(unsigned.status).toBe(401);
      expect(handled).toBe(before);
    } finally {
      await new Promise<void>((r) => {
        runner.close(() => r());
        runner.closeAllConnections();
      });
    }
  });
});
