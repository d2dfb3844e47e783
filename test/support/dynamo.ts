import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Db, createDb } from '#shared/clients';
import { type Config, loadConfig } from '#shared/config';
import type { Deps } from '#shared/context';
import { createLocalDeps } from '#infra/local/deps';
import { type Logger, createLogger, silentLogger } from '#shared/log';
import { type ServerKeyRing, generateServerKeyRingJson, parseServerKeyRing } from '#shared/crypto/server-key';
import { ensureTable } from '#infra/local/table';
import type { InProcessDispatcher } from '#infra/local/in-process-queue';
import { startEmbeddedDynamo } from '#infra/local/embedded-dynamo';
import { type ItemSigner, itemSigner } from '#shared/store/signer';
import { afterAll, beforeAll } from 'vitest';

export interface TestDb {
  readonly db: Db;
  readonly endpoint: string;
  close(): Promise<void>;
}

/**
 * A real DynamoDB-compatible store for integration tests: in-memory dynalite by default, or the
 * endpoint in TEST_DYNAMODB_ENDPOINT (e.g. DynamoDB Local), with a fresh table either way.
 */
export async function startTestDb(tableName = `t${Date.now()}${Math.floor(Math.random() * 1e6)}`): Promise<TestDb> {
  const external = process.env.TEST_DYNAMODB_ENDPOINT;
  const embedded = external ? undefined : await startEmbeddedDynamo();
  const endpoint = external ?? (embedded?.endpoint as string);
  const db = createDb({ dynamoEndpoint: endpoint, region: 'local', tableName });
  await ensureTable(db.client, tableName);
  return {
    db,
    endpoint,
    async close() {
      db.client.destroy();
      await embedded?.close();
    },
  };
}

/** Captures log lines (as parsed JSON and raw text) so tests can search them. */
export function captureLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const logger = createLogger((l) => lines.push(l), 'debug');
  return Object.assign(logger, { lines });
}

export type TestDeps = Deps & { dispatcher: InProcessDispatcher; db: Db; dataDir: string; logs: string[] };

/** Local-mode dependencies over a test store, with a temporary data folder and captured logs. */
export async function makeTestDeps(db: Db, env: Record<string, string> = {}): Promise<TestDeps> {
  const dataDir = mkdtempSync(join(tmpdir(), 'agent-vault-test-'));
  const config: Config = loadConfig({ VAULT_MODE: 'local', VAULT_DATA_DIR: dataDir, VAULT_TABLE_NAME: db.tableName, ...env });
  const log = captureLogger();
  const deps = await createLocalDeps(config, { db, log });
  return Object.assign(deps, { dataDir, logs: log.lines });
}

/**
 * A fresh test store and local-mode deps for one test file: created before all its tests, closed
 * after. The returned object is filled in by the first hook.
 */
export function useTestStore(): { store: TestDb; deps: TestDeps } {
  const t = {} as { store: TestDb; deps: TestDeps };
  beforeAll(async () => {
    t.store = await startTestDb();
    t.deps = await makeTestDeps(t.store.db);
  });
  afterAll(async () => {
    await t.store?.close();
  });
  return t;
}

/** The signer of a test's store (shared/store/signer.ts), for tests that build a repository or a store over the table themselves. */
export function signerOf(deps: Pick<Deps, 'serverKeys' | 'log'>): ItemSigner {
  return itemSigner(deps.serverKeys, deps.log);
}

/** A signer over a fresh ring, for tests whose store signs nothing they read back (rate limits) or that sign their own items with it. */
export function testSigner(log: Pick<Deps, 'log'>['log'] = silentLogger): ItemSigner & { ring: ServerKeyRing } {
  const ring = parseServerKeyRing(generateServerKeyRingJson());
  return Object.assign(itemSigner(ring, log), { ring });
}
