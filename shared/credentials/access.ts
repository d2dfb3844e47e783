/**
 * Who may do what with a profile: the one permission check, used by the profile services
 * (metadata, list, writes, share) and by the credential gate's POLICY (every use). README
 * "Principals and sharing" documents the rules.
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
import type { ProfileGrant, ProfileItem } from '../schemas/items.ts';

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
