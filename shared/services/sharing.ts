import { assertCanWrite, withGrant, withoutGrant } from '../credentials/access.ts';
import { auditedChange } from '../audit/log.ts';
import { profileEvent } from '../credentials/policy.ts';
import type { Caller, Deps } from '../deps.ts';
import { ConflictError, NotFoundError, ValidationError } from '../errors.ts';
import type { ProfileItem } from '../schemas/items.ts';
import type { SettingsChanges } from '../store/types.ts';
import type { ProfileMetadata, ShareProfileBody } from '../schemas/profiles.ts';
import { requireNamedProfile } from './lifecycle.ts';
import { profileNameNotFound, toMetadata } from './profiles.ts';

/**
 * Sharing a profile with another principal of the tenant (README "Principals and sharing"):
 * read_write on the profile is needed. Each change is one conditional write of the grants on the
 * generation and settings_version read — the same version a PATCH bumps and a replace or rotate
 * is conditioned on — so no concurrent settings or access change is lost: the loser answers 409.
 */

/** The profile `caller` may write (404 as unknown without access, 403 with read only). */
async function writableProfile(deps: Deps, caller: Caller, agentId: string, name: string, what: string): Promise<ProfileItem> {
  const item = await requireNamedProfile(deps, caller.tenant, agentId, name);
  return assertCanWrite(caller, item, () => profileNameNotFound(agentId, name), what);
}

const raced = (name: string) =>
  new ConflictError(`Auth profile "${name}" was changed by another request while its grants were being changed; read it again and retry`);

/** One conditional grants write on the version read; 409 if another change came first. */
async function writeAccess(deps: Deps, item: ProfileItem, changes: SettingsChanges): Promise<ProfileItem> {
  const written = await deps.store.profiles.patchSettings(item.tenant, item.agent_id, item.slot, changes, item, deps.now().toISOString());
  if (!written) throw raced(item.name);
  return written;
}

/** POST …/auth-profiles/{name}/share: adds (or changes) one principal's grant; the profile becomes shared. */
export async function shareProfile(deps: Deps, caller: Caller, agentId: string, name: string, body: ShareProfileBody): Promise<ProfileMetadata> {
  const item = await writableProfile(deps, caller, agentId, name, 'Sharing this auth profile');
  if (body.principal !== 'role:member' && !(await deps.store.apiKeys.getIndex(caller.tenant, body.principal))) {
    throw new ValidationError(
      `principal "${body.principal}" is not an API key of this tenant (see GET /v1/api-keys; a key from before principals is listed once it has been used)`,
      'unknown_principal',
    );
  }
  // Write-ahead (shared/audit/log.ts): no record, no grant (503); a lost race (409) gets a second record.
  const event = { ...profileEvent(caller, 'share', item, 200, 'ok'), principal: body.principal, permission: body.permission };
  const written = await auditedChange(deps, event, () => writeAccess(deps, item, withGrant(item.grants, body)));
  return toMetadata(written, deps.now());
}

/** DELETE …/auth-profiles/{name}/share/{principal}: removes a grant; private again once none is left. */
export async function unshareProfile(deps: Deps, caller: Caller, agentId: string, name: string, principal: string): Promise<ProfileMetadata> {
  const item = await writableProfile(deps, caller, agentId, name, 'Changing the grants of this auth profile');
  if (!(item.grants ?? []).some((g) => g.principal === principal)) {
    throw new NotFoundError(`Auth profile "${name}" has no grant for "${principal}"`, 'grant_not_found');
  }
  const event = { ...profileEvent(caller, 'unshare', item, 200, 'ok'), principal };
  const written = await auditedChange(deps, event, () => writeAccess(deps, item, withoutGrant(item.grants, principal)));
  return toMetadata(written, deps.now());
}
