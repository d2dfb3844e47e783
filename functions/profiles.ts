import { routeGroupHandler } from '#shared/http/handler';
import { created, noContent, ok } from '#shared/http/responses';
import { AgentId, ProfileName, parseInput } from '#shared/schemas/common';
import { CreateProfileBody, ListQuery, NativeCreateProfileBody, NativePutProfileBody, UpsertProfileBody } from '#shared/schemas/profiles';
import * as profiles from '#shared/services/profiles';
import { ProxyBody, TestProfileBody } from '#shared/schemas/proxy';
import { proxyRequest, testProfile } from '#shared/services/proxy';

/** Auth profiles: the compatible create/upsert endpoints and the native metadata endpoints. */
export const handler = routeGroupHandler({
  'POST /api/create_agent_auth_profile': async ({ deps, tenant, body }) =>
    ok(await profiles.createProfile(deps, tenant, parseInput(CreateProfileBody, body))),

  'POST /api/upsert_agent_auth_profile': async ({ deps, tenant, body }) =>
    ok(await profiles.upsertProfile(deps, tenant, parseInput(UpsertProfileBody, body))),

  'GET /v1/agents/{agent_id}/auth-profiles': async ({ deps, tenant, params, query }) => {
    const { limit, cursor } = parseInput(ListQuery, query, 'query string');
    return ok(await profiles.listProfiles(deps, tenant, parseInput(AgentId, params.agent_id, 'agent_id'), limit, cursor));
  },

  'POST /v1/agents/{agent_id}/auth-profiles': async ({ deps, tenant, params, body }) => {
    const agentId = parseInput(AgentId, params.agent_id, 'agent_id');
    const input = parseInput(NativeCreateProfileBody, body);
    const { auth_token, record } = await profiles.createProfileRecord(deps, tenant, { ...input, agent_id: agentId });
    return created({ auth_token, type: 'create', profile: profiles.toMetadata(record) });
  },

  'PUT /v1/agents/{agent_id}/auth-profiles/{name}': async ({ deps, tenant, params, body }) => {
    const agentId = parseInput(AgentId, params.agent_id, 'agent_id');
    const name = parseInput(ProfileName, params.name, 'profile name');
    const input = parseInput(NativePutProfileBody, body);
    const { auth_token, type, record } = await profiles.upsertProfileRecord(deps, tenant, { ...input, agent_id: agentId, name });
    return ok({ auth_token, type, profile: profiles.toMetadata(record) });
  },

  'POST /v1/agents/{agent_id}/auth-profiles/{name}/test': async ({ deps, caller, params, body }) =>
    ok(
      await testProfile(
        deps,
        caller,
        parseInput(AgentId, params.agent_id, 'agent_id'),
        parseInput(ProfileName, params.name, 'profile name'),
        parseInput(TestProfileBody, body),
      ),
    ),

  'POST /v1/proxy': async ({ deps, caller, body }) => ok(await proxyRequest(deps, caller, parseInput(ProxyBody, body))),

  'GET /v1/agents/{agent_id}/auth-profiles/{name}': async ({ deps, tenant, params }) =>
    ok(
      await profiles.getProfileMetadata(
        deps,
        tenant,
        parseInput(AgentId, params.agent_id, 'agent_id'),
        parseInput(ProfileName, params.name, 'profile name'),
      ),
    ),

  'DELETE /v1/agents/{agent_id}/auth-profiles/{name}': async ({ deps, tenant, params }) => {
    await profiles.deleteProfile(
      deps,
      tenant,
      parseInput(AgentId, params.agent_id, 'agent_id'),
      parseInput(ProfileName, params.name, 'profile name'),
    );
    return noContent();
  },
});
