/**
 * Who may do what with a profile: the one permission check, used by the profile services
 * (metadata, list, writes, share) and by the credential gate's POLICY (every use). docs/api.md,
 * "Principals and sharing", documents the rules.
 *
 * - An admin key may do everything with every profile of its tenant.
 * - The owner (the key that created the profile) may read and write it.
 * - A `shared` profile's grants give a key (by key_id) or every member (`role:member`) read
 *   (see the metadata and use it: run, proxy, test) or read_write (also replace/update, rotate,
 *   PATCH, share, delete); the best matching grant wins.
 * - A `private` profile is for its owner and the admins; a profile from before principals has no
 *   owner and is for the admins only.
 * Without read access the answer is the same 404 as for an unknown profile (its existence is not
 * revealed); with read but not write, a write is 403 `forbidden` (the caller already knows it exists).
 */
import type { Caller } from '../deps.ts';
import { ForbiddenError } from '../errors.ts';
import type { AgentItem, ProfileGrant, ProfileItem } from '../schemas/items.ts';

export type Permission = ProfileGrant['permission'];
/** What a caller may do with a profile. */
export type Access = 'none' | Permission;

/** The principal a grant names for every member key of the tenant. */
export const ROLE_MEMBER_PRINCIPAL = 'role:member';

/** The fields the check reads. */
export type AccessFields = Pick<ProfileItem, 'owner' | 'visibility' | 'grants'>;

/** The caller of a service called without one (the admin CLI, tests, the vault itself): an admin. */
export const systemCaller = (tenant: string): Caller => ({ tenant, apiKeyId: 'system', role: 'admin' });

/** What `caller` may do with a profile carrying `item`'s ownership and grants. */
export function accessOf(caller: Caller, item: AccessFields): Access {
  if (caller.role === 'admin') return 'read_write';
  if (item.owner === undefined) return 'none';
  if (item.owner === caller.apiKeyId) return 'read_write';
  if (item.visibility !== 'shared') return 'none';
  let best: Access = 'none';
  for (const grant of item.grants ?? []) {
    if (grant.principal !== caller.apiKeyId && grant.principal !== `role:${caller.role}`) continue;
    if (grant.permission === 'read_write') return 'read_write';
    best = 'read';
  }
  return best;
}

/** May `caller` see and use the profile? */
export const canRead = (caller: Caller, item: AccessFields): boolean => accessOf(caller, item) !== 'none';

/**
 * Throws `notFound()` (the caller's usual 404 for an unknown profile) unless `caller` may read
 * the profile. Undefined (no profile) is not found too.
 */
export function assertCanRead<T extends AccessFields>(caller: Caller, item: T | undefined, notFound: () => Error): T {
  if (!item || !canRead(caller, item)) throw notFound();
  return item;
}

/**
 * Throws `notFound()` unless `caller` may read the profile, and 403 forbidden unless it may also
 * write it (`what` names the refused action).
 */
export function assertCanWrite<T extends AccessFields>(caller: Caller, item: T | undefined, notFound: () => Error, what: string): T {
  const access = item ? accessOf(caller, item) : 'none';
  if (!item || access === 'none') throw notFound();
  if (access !== 'read_write') {
    throw new ForbiddenError(`${what} needs read_write permission on this auth profile; your key (${caller.apiKeyId}) has read only. Ask its owner or an admin to share it with read_write.`, 'forbidden');
  }
  return item;
}

/**
 * Throws `notFound()` unless `caller` has `need` on the profile (read: 404 without it; read_write:
 * also 403 with read only, `what` naming the refused action). The route table's `profile` and
 * `credential` permissions (shared/http/routes.ts) come here.
 */
export function assertAccess<T extends AccessFields>(caller: Caller, item: T | undefined, need: Permission, notFound: () => Error, what: string): T {
  return need === 'read' ? assertCanRead(caller, item, notFound) : assertCanWrite(caller, item, notFound, what);
}

/**
 * May `caller` change, rotate or delete the agent? Its owner (the key that registered it) and
 * the admins may; an agent from before owners is for the admins only. Every key of the tenant
 * may read an agent (to create profiles for it), so a refusal is a 403, not a 404.
 */
export function assertMayChangeAgent(caller: Caller, agent: Pick<AgentItem, 'agent_id' | 'owner'>, what: string): void {
  if (caller.role === 'admin' || (agent.owner !== undefined && agent.owner === caller.apiKeyId)) return;
  throw new ForbiddenError(
    `${what} needs the key that registered it or an admin key; your key (${caller.apiKeyId}) is a member that does not own agent "${agent.agent_id}"`,
    'forbidden',
  );
}

/** The ownership fields of a new profile created by `caller`. */
export function newProfileAccess(caller: Caller): Required<Pick<ProfileItem, 'owner' | 'visibility' | 'grants'>> {
  return { owner: caller.apiKeyId, visibility: 'private', grants: [] };
}

/** Grants after adding (or changing) one; the visibility follows: shared while any grant exists. */
export function withGrant(grants: readonly ProfileGrant[] | undefined, grant: ProfileGrant): { grants: ProfileGrant[]; visibility: 'shared' } {
  return { grants: [...(grants ?? []).filter((g) => g.principal !== grant.principal), grant], visibility: 'shared' };
}

/** Grants after removing a principal's; private once none is left. */
export function withoutGrant(grants: readonly ProfileGrant[] | undefined, principal: string): { grants: ProfileGrant[]; visibility: 'private' | 'shared' } {
  const left = (grants ?? []).filter((g) => g.principal !== principal);
  return { grants: left, visibility: left.length > 0 ? 'shared' : 'private' };
}
