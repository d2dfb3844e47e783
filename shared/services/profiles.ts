import type { Deps } from '../context.ts';
import { DecryptionError } from '../crypto/aead.ts';
import {
  type ProfileBinding,
  ProfileKeys,
  computeVerifier,
  constantTimeEqual,
  slotFor,
} from '../crypto/profile-crypto.ts';
import type { ServerKey } from '../crypto/server-key.ts';
import { TokenFormatError, newToken, parseToken } from '../crypto/token.ts';
import { ConflictError, NotFoundError, ProfileNotFoundError, ValidationError } from '../errors.ts';
import { type ProfileRecord, profileRepository } from '../repositories/profiles.ts';
import { sessionRepository } from '../repositories/sessions.ts';
import { assertAuthDataLimits } from '../schemas/common.ts';
import type { AgentItem, ProfileItem } from '../schemas/items.ts';
import type { CreateProfileBody, ProfileMetadata, UpsertProfileBody, UpsertType } from '../schemas/profiles.ts';
import { agentNotFound, requireAgent } from './agents.ts';
import { loadProfileContext } from '../repositories/profile-context.ts';
import { agentRepository } from '../repositories/agents.ts';

/** How often a create/replace that lost a race re-reads and tries again before answering 409. */
const MAX_WRITE_ATTEMPTS = 5;

/** A profile whose token was verified, with its keys and decrypted auth_data. */
export interface OpenedProfile {
  readonly item: ProfileItem;
  readonly keys: ProfileKeys;
  readonly secret: Buffer;
}

/** auth_data keys must be input arguments the agent declares (400 naming the unknown ones). */
export function assertDeclaredKeys(agent: AgentItem, keysGiven: readonly string[], what = 'auth_data'): void {
  const declared = new Set(agent.input_args.map((a) => a.name));
  const unknown = keysGiven.filter((k) => !declared.has(k));
  if (unknown.length > 0) {
    const list = unknown.map((k) => `"${k}"`).join(', ');
    const declaredList = agent.input_args.map((a) => a.name).join(', ') || 'none';
    throw new ValidationError(
      `${what} key${unknown.length > 1 ? 's' : ''} ${list} ${unknown.length > 1 ? 'are' : 'is'} not ${unknown.length > 1 ? 'input arguments' : 'an input argument'} of agent "${agent.agent_id}" (declared: ${declaredList})`,
      'unknown_input_args',
    );
  }
}

/** Parses an auth token; a malformed one is a 400 before any database call. */
export function parseTokenOrThrow(token: string) {
  try {
    return parseToken(token);
  } catch (err) {
    if (err instanceof TokenFormatError) throw new ValidationError(err.message, 'invalid_auth_token');
    throw err;
  }
}

/** Encrypts every field of auth_data and builds the item (verifier + commitment included). */
function sealRecord(
  serverKey: ServerKey,
  binding: ProfileBinding,
  secret: Buffer,
  recordVersion: number,
  authData: Readonly<Record<string, string>>,
  meta: Pick<ProfileRecord, 'name' | 'agent_incarnation' | 'should_save_session' | 'created_at' | 'updated_at' | 'last_used_at' | 'use_count'>,
): ProfileRecord {
  const keys = new ProfileKeys(serverKey, binding, secret);
  const fields: Record<string, Uint8Array> = {};
  for (const [field, value] of Object.entries(authData)) {
    fields[field] = keys.seal(field, recordVersion, Buffer.from(value, 'utf8'));
  }
  return {
    ...meta,
    tenant: binding.tenant,
    agent_id: binding.agentId,
    slot: binding.slot.toString('hex'),
    generation: binding.generation,
    record_version: recordVersion,
    server_key_id: serverKey.idHex,
    verifier: computeVerifier(serverKey, binding, secret),
    commitment: keys.commitment(),
    fields,
  };
}

/** Writes a profile with a fresh secret: generation 1, or `previous.generation + 1` (replace). */
async function writeFresh(
  deps: Deps,
  tenant: string,
  agent: AgentItem,
  name: string,
  authData: Readonly<Record<string, string>>,
  shouldSave: boolean,
  previous?: ProfileItem,
): Promise<{ token: string; record: ProfileRecord; written: boolean }> {
  const slot = slotFor(tenant, agent.agent_id, name);
  const { token, secret } = newToken(slot);
  const now = deps.now().toISOString();
  const binding = { tenant, agentId: agent.agent_id, slot, generation: (previous?.generation ?? 0) + 1 };
  const record = sealRecord(deps.serverKeys.current, binding, secret, (previous?.record_version ?? 0) + 1, authData, {
    name,
    agent_incarnation: agent.incarnation,
    should_save_session: shouldSave,
    created_at: now,
    updated_at: now,
    use_count: 0,
  });
  const repo = profileRepository(deps.db);
  const written = previous ? await repo.replace(record, previous) : await repo.create(record);
  return { token, record, written };
}

/**
 * True if `stored` is the very record we wrote. The SDK retries a write whose answer was lost,
 * and the retry's condition then fails against the item the first attempt wrote; our record
 * carries a fresh verifier and fresh random blobs, so finding them stored proves it landed.
 */
