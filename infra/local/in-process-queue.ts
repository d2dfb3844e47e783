import { TooManyRequestsError } from '#shared/errors';
import type { RunDispatcher, RunJob } from '#shared/runs/dispatch';

export interface InProcessOptions {
  /** Runs executing at once. */
  readonly concurrency?: number;
  /** Accepted runs waiting for a slot; beyond this, dispatch answers 429. */
  readonly maxQueued?: number;
}

export interface InProcessDispatcher extends RunDispatcher {
  /** Resolves when every accepted run has finished (tests, shutdown). */
  drain(): Promise<void>;
  readonly pending: number;
}

/**
 * Local mode: async runs execute in this process on a bounded queue. `execute` must record the
 * run's outcome itself; a rejection here is a bug, reported to `onError`.
 */
export function createInProcessDispatcher(
  execute: (job: RunJob) => Promise<void>,
  onError: (err: unknown, job: RunJob) => void,
  { concurrency = 4, maxQueued = 1000 }: InProcessOptions = {},
): InProcessDispatcher {
  const queue: RunJob[] = [];
  let active = 0;
  let idle: Array<() => void> = [];

  const pump = () => {
    while (active < concurrency && queue.length > 0) {
      const job = queue.shift() as RunJob;
      active++;
      execute(job)
        .catch((err: unknown) => onError(err, job))
        .finally(() => {
          active--;
          pump();
        });
    }
    if (active === 0 && queue.length === 0) {
      const waiters = idle;
      idle = [];
      for (const w of waiters) w();
    }
  };

  return {
    async dispatch(job) {
      if (queue.length >= maxQueued) {
        throw new TooManyRequestsError(`Too many queued runs (${maxQueued}); retry shortly or use run_async: false`, 2);
      }
      queue.push(job);
      queueMicrotask(pump);
    },
    drain() {
      if (active === 0 && queue.length === 0) return Promise.resolve();
      return new Promise<void>((resolve) => idle.push(resolve));
    },
    get pending() {
      return active + queue.length;
    },
  };
}
