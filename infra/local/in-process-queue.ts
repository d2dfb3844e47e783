import { TooManyRequestsError } from '#shared/errors';
import type { RunDispatcher, RunJob } from '#shared/runs/dispatch';

export interface InProcessOptions {
  /** Runs executing at once, all tenants together. */
  readonly concurrency?: number;
  /** Runs of one tenant executing at once (default: half of `concurrency`, at least 1). */
  readonly perTenant?: number;
  /** Accepted runs waiting for a slot, all tenants together; beyond this, dispatch answers 429. */
  readonly maxQueued?: number;
  /** Accepted runs of one tenant waiting for a slot (default: a quarter of `maxQueued`, at least 1). */
  readonly maxQueuedPerTenant?: number;
}

export interface InProcessDispatcher extends RunDispatcher {
  /** Resolves when every accepted run has finished (tests, shutdown). */
  drain(): Promise<void>;
  readonly pending: number;
}

/**
 * Local mode: async runs execute in this process on a bounded queue that is fair between
 * tenants. Each tenant has its own queue; free slots go round-robin to the next tenant that has
 * a job waiting and fewer than `perTenant` running, so a tenant that floods the queue or whose
 * runner hangs holds at most `perTenant` slots and `maxQueuedPerTenant` places, and the others'
 * runs keep starting. `execute` must record the run's outcome itself; a rejection here is a bug,
 * reported to `onError`.
 */
export function createInProcessDispatcher(
  execute: (job: RunJob) => Promise<void>,
  onError: (err: unknown, job: RunJob) => void,
  { concurrency = 4, perTenant, maxQueued = 1000, maxQueuedPerTenant }: InProcessOptions = {},
): InProcessDispatcher {
  const tenantCap = perTenant ?? Math.max(1, Math.ceil(concurrency / 2));
  const tenantQueueCap = maxQueuedPerTenant ?? Math.max(1, Math.floor(maxQueued / 4));
  const queues = new Map<string, RunJob[]>();
  /** Tenants with a job waiting, in round-robin order; `cursor` is the next one to serve. */
  const ring: string[] = [];
  let cursor = 0;
  const running = new Map<string, number>();
  let active = 0;
  let queued = 0;
  let idle: Array<() => void> = [];

  /** The ring index of the next tenant (from the cursor on) that may start a run, or -1. */
  const nextEligible = (): number => {
    for (let k = 0; k < ring.length; k++) {
      const i = (cursor + k) % ring.length;
      if ((running.get(ring[i] as string) ?? 0) < tenantCap) return i;
    }
    return -1;
  };

  const start = (job: RunJob) => {
    active++;
    running.set(job.tenant, (running.get(job.tenant) ?? 0) + 1);
    execute(job)
      .catch((err: unknown) => onError(err, job))
      .finally(() => {
        active--;
        const left = (running.get(job.tenant) ?? 1) - 1;
        if (left === 0) running.delete(job.tenant);
        else running.set(job.tenant, left);
        pump();
      });
  };

  const pump = () => {
    while (active < concurrency) {
      const i = nextEligible();
      if (i < 0) break;
      const tenant = ring[i] as string;
      const queue = queues.get(tenant) as RunJob[];
      const job = queue.shift() as RunJob;
      queued--;
      if (queue.length === 0) {
        queues.delete(tenant);
        ring.splice(i, 1);
        cursor = ring.length === 0 ? 0 : i % ring.length; // the tenant after it moved into slot i
      } else {
        cursor = (i + 1) % ring.length;
      }
      start(job);
    }
    if (active === 0 && queued === 0) {
      const waiters = idle;
      idle = [];
      for (const w of waiters) w();
    }
  };

  return {
    async dispatch(job) {
      if (queued >= maxQueued) {
        throw new TooManyRequestsError(`Too many queued runs (${maxQueued}); retry shortly or use run_async: false`, 2);
      }
      const queue = queues.get(job.tenant);
      if ((queue?.length ?? 0) >= tenantQueueCap) {
        throw new TooManyRequestsError(
          `This tenant has ${tenantQueueCap} runs waiting already (the most one tenant may queue); retry shortly or use run_async: false`,
          2,
        );
      }
      if (queue) queue.push(job);
      else {
        queues.set(job.tenant, [job]);
        ring.push(job.tenant);
      }
      queued++;
      queueMicrotask(pump);
    },
    drain() {
      if (active === 0 && queued === 0) return Promise.resolve();
      return new Promise<void>((resolve) => idle.push(resolve));
    },
    get pending() {
      return active + queued;
    },
  };
}
