import { DecryptionError } from '../crypto/aead.ts';
import { constantTimeEqual } from '../crypto/server-seal.ts';
import type { ServerKey } from '../crypto/server-key.ts';
import { randomBytes } from 'node:crypto';
import { SECRET_BYTES, SLOT_BYTES, TokenFormatError, parseToken } from '../crypto/token.ts';
import type { Deps } from '../deps.ts';
import { ConflictError, ProfileNotFoundError, ValidationError } from '../errors.ts';
import type { AgentItem, ProfileItem } from '../schemas/items.ts';
import { type ProfileBinding, ProfileKeys, computeVerifier } from './profile-keys.ts';
import type { ProfileRecord, ProfileSettings } from '../store/types.ts';

/** Settings of a new profile: active, no restriction. */
export const DEFAULT_SETTINGS: ProfileSettings = { active: true, allowed_source_ips: [] };

/**
 * Seal, verify and open a profile's values (docs/architecture.md, "Crypto and tokens"). The profile service writes with
 * `sealProfile`; every read of the values goes through the gate (gate.ts), which composes
 * `verifyToken` → policy → `openProfileKeys` → `openValues`.
 */

/** A token's two halves: the slot (where the profile lives) and the secret (its key material). */
export interface ParsedToken {
  readonly slot: Buffer;
  readonly secret: Buffer;
}

/** A profile whose token was verified and whose keys were derived and checked against its commitment. */
export interface OpenedProfile {
  readonly item: ProfileItem;
  readonly keys: ProfileKeys;
  readonly secret: Buffer;
}

/** A profile whose token's secret matched its verifier; its keys are not derived yet. */
export interface VerifiedToken {
  readonly item: ProfileItem;
  readonly serverKey: ServerKey;
  readonly binding: ProfileBinding;
  readonly secret: Buffer;
}

/** Parses an auth token; a malformed one is a 400 before any database call. */
export function parseTokenOrThrow(token: string): ParsedToken {
  try {
    return parseToken(token);
  } catch (err) {
    if (err instanceof TokenFormatError) throw new ValidationError(err.message, 'invalid_auth_token');
    throw err;
  }
}

/**
 * Parses an auth token as the compatible routes do (docs/api.md, "Kura drop-in"): a token that is
 * not in this vault's format (a UUID, another vault's token) names no profile, so it is read like a
 * well-formed unknown one — a random slot, which no profile has — and gets the same answer (404
 * profile_not_found, or agent_not_found for an unknown agent), after the same reads. The native
 * routes keep parseTokenOrThrow's 400 invalid_auth_token.
 */
export function parseTokenOrUnknown(token: string): ParsedToken {
  try {
    return parseToken(token);
  } catch (err) {
    if (err instanceof TokenFormatError) return { slot: randomBytes(SLOT_BYTES), secret: randomBytes(SECRET_BYTES) };
    throw err;
  }
}

/** The fields sealProfile itself derives from the binding, the key material and the values. */
type SealedFields =
  | 'tenant'
  | 'agent_id'
  | 'slot'
  | 'generation'
  | 'record_version'
  | 'server_key_id'
  | 'verifier'
  | 'commitment'
  | 'fields'
  | 'runner_origin'
  | 'runner_approval'
  | 'runner_delivery';

/**
 * What a sealed profile record carries besides its key material and values. Settings, usage and
 * expiry default to those of a new profile (active, no restriction, unused, no expiry); a
 * rewrite passes the ones it keeps.
 */
export type ProfileMeta = Pick<ProfileRecord, 'name' | 'agent_incarnation' | 'should_save_session' | 'created_at' | 'updated_at'> &
  Partial<Omit<ProfileRecord, SealedFields>>;

/**
 * The origin (scheme://host[:port]) of a runner URL: what a profile holder approves. A new path on
 * the same server needs no new approval; another host, port or scheme does.
 */
export function runnerOriginOf(url: string): string {
  return new URL(url).origin;
}

/** What the token holder approves when writing a profile: where its runner is and how it gets the credentials. */
export interface RunnerApproval {
  readonly origin: string;
  readonly delivery: CredentialDeliveryMode;
}

export type CredentialDeliveryMode = 'parameters' | 'proxy';

/** The approval a token holder gives an agent by writing one of its profiles: its current runner and delivery. */
export function approvalFor(agent: Pick<AgentItem, 'runner' | 'credential_delivery'>): RunnerApproval {
  return { origin: runnerOriginOf(agent.runner.url), delivery: agent.credential_delivery ?? 'parameters' };
}

