import { auditedChange, queryAudit } from '../audit/log.ts';
import { type AuditRecord, USE_ACTIONS } from '../audit/record.ts';
import { openForEdit } from '../credentials/gate.ts';
import { resealConnection } from '../credentials/oauth2/connection.ts';
import { ProfileKeys } from '../credentials/profile-keys.ts';
import { assertCanWrite } from '../credentials/access.ts';
import { namedProfileRef } from '../credentials/profile-keys.ts';
import { type Claimed, claimName, loadNamedProfile, releaseName } from '../credentials/profile-names.ts';
import { isSameSeal, sealProfile } from '../credentials/sealed-profile.ts';
import { profileEvent } from '../credentials/policy.ts';
import { normalizeAllowedSourceIps } from '../credentials/source-ip.ts';
import { expiryFrom, isTokenExpired, tokenState } from '../credentials/token-state.ts';
import { type UsageSummary, isInUse, usageSummary } from '../credentials/usage.ts';
import { newToken } from '../crypto/token.ts';
import type { Caller, Deps } from '../deps.ts';
import { ConflictError, ProfileInUseError, ValidationError } from '../errors.ts';
import type { ProfileItem } from '../schemas/items.ts';
import type { PatchProfileBody, RotateProfileBody } from '../schemas/lifecycle.ts';
import type { ProfileRecord, ProfileSettings } from '../store/types.ts';
import { type ProfileTarget, loadProfileTarget, profileNameNotFound } from './targets.ts';
import { profileRef, profileRefOf } from '../store/profile-ref.ts';
import { publishEvent } from '../webhooks/publish.ts';

/**
 * A profile's lifecycle besides create/replace/update: rotate its token, PATCH its non-secret
 * settings, read its usage, delete it (refused while in use unless forced). Every change is
 * audited before it is made (write-ahead, auditedChange in shared/audit/log.ts): a change whose
 * record cannot be written answers 503 and does not happen; one that fails after its record gets
 * a second record with its status and code.
 */

/** How often a PATCH that lost a race to another PATCH re-reads and applies itself again. */
const MAX_PATCH_ATTEMPTS = 5;
/** Uses shown by GET .../usage. */
const USAGE_LIMIT = 50;

/** What the lifecycle part of the metadata is made of. */
type LifecycleFields = Pick<
  ProfileItem,
  'active' | 'description' | 'token_expires_at' | 'allowed_source_ips' | 'daily_uses' | 'in_flight_until' | 'last_used_at' | 'use_count'
>;

/** The lifecycle fields of a profile's metadata (never a value, never a token). */
export function lifecycleMetadata(item: LifecycleFields, now: Date) {
  const usage = usageSummary(item, now);
  return {
    active: item.active,
    description: item.description,
    token_expires_at: item.token_expires_at,
    token_state: tokenState(item.token_expires_at, now),
    allowed_source_ips: item.allowed_source_ips,
    uses_last_7_days: usage.uses_last_7_days,
    in_flight_until: usage.in_flight_until,
  };
}

/**
 * The expiry a rotation without `expires_in_hours` keeps: the stored one. One that has already
 * passed would make the new token dead on arrival, so renewing an expired token needs an explicit
 * choice (400): a number of hours, or null for no expiry.
 */
function keptExpiry(stored: string | undefined, now: Date): string | undefined {
  if (stored !== undefined && isTokenExpired(stored, now)) {
    throw new ValidationError(
      `the token expired at ${stored}; a rotation without expires_in_hours keeps the expiry, so send expires_in_hours: a number of hours from now, or null for no expiry`,
    );
  }
  return stored;
}

/**
 * POST .../auth-profiles/{name}/rotate: a new token (generation + 1) for the same values,
 * re-encrypted under it. The old token is dead from this write on; its saved session goes too.
 * An expired or inactive profile can be rotated (that is how an expired token is renewed); the
 * token must still verify — unknown, wrong and other-profile tokens answer the usual 404.
 * Expiry: `expires_in_hours` absent keeps the stored one (see keptExpiry), null removes it, a
 * number sets a new one from now (the rule of an update in place, which however has no null).
 */
