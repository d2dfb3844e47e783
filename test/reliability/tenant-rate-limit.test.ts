import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintApiKey } from '#shared/services/api-keys';
import { startTestVault, type TestVault } from '#test/support/vault';

/**
 * Issue 8, item 5: one tenant cannot stall the others. Over HTTP against the local server with
 * the AWS mechanism switched on (`VAULT_TENANT_RATE_LIMIT`, a fixed one-second window counted in
 * the table after authentication): a flood from one tenant gets 429 + Retry-After, while another
 * tenant is served, and requests with a bad API key spend nobody's budget.
 */

const LIMIT = 3;
let vault: TestVault;
let otherKey: string;

beforeAll(async () => {
  vault = await startTestVault({ VAULT_TENANT_RATE_LIMIT: String(LIMIT) });
  otherKey = await mintApiKey(vault.deps, 'beta', 'rate-limit test');
});
afterAll(async () => {
  await vault?.close();
});

describe('per-tenant rate limit over HTTP', () => {
  it('answers a flood from one tenant with 429 and Retry-After, and still serves another tenant', async () => {
    const startedAt = Date.now();
    const flood = await Promise.all(Array.from({ length: 20 }, () => vault.call('GET', '/v1/agents')));
    const windows = Math.floor(Date.now() / 1000) - Math.floor(startedAt / 1000) + 1;
    const other = await vault.call('GET', '/v1/agents', undefined, { apiKey: otherKey });

    const admitted = flood.filter((r) => r.status === 200);
    const refused = flood.filter((r) => r.status === 429);
    // Under load the flood may span window boundaries: at most LIMIT get through per window.
    expect(admitted.length).toBeGreaterThanOrEqual(1);
    expect(admitted.length).toBeLessThanOrEqual(windows * LIMIT);
    expect(admitted.length + refused.length).toBe(20);
    if (windows * LIMIT < 20) expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) {
      expect(r.headers.get('retry-after')).toBe('1');
      expect(r.json).toMatchObject({ error: { code: 'too_many_requests', message: expect.stringMatching(/3 requests per second/) } });
    }
    expect(other.status).toBe(200);
  });

  it('does not count requests with an unknown API key against anyone', async () => {
    await new Promise((r) => setTimeout(r, 1_100)); // a fresh window for the bootstrap tenant
    const bogus = await Promise.all(
      Array.from({ length: 10 }, () => vault.call('GET', '/v1/agents', undefined, { apiKey: `avk_${'x'.repeat(43)}` })),
    );

    const legit = [];
    for (let i = 0; i < LIMIT; i++) legit.push(await vault.call('GET', '/v1/agents'));

    expect(bogus.every((r) => r.status === 401)).toBe(true);
    expect(legit.map((r) => r.status)).toEqual(Array(LIMIT).fill(200));
  });
});
