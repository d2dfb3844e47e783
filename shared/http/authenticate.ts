import type { Deps } from '../deps.ts';
import { UnauthorizedError } from '../errors.ts';
import { authenticatePrincipal } from '../services/api-keys.ts';
import { enforceTenantRateLimit } from '../limits/tenant-rate-limit.ts';
import { callerOf } from './caller.ts';
import type { Mw, VaultEvent } from './middleware.ts';

// Kept apart from the other middleware so the `meta` function, which authenticates nothing,
// bundles no DynamoDB client.

/** The API key from `Authorization: Bearer`, `X-Api-Key`, or the body's `api_key` (compatibility). */
export function apiKeyOf(event: VaultEvent): string | undefined {
  const auth = event.headers?.authorization;
  if (auth) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1];
  }
  const header = event.headers?.['x-api-key'];
  if (header) return header.trim();
  const body = event.json as { api_key?: unknown } | undefined;
  return typeof body?.api_key === 'string' ? body.api_key : undefined;
}

/**
 * Why an Authorization header gave no key, when it was sent: a bare key without "Bearer", or
 * another scheme. Never echoes the header (it may hold a credential).
 */
export function authorizationProblem(event: VaultEvent): string | undefined {
  const auth = event.headers?.authorization?.trim();
  if (!auth || /^Bearer\s+\S+$/i.test(auth)) return undefined;
  if (/^avk_/i.test(auth)) return 'The Authorization header holds a bare API key: add the scheme, "Authorization: Bearer avk_…" (or send it as "X-Api-Key: avk_…")';
  if (/^Bearer\s*$/i.test(auth)) return 'The Authorization header says "Bearer" but carries no key: send "Authorization: Bearer avk_…"';
  const scheme = /^([A-Za-z][A-Za-z0-9._~+/-]{0,30})(\s|$)/.exec(auth)?.[1];
  return `The Authorization header uses ${scheme ? `the "${scheme}" scheme` : 'an unknown form'}: send "Authorization: Bearer avk_…"`;
}

/** The run grant in `Authorization: Bearer avg_…`, if that is what the request carries. */
export function grantOf(event: VaultEvent): string | undefined {
  const m = /^Bearer\s+(avg_\S+)\s*$/i.exec(event.headers?.authorization ?? '');
  return m?.[1];
}

/**
 * Resolves the key's principal (401 if missing, malformed, unknown, revoked or failing its
 * integrity check), applies the tenant's rate limit (429 with Retry-After; `VAULT_TENANT_RATE_LIMIT`, on by default on AWS) and
 * builds the request's Caller. Where `grantAllowed` says so (the route table's `credential`
 * permission with `grant`: POST /v1/proxy) a run grant may stand in for the
 * API key: the route then gets a caller without a tenant, and the credential gate resolves the grant
 * and applies the grant's tenant's rate limit (only once the grant has proved itself, so a forged
 * one can neither spend a tenant's budget nor learn from a 429 that the tenant exists).
 */
export function authenticate(getDeps: () => Promise<Deps>, grantAllowed: (routeKey: string) => boolean = () => false, isPublic: (routeKey: string) => boolean = () => false): Mw {
  return {
    before: async (request) => {
      // A public route (the OAuth connect flow, opened by an end user's browser) needs no key.
      if (isPublic(request.event.routeKey)) return;
      if (grantAllowed(request.event.routeKey) && grantOf(request.event) !== undefined) return;
      const deps = await getDeps();
      const apiKey = apiKeyOf(request.event);
      if (apiKey === undefined) {
        const problem = authorizationProblem(request.event);
        if (problem) throw new UnauthorizedError(problem);
      }
      const principal = await authenticatePrincipal(deps, apiKey);
      await enforceTenantRateLimit(deps, principal.tenant);
      request.event.tenant = principal.tenant;
      request.event.caller = callerOf(request.event, principal);
    },
  };
}