export async function rotateProfile(deps: Deps, caller: Caller, agentId: string, name: string, body: RotateProfileBody) {
  // Rotating needs read_write; without read, or with a token of another profile, the unknown-profile 404.
  const { profile: opened, values } = await openForEdit(
    deps,
    caller,
    { kind: 'named', agentId, name, token: body.auth_token },
    'Rotating this auth profile',
  );
  const previous = opened.item;
  // Absent: the stored expiry; null: none; a number: that many hours from now.
  const requested = body.expires_in_hours;
  const expiresAt =
    requested === undefined ? keptExpiry(previous.token_expires_at, deps.now()) : expiryFrom(deps.now(), requested ?? undefined);
  const { slot } = opened.keys.binding;
  const ref = profileRefOf(previous);
  const fresh = newToken(slot);
  const now = deps.now().toISOString();
  const { pk: _pk, sk: _sk, entity: _e, ...kept } = previous;
  const sealed = sealProfile(
    deps.serverKeys.current,
    { tenant: caller.tenant, agentId, slot, generation: previous.generation + 1 },
    fresh.secret,
    previous.record_version + 1,
    values,
    // A new token is not a new approval: the runner origin and delivery approved before (checked
    // by openProfileKeys in the gate) carry over, re-tagged under the new token.
    { origin: previous.runner_origin as string, delivery: previous.runner_delivery ?? 'parameters' },
    { ...kept, updated_at: now },
  );
  // Everything else the profile carries (settings, usage, type config) stays as it was.
  const record: ProfileRecord = { ...kept, ...sealed, token_expires_at: expiresAt };
  // The record names the new generation, known before the write (the sealed record carries it).
  await auditedChange(deps, profileEvent(caller, 'rotate', record, 200, 'ok'), async () => {
    const written = await deps.store.profiles.replace(record, previous);
    if (!written && !isSameSeal(await deps.store.profiles.get(ref), record)) {
      throw new ConflictError(
        `Auth profile "${name}" was changed by another request while this rotation ran; retry with its current token`,
      );
    }
  });
  // The old generation's session would no longer open anyway; it is removed, not left behind.
  await deps.store.sessions.delete(ref);
  // A delegated profile's connection is carried over to the new token's keys (no new consent).
  if (previous.auth_type === 'oauth2_authorization_code') {
    const keys = new ProfileKeys(
      deps.serverKeys.current,
      { tenant: caller.tenant, agentId, slot, generation: record.generation },
      fresh.secret,
    );
    if (!(await resealConnection(deps, opened, { keys, item: record }))) {
      await deps.store.profiles.recordConnection(
        ref,
        { generation: record.generation, created_at: record.created_at },
        { connection_state: previous.connection_state === 'connected' ? 'needs_reauth' : previous.connection_state },
      );
    }
  }
  return { auth_token: fresh.token, name, generation: record.generation, token_expires_at: expiresAt };
}

/**
 * PATCH .../auth-profiles/{name}: edits only the non-secret settings sent, with no token. A
 * PATCH racing another PATCH re-reads and applies itself again (its fields are absolute values,
 * so applying them to the newer item is what the caller asked); a replace or rotate racing it
 * fails its settings_version condition and retries, so no change is lost.
 */
