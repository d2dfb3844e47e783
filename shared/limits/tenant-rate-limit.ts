import type { Deps } from '../deps.ts';
import { TooManyRequestsError, isTransientDependencyError } from '../errors.ts';

/** How long a counter item outlives its window before DynamoDB TTL may remove it. */
const COUNTER_TTL_SECONDS = 60;

/**
 * Admits one request of `tenant` under `VAULT_TENANT_RATE_LIMIT` (requests per second, fixed
 * one-second windows counted in the table; 0 = no limit), or throws a TooManyRequestsError: 429
 * with `Retry-After` set to the seconds until the next window. Runs after authentication, so an
 * unauthenticated flood cannot spend a tenant's budget.
 *
 * If the counter cannot be written for a transient reason (throttling, a 5xx, a timeout, after
 * the SDK's own retries) the request is admitted and a warning logged: the limit is there for
 * fairness between tenants, and refusing every tenant because one counter is throttled would be
 * the outage it exists to prevent. The API-wide throttle in front still bounds the total.
 */
export async function enforceTenantRateLimit(deps: Pick<Deps, 'config' | 'store' | 'log' | 'now'>, tenant: string): Promise<void> {
  const limit = deps.config.tenantRateLimit;
  if (limit <= 0) return;
  const nowMs = deps.now().getTime();
  const windowStart = Math.floor(nowMs / 1000);
  let admitted: boolean;
  try {
    admitted = await deps.store.rateLimits.take(tenant, windowStart, limit, windowStart + COUNTER_TTL_SECONDS);
  } catch (err) {
    if (!isTransientDependencyError(err)) throw err;
    deps.log.log('warn', 'tenant rate limit counter unavailable; request admitted', {
      tenant,
      error_name: err instanceof Error ? err.name : typeof err,
    });
    return;
  }
  if (!admitted) {
    const retryAfter = Math.max(1, Math.ceil(((windowStart + 1) * 1000 - nowMs) / 1000));
    throw new TooManyRequestsError(
      `This tenant is over its rate limit of ${limit} requests per second; retry after ${retryAfter} second${retryAfter === 1 ? '' : 's'} (Retry-After header), or ask the operator to raise VAULT_TENANT_RATE_LIMIT.`,
      retryAfter,
    );
  }
}
