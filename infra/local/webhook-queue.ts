import type { AttemptResult } from '#shared/webhooks/deliver';
import type { DeliveryRef, WebhookDispatcher } from '#shared/webhooks/dispatch';

export interface InProcessWebhookOptions {
  /** Attempts running at once (all tenants). */
  readonly concurrency?: number;
  /** Deliveries waiting for a slot or for their backoff; beyond this, dispatch rejects (the delivery is logged `not_queued`). */
  readonly maxPending?: number;
}

export interface InProcessWebhookDispatcher extends WebhookDispatcher {
  /** Resolves when no attempt runs and none waits (tests, shutdown); retries still waiting on their backoff count. */
  drain(): Promise<void>;
  /** Cancels the backoff timers of deliveries waiting for a retry (shutdown): they stay `pending` in their log. */
  stop(): void;
  readonly pending: number;
}

/**
 * Local mode: webhook deliveries run in this process, through the same attemptDelivery as the AWS
 * worker. A failed attempt with attempts left is run again after its backoff by a timer here
 * (AWS has no timer: Lambda's asynchronous retries play its part, shared/aws/webhook-dispatcher.ts).
 * The delivery itself is the durable item; a server stopped while a retry waits leaves that
 * delivery `pending` in its log (docs/architecture.md, "Webhooks").
 */
export function createInProcessWebhookDispatcher(
  attempt: (ref: DeliveryRef) => Promise<AttemptResult>,
  onError: (err: unknown, ref: DeliveryRef) => void,
  { concurrency = 4, maxPending = 1000 }: InProcessWebhookOptions = {},
): InProcessWebhookDispatcher {
  const ready: DeliveryRef[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let active = 0;
  let idle: Array<() => void> = [];

  const settleIdle = () => {
    if (active === 0 && ready.length === 0 && timers.size === 0) {
      const waiters = idle;
      idle = [];
      for (const w of waiters) w();
    }
  };

  const pump = () => {
    while (active < concurrency && ready.length > 0) {
      const ref = ready.shift() as DeliveryRef;
      active++;
      attempt(ref)
        .then((r) => {
          if (r.result !== 'retry') return;
          const timer = setTimeout(() => {
            timers.delete(timer);
            ready.push(ref);
            pump();
          }, r.retryInMs);
          timers.add(timer);
        })
        .catch((err: unknown) => onError(err, ref))
        .finally(() => {
          active--;
          pump();
        });
    }
    settleIdle();
  };

  return {
    async dispatch(ref) {
      if (active + ready.length + timers.size >= maxPending) throw new Error(`too many webhook deliveries waiting (${maxPending})`);
      ready.push(ref);
      queueMicrotask(pump);
    },
    drain() {
      if (active === 0 && ready.length === 0 && timers.size === 0) return Promise.resolve();
      return new Promise<void>((resolve) => idle.push(resolve));
    },
    stop() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      settleIdle();
    },
    get pending() {
      return active + ready.length + timers.size;
    },
  };
}
