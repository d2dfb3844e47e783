/**
 * The services as the routes call them, for tests that drive the domain without HTTP: each
 * wrapper runs the route's own permission check (shared/http/authorize.ts, from the route table
 * in shared/http/routes.ts) before the service, exactly as shared/http/handler.ts does, and
 * keeps the tenant-first signatures the tests were written with. A caller left out is the
 * tenant's system admin (the admin CLI's caller).
 */
import { systemCaller } from '#shared/credentials/access';
import type { Caller, Deps } from '#shared/deps';
import { authorize } from '#shared/http/authorize';
import { type RouteKey, routes } from '#shared/http/routes';
import type { CreateAgentBody, UpdateAgentBody } from '#shared/schemas/agents';
import type { PatchProfileBody } from '#shared/schemas/lifecycle';
import type { CreateProfileBody, ProfileFilter, ShareProfileBody, UpsertProfileBody } from '#shared/schemas/profiles';
import * as agents from '#shared/services/agents';
import * as lifecycle from '#shared/services/lifecycle';
import * as profiles from '#shared/services/profiles';
import * as runs from '#shared/services/runs';
import * as sharing from '#shared/services/sharing';
import type { AgentTarget, ProfileTarget } from '#shared/services/targets';

const as = (tenant: string, caller?: Caller) => caller ?? systemCaller(tenant);

async function target<T>(deps: Deps, caller: Caller, key: RouteKey, params: Record<string, string>): Promise<T> {
  return (await authorize(deps, caller, routes[key].permission, params)) as T;
}

export const createAgent = (deps: Deps, tenant: string, body: CreateAgentBody, caller?: Caller) =>
  agents.createAgent(deps, as(tenant, caller), body);
export const getAgent = (deps: Deps, tenant: string, agentId: string, caller?: Caller) =>
  agents.getAgent(deps, as(tenant, caller), agentId);
export const listAgents = (deps: Deps, tenant: string, limit: number, cursor?: string, caller?: Caller) =>
  agents.listAgents(deps, as(tenant, caller), limit, cursor);

export async function updateAgent(deps: Deps, tenant: string, agentId: string, body: UpdateAgentBody, caller?: Caller) {
  const c = as(tenant, caller);
  return agents.updateAgent(deps, c, await target<AgentTarget>(deps, c, 'PUT /v1/agents/{agent_id}', { agent_id: agentId }), body);
}

export async function rotateSigningSecret(deps: Deps, tenant: string, agentId: string, caller?: Caller) {
  const c = as(tenant, caller);
  return agents.rotateSigningSecret(
    deps,
    c,
    await target<AgentTarget>(deps, c, 'POST /v1/agents/{agent_id}/rotate-signing-secret', { agent_id: agentId }),
  );
}

export async function deleteAgent(deps: Deps, tenant: string, agentId: string, force: boolean, caller?: Caller) {
  const c = as(tenant, caller);
  return agents.deleteAgent(deps, c, await target<AgentTarget>(deps, c, 'DELETE /v1/agents/{agent_id}', { agent_id: agentId }), force);
}

export const createProfile = (deps: Deps, tenant: string, body: CreateProfileBody, caller?: Caller) =>
  profiles.createProfile(deps, as(tenant, caller), body);
export const createProfileRecord = (
  deps: Deps,
  tenant: string,
  body: CreateProfileBody & { should_save_session?: boolean },
  caller?: Caller,
) => profiles.createProfileRecord(deps, as(tenant, caller), body);
export const upsertProfile = (deps: Deps, tenant: string, body: UpsertProfileBody, caller?: Caller) =>
  profiles.upsertProfile(deps, as(tenant, caller), body);
export const upsertProfileRecord = (deps: Deps, tenant: string, body: UpsertProfileBody, caller?: Caller) =>
  profiles.upsertProfileRecord(deps, as(tenant, caller), body);
export const listProfiles = (
  deps: Deps,
  tenant: string,
  agentId: string,
  limit: number,
  cursor?: string,
  caller?: Caller,
  filter?: ProfileFilter,
) => profiles.listProfiles(deps, as(tenant, caller), agentId, limit, cursor, filter);
export const listTenantProfiles = (deps: Deps, tenant: string, limit: number, cursor?: string, caller?: Caller, filter?: ProfileFilter) =>
  profiles.listTenantProfiles(deps, as(tenant, caller), limit, cursor, filter);

const profileParams = (agentId: string, name: string) => ({ agent_id: agentId, name });

export async function getProfileMetadata(deps: Deps, tenant: string, agentId: string, name: string, caller?: Caller) {
  const c = as(tenant, caller);
  return profiles.getProfileMetadata(
    deps,
    await target<ProfileTarget>(deps, c, 'GET /v1/agents/{agent_id}/auth-profiles/{name}', profileParams(agentId, name)),
  );
}

/** DELETE …/auth-profiles/{name}; `force` defaults to true (delete whatever its use). */
export async function deleteProfile(deps: Deps, tenant: string, agentId: string, name: string, force = true, caller?: Caller) {
  return deleteProfileChecked(deps, as(tenant, caller), agentId, name, force);
}

export async function deleteProfileChecked(deps: Deps, caller: Caller, agentId: string, name: string, force: boolean) {
  return lifecycle.deleteProfileChecked(
    deps,
    caller,
    await target<ProfileTarget>(deps, caller, 'DELETE /v1/agents/{agent_id}/auth-profiles/{name}', profileParams(agentId, name)),
    force,
  );
}

export async function patchProfile(deps: Deps, caller: Caller, agentId: string, name: string, body: PatchProfileBody) {
  return lifecycle.patchProfile(
    deps,
    caller,
    await target<ProfileTarget>(deps, caller, 'PATCH /v1/agents/{agent_id}/auth-profiles/{name}', profileParams(agentId, name)),
    body,
  );
}

export async function profileUsage(deps: Deps, caller: Caller, agentId: string, name: string) {
  return lifecycle.profileUsage(
    deps,
    await target<ProfileTarget>(deps, caller, 'GET /v1/agents/{agent_id}/auth-profiles/{name}/usage', profileParams(agentId, name)),
  );
}

export async function shareProfile(deps: Deps, caller: Caller, agentId: string, name: string, body: ShareProfileBody) {
  return sharing.shareProfile(
    deps,
    caller,
    await target<ProfileTarget>(deps, caller, 'POST /v1/agents/{agent_id}/auth-profiles/{name}/share', profileParams(agentId, name)),
    body,
  );
}

export async function unshareProfile(deps: Deps, caller: Caller, agentId: string, name: string, principal: string) {
  const key = 'DELETE /v1/agents/{agent_id}/auth-profiles/{name}/share/{principal}';
  return sharing.unshareProfile(deps, caller, await target<ProfileTarget>(deps, caller, key, profileParams(agentId, name)), principal);
}

export const rotateProfile = lifecycle.rotateProfile;
export const getRun = (deps: Deps, tenant: string, sessionId: string, caller?: Caller) => runs.getRun(deps, as(tenant, caller), sessionId);
