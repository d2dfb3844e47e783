import { describe, expect, it } from 'vitest';
import { TooManyRequestsError } from '#shared/errors';
import type { RunJob } from '#shared/runs/dispatch';
import { createInProcessDispatcher } from '#infra/local/in-process-queue';

const job = (tenant: string, n: number): RunJob => ({ tenant, agentId: 'a', sessionId: `${tenant}-${n}`, parameters: {} });
const tick = () => new Promise((r) => setImmediate(r));

/** An executor whose runs hang until released (a tenant whose runner never answers). */
function hangingExecutor() {
  const started: string[] = [];
  const gates = new Map<string, () => void>();
  return {
    started,
    execute: (j: RunJob) => {
      started.push(j.sessionId);
      return new Promise<void>((resolve) => gates.set(j.sessionId, resolve));
    },
    release: (id: string) => gates.get(id)?.(),
  };
}

describe('in-process queue fairness between tenants', () => {
  it('starts another tenant\'s run at once while one tenant floods the queue with hanging runs', async () => {
    const ex = hangingExecutor();
    const d = createInProcessDispatcher(ex.execute, () => {}, { concurrency: 4, perTenant: 2 });
    for (let i = 0; i < 50; i++) await d.dispatch(job('noisy', i));
    await tick();

    await d.dispatch(job('quiet', 0));
    await tick();

    expect(ex.started.filter((s) => s.startsWith('noisy'))).toHaveLength(2);
    expect(ex.started).toContain('quiet-0');
  });

  it('serves waiting tenants round-robin, not in arrival order', async () => {
    const ex = hangingExecutor();
    const d = createInProcessDispatcher(ex.execute, () => {}, { concurrency: 1, perTenant: 1 });
    // All nine arrive in one tick, tenant by tenant (a's three first).
    await Promise.all(['a', 'b', 'c'].flatMap((tenant) => [0, 1, 2].map((i) => d.dispatch(job(tenant, i)))));
    await tick();

    for (let i = 0; i < 9; i++) {
      ex.release(ex.started[i] as string);
      await tick();
    }
    await d.drain();

    expect(ex.started).toEqual(['a-0', 'b-0', 'c-0', 'a-1', 'b-1', 'c-1', 'a-2', 'b-2', 'c-2']);
  });

  it('caps the runs one tenant may queue, and still accepts other tenants', async () => {
    const ex = hangingExecutor();
    const d = createInProcessDispatcher(ex.execute, () => {}, { concurrency: 1, perTenant: 1, maxQueued: 100, maxQueuedPerTenant: 3 });
    await d.dispatch(job('noisy', 0));
    await tick(); // noisy-0 runs (and hangs); the next three wait
    for (let i = 1; i <= 3; i++) await d.dispatch(job('noisy', i));

    const refused = await d.dispatch(job('noisy', 4)).catch((e: unknown) => e);
    await d.dispatch(job('quiet', 0));

    expect(refused).toBeInstanceOf(TooManyRequestsError);
    expect((refused as TooManyRequestsError).headers['retry-after']).toBe('2');
    expect(d.pending).toBe(5);
  });

  it('lets one tenant use free slots up to its cap when nobody else is waiting', async () => {
    const ex = hangingExecutor();
    const d = createInProcessDispatcher(ex.execute, () => {}, { concurrency: 4, perTenant: 3 });
    for (let i = 0; i < 5; i++) await d.dispatch(job('only', i));
    await tick();

    expect(ex.started).toEqual(['only-0', 'only-1', 'only-2']);
  });
});
