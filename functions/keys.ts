import { routeGroupHandler } from '#shared/http/handler';
import { created, noContent, ok } from '#shared/http/responses';
import { ApiKeyId, CreateApiKeyBody } from '#shared/schemas/api-keys';
import { parseInput } from '#shared/schemas/common';
import { ListQuery } from '#shared/schemas/profiles';
import { createApiKey, listApiKeys, revokeApiKey } from '#shared/services/api-keys';

/**
 * API keys as principals of a tenant (admin only): mint, list, revoke. A function of its own so
 * that on AWS only its role may write API-key items (the others have an explicit deny).
 */
export const handler = routeGroupHandler({
  'POST /v1/api-keys': async ({ deps, caller, body }) => created(await createApiKey(deps, caller, parseInput(CreateApiKeyBody, body))),

  'GET /v1/api-keys': async ({ deps, caller, query }) => {
    const { limit, cursor } = parseInput(ListQuery, query, 'query string');
    return ok(await listApiKeys(deps, caller, limit, cursor));
  },

  'DELETE /v1/api-keys/{key_id}': async ({ deps, caller, params }) => {
    await revokeApiKey(deps, caller, parseInput(ApiKeyId, params.key_id, 'key_id'));
    return noContent();
  },
});