function isOurs(stored: ProfileItem | undefined, record: ProfileRecord): boolean {
  if (!stored || stored.record_version !== record.record_version || !constantTimeEqual(stored.verifier, record.verifier)) return false;
  const [field, blob] = Object.entries(record.fields)[0] ?? [];
  const storedBlob = field === undefined ? undefined : stored.fields[field];
  return blob === undefined || (storedBlob !== undefined && constantTimeEqual(storedBlob, blob));
}

/** After a failed condition: did our write land anyway? (Only the conflict path pays this read.) */
async function landedAnyway(deps: Deps, record: ProfileRecord): Promise<boolean> {
  return isOurs(await profileRepository(deps.db).get(record.tenant, record.agent_id, record.slot), record);
}

function validateAuthData(agent: AgentItem, authData: Readonly<Record<string, string>>): void {
  assertDeclaredKeys(agent, Object.keys(authData));
  assertAuthDataLimits(authData);
}

/** POST /api/create_agent_auth_profile: a new profile; 409 if the name exists for the agent. */
export async function createProfile(deps: Deps, tenant: string, body: CreateProfileBody): Promise<{ auth_token: string }> {
  const agent = await requireAgent(deps, tenant, body.agent_id);
  validateAuthData(agent, body.auth_data);
  const created = await writeFresh(deps, tenant, agent, body.name, body.auth_data, false);
  if (!created.written && !(await landedAnyway(deps, created.record))) {
    throw new ConflictError(
      `An auth profile named "${body.name}" already exists for agent "${agent.agent_id}"; use /api/upsert_agent_auth_profile to replace or update it`,
      'profile_exists',
    );
  }
  return { auth_token: created.token };
}

/**
 * Verifies `token` for (tenant, agent) and opens the profile's keys, reading the agent and the
 * profile (unless given) in parallel. Unknown slot, wrong secret, other agent, other tenant and
 * a profile left from an earlier registration of the agent all end in the same
 * ProfileNotFoundError after the same work.
 */
export async function openProfile(deps: Deps, tenant: string, agentId: string, token: string, item?: ProfileItem | null): Promise<OpenedProfile> {
  const { slot, secret } = parseTokenOrThrow(token);
  const [agent, found] = await Promise.all([
    agentRepository(deps.db).get(tenant, agentId),
    item === undefined ? profileRepository(deps.db).get(tenant, agentId, slot.toString('hex')) : (item ?? undefined),
  ]);
  return verifyOpened(deps, tenant, agentId, agent?.incarnation, slot, secret, found);
}

/**
 * Verifies a token's secret against the profile read (or its absence) with the same work either
 * way: the verifier HMAC is computed whether or not an item was found.
 */
export function verifyOpened(
  deps: Deps,
  tenant: string,
  agentId: string,
  agentIncarnation: string | undefined,
  slot: Buffer,
  secret: Buffer,
  found: ProfileItem | undefined,
): OpenedProfile {
  const serverKey = found ? deps.serverKeys.byId(found.server_key_id) : undefined;
  const binding: ProfileBinding = { tenant, agentId, slot, generation: found?.generation ?? 0 };
  const expected = computeVerifier(serverKey ?? deps.serverKeys.current, binding, secret);
  const secretMatches = found !== undefined && serverKey !== undefined && constantTimeEqual(expected, found.verifier);
  if (!secretMatches || !found || !serverKey || found.agent_incarnation !== agentIncarnation) throw new ProfileNotFoundError();
  const keys = new ProfileKeys(serverKey, binding, secret);
  if (!constantTimeEqual(keys.commitment(), found.commitment)) {
    deps.log.log('error', 'profile key commitment mismatch', { tenant, agent_id: agentId, slot: found.slot });
    throw new ProfileNotFoundError();
  }
  return { item: found, keys, secret };
}

/** Decrypts every field of an opened profile. */
export function decryptAuthData(opened: OpenedProfile): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const [field, blob] of Object.entries(opened.item.fields)) {
    out[field] = opened.keys.open(field, opened.item.record_version, blob).toString('utf8');
  }
  return out;
}

