import { slotFor } from '../credentials/profile-keys.ts';
import {
  assertBoundToAgent,
  isSameSeal,
  openProfileKeys,
  openValues,
  parseTokenOrThrow,
  sealProfile,
  verifyToken,
} from '../credentials/sealed-profile.ts';
import { newToken } from '../crypto/token.ts';
import type { Deps } from '../deps.ts';
import { ConflictError, NotFoundError, ValidationError, agentNotFound } from '../errors.ts';
import { type ProfileRecord, profileRepository } from '../repositories/profiles.ts';
import { sessionRepository } from '../repositories/sessions.ts';
import { assertAuthDataLimits } from '../schemas/common.ts';
import type { AgentItem, ProfileItem } from '../schemas/items.ts';
import type { CreateProfileBody, ProfileMetadata, UpsertProfileBody, UpsertType } from '../schemas/profiles.ts';
import { loadProfileContext } from '../repositories/profile-context.ts';
import { requireAgent } from './agents.ts';

/** How often a create/replace that lost a race re-reads and tries again before answering 409. */
const MAX_WRITE_ATTEMPTS = 5;

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
  const record = sealProfile(deps.serverKeys.current, binding, secret, (previous?.record_version ?? 0) + 1, authData, {
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

/** After a failed condition: did our write land anyway? (Only the conflict path pays this read.) */
async function landedAnyway(deps: Deps, record: ProfileRecord): Promise<boolean> {
  return isSameSeal(await profileRepository(deps.db).get(record.tenant, record.agent_id, record.slot), record);
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
    if (lost && isSameSeal(existing, lost.record)) return { auth_token: lost.token, name, type: lost.type };
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
  token: { slot: Buffer; secret: Buffer },
  found: ProfileItem | undefined,
): Promise<{ auth_token: string; name: string; type: 'update' }> {
  // An edit, not a use: the gate's verify → binding policy → decrypt stages, without counting a use.
  const verified = verifyToken(deps, tenant, agent.agent_id, token, found);
  assertBoundToAgent(verified, agent.incarnation);
  const opened = openProfileKeys(deps, verified);
  const { item } = opened;
  if (body.name !== undefined && body.name !== item.name) {
    throw new ValidationError(`name "${body.name}" does not match the profile of this auth_token ("${item.name}"); omit name or correct it`);
  }
  const current = openValues(deps, opened);
  const merged = { ...current, ...body.auth_data };
  assertAuthDataLimits(merged);
  const record = sealProfile(
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
