import { routeGroupHandler } from '#shared/http/handler';
import { created, noContent, ok } from '#shared/http/responses';
import { CreateAgentBody, UpdateAgentBody } from '#shared/schemas/agents';
import { AgentId, parseInput } from '#shared/schemas/common';
import { ListQuery } from '#shared/schemas/profiles';
import * as agents from '#shared/services/agents';

/** Agents: register, read, list, replace, delete, rotate the runner signing secret. */
export const handler = routeGroupHandler({
  'POST /v1/agents': async ({ deps, tenant, body }) =>
    created(await agents.createAgent(deps, tenant, parseInput(CreateAgentBody, body))),

  'GET /v1/agents': async ({ deps, tenant, query }) => {
    const { limit, cursor } = parseInput(ListQuery, query, 'query string');
    return ok(await agents.listAgents(deps, tenant, limit, cursor));
  },

  'GET /v1/agents/{agent_id}': async ({ deps, tenant, params }) =>
    ok(await agents.getAgent(deps, tenant, parseInput(AgentId, params.agent_id, 'agent_id'))),

  'PUT /v1/agents/{agent_id}': async ({ deps, tenant, params, body }) =>
    ok(await agents.updateAgent(deps, tenant, parseInput(AgentId, params.agent_id, 'agent_id'), parseInput(UpdateAgentBody, body))),

  'DELETE /v1/agents/{agent_id}': async ({ deps, tenant, params, query }) => {
    await agents.deleteAgent(deps, tenant, parseInput(AgentId, params.agent_id, 'agent_id'), query.force === 'true');
    return noContent();
  },

  'POST /v1/agents/{agent_id}/rotate-signing-secret': async ({ deps, tenant, params }) =>
    ok(await agents.rotateSigningSecret(deps, tenant, parseInput(AgentId, params.agent_id, 'agent_id'))),
});