/** POST /api/upsert_agent_auth_profile: create, replace (new token) or update in place (same token). */
export async function upsertProfile(
  deps: Deps,
  tenant: string,
  body: UpsertProfileBody,
): Promise<{ auth_token: string; name: string; type: UpsertType }> {
  // Malformed input is a 400 before any read.
  const parsed = body.auth_token !== undefined ? parseTokenOrThrow(body.auth_token) : undefined;
  if (!parsed && body.name === undefined) throw new ValidationError('name is required when auth_token is not given');
  const slot = parsed ? parsed.slot : slotFor(tenant, body.agent_id, body.name as string);
  const slotHex = slot.toString('hex');
  // The agent and the profile in one round trip.
  const ctx = await loadProfileContext(deps.db, tenant, body.agent_id, slotHex);
  const agent = ctx.agent;
  if (!agent) throw agentNotFound(body.agent_id);
  assertDeclaredKeys(agent, Object.keys(body.auth_data));
  if (parsed) return updateInPlace(deps, tenant, agent, body, parsed, ctx.profile);

  const name = body.name as string;
  assertAuthDataLimits(body.auth_data);
  const repo = profileRepository(deps.db);
  let lost: { token: string; record: ProfileRecord; type: UpsertType } | undefined;
  for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
    const existing = attempt === 0 ? ctx.profile : await repo.get(tenant, agent.agent_id, slotHex);
    // The previous attempt's write may have landed with its answer lost: then it is the result.
    if (lost && isOurs(existing, lost.record)) return { auth_token: lost.token, name, type: lost.type };
    const shouldSave = body.should_save_session ?? existing?.should_save_session ?? false;
    const attemptResult = await writeFresh(deps, tenant, agent, name, body.auth_data, shouldSave, existing);
    const type: UpsertType = existing ? 'replace' : 'create';
    if (attemptResult.written) return { auth_token: attemptResult.token, name, type };
    lost = { ...attemptResult, type };
  }
  if (lost && (await landedAnyway(deps, lost.record))) return { auth_token: lost.token, name, type: lost.type };
  throw new ConflictError(`Auth profile "${name}" is being written by other requests at the same time; retry`);
}

async function updateInPlace(
  deps: Deps,
  tenant: string,
  agent: AgentItem,
  body: UpsertProfileBody,
  { slot, secret }: { slot: Buffer; secret: Buffer },
  found: ProfileItem | undefined,
): Promise<{ auth_token: string; name: string; type: 'update' }> {
  const opened = verifyOpened(deps, tenant, agent.agent_id, agent.incarnation, slot, secret, found);
  const { item } = opened;
  if (body.name !== undefined && body.name !== item.name) {
    throw new ValidationError(`name "${body.name}" does not match the profile of this auth_token ("${item.name}"); omit name or correct it`);
  }
  let current: Record<string, string>;
  try {
    current = decryptAuthData(opened);
  } catch (err) {
    if (err instanceof DecryptionError) {
      deps.log.log('error', 'stored profile failed to decrypt', { tenant, agent_id: agent.agent_id, slot: item.slot });
    }
    throw err;
  }
  const merged = { ...current, ...body.auth_data };
  assertAuthDataLimits(merged);
  const record = sealRecord(
    deps.serverKeys.current, // re-encrypting moves the profile to the current server key
    { tenant, agentId: agent.agent_id, slot: opened.keys.binding.slot, generation: item.generation },
    opened.secret,
    item.record_version + 1,
    merged,
    {
      name: item.name,
      agent_incarnation: item.agent_incarnation,
      should_save_session: body.should_save_session ?? item.should_save_session,
      created_at: item.created_at,
      updated_at: deps.now().toISOString(),
      last_used_at: item.last_used_at,
      use_count: item.use_count,
    },
  );
  if (!(await profileRepository(deps.db).rewrite(record, item)) && !(await landedAnyway(deps, record))) {
    throw new ConflictError(`Auth profile "${item.name}" was changed by another request while this update ran; read it again and retry`);
  }
  return { auth_token: body.auth_token as string, name: item.name, type: 'update' };
}

export function toMetadata(item: ProfileItem): ProfileMetadata {
  return {
    agent_id: item.agent_id,
    name: item.name,
    fields: Object.keys(item.fields).sort(),
    generation: item.generation,
    record_version: item.record_version,
    should_save_session: item.should_save_session,
    created_at: item.created_at,
    updated_at: item.updated_at,
    last_used_at: item.last_used_at,
    use_count: item.use_count,
  };
}

const profileNameNotFound = (agentId: string, name: string) =>
  new NotFoundError(`No auth profile named "${name}" for agent "${agentId}"`, 'profile_not_found');

export async function getProfileMetadata(deps: Deps, tenant: string, agentId: string, name: string): Promise<ProfileMetadata> {
  await requireAgent(deps, tenant, agentId);
  const item = await profileRepository(deps.db).get(tenant, agentId, slotFor(tenant, agentId, name).toString('hex'));
  if (!item) throw profileNameNotFound(agentId, name);
  return toMetadata(item);
}

export async function listProfiles(deps: Deps, tenant: string, agentId: string, limit: number, cursor?: string) {
  await requireAgent(deps, tenant, agentId);
  const page = await profileRepository(deps.db).list(tenant, agentId, limit, cursor);
  return { profiles: page.items.map(toMetadata), next_cursor: page.next };
}

/** Deletes a profile: its token is useless from this moment. */
export async function deleteProfile(deps: Deps, tenant: string, agentId: string, name: string): Promise<void> {
  await requireAgent(deps, tenant, agentId);
  const slotHex = slotFor(tenant, agentId, name).toString('hex');
  // The session goes first: if the second delete fails, the profile is still there and the
  // caller's retry finishes the job; the other order could strand a session without its profile.
  await sessionRepository(deps.db).delete(tenant, agentId, slotHex);
  if (!(await profileRepository(deps.db).delete(tenant, agentId, slotHex))) throw profileNameNotFound(agentId, name);
}
