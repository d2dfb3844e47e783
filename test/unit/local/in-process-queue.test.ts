import { describe, expect, it, vi } from 'vitest';
import { TooManyRequestsError } from '#shared/errors';
import type { RunJob } from '#shared/runs/dispatch';
import { createInProcessDispatcher } from '#infra/local/in-process-queue';

const job = (n: number): RunJob => ({ tenant: 't', agentId: 'a', sessionId: `s${n}`, parameters: {} });

/** An execute function whose runs finish only when the test releases them. */
function gatedExecutor() {
  const started: string[] = [];
  const gates = new Map<string, () => void>();
  let active = 0;
  let maxActive = 0;
  const execute = (j: RunJob) => {
    started.push(j.sessionId);
    active++;
    maxActive = Math.max(maxActive, active);
    return new Promise<void>((resolve) => {
      gates.set(j.sessionId, () => {
        active--;
        resolve();
      });
    });
  };
  return {
    execute,
    started,
    release: (id: string) => gates.get(id)?.(),
    get maxActive() {
      return maxActive;
    },
  };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('createInProcessDispatcher', () => {
  it('runs at most `concurrency` jobs at once', async () => {
    const ex = gatedExecutor();
    const d = createInProcessDispatcher(ex.execute, () => {}, { concurrency: 2, perTenant: 2 });

    for (let i = 0; i < 5; i++) await d.dispatch(job(i));
    await tick();

    expect(ex.started).toEqual(['s0', 's1']);
    expect(d.pending).toBe(5);
  });

  it('starts the next queued job when a running one finishes, in order', async () => {
    const ex = gatedExecutor();
    const d = createInProcessDispatcher(ex.execute, () => {}, { concurrency: 2, perTenant: 2 });
    for (let i = 0; i < 4; i++) await d.dispatch(job(i));
    await tick();

    ex.release('s1');
    await tick();

    expect(ex.started).toEqual(['s0', 's1', 's2']);
  });

  it('never exceeds the concurrency over a whole batch', async () => {
    const ex = gatedExecutor();
    const d = createInProcessDispatcher(ex.execute, () => {}, { concurrency: 3, perTenant: 3 });
    for (let i = 0; i < 10; i++) await d.dispatch(job(i));

    for (let i = 0; i < 10; i++) {
      await tick();
      ex.release(`s${i}`);
    }
    await d.drain();

    expect(ex.started).toHaveLength(10);
    expect(ex.maxActive).toBe(3);
  });

  it('answers 429 when the waiting queue is full', async () => {
    const ex = gatedExecutor();
    const d = createInProcessDispatcher(ex.execute, () => {}, { concurrency: 1, maxQueued: 2, maxQueuedPerTenant: 2 });
    await d.dispatch(job(0)); // starts at once
    await d.dispatch(job(1));
    await d.dispatch(job(2));

    const rejected = d.dispatch(job(3));

    await expect(rejected).rejects.toBeInstanceOf(TooManyRequestsError);
    await expect(rejected).rejects.toMatchObject({ status: 429, code: 'too_many_requests' });
  });

  it('sets Retry-After on the 429', async () => {
    const d = createInProcessDispatcher(
      () => new Promise<void>(() => {}),
      () => {},
      { concurrency: 1, maxQueued: 0 },
    );

    const err = await d.dispatch(job(0)).catch((e: unknown) => e);

    expect((err as TooManyRequestsError).headers['retry-after']).toMatch(/^\d+$/);
  });

  it('never executes a job it refused', async () => {
    const ex = gatedExecutor();
    const d = createInProcessDispatcher(ex.execute, () => {}, { concurrency: 1, maxQueued: 1, maxQueuedPerTenant: 1 });
    await d.dispatch(job(0));
    await d.dispatch(job(1));
    await d.dispatch(job(2)).catch(() => {});

    ex.release('s0');
    await tick();
    ex.release('s1');
    await d.drain();

    expect(ex.started).toEqual(['s0', 's1']);
  });

  it('accepts jobs again once the queue has room', async () => {
    const ex = gatedExecutor();
    const d = createInProcessDispatcher(ex.execute, () => {}, { concurrency: 1, maxQueued: 1, maxQueuedPerTenant: 1 });
    await d.dispatch(job(0));
    await d.dispatch(job(1));
    await expect(d.dispatch(job(2))).rejects.toBeInstanceOf(TooManyRequestsError);

    ex.release('s0');
    await tick();

    await expect(d.dispatch(job(3))).resolves.toBeUndefined();
  });

  it('drain resolves at once when nothing was dispatched', async () => {
    const d = createInProcessDispatcher(
      async () => {},
      () => {},
    );

    await expect(d.drain()).resolves.toBeUndefined();
  });

  it('drain waits until every accepted job has finished', async () => {
    const ex = gatedExecutor();
    const d = createInProcessDispatcher(ex.execute, () => {}, { concurrency: 1 });
    await d.dispatch(job(0));
    await d.dispatch(job(1));
    let drained = false;
    const draining = d.drain().then(() => {
      drained = true;
    });

    ex.release('s0');
    await tick();
    const drainedAfterFirst = drained;
    ex.release('s1');
    await draining;

    expect(drainedAfterFirst).toBe(false);
    expect(drained).toBe(true);
    expect(d.pending).toBe(0);
  });

  it('drain waits for a job dispatched in the same tick', async () => {
    const executed: string[] = [];
    const d = createInProcessDispatcher(
      async (j) => {
        await tick();
        executed.push(j.sessionId);
      },
      () => {},
    );

    await d.dispatch(job(7));
    await d.drain();

    expect(executed).toEqual(['s7']);
  });

  it('reports a failing job to onError and keeps running the others', async () => {
    const onError = vi.fn();
    const executed: string[] = [];
    const boom = new Error('boom');
    const d = createInProcessDispatcher(
      async (j) => {
        if (j.sessionId === 's0') throw boom;
        executed.push(j.sessionId);
      },
      onError,
      { concurrency: 1 },
    );

    await d.dispatch(job(0));
    await d.dispatch(job(1));
    await d.drain();

    expect(onError).toHaveBeenCalledExactlyOnceWith(boom, job(0));
    expect(executed).toEqual(['s1']);
  });
});
