import { type Permission, assertAccess } from '../credentials/access.ts';
import { loadNamedProfile } from '../credentials/profile-names.ts';
import type { Caller, Deps } from '../deps.ts';
import { NotFoundError, agentNotFound } from '../errors.ts';
import type { AgentItem, OAuthTokenItem, ProfileItem } from '../schemas/items.ts';

/**
 * The resources a route's permission is checked on (shared/http/authorize.ts), read once and
 * handed to the service, which never reads or checks them again.
 */
export interface AgentTarget {
  readonly agentId: string;
  /** Read by the check (a member's); absent when an admin needed no read to be let through. */
  readonly agent?: AgentItem;
}

/** The path's profile, read with its agent in one round trip, with the caller's access checked. */
export interface ProfileTarget {
  readonly agent: AgentItem;
  readonly profile: ProfileItem;
  /** The profile's OAuth2 token cache item, when the route's permission asked for it (`load`). */
  readonly oauthToken?: OAuthTokenItem;
}

/** The one 404 for a profile name that is unknown — or that the caller may not see. */
export const profileNameNotFound = (agentId: string, name: string) =>
  new NotFoundError(`No auth profile named "${name}" for agent "${agentId}"`, 'profile_not_found');

/** The stored agent (its integrity checked), or 404 agent_not_found. */
export async function requireAgent(deps: Deps, tenant: string, agentId: string): Promise<AgentItem> {
  const item = await deps.store.agents.get(tenant, agentId);
  if (!item) throw agentNotFound(agentId);
  return item;
}

/**
 * The agent and the named profile in one read (no permission checked): 404 for either missing,
 * and for a profile left from an earlier registration of the agent.
 */
export async function requireNamedProfile(
  deps: Deps,
  tenant: string,
  agentId: string,
  name: string,
  options: { withOAuthToken?: boolean } = {},
): Promise<ProfileTarget> {
  const { ctx } = await loadNamedProfile(deps.store, tenant, agentId, name, options);
  const agent = ctx.agent;
  if (!agent) throw agentNotFound(agentId);
  if (!ctx.profile || ctx.profile.agent_incarnation !== agent.incarnation) throw profileNameNotFound(agentId, name);
  return { agent, profile: ctx.profile, ...(ctx.oauthToken ? { oauthToken: ctx.oauthToken } : {}) };
}

/**
 * The path's profile with `caller`'s access checked: without read the same 404 as an unknown
 * name (its existence is not revealed), with read only and `need` read_write a 403 naming `what`.
 */
export async function loadProfileTarget(
  deps: Deps,
  caller: Caller,
  ref: { readonly agentId: string; readonly name: string },
  need: Permission,
  what: string,
  options: { withOAuthToken?: boolean } = {},
): Promise<ProfileTarget> {
  // An unknown name (requireNamedProfile's 404) answers the same as a profile the caller may not see.
  const target = await requireNamedProfile(deps, caller.tenant, ref.agentId, ref.name, options);
  assertAccess(caller, target.profile, need, () => profileNameNotFound(ref.agentId, ref.name), what);
  return target;
}
