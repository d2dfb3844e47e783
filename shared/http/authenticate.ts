import type { Deps } from '../deps.ts';
import { authenticateApiKey } from '../services/api-keys.ts';
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

/** Resolves the tenant from the API key (401 if missing or unknown) and builds the request's Caller. */
export function authenticate(getDeps: () => Promise<Deps>): Mw {
  return {
    before: async (request) => {
      const apiKey = apiKeyOf(request.event);
      const tenant = await authenticateApiKey(await getDeps(), apiKey);
      request.event.tenant = tenant;
      request.event.caller = callerOf(request.event, tenant, apiKey as string);
    },
  };
}
