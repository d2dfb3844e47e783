import { DecryptionError } from '../crypto/aead.ts';
import { openBlob, sealBlob } from '../crypto/blob.ts';
import { lengthPrefixed } from '../crypto/encoding.ts';
import { hkdfExpand, hkdfExtract } from '../crypto/hkdf.ts';
import type { ServerKey } from '../crypto/server-key.ts';
import { type ParsedGrant, TokenFormatError, newGrant, parseGrant } from '../crypto/token.ts';
import type { Deps } from '../deps.ts';
import { UnauthorizedError, ValidationError } from '../errors.ts';
import type { GrantItem } from '../schemas/items.ts';
import type { OpenedProfile } from './sealed-profile.ts';

/**
 * Run grants (docs/architecture.md, "Typed profiles, injection and grants"). A runner of an agent with `credential_delivery: "proxy"` gets no
 * secret: it gets a grant `avg_…` that lets it call POST /v1/proxy with the run's profile until
 * the run ends. The grant item holds the profile's key material (its token secret) sealed under
 * a key derived from the grant's secret (HKDF, salted with the server key's profile-extract
 * subkey), with the grant's bindings in the AAD. Neither the grant nor the auth token is stored:
 * a table dump opens nothing, and the grant dies with its item (deleted when the run finishes,
 * TTL at the deadline, the deadline checked on every read) or with its profile (the unwrapped
 * secret no longer matches a replaced or deleted profile's verifier; generation and created_at
 * are checked too).
 */

const FORMAT = 'grant/v1';

/** The one answer for a grant that is malformed-but-plausible, unknown, expired, ended, forged or revoked. */
export class InvalidGrantError extends UnauthorizedError {
  constructor() {
    super('This run grant is unknown or no longer valid: grants work only while their run runs, and die when its auth profile is replaced or deleted', 'invalid_grant');
  }
}

/** Everything a grant is bound to; all of it goes into the AAD. */
interface GrantBinding {
  readonly idHex: string;
  readonly tenant: string;
  readonly agentId: string;
  readonly slot: string;
  readonly generation: number;
  readonly profileCreatedAt: string;
  readonly sessionId: string;
  readonly deadlineMs: number;
}

const aadOf = (b: GrantBinding) =>
  lengthPrefixed(FORMAT, b.idHex, b.tenant, b.agentId, b.slot, b.generation, b.profileCreatedAt, b.sessionId, b.deadlineMs);

/** Per-blob key: HKDF-Expand(HKDF-Extract(salt = server profile-extract subkey, ikm = grant secret), "grant/v1" ‖ salt ‖ AAD). */
function keyFor(serverKey: ServerKey, grantSecret: Uint8Array, aad: Buffer) {
  const prk = hkdfExtract(serverKey.profileExtractKey, grantSecret);
  return (salt: Buffer) => hkdfExpand(prk, lengthPrefixed(FORMAT, salt, aad), 32);
}

export interface IssuedGrant {
  readonly grant: string;
  readonly idHex: string;
  readonly expiresAt: string;
}

/**
 * Issues a grant for one run of an opened profile, valid until `deadlineMs` (epoch ms: the run's
 * timeout). The caller revokes it when the run ends.
 */
export async function issueGrant(deps: Deps, profile: OpenedProfile, sessionId: string, deadlineMs: number): Promise<IssuedGrant> {
  const { grant, id, secret } = newGrant();
  const item = profile.item;
  const serverKey = deps.serverKeys.current;
  const binding: GrantBinding = {
    idHex: id.toString('hex'),
    tenant: item.tenant,
    agentId: item.agent_id,
    slot: item.slot,
    generation: item.generation,
    profileCreatedAt: item.created_at,
    sessionId,
    deadlineMs,
  };
  const aad = aadOf(binding);
  const sealed = sealBlob(serverKey.id, keyFor(serverKey, secret, aad), profile.secret, aad);
  const created = await deps.store.grants.create({
    id_hex: binding.idHex,
    tenant: item.tenant,
    agent_id: item.agent_id,
    slot: item.slot,
    generation: item.generation,
    profile_created_at: item.created_at,
    session_id: sessionId,
    deadline_ms: deadlineMs,
    server_key_id: serverKey.idHex,
    sealed,
    expires_at: Math.ceil(deadlineMs / 1000),
  });
  if (!created) throw new Error('grant id collision'); // 128 random bits: a broken random source
  return { grant, idHex: binding.idHex, expiresAt: new Date(deadlineMs).toISOString() };
}

/** Revokes a grant (its run ended). Idempotent. */
export async function revokeGrant(deps: Deps, idHex: string): Promise<void> {
  await deps.store.grants.delete(idHex);
}

/** A grant resolved to what it opens: the profile's place and its token secret. */
export interface ResolvedGrant {
  readonly item: GrantItem;
  readonly tokenSecret: Buffer;
}

/** Parses a grant; a malformed one is a 400 before any read (like a malformed auth token). */
export function parseGrantOrThrow(grant: string): ParsedGrant {
  try {
    return parseGrant(grant);
  } catch (err) {
    if (err instanceof TokenFormatError) throw new ValidationError(err.message, 'invalid_grant_format');
    throw err;
  }
}

/**
 * Reads and unwraps a grant. Unknown id, past deadline, wrong secret (forged), a server key the
 * ring does not hold: all the same InvalidGrantError.
 */
export async function resolveGrant(deps: Deps, grant: string): Promise<ResolvedGrant> {
  const parsed = parseGrantOrThrow(grant);
  const idHex = parsed.id.toString('hex');
  const item = await deps.store.grants.get(idHex);
  if (!item || deps.now().getTime() >= item.deadline_ms) throw new InvalidGrantError();
  const serverKey = deps.serverKeys.byId(item.server_key_id);
  if (!serverKey) throw new InvalidGrantError();
  const aad = aadOf({
    idHex,
    tenant: item.tenant,
    agentId: item.agent_id,
    slot: item.slot,
    generation: item.generation,
    profileCreatedAt: item.profile_created_at,
    sessionId: item.session_id,
    deadlineMs: item.deadline_ms,
  });
  try {
    return { item, tokenSecret: openBlob(item.sealed, serverKey.id, keyFor(serverKey, parsed.secret, aad), aad) };
  } catch (err) {
    if (err instanceof DecryptionError) throw new InvalidGrantError();
    throw err;
  }
}