export async function patchProfile(deps: Deps, caller: Caller, target: ProfileTarget, body: PatchProfileBody) {
  if (body.name !== undefined) return renameProfile(deps, caller, target, body.name);
  const { agent_id: agentId, name } = target.profile;
  // Absent: unchanged. null: removed (a REMOVE in the write).
  const changes: { -readonly [K in keyof ProfileSettings]?: ProfileSettings[K] | null } = {};
  if (body.active !== undefined) changes.active = body.active;
  if (body.description !== undefined) changes.description = body.description;
  if (body.allowed_source_ips !== undefined) changes.allowed_source_ips = normalizeAllowedSourceIps(body.allowed_source_ips);
  if (body.allowed_hosts !== undefined) changes.allowed_hosts = body.allowed_hosts;
  if (body.allowed_path_prefixes !== undefined) changes.allowed_path_prefixes = body.allowed_path_prefixes;
  if (body.allowed_methods !== undefined) changes.allowed_methods = body.allowed_methods;
  // Permission is checked on every version read (the route's check on the first): a PATCH racing
  // an unshare of its caller re-reads and is refused.
  const writable = async () =>
    (await loadProfileTarget(deps, caller, { agentId, name }, 'read_write', 'Changing the settings of this auth profile')).profile;
  let item = target.profile;
  const repo = deps.store.profiles;
  // One record for the request, before its first write, naming the generation whose permission
  // was checked first (a PATCH does not change the generation). Its retries are the same change;
  // if they end in a refusal (a lost permission, 409 after MAX_PATCH_ATTEMPTS) a second record says so.
  return auditedChange(deps, profileEvent(caller, 'patch', item, 200, 'ok'), async () => {
    for (let attempt = 0; attempt < MAX_PATCH_ATTEMPTS; attempt++) {
      const updated = await repo.patchSettings(profileRef(caller.tenant, agentId, item.slot), changes, item, deps.now().toISOString());
      if (updated) return updated;
      item = await writable();
    }
    throw new ConflictError(`Auth profile "${name}" is being changed by other requests at the same time; retry`);
  });
}

/**
 * PATCH {"name": …}: renames the profile where it lives (docs/architecture.md, "Renaming a
 * profile"), so its token (which carries its slot), usage counters and audit view (keyed by the
 * slot) stay with it. No transactions: three conditional writes, each safe to stop after.
 * 1. The fence: the profile is marked `rename_to` = the new name (no covered attribute changes).
 * 2. The new name's claim, pointing at the profile's slot (claimName: 409 profile_exists if the
 *    name is a profile's; a stale claim is taken over; a rename to the same name that has not
 *    finished is cancelled by clearing its fence, so its last write fails).
 * 3. The name itself, conditioned on the versions read and on the fence still being this
 *    rename's; then the old name's claim is released (a failure leaves a stale claim: harmless).
 * Stopped after 1 or 2, the profile keeps its old name everywhere and the new name answers 404
 * (its claim points at a profile not named so); the next rename or create of either name
 * repairs what is left. Audited write-ahead, like every change.
 */
export async function renameProfile(deps: Deps, caller: Caller, target: ProfileTarget, to: string): Promise<ProfileItem> {
  const item = target.profile;
  const { agent_id: agentId, name: from } = item;
  if (to === from) return item;
  const store = deps.store;
  const ref = profileRefOf(item);
  const conflict = () =>
    new ConflictError(`Auth profile "${from}" was changed or renamed by another request while this rename ran; read it again and retry`);
  const renamed = await auditedChange(deps, { ...profileEvent(caller, 'rename', item, 200, 'ok'), new_name: to }, async () => {
    const at = deps.now().toISOString();
    if (!(await store.profiles.markRename(ref, from, to, at))) throw conflict();
    let claimed: Claimed | undefined;
    try {
      claimed = await claimName(store, await loadNamedProfile(store, caller.tenant, agentId, to), to, item.slot, deps.now);
      let read = item;
      for (let attempt = 0; attempt < MAX_PATCH_ATTEMPTS; attempt++) {
        const written = await store.profiles.rename(ref, read, to, at, deps.now().toISOString());
        if (written) return written;
        // A concurrent PATCH, share or write moved a version: read again (permission included) and
        // go on while the fence is still ours; a fence cleared means the name was taken meanwhile.
        const current = await store.profiles.get(ref);
        if (!current || current.rename_to !== to || current.rename_at !== at) throw conflict();
        read = assertCanWrite(caller, current, () => profileNameNotFound(agentId, from), 'Renaming this auth profile');
      }
      throw conflict();
    } catch (err) {
      // An answer lost after the name was written: the rename is done.
      const current = await store.profiles.get(ref);
      if (current?.name === to) return current;
      await store.profiles.cancelRename(ref, to, at);
      if (claimed)
        await store.profileNames.release(
          caller.tenant,
          agentId,
          namedProfileRef(caller.tenant, agentId, to).slot,
          item.slot,
          claimed.nonce,
        );
      throw err;
    }
  });
  // After the change: the old name's claim goes (left behind, it is stale and harmless).
  await releaseName(store, ref, from);
  return renamed;
}