/**
 * Encrypts every value under the profile's keys and builds the record: verifier, commitment, and
 * the approval of the agent's runner origin and credential delivery (as the token holder writes it).
 */
export function sealProfile(
  serverKey: ServerKey,
  binding: ProfileBinding,
  secret: Buffer,
  recordVersion: number,
  values: Readonly<Record<string, string>>,
  approval: RunnerApproval,
  meta: ProfileMeta,
): ProfileRecord {
  const keys = new ProfileKeys(serverKey, binding, secret);
  return sealWith(keys, computeVerifier(serverKey, binding, secret), recordVersion, values, approval, [meta]);
}

/**
 * sealProfile for a profile opened in this request, written back under the same token and
 * generation (an update in place): when the current server key is the one it was opened with and
 * the binding is the same, the keys derived and checked by openProfileKeys (its extract and key
 * commitment) and the stored verifier (checked equal to the token's by verifyToken) are the very
 * bytes sealProfile would derive again, so they are reused; otherwise they are derived as
 * sealProfile does. The `later` parts win over `meta` in order, assigned into the record itself
 * (no merged copy of the item first).
 */
export function resealProfile(
  serverKey: ServerKey,
  binding: ProfileBinding,
  opened: OpenedProfile,
  recordVersion: number,
  values: Readonly<Record<string, string>>,
  approval: RunnerApproval,
  meta: ProfileMeta,
  ...later: Partial<ProfileMeta>[]
): ProfileRecord {
  const { keys, item } = opened;
  const was = keys.binding;
  if (
    keys.serverKey.idHex === serverKey.idHex &&
    item.server_key_id === serverKey.idHex &&
    was.tenant === binding.tenant &&
    was.agentId === binding.agentId &&
    was.generation === binding.generation &&
    item.generation === binding.generation &&
    was.slot.equals(binding.slot)
  ) {
    return sealWith(keys, Buffer.from(item.verifier), recordVersion, values, approval, [meta, ...later]);
  }
  const keysNow = new ProfileKeys(serverKey, binding, opened.secret);
  return sealWith(keysNow, computeVerifier(serverKey, binding, opened.secret), recordVersion, values, approval, [meta, ...later]);
}

function sealWith(
  keys: ProfileKeys,
  verifier: Buffer,
  recordVersion: number,
  values: Readonly<Record<string, string>>,
  approval: RunnerApproval,
  meta: readonly Partial<ProfileMeta>[],
): ProfileRecord {
  const { serverKey, binding } = keys;
  const fields: Record<string, Uint8Array> = {};
  for (const [field, value] of Object.entries(values)) {
    fields[field] = keys.seal(field, recordVersion, Buffer.from(value, 'utf8'));
  }
  // Defaults, then the meta parts, then what is sealed, each later one winning as spreads would; assigned
  // into one object (docs/architecture.md, "Performance": members after a spread are slow in V8).
  return Object.assign(
    {
      auth_type: 'custom' as const,
      active: DEFAULT_SETTINGS.active,
      allowed_source_ips: DEFAULT_SETTINGS.allowed_source_ips,
      use_count: 0,
      daily_uses: {},
      settings_version: 0,
    },
    ...meta,
    {
      tenant: binding.tenant,
      agent_id: binding.agentId,
      slot: binding.slot.toString('hex'),
      generation: binding.generation,
      record_version: recordVersion,
      server_key_id: serverKey.idHex,
      verifier,
      commitment: keys.commitment(),
      fields,
      runner_origin: approval.origin,
      runner_delivery: approval.delivery,
      runner_approval: keys.runnerApproval(recordVersion, approval.origin, approval.delivery),
    },
  );
}

/**
 * True if `stored` is the very record we sealed. The SDK retries a write whose answer was lost,
 * and the retry's condition then fails against the item the first attempt wrote; our record
 * carries a fresh verifier and fresh random blobs, so finding them stored proves it landed.
 */
export function isSameSeal(stored: ProfileItem | undefined, record: ProfileRecord): boolean {
  if (!stored || stored.record_version !== record.record_version || !constantTimeEqual(stored.verifier, record.verifier)) return false;
  const [field, blob] = Object.entries(record.fields)[0] ?? [];
  const storedBlob = field === undefined ? undefined : stored.fields[field];
  return blob === undefined || (storedBlob !== undefined && constantTimeEqual(storedBlob, blob));
}

