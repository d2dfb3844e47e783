/**
 * Durability of the local server (`infra/local/server.ts` as its own process, persisted dynalite
 * under VAULT_DATA_DIR): a SIGKILL in the middle of a write load loses no acknowledged create and
 * leaves nothing half-written.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createDb } from '#shared/clients';
import { ProfileItem } from '#shared/schemas/items';
import { startEmbeddedDynamo } from '#infra/local/embedded-dynamo';
import { newApiKey } from '#test/support/vault';
import { LONG, freePort, pool, scanAll } from './helpers.ts';

const TARGET_ACKED = LONG ? 400 : 60;
const MAX_CREATES = LONG ? 2_000 : 300;
const CONCURRENCY = 8;
const REQUEST_TIMEOUT_MS = 10_000;

interface ServerProcess {
  readonly url: string;
  readonly child: ChildProcess;
  output(): string;
  /** Resolves when the process has exited. */
  readonly exited: Promise<number | null>;
}

const started: ChildProcess[] = [];

/** Starts `infra/local/server.ts` in its own Node process and waits for its "listening" line. */
async function startServer(env: Record<string, string>): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'infra/local/server.ts'], {
    cwd: process.cwd(),
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(child);
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start within 30 s:\n${output}`)), 30_000);
    const onData = (c: Buffer) => {
      output += c.toString();
      const m = /agent-vault listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1] as string);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (c: Buffer) => {
      output += c.toString();
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${output}`));
    });
  });
  return { url, child, output: () => output, exited };
}

async function stop(server: ServerProcess, signal: NodeJS.Signals): Promise<void> {
  if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill(signal);
  await server.exited;
}

async function call(base: string, apiKey: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${apiKey}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined, text };
}

afterAll(() => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

describe('the local server killed with SIGKILL during a write load', () => {
  it('keeps every acknowledged create usable and leaves every stored profile complete after a restart', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'agent-vault-durability-'));
    const apiKey = newApiKey();
    const env = { PORT: String(await freePort()), VAULT_DATA_DIR: dataDir, VAULT_BOOTSTRAP_API_KEY: apiKey, VAULT_BOOTSTRAP_TENANT: 'acme' };
    try {
      // Arrange: a server with one agent.
      const first = await startServer(env);
      const agent = await call(first.url, apiKey, 'POST', '/v1/agents', {
        agent_id: 'durable',
        name: 'Durable',
        input_args: [
          { name: 'username', required: true },
          { name: 'password', required: true, secret: true },
        ],
        runner: { type: 'webhook', url: 'http://127.0.0.1:9/run' },
      });
      expect(agent.status, agent.text).toBe(201);

      // Act: creates of distinct names; SIGKILL once enough were acknowledged, requests in flight.
      const acked = new Map<string, string>();
      let killed = false;
      let kill: Promise<void> | undefined;
      await pool(MAX_CREATES, CONCURRENCY, async (i) => {
        if (killed) return;
        const name = `p-${String(i).padStart(4, '0')}`;
        const res = await call(first.url, apiKey, 'POST', '/api/create_agent_auth_profile', {
          name,
          agent_id: 'durable',
          auth_data: { username: `user-${i}`, password: `pw-${i}` },
        }).catch(() => undefined);
        // A 200 that arrives after the kill was sent was still answered before the process died.
        if (res?.status === 200) acked.set(name, res.json.auth_token);
        if (!killed && acked.size >= TARGET_ACKED) {
          killed = true;
          kill = stop(first, 'SIGKILL');
        }
      });
      await (kill ?? stop(first, 'SIGKILL'));
      expect(killed, `the load ended before ${TARGET_ACKED} creates were acknowledged`).toBe(true);

      const second = await startServer(env);
      // Every acknowledged token still works: an in-place update with it succeeds.
      const updates = await pool([...acked].length, CONCURRENCY, async (j) => {
        const [name, token] = [...acked][j] as [string, string];
        const res = await call(second.url, apiKey, 'POST', '/api/upsert_agent_auth_profile', { agent_id: 'durable', auth_token: token, auth_data: { password: `pw2-${name}` } });
        return res.status === 200 && res.json.type === 'update' && res.json.name === name ? undefined : `${name}: ${res.status} ${res.text}`;
      });
      // Every listed profile is complete.
      const listed: { name: string; fields: string[]; generation: number; record_version: number }[] = [];
      let cursor: string | undefined;
      do {
        const page = await call(second.url, apiKey, 'GET', `/v1/agents/durable/auth-profiles?limit=100${cursor ? `&cursor=${cursor}` : ''}`);
        expect(page.status, page.text).toBe(200);
        listed.push(...page.json.profiles);
        cursor = page.json.next_cursor;
      } while (cursor);
      await stop(second, 'SIGTERM');

      // And every stored item parses as a whole profile.
      const embedded = await startEmbeddedDynamo(dataDir);
      const db = createDb({ dynamoEndpoint: embedded.endpoint, region: 'local', tableName: 'agent-vault' });
      const items = await scanAll(db).finally(async () => {
        db.client.destroy();
        await embedded.close();
      });

      // Assert
      expect(updates.filter(Boolean), 'acknowledged creates whose token no longer works').toEqual([]);
      const listedNames = new Set(listed.map((p) => p.name));
      expect([...acked.keys()].filter((n) => !listedNames.has(n)), 'acknowledged creates missing after the restart').toEqual([]);
      for (const p of listed) {
        expect(p.fields, p.name).toEqual(['password', 'username']);
        expect(p.generation, p.name).toBe(1);
        expect(p.record_version, p.name).toBe(acked.has(p.name) ? 2 : 1);
      }
      const profiles = items.filter((i) => i.entity === 'profile');
      expect(profiles).toHaveLength(listed.length);
      for (const item of profiles) {
        const parsed = ProfileItem.safeParse(item);
        expect(parsed.success, `${String(item.name)} is not a whole profile`).toBe(true);
        if (!parsed.success) continue;
        expect(Object.keys(parsed.data.fields).sort(), parsed.data.name).toEqual(['password', 'username']);
        expect(parsed.data.verifier.length, parsed.data.name).toBe(32);
        expect(parsed.data.commitment.length, parsed.data.name).toBe(32);
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('the local server process', () => {
  it('keeps serving after a request whose path starts with "//"', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'agent-vault-slashes-'));
    const apiKey = newApiKey();
    try {
      const server = await startServer({ PORT: String(await freePort()), VAULT_DATA_DIR: dataDir, VAULT_BOOTSTRAP_API_KEY: apiKey });

      const odd = await fetch(`${server.url}//%00`, { signal: AbortSignal.timeout(5_000) }).then(
        (r) => r.status,
        (err: unknown) => `no answer (${(err as Error).name})`,
      );
      await new Promise((r) => setTimeout(r, 300));
      const health = await fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(5_000) }).then(
        (r) => r.status,
        (err: unknown) => `no answer (${(err as Error).name})`,
      );
      const alive = server.child.exitCode === null && server.child.signalCode === null;
      await stop(server, 'SIGTERM');

      expect({ odd, health, alive }, server.output().slice(-1500)).toEqual({ odd: 404, health: 200, alive: true });
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
