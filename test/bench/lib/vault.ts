import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedDynamo } from '#infra/local/embedded-dynamo';
import { createDb, type Db } from '#shared/clients';
import { loadConfig } from '#shared/config';
import { type Deps, resetDeps, setDeps } from '#shared/context';
import { type LocalDeps, createLocalDeps } from '#infra/local/deps';
import { silentLogger } from '#shared/log';
import { type MemoryStore, memoryStore } from '#test/support/memory-store';
import { ensureTable } from '#infra/local/table';
import { ensureApiKey } from '#shared/services/api-keys';
import { apiEvent, invokeOk, type Prepared } from './events.ts';

export const TENANT = 'acme';
export const FIELDS = Array.from({ length: 10 }, (_, i) => `f${i}`);

/** A 10-field auth_data with 40-character values (distinct per call). */
export function authData10(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of FIELDS) out[f] = randomBytes(30).toString('base64url');
  return out;
}

export interface InProcessVault {
  readonly deps: Deps;
  readonly apiKey: string;
  /** Agent whose runner answers `{output:"ok"}`. */
  readonly agentId: string;
  /** Agent whose runner also returns a session. */
  readonly sessionAgentId: string;
  /** The in-memory store (with its round-trip meter) when `store` is `memory`. */
  readonly memory?: MemoryStore;
  /** The dynalite table when `store` is `dynalite`. */
  readonly db?: Db;
  readonly endpoint?: string;
  /** Installs this vault's deps as the process-wide deps (the handlers read them per request). */
  use(): void;
  headers(): Record<string, string>;
  createEvent(name: string, agentId?: string, data?: Record<string, string>): Prepared;
  upsertEvent(body: Record<string, unknown>): Prepared;
  runEvent(token: string, agentId?: string): Prepared;
  /** Creates a profile through the handler and returns its token. */
  createProfile(name: string, agentId?: string, extra?: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}

/**
 * The vault's real handlers and services, in this process, with the process-wide deps installed
 * via setDeps: over the in-memory store (`memory`, test/support/memory-store.ts: the vault's own cost,
 * and the DynamoDB round trips each request stands for) or over in-memory dynalite on loopback
 * (`dynalite`).
 */
export async function startInProcessVault(
  store: 'memory' | 'dynalite',
  runner: { url: string; sessionUrl: string },
  latency: 'microtask' | 'immediate' = 'microtask',
): Promise<InProcessVault> {
  const dataDir = mkdtempSync(join(tmpdir(), 'agent-vault-bench-'));
  const tableName = 'bench';
  const config = loadConfig({ VAULT_MODE: 'local', VAULT_DATA_DIR: dataDir, VAULT_TABLE_NAME: tableName });
  let db: Db | undefined;
  let memory: MemoryStore | undefined;
  let embedded: Awaited<ReturnType<typeof startEmbeddedDynamo>> | undefined;
  let deps: LocalDeps;
  if (store === 'memory') {
    memory = memoryStore({ name: tableName, latency });
    deps = await createLocalDeps(config, { store: memory, log: silentLogger });
  } else {
    embedded = await startEmbeddedDynamo();
    db = createDb({ dynamoEndpoint: embedded.endpoint, region: 'local', tableName });
    await ensureTable(db.client, tableName);
    deps = await createLocalDeps(config, { db, log: silentLogger });
  }
  setDeps(deps);
  const apiKey = `avk_${randomBytes(32).toString('base64url')}`;
  await ensureApiKey(deps, apiKey, TENANT);
  const headers = () => ({ authorization: `Bearer ${apiKey}` });

  const inputArgs = FIELDS.map((name) => ({ name, required: false, secret: true }));
  const agentBody = (agent_id: string, url: string) => ({
    agent_id,
    name: agent_id,
    input_args: inputArgs,
    runner: { type: 'webhook', url, timeout_ms: 10_000 },
  });
  await invokeOk(apiEvent('POST', '/v1/agents', agentBody('bench-agent', runner.url), headers()), 201);
  await invokeOk(apiEvent('POST', '/v1/agents', agentBody('bench-session-agent', runner.sessionUrl), headers()), 201);

  const vault: InProcessVault = {
    deps,
    apiKey,
    agentId: 'bench-agent',
    sessionAgentId: 'bench-session-agent',
    memory,
    db,
    endpoint: embedded?.endpoint,
    use: () => setDeps(deps),
    headers,
    createEvent: (name, agentId = 'bench-agent', data = authData10()) =>
      apiEvent('POST', '/api/create_agent_auth_profile', { name, agent_id: agentId, auth_data: data }, headers()),
    upsertEvent: (body) => apiEvent('POST', '/api/upsert_agent_auth_profile', body, headers()),
    runEvent: (token, agentId = 'bench-agent') =>
      apiEvent('POST', '/run_agent', { agent_id: agentId, auth_token: token, parameters: {}, run_async: false }, headers()),
    async createProfile(name, agentId = 'bench-agent', extra = {}) {
      setDeps(deps);
      const json = await invokeOk(
        apiEvent('POST', '/api/upsert_agent_auth_profile', { name, agent_id: agentId, auth_data: authData10(), ...extra }, headers()),
      );
      return json.auth_token as string;
    },
    async close() {
      await Promise.race([deps.dispatcher.drain(), new Promise((r) => setTimeout(r, 2_000))]);
      resetDeps();
      db?.client.destroy();
      await embedded?.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return vault;
}
