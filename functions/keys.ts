import { routeGroupHandler } from '#shared/http/handler';
import { created, noContent, ok } from '#shared/http/responses';
import { createApiKey, listApiKeys, revokeApiKey } from '#shared/services/api-keys';

/**
 * API keys as principals of a tenant (admin only: the route table's permission): mint, list,
 * revoke. A function of its own so that on AWS only its role may write API-key items (the
 * others have an explicit deny).
 */
export const handler = routeGroupHandler('keys', {
  'POST /v1/api-keys': async ({ deps, caller, body }) => created(await createApiKey(deps, caller, body)),
  'GET /v1/api-keys': async ({ deps, caller, query }) => ok(await listApiKeys(deps, caller, query.limit, query.cursor)),
  'DELETE /v1/api-keys/{key_id}': async ({ deps, caller, params }) => {
    await revokeApiKey(deps, caller, params.key_id as string);
    return noContent();
  },
});
