import { createLambdaWebhookDispatcher } from '#shared/aws/webhook-dispatcher';
import { setWebhookDispatcherFactory } from '#shared/context';
import { routeGroupHandler } from '#shared/http/handler';
import { created, noContent, ok } from '#shared/http/responses';
import * as agents from '#shared/services/agents';

// A forced delete publishes `profile.deleted` for each profile it removed: on AWS its deliveries go to the webhook worker.
setWebhookDispatcherFactory(createLambdaWebhookDispatcher);

/**
 * Agents: register, read, list, replace, delete, rotate the runner signing secret. Bodies,
 * queries and permissions come from the route table (shared/http/routes.ts).
 */
export const handler = routeGroupHandler('agents', {
  'POST /v1/agents': async ({ deps, caller, body }) => created(await agents.createAgent(deps, caller, body)),
  'GET /v1/agents': async ({ deps, caller, query }) => ok(await agents.listAgents(deps, caller, query.limit, query.cursor)),
  'GET /v1/agents/{agent_id}': async ({ deps, caller, params }) => ok(await agents.getAgent(deps, caller, params.agent_id as string)),
  'PUT /v1/agents/{agent_id}': async ({ deps, caller, target, body }) => ok(await agents.updateAgent(deps, caller, target, body)),
  'DELETE /v1/agents/{agent_id}': async ({ deps, caller, target, query }) => {
    await agents.deleteAgent(deps, caller, target, query.force);
    return noContent();
  },
  'POST /v1/agents/{agent_id}/rotate-signing-secret': async ({ deps, caller, target }) => ok(await agents.rotateSigningSecret(deps, caller, target)),
});