/**
 * Verifies a token's secret against the profile read (or its absence) with the same work either
 * way: the verifier HMAC is computed whether or not an item was found. Unknown slot, wrong
 * secret, other agent and other tenant all end in the same ProfileNotFoundError.
 */
export function verifyToken(
  deps: Pick<Deps, 'serverKeys'>,
  tenant: string,
  agentId: string,
  token: ParsedToken,
  found: ProfileItem | undefined,
): VerifiedToken {
  const serverKey = found ? deps.serverKeys.byId(found.server_key_id) : undefined;
  const binding: ProfileBinding = { tenant, agentId, slot: token.slot, generation: found?.generation ?? 0 };
  const expected = computeVerifier(serverKey ?? deps.serverKeys.current, binding, token.secret);
  const secretMatches = found !== undefined && serverKey !== undefined && constantTimeEqual(expected, found.verifier);
  if (!secretMatches || !found || !serverKey) throw new ProfileNotFoundError();
  return { item: found, serverKey, binding, secret: token.secret };
}

/**
 * The binding policy every use and every in-place update obeys: a profile belongs to the
 * registration of the agent it was created for. A profile left from an earlier registration
 * of the same agent_id answers like an unknown one.
 */
export function assertBoundToAgent(verified: VerifiedToken, agentIncarnation: string | undefined): void {
  if (verified.item.agent_incarnation !== agentIncarnation) throw new ProfileNotFoundError();
}

/**
 * Derives the profile's keys and checks them against the stored key commitment before any
 * decryption, and the approved runner origin against its token-derived tag (the origin is in
 * clear: only the tag makes it trustworthy).
 */
export function openProfileKeys(deps: Pick<Deps, 'log'>, verified: VerifiedToken): OpenedProfile {
  const keys = new ProfileKeys(verified.serverKey, verified.binding, verified.secret);
  const { item } = verified;
  const where = { tenant: verified.binding.tenant, agent_id: verified.binding.agentId, slot: item.slot };
  if (!constantTimeEqual(keys.commitment(), item.commitment)) {
    deps.log.log('error', 'profile key commitment mismatch', where);
    throw new ProfileNotFoundError();
  }
  const approval =
    item.runner_origin === undefined ? undefined : keys.runnerApproval(item.record_version, item.runner_origin, item.runner_delivery);
  if (!approval || !item.runner_approval || !constantTimeEqual(approval, item.runner_approval)) {
    deps.log.log('error', 'profile runner approval check failed', where);
    throw new ProfileNotFoundError();
  }
  return { item, keys, secret: verified.secret };
}

/**
 * Why a run must not hand this profile's credentials to the agent's runner, or undefined:
 * 409 runner_changed unless the runner is at the origin the token holder approved, 409
 * delivery_changed if the agent was switched from `proxy` (the runner never sees a value) to
 * `parameters` since (both approvals checked by openProfileKeys). Moving the other way only takes
 * values away from the runner and needs no approval. Either holds until the profile is upserted
 * again by its token holder.
 */
export function runnerRefusal(opened: OpenedProfile, agent: AgentItem): ConflictError | undefined {
  const approved = opened.item.runner_origin as string;
  const current = runnerOriginOf(agent.runner.url);
  if (approved !== current) {
    return new ConflictError(
      `The agent's runner changed from ${approved} to ${current} since this auth profile was saved; upsert the profile again (with its auth_token to keep the token) to approve the new runner`,
      'runner_changed',
    );
  }
  if (opened.item.runner_delivery === 'proxy' && (agent.credential_delivery ?? 'parameters') !== 'proxy') {
    return new ConflictError(
      `The agent's credential_delivery changed from "proxy" (its runner never receives the credentials) to "parameters" since this auth profile was saved; the credentials were not handed out. Switch the agent back to "proxy", or approve the change by upserting the profile again with its auth_token`,
      'delivery_changed',
    );
  }
  return undefined;
}

/** Decrypts every value of an opened profile; a stored blob that fails to open is logged (no value) and rethrown. */
export function openValues(deps: Pick<Deps, 'log'>, opened: OpenedProfile): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  try {
    for (const [field, blob] of Object.entries(opened.item.fields)) {
      out[field] = opened.keys.open(field, opened.item.record_version, blob).toString('utf8');
    }
  } catch (err) {
    if (err instanceof DecryptionError) {
      deps.log.log('error', 'stored profile failed to decrypt', {
        tenant: opened.item.tenant,
        agent_id: opened.item.agent_id,
        slot: opened.item.slot,
      });
    }
    throw err;
  }
  return out;
}
