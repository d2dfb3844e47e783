import { sleep as sleepMs } from '../sleep.ts';
import { isTransientDependencyError, ServiceUnavailableError } from '../errors.ts';

/** How hard to retry an AWS call that is throttled or failing transiently. */
export interface RetryOptions {
  /** Calls in all, the first included (default 4). */
  readonly maxAttempts?: number;
  /** Backoff before the second call; doubles each time (default 100 ms). */
  readonly baseDelayMs?: number;
  /** Upper bound of one backoff (default 1 000 ms). */
  readonly maxDelayMs?: number;
  /** Injected by tests so they do not wait. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Injected by tests for a deterministic jitter; returns a number in [0, 1). */
  readonly random?: () => number;
}

/**
 * Transient by the shared rules (throttling names, 5xx, network resets), plus HTTP 429: Lambda
 * signals throttling with `TooManyRequestsException`, a name the shared list does not carry.
 */
export function isRetryable(err: unknown): boolean {
  if (isTransientDependencyError(err)) return true;
  if (!(err instanceof Error)) return false;
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return status === 429 || err.name === 'TooManyRequestsException';
}


/**
 * Runs `op`, retrying while it fails with a transient dependency error (throttling, a 5xx, a
 * network reset) with exponential backoff and full jitter. When the attempts are spent it throws
 * a ServiceUnavailableError (503 + Retry-After) carrying `unavailableMessage`; any other error is
 * rethrown unchanged at once.
 *
 * The default SDK clients of `shared/aws/` are built with `maxAttempts: 1` so that this loop is the
 * only retry policy: retries do not multiply and are exercised by the unit tests, where
 * aws-sdk-client-mock bypasses the SDK's own retry middleware. Total wait with the defaults is
 * below 0.7 s, small enough for a cold start behind API Gateway's 30 s limit.
 */
export async function withDependencyRetry<T>(op: () => Promise<T>, unavailableMessage: string, options: RetryOptions = {}): Promise<T> {
  const { maxAttempts = 4, baseDelayMs = 100, maxDelayMs = 1_000, sleep = sleepMs, random = Math.random } = options;
  for (let attempt = 1; ; attempt++) {
    try {
      return await op();
    } catch (err) {
      if (!isRetryable(err)) throw err;
      if (attempt >= maxAttempts) {
        const unavailable = new ServiceUnavailableError(unavailableMessage, 1);
        // The cause is an SDK error (name, status, request id): useful in logs, never a secret.
        Object.defineProperty(unavailable, 'cause', { value: err, enumerable: false });
        throw unavailable;
      }
      await sleep(Math.floor(random() * Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1))));
    }
  }
}
