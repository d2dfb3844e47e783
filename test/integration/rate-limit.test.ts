import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '#shared/config';
import { dynamoStore } from '#shared/store/dynamodb';
import { TooManyRequestsError } from '#shared/errors';
import { keys } from '#shared/keys';
import { createLogger } from '#shared/log';
import { startTestDb, type TestDb, testSigner } from '#test/support/dynamo';
import { enforceTenantRateLimit } from '#shared/limits/tenant-rate-limit';

let store: TestDb;
let clock = new Date('2030-01-01T00:00:00.100Z');

beforeAll(async () => {
  store = await startTestDb();
});
afterAll(async () => {
  await store?.close();
});

const deps = (limit: number) => ({
  config: loadConfig({ VAULT_MODE: 'local', VAULT_TENANT_RATE_LIMIT: String(limit) }),
  store: dynamoStore(store.db, testSigner()),
  log: createLogger(() => {}),
  now: () => clock,
});

/** Outcome of one request: admitted, or refused with 429. */
const attempt = (limit: number, tenant: string) =>
  enforceTenantRateLimit(deps(limit), tenant).then(
    () => 'ok' as const,
    (err: unknown) => {
      if (err instanceof TooManyRequestsError) return 429 as const;
      throw err;
    },
  );

describe('tenant rate limit on a real store', () => {
  it('admits `limit` requests in a second and refuses the next with 429', async () => {
    clock = new Date('2030-01-01T00:00:10.100Z');

    const results = [];
    for (let i = 0; i < 5; i++) results.push(await attempt(3, 'seq'));

    expect(results).toEqual(['ok', 'ok', 'ok', 429, 429]);
  });

  it('never admits more than the limit under concurrency (no lost update)', async () => {
    clock = new Date('2030-01-01T00:00:20.100Z');

    const results = await Promise.all(Array.from({ length: 30 }, () => attempt(7, 'burst')));

    expect(results.filter((r) => r === 'ok')).toHaveLength(7);
    expect(results.filter((r) => r === 429)).toHaveLength(23);
  });

  it('starts afresh in the next window', async () => {
    clock = new Date('2030-01-01T00:00:30.900Z');
    for (let i = 0; i < 2; i++) await attempt(2, 'window');
    expect(await attempt(2, 'window')).toBe(429);

    clock = new Date('2030-01-01T00:00:31.000Z');

    expect(await attempt(2, 'window')).toBe('ok');
  });

  it('counts each tenant apart', async () => {
    clock = new Date('2030-01-01T00:00:40.100Z');
    for (let i = 0; i < 2; i++) await attempt(2, 'noisy');
    expect(await attempt(2, 'noisy')).toBe(429);

    expect(await attempt(2, 'quiet')).toBe('ok');
  });

  it('stores a counter that expires through the TTL attribute, and the refused requests do not count', async () => {
    clock = new Date('2030-01-01T00:00:50.100Z');
    for (let i = 0; i < 4; i++) await attempt(2, 'ttl');
    const window = Math.floor(clock.getTime() / 1000);

    const { Item } = await store.db.doc.send(new GetCommand({ TableName: store.db.tableName, Key: keys.tenantRate('ttl', window) }));

    expect(Item).toMatchObject({ count: 2, entity: 'rate', expires_at: window + 60 });
  });
});
