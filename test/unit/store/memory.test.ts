import { afterEach, describe, expect, it, vi } from 'vitest';
import { profileRef } from '#shared/store/profile-ref';
import { memoryStore } from '#test/support/memory-store';

/**
 * The in-memory store's own duties beyond the contract (test/integration/store-contract.test.ts):
 * counting DynamoDB round trips as the DynamoDB implementation would make them (the bench prints
 * these next to the design minimum), and never letting a caller alias what is stored.
 */
const NOW = '2026-01-01T00:00:00.000Z';
const run = (sessionId: string) => ({ tenant: 't', agent_id: 'a', session_id: sessionId, status: 'queued' as const, created_at: NOW, expires_at: 2_000 });

describe('memoryStore round trips', () => {
  it('counts calls issued together as one round trip and calls in sequence as one each', async () => {
    const store = memoryStore({ latency: 'immediate' });
    await Promise.all([store.runs.get('s1', 0), store.runs.get('s2', 0), store.profileContext.load(profileRef('t', 'a', 'aa'.repeat(16)), { withSession: true })]);
    expect([store.meter.waves, store.meter.totalCommands, store.meter.maxInFlight]).toEqual([1, 3, 3]);
    expect(store.meter.counts).toEqual({ GetCommand: 2, BatchGetCommand: 1 });

    store.meter.reset();
    await store.runs.create(run('s1'));
    const queued = await store.runs.get('s1', 0);
    await store.runs.transition(queued as NonNullable<typeof queued>, ['queued'], 'running', {});
    expect([store.meter.waves, store.meter.totalCommands, store.meter.maxInFlight]).toEqual([3, 3, 1]);
    expect(store.meter.counts).toEqual({ PutCommand: 1, GetCommand: 1, UpdateCommand: 1 });
  });

  it('counts a call the DynamoDB implementation makes in several commands as those commands, in sequence', async () => {
    const store = memoryStore({ latency: 'immediate' });
    await store.apiKeys.put('ab'.repeat(32), { tenant: 't', created_at: NOW, key_id: 'k', name: 'k', role: 'admin' });
    // Index entry, key item, tenant marker.
    expect([store.meter.waves, store.meter.counts]).toEqual([3, { PutCommand: 3 }]);
  });

  it('answers on a microtask by default, so sequential counting needs `immediate`', async () => {
    const store = memoryStore();
    await Promise.all([store.runs.get('s1', 0), store.runs.get('s2', 0)]);
    expect(store.meter.totalCommands).toBe(2);
    expect(store.meter.waves).toBe(2);
  });
});

describe('memoryStore own time', () => {
  afterEach(() => vi.restoreAllMocks());

  it('counts the time inside the store but not the schema parse the repositories do as well', async () => {
    const store = memoryStore();
    await store.runs.create(run('s1'));
    store.meter.reset();
    // A clock that advances 1 ms per reading: the read body reads it twice, the parse inside it twice.
    let ms = 0;
    vi.spyOn(performance, 'now').mockImplementation(() => ++ms);
    await store.runs.get('s1', 0);
    // 3 ms from start to end of the read, 1 ms of it parsing.
    expect(store.meter.selfTimeUs).toBe(2_000);
    store.meter.reset();
    expect(store.meter.selfTimeUs).toBe(0);
  });
});

describe('memoryStore copies', () => {
  it('stores a copy and returns copies: what a caller holds never aliases the stored item', async () => {
    const store = memoryStore();
    const written = run('s1');
    await store.runs.create(written);
    written.status = 'failed' as 'queued';
    const read = await store.runs.get('s1', 0);
    expect(read?.status).toBe('queued');
    (read as { status: string }).status = 'succeeded';
    expect((await store.runs.get('s1', 0))?.status).toBe('queued');
    expect(store.itemCount).toBe(1);
  });

  it('hands binary values back as plain Uint8Array, as the DynamoDB client does', async () => {
    const store = memoryStore();
    await store.runs.create({ ...run('s1'), result: Buffer.from([1, 2]) });
    const result = (await store.runs.get('s1', 0))?.result;
    expect(result?.constructor).toBe(Uint8Array);
    expect([...(result ?? [])]).toEqual([1, 2]);
  });
});
