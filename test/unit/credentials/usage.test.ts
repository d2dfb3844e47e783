import { describe, expect, it } from 'vitest';
import { isInUse, useToRecord } from '#shared/credentials/usage';

const NOW = new Date('2030-01-10T12:00:00.000Z');
const DAY = 24 * 3_600_000;
const ago = (ms: number) => new Date(NOW.getTime() - ms).toISOString();

describe('what counts as "in use" (shared/credentials/usage.ts)', () => {
  it('marks runs and proxied calls as real uses, tests not', () => {
    expect(useToRecord({ daily_uses: {} }, 'run', NOW).realUseAt).toBe(NOW.toISOString());
    expect(useToRecord({ daily_uses: {} }, 'proxy', NOW).realUseAt).toBe(NOW.toISOString());
    expect(useToRecord({ daily_uses: {} }, 'test', NOW).realUseAt).toBeUndefined();
  });

  it('counts a real use within the window and a run not yet ended, never a test alone', () => {
    expect(isInUse({ last_used_at: ago(1000), last_real_use_at: ago(1000), daily_uses: {} }, NOW, DAY)).toBe(true);
    expect(isInUse({ last_used_at: ago(1000), last_real_use_at: ago(2 * DAY), daily_uses: {} }, NOW, DAY)).toBe(false);
    // Tested a second ago, never run or proxied (its day counter says test).
    expect(isInUse({ last_used_at: ago(1000), daily_uses: { '20300110': { test: 3 } } }, NOW, DAY)).toBe(false);
    expect(isInUse({ daily_uses: {}, in_flight_until: new Date(NOW.getTime() + 1000).toISOString() }, NOW, DAY)).toBe(true);
    expect(isInUse({ daily_uses: {}, in_flight_until: ago(1) }, NOW, DAY)).toBe(false);
  });

  it('reads an item counted before last_real_use_at from its day counters: the last day with a run or proxy, at most last_used_at', () => {
    // A run yesterday, a test a second ago: the run counts from the end of yesterday.
    const legacy = { last_used_at: ago(1000), daily_uses: { '20300109': { run: 1 }, '20300110': { test: 1 } } };
    expect(isInUse(legacy, NOW, DAY)).toBe(true);
    expect(isInUse(legacy, new Date(NOW.getTime() + DAY), DAY)).toBe(false);
    // A run today, whose time last_used_at bounds.
    expect(isInUse({ last_used_at: ago(2 * 3_600_000), daily_uses: { '20300110': { proxy: 2 } } }, NOW, 3_600_000)).toBe(false);
    expect(isInUse({ last_used_at: ago(2 * 3_600_000), daily_uses: { '20300110': { proxy: 2 } } }, NOW, 3 * 3_600_000)).toBe(true);
  });
});
