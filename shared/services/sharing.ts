import { withGrant, withoutGrant } from '../credentials/access.ts';
import { writeAudit } from '../audit/log.ts';
import { profileEvent } from '../credentials/policy.ts';
import type { Caller, Deps } from '../deps.ts';
import { ConflictError, NotFoundError, ValidationError } from '../errors.ts';
import type { ProfileItem } from '../schemas/items.ts';
import type { SettingsChanges } from '../store/types.ts';
import type { ProfileMetadata, ShareProfileBody } from '../schemas/profiles.ts';
import { toMetadata } from './profiles.ts';
import type { ProfileTarget } from './targets.ts';

/**
 * Sharing a profile with another principal of the tenant (README "Principals and sharing"):
 * read_write on the profile is needed. Each change is one conditional write of the grants on the
 * generation and settings_version read — the same version a PATCH bumps and a replace or rotate
 * is conditioned on — so no concurrent settings or access change is lost: the loser answers 409.
 */

const raced = (name: string) =>
  new ConflictError(`Auth profile "${name}" was changed by another request while its grants were being changed; read it again and retry`);

/** One conditional grants write on the version read; 409 if another change came first. */
async function writeAccess(deps: Deps, item: ProfileItem, changes: SettingsChanges): Promise<ProfileItem> {
  const written = await deps.store.profiles.patchSettings(item.tenant, item.agent_id, item.slot, changes, item, deps.now().toISOString());
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
  const written = await writeAccess(deps, item, withGrant(item.grants, body));
  // Audited once written; a record that cannot be written answers 503 (the change stands).
  await writeAudit(deps, { ...profileEvent(caller, 'share', written, 200, 'ok'), principal: body.principal, permission: body.permission });
  return toMetadata(written, deps.now());
}

/** DELETE …/auth-profiles/{name}/share/{principal}: removes a grant; private again once none is left. */
export async function unshareProfile(deps: Deps, caller: Caller, target: ProfileTarget, principal: string): Promise<ProfileMetadata> {
  const item = target.profile;
  if (!(item.grants ?? []).some((g) => g.principal === principal)) {
    throw new NotFoundError(`Auth profile "${item.name}" has no grant for "${principal}"`, 'grant_not_found');
  }
  const written = await writeAccess(deps, item, withoutGrant(item.grants, principal));
  await writeAudit(deps, { ...profileEvent(caller, 'unshare', written, 200, 'ok'), principal });
  return toMetadata(written, deps.now());
}
