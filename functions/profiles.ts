import { routeGroupHandler } from '#shared/http/handler';
import { created, noContent, ok } from '#shared/http/responses';
import { AgentId, ProfileName, parseInput } from '#shared/schemas/common';
import { CreateProfileBody, GrantPrincipal, ListQuery, NativeCreateProfileBody, NativePutProfileBody, ShareProfileBody, UpsertProfileBody } from '#shared/schemas/profiles';
import { shareProfile, unshareProfile } from '#shared/services/sharing';
import * as profiles from '#shared/services/profiles';
import { grantOf } from '#shared/http/authenticate';
import { GrantProxyBody, ProxyBody, TestProfileBody } from '#shared/schemas/proxy';
import { proxyRequest, proxyWithGrant, testProfile } from '#shared/services/proxy';
import * as lifecycle from '#shared/services/lifecycle';
import { listAudit } from '#shared/services/audit';
import { AuditQuery } from '#shared/schemas/audit';
import { DeleteQuery, PatchProfileBody, RotateProfileBody } from '#shared/schemas/lifecycle';

const profileParams = (params: Readonly<Record<string, string | undefined>>) => ({
  agentId: parseInput(AgentId, params.agent_id, 'agent_id'),
  name: parseInput(ProfileName, params.name, 'profile name'),
});

/** Auth profiles: the compatible create/upsert endpoints and the native metadata endpoints. */
export const handler = routeGroupHandler({
  'POST /api/create_agent_auth_profile': async ({ deps, caller, body }) =>
    ok(await profiles.createProfile(deps, caller.tenant, parseInput(CreateProfileBody, body), caller)),

  'POST /api/upsert_agent_auth_profile': async ({ deps, caller, body }) =>
    ok(await profiles.upsertProfile(deps, caller.tenant, parseInput(UpsertProfileBody, body), caller)),

  'GET /v1/agents/{agent_id}/auth-profiles': async ({ deps, caller, params, query }) => {
    const { limit, cursor } = parseInput(ListQuery, query, 'query string');
    return ok(await profiles.listProfiles(deps, caller.tenant, parseInput(AgentId, params.agent_id, 'agent_id'), limit, cursor, caller));
  },

  'POST /v1/agents/{agent_id}/auth-profiles': async ({ deps, caller, params, body }) => {
    const agentId = parseInput(AgentId, params.agent_id, 'agent_id');
    const input = parseInput(NativeCreateProfileBody, body);
    const { auth_token, record } = await profiles.createProfileRecord(deps, caller.tenant, { ...input, agent_id: agentId }, caller);
    return created({ auth_token, type: 'create', profile: profiles.toMetadata(record, deps.now()) });
  },

  'PUT /v1/agents/{agent_id}/auth-profiles/{name}': async ({ deps, caller, params, body }) => {
    const agentId = parseInput(AgentId, params.agent_id, 'agent_id');
    const name = parseInput(ProfileName, params.name, 'profile name');
    const input = parseInput(NativePutProfileBody, body);
    const { auth_token, type, record } = await profiles.upsertProfileRecord(deps, caller.tenant, { ...input, agent_id: agentId, name }, caller);
    return ok({ auth_token, type, profile: profiles.toMetadata(record, deps.now()) });
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

  'POST /v1/proxy': async ({ deps, caller, body, event }) => {
    // A runner's run grant (Authorization: Bearer avg_…, no API key) or the platform's API key + auth_token.
    const grant = caller.tenant === '' ? grantOf(event) : undefined;
    if (grant !== undefined) return ok(await proxyWithGrant(deps, caller, grant, parseInput(GrantProxyBody, body)));
    return ok(await proxyRequest(deps, caller, parseInput(ProxyBody, body)));
  },

  'GET /v1/agents/{agent_id}/auth-profiles/{name}': async ({ deps, caller, params }) => {
    const { agentId, name } = profileParams(params);
    return ok(await profiles.getProfileMetadata(deps, caller.tenant, agentId, name, caller));
  },

  'PATCH /v1/agents/{agent_id}/auth-profiles/{name}': async ({ deps, caller, params, body }) => {
    const { agentId, name } = profileParams(params);
    const item = await lifecycle.patchProfile(deps, caller, agentId, name, parseInput(PatchProfileBody, body));
    return ok(profiles.toMetadata(item, deps.now()));
  },

  'DELETE /v1/agents/{agent_id}/auth-profiles/{name}': async ({ deps, caller, params, query }) => {
    const { agentId, name } = profileParams(params);
    const { force } = parseInput(DeleteQuery, query, 'query string');
    await lifecycle.deleteProfileChecked(deps, caller, agentId, name, force);
    return noContent();
  },

  'POST /v1/agents/{agent_id}/auth-profiles/{name}/rotate': async ({ deps, caller, params, body }) => {
    const { agentId, name } = profileParams(params);
    return ok(await lifecycle.rotateProfile(deps, caller, agentId, name, parseInput(RotateProfileBody, body)));
  },

  'GET /v1/agents/{agent_id}/auth-profiles/{name}/usage': async ({ deps, caller, params }) => {
    const { agentId, name } = profileParams(params);
    return ok(await lifecycle.profileUsage(deps, caller, agentId, name));
  },

  'POST /v1/agents/{agent_id}/auth-profiles/{name}/share': async ({ deps, caller, params, body }) => {
    const { agentId, name } = profileParams(params);
    return ok(await shareProfile(deps, caller, agentId, name, parseInput(ShareProfileBody, body)));
  },

  'DELETE /v1/agents/{agent_id}/auth-profiles/{name}/share/{principal}': async ({ deps, caller, params }) => {
    const { agentId, name } = profileParams(params);
    return ok(await unshareProfile(deps, caller, agentId, name, parseInput(GrantPrincipal, params.principal, 'principal')));
  },

  'GET /v1/audit': async ({ deps, caller, query }) => ok(await listAudit(deps, caller, parseInput(AuditQuery, query, 'query string'))),
}, { grantRoutes: ['POST /v1/proxy'] });
