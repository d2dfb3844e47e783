import { withGrant, withoutGrant } from '../credentials/access.ts';
import { auditedChange } from '../audit/log.ts';
import { profileEvent } from '../credentials/policy.ts';
import type { Caller, Deps } from '../deps.ts';
import { ConflictError, NotFoundError, ValidationError } from '../errors.ts';
import type { ProfileItem } from '../schemas/items.ts';
import type { SettingsChanges } from '../store/types.ts';
import type { ProfileMetadata, ShareProfileBody } from '../schemas/profiles.ts';
import { toMetadata } from './profiles.ts';
import type { ProfileTarget } from './targets.ts';
import { profileRefOf } from '../store/profile-ref.ts';

/**
 * Sharing a profile with another principal of the tenant (docs/api.md, "Principals and sharing"):
 * read_write on the profile is needed. Each change is one conditional write of the grants on the
 * generation and settings_version read — the same version a PATCH bumps and a replace or rotate
 * is conditioned on — so no concurrent settings or access change is lost: the loser answers 409.
 */

const raced = (name: string) =>
  new ConflictError(`Auth profile "${name}" was changed by another request while its grants were being changed; read it again and retry`);

/** One conditional grants write on the version read; 409 if another change came first. */
async function writeAccess(deps: Deps, item: ProfileItem, changes: SettingsChanges): Promise<ProfileItem> {
  const written = await deps.store.profiles.patchSettings(profileRefOf(item), changes, item, deps.now().toISOString());
  if (!written) throw raced(item.name);
  return written;
}

/** POST …/auth-profiles/{name}/share: adds (or changes) one principal's grant; the profile becomes shared. */
export async function shareProfile(deps: Deps, caller: Caller, target: ProfileTarget, body: ShareProfileBody): Promise<ProfileMetadata> {
  const item = target.profile;
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
export async function unshareProfile(deps: Deps, caller: Caller, target: ProfileTarget, principal: string): Promise<ProfileMetadata> {
  const item = target.profile;
  if (!(item.grants ?? []).some((g) => g.principal === principal)) {
    throw new NotFoundError(`Auth profile "${item.name}" has no grant for "${principal}"`, 'grant_not_found');
  }
  const event = { ...profileEvent(caller, 'unshare', item, 200, 'ok'), principal };
  const written = await auditedChange(deps, event, () => writeAccess(deps, item, withoutGrant(item.grants, principal)));
  return toMetadata(written, deps.now());
}