/** A use as GET .../usage shows it. */
function toUse(r: AuditRecord) {
  return {
    at: r.at,
    action: r.action as (typeof USE_ACTIONS)[number],
    key_id: r.key_id,
    status: r.status,
    result: r.result,
    source_ip: r.source_ip,
    request_id: r.request_id,
    session_id: r.session_id,
  };
}

/**
 * GET .../auth-profiles/{name}/usage: the counters and the last 50 uses (from the profile's audit
 * view; no scan), since the profile was created: the audit view is keyed by the name's slot, and
 * uses of an earlier profile of the same name are not this one's history.
 */
export async function profileUsage(deps: Deps, target: ProfileTarget): Promise<UsageSummary & { uses: ReturnType<typeof toUse>[] }> {
  const item = target.profile;
  const page = await queryAudit(deps, {
    tenant: item.tenant,
    agentId: item.agent_id,
    slot: item.slot,
    actions: USE_ACTIONS,
    since: item.created_at,
    limit: USAGE_LIMIT,
  });
  return { ...usageSummary(item, deps.now()), uses: page.records.map(toUse) };
}

/**
 * DELETE .../auth-profiles/{name}: its token is useless from this moment. A profile in use (run or
 * proxied within VAULT_IN_USE_WINDOW_HOURS, or with a run that has not ended; tests do not count:
 * isInUse in shared/credentials/usage.ts) answers 409 profile_in_use with its usage summary unless
 * `force` is set.
 */
export async function deleteProfileChecked(deps: Deps, caller: Caller, target: ProfileTarget, force: boolean): Promise<void> {
  const item = target.profile;
  const { agent_id: agentId, name } = item;
  const notFound = () => profileNameNotFound(agentId, name);
  const now = deps.now();
  if (!force && isInUse(item, now, deps.config.inUseWindowMs)) {
    const hours = deps.config.inUseWindowMs / 3_600_000;
    throw new ProfileInUseError(
      `Auth profile "${name}" was used in the last ${hours} hour${hours === 1 ? '' : 's'} (by a run or a proxied call; tests do not count) or has a run in flight; ` +
        'delete it anyway with ?force=true, or switch it off with PATCH {"active": false}',
      { ...usageSummary(item, now) },
    );
  }
  // Session, profile, session again. The first delete comes before the profile's, so a failure
  // in between leaves the profile for the caller's retry, never a session without its profile.
  // The last one closes the race with a run saving its session meanwhile: a save before it is
  // removed by it, and a run saving after it finds the profile gone when it checks after saving
  // (saveSession in services/runs.ts) and removes its own.
  const sessions = deps.store.sessions;
  // An admin deletes whatever is there; anyone else only the version whose permission was checked
  // (a concurrent unshare, replace or PATCH makes it 409, to be read again).
  const repo = deps.store.profiles;
  const ref = profileRef(caller.tenant, agentId, item.slot);
  // Recorded before the first delete: no record, nothing deleted (not even the session).
  await auditedChange(deps, profileEvent(caller, 'delete', item, 204, 'ok'), async () => {
    await sessions.delete(ref);
    if (!(await repo.delete(ref, caller.role === 'admin' ? undefined : item))) {
      if (caller.role !== 'admin' && (await repo.get(ref))) {
        throw new ConflictError(
          `Auth profile "${name}" was changed (replaced, re-shared or patched) while it was being deleted; read it again and retry`,
        );
      }
      throw notFound();
    }
  });
  // After the record's change (the profile is gone): a failure here is not a failed delete.
  await sessions.delete(ref);
  // A connection's sealed tokens could never open again; they go with the profile.
  if (item.auth_type === 'oauth2_authorization_code') await deps.store.oauthTokens.delete(ref);
  // Its name's claim too (left behind, it points at no profile: harmless, reused by the next create).
  await releaseName(deps.store, ref, name);
  // Tenant webhooks (shared/webhooks/publish.ts): never throws; a failure to enqueue is logged and counted.
  await publishEvent(deps, caller.tenant, { type: 'profile.deleted', agent_id: agentId, profile: name, data: { generation: item.generation, forced: force } });
}
