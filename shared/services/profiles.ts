import { openForEdit } from '../credentials/gate.ts';
import { type Claimed, assertClaimFresh, claimName, loadNamedProfile } from '../credentials/profile-names.ts';
import { profileRef, profileRefOf } from '../store/profile-ref.ts';
import { type ProfileMeta, approvalFor, isSameSeal, parseTokenOrThrow, resealProfile, sealProfile } from '../credentials/sealed-profile.ts';
import { newToken } from '../crypto/token.ts';
import { auditFailure, auditedChange, writeAudit } from '../audit/log.ts';
import type { AuditEventInput } from '../audit/record.ts';
import { expiryFrom, tokenState } from '../credentials/token-state.ts';
import type { Caller, Deps } from '../deps.ts';
import { assertCanWrite, canRead, newProfileAccess } from '../credentials/access.ts';
import { profileEvent } from '../credentials/policy.ts';
import { lifecycleMetadata } from './lifecycle.ts';
import { ConflictError, ValidationError, agentNotFound } from '../errors.ts';
import { assertAuthDataLimits, parseInput } from '../schemas/common.ts';
import { type OutboundPolicy, OutboundPolicyFields } from '../credentials/outbound-policy.ts';
import { type AuthTypeName, type Deployment, authTypeModule, deploymentOf, parseCredential } from '../credentials/types/index.ts';
import type { AgentItem, ProfileItem } from '../schemas/items.ts';
import type { CreateProfileBody, ProfileFilter, ProfileMetadata, UpsertProfileBody, UpsertType } from '../schemas/profiles.ts';
import { type ProfileTarget, profileNameNotFound, requireAgent } from './targets.ts';
import type { ProfileRecord } from '../store/types.ts';
import * as z from '../schemas/zod.ts';

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

/** What a write says about the profile besides its secret values: its type, config and policy. */
export interface ProfileSpec {
  readonly auth_type: AuthTypeName;
  /** oauth2_authorization_code: the platform's id of the end user. */
  readonly end_user_id?: string;
  readonly auth_config?: Record<string, unknown>;
  readonly allowed_hosts?: string[];
  readonly allowed_path_prefixes?: string[];
  readonly allowed_methods?: string[];
}

const OutboundPolicyBody = z.object(OutboundPolicyFields);

/** The typed-profile fields of a create/upsert body. */
type TypedInput = Pick<UpsertProfileBody, 'auth_type' | 'auth_config' | 'allowed_hosts' | 'allowed_path_prefixes' | 'allowed_methods' | 'end_user_id'>;

/** The outbound policy a write leaves on the profile: each field given wins, else the one stored. */
function policyOf(body: TypedInput, stored?: OutboundPolicy): OutboundPolicy {
  return {
    allowed_hosts: body.allowed_hosts ?? stored?.allowed_hosts,
    allowed_path_prefixes: body.allowed_path_prefixes ?? stored?.allowed_path_prefixes,
    allowed_methods: body.allowed_methods ?? stored?.allowed_methods,
  };
}

/**
 * Validates auth_data for the profile's type and returns the spec to store. custom: the keys
 * must be the agent's input arguments (today's rule) and there is no config. Typed: the type's
 * schemas decide (400 naming what is missing); the keys are the type's own secret fields, not
 * input arguments. The size limits hold for every type.
 */
export function validateProfileInput(
  agent: AgentItem,
  authType: AuthTypeName,
  authConfig: unknown,
  authData: Readonly<Record<string, string>>,
  given: OutboundPolicy,
  deployment: Deployment,
  endUserId?: string,
): ProfileSpec {
  // Parsed here too (idempotent), so every caller stores canonical host patterns.
  const policy = parseInput(OutboundPolicyBody, given, 'outbound policy');
  if (endUserId !== undefined && authType !== 'oauth2_authorization_code') {
    throw new ValidationError('end_user_id is only for auth_type oauth2_authorization_code (the end user whose account the profile connects); omit it');
  }
  if (authType === 'custom') {
    if (authConfig !== undefined && Object.keys(authConfig as object).length > 0) {
      throw new ValidationError(
        'auth_config is only for typed profiles; set auth_type (bearer, basic, api_key, oauth2_client_credentials) or omit auth_config',
      );
    }
    assertDeclaredKeys(agent, Object.keys(authData));
    assertAuthDataLimits(authData);
    return { auth_type: 'custom', ...policy };
  }
  assertAuthDataLimits(authData);
  const parsed = parseCredential(authTypeModule(authType), authConfig, authData, deployment);
  const config = Object.keys(parsed.config).length > 0 ? parsed.config : undefined;
  return { auth_type: authType, auth_config: config, ...policy, ...(endUserId !== undefined ? { end_user_id: endUserId } : {}) };
}

/**
 * A profile with a fresh secret, sealed and not yet written: generation 1, or
 * `previous.generation + 1` (replace). The caller records it (write-ahead) and then writes it.
 */
function freshProfile(
  deps: Deps,
  tenant: string,
  agent: AgentItem,
  name: string,
  authData: Readonly<Record<string, string>>,
  shouldSave: boolean,
  spec: ProfileSpec,
  caller: Caller,
  slotHex: string,
  previous?: ProfileItem,
  tokenExpiresAt?: string,
): { token: string; record: ProfileRecord } {
  // Where the profile lives: its name's claim decides (shared/credentials/profile-names.ts).
  const slot = Buffer.from(slotHex, 'hex');
  const { token, secret } = newToken(slot);
  const now = deps.now().toISOString();
  const binding = { tenant, agentId: agent.agent_id, slot, generation: (previous?.generation ?? 0) + 1 };
  // Writing the profile approves the agent's current runner origin and credential delivery.
  // Each later part wins, as spreads would; assigned into one object (docs/architecture.md, "Performance").
  const meta: ProfileMeta = Object.assign(
    { name, agent_incarnation: agent.incarnation, should_save_session: shouldSave, created_at: now, updated_at: now, use_count: 0 },
    spec,
    // A delegated profile starts unconnected (a replace too: the old connection was sealed under the old token).
    spec.auth_type === 'oauth2_authorization_code' ? { connection_state: 'pending' as const } : undefined,
    { token_expires_at: tokenExpiresAt },
    // A replace is a new profile under the same name: new token, no usage; its settings, owner
    // and grants stay. A create belongs to the caller's key, private.
    previous
      ? {
          active: previous.active,
          description: previous.description,
          allowed_source_ips: previous.allowed_source_ips,
          owner: previous.owner,
          visibility: previous.visibility,
          grants: previous.grants,
          settings_version: previous.settings_version,
        }
      : newProfileAccess(caller),
  );
  const record = sealProfile(deps.serverKeys.current, binding, secret, (previous?.record_version ?? 0) + 1, authData, approvalFor(agent), meta);
  return { token, record };
}

/** After a failed condition: did our write land anyway? (Only the conflict path pays this read.) */
async function landedAnyway(deps: Deps, record: ProfileRecord): Promise<boolean> {
  return isSameSeal(await deps.store.profiles.get(profileRefOf(record)), record);
}

/**
 * `warnings` naming the agent's required input arguments that a custom profile does not hold.
 * Not a 400: the compatible API lets `parameters` supply them at run time; but a run without them
 * is refused, so the creator hears about it now. Typed profiles inject credentials, not input
 * arguments, and get none.
 */
export function missingRequiredWarnings(agent: AgentItem, record: Pick<ProfileRecord, 'auth_type' | 'fields'>): string[] | undefined {
  if ((record.auth_type ?? 'custom') !== 'custom') return undefined;
  const missing = agent.input_args.filter((a) => a.required && !Object.hasOwn(record.fields, a.name)).map((a) => `"${a.name}"`);
  if (missing.length === 0) return undefined;
  const them = missing.length > 1 ? 'them' : 'it';
  return [
    `agent "${agent.agent_id}" requires input argument${missing.length > 1 ? 's' : ''} ${missing.join(', ')}, which this profile does not hold: pass ${them} in parameters when running, or add ${them} to the profile`,
  ];
}

function withWarnings<R extends { record: ProfileRecord }>(agent: AgentItem, result: R): R & { warnings?: string[] } {
  const warnings = missingRequiredWarnings(agent, result.record);
  return warnings ? { ...result, warnings } : result;
}

/**
 * The audit event of a create, replace or update, from the record about to be written (its
 * generation included), so it is written before the change (write-ahead: shared/audit/log.ts).
 */
function changeEvent(caller: Caller, action: 'create' | 'replace' | 'update', record: ProfileRecord): AuditEventInput {
  return profileEvent(caller, action, record, 200, 'ok');
}

/** POST /api/create_agent_auth_profile: a new profile; 409 if the name exists for the agent. */
export async function createProfile(
  deps: Deps,
  caller: Caller,
  body: CreateProfileBody,
): Promise<{ auth_token: string; warnings?: string[] }> {
  const { auth_token, warnings } = await createProfileRecord(deps, caller, body);
  return { auth_token, ...(warnings ? { warnings } : {}) };
}

/** Creates a profile and returns its token with the record written (for native answers). */
export async function createProfileRecord(
  deps: Deps,
  caller: Caller,
  body: CreateProfileBody & { should_save_session?: boolean },
): Promise<{ auth_token: string; record: ProfileRecord; warnings?: string[] }> {
  const tenant = caller.tenant;
  // The agent, the name's claim and its home slot in one round trip (docs/architecture.md, "Renaming a profile").
  const named = await loadNamedProfile(deps.store, tenant, body.agent_id, body.name);
  const agent = named.ctx.agent;
  if (!agent) throw agentNotFound(body.agent_id);
  const spec = validateProfileInput(agent, body.auth_type ?? 'custom', body.auth_config, body.auth_data, policyOf(body), deploymentOf(deps.config), body.end_user_id);
  const expiresAt = expiryFrom(deps.now(), body.expires_in_hours);
  const exists = () =>
    new ConflictError(
      `An auth profile named "${body.name}" already exists for agent "${agent.agent_id}"; use /api/upsert_agent_auth_profile to replace or update it`,
      'profile_exists',
    );
  // The name's claim first: it decides the slot.
  if (named.ctx.profile) throw exists();
  const claimed = await claimName(deps.store, named, body.name, undefined, deps.now).catch((err: unknown) => {
    throw err instanceof ConflictError && err.code === 'profile_exists' ? exists() : err;
  });
  const created = freshProfile(
    deps,
    tenant,
    agent,
    body.name,
    body.auth_data,
    body.should_save_session ?? false,
    spec,
    caller,
    claimed.slot,
    undefined,
    expiresAt,
  );
  await auditedChange(deps, changeEvent(caller, 'create', created.record), async () => {
    assertClaimFresh(claimed, agent.agent_id, body.name, deps.now());
    if (!(await deps.store.profiles.create(created.record)) && !(await landedAnyway(deps, created.record))) throw exists();
  });
  return withWarnings(agent, { auth_token: created.token, record: created.record });
}

/**
 * After a replace: removes the saved session of the previous generation (it could never open
 * again; it only held data sealed for the old token). A session of the new generation, saved by
 * a run in the meantime, is kept. Runs still in flight for the old generation check the profile
 * after saving and remove their own session (see saveSession in services/runs.ts).
 */
async function dropOlderSession(deps: Deps, record: ProfileRecord): Promise<void> {
  await deps.store.sessions.deleteOlderThan(profileRefOf(record), {
    generation: record.generation,
    profile_created_at: record.created_at,
  });
}

/** POST /api/upsert_agent_auth_profile: create, replace (new token) or update in place (same token). */
export async function upsertProfile(deps: Deps, caller: Caller, body: UpsertProfileBody): Promise<{ auth_token: string; name: string; type: UpsertType; warnings?: string[] }> {
  // The compatible route: a token in another format is an unknown one (docs/api.md, "Kura drop-in").
  const { auth_token, name, type, warnings } = await upsertProfileRecord(deps, caller, body, { compatible: true });
  return { auth_token, name, type, ...(warnings ? { warnings } : {}) };
}

/** The upsert, returning the record written too (for native answers). */
export async function upsertProfileRecord(
  deps: Deps,
  caller: Caller,
  body: UpsertProfileBody,
  options: { readonly compatible?: boolean } = {},
): Promise<{ auth_token: string; name: string; type: UpsertType; record: ProfileRecord; warnings?: string[] }> {
  const tenant = caller.tenant;
  // Malformed input is a 400 before any read (native routes; the compatible one reads a
  // malformed token as an unknown one: the gate's parseTokenOrUnknown).
  if (body.auth_token !== undefined && !options.compatible) parseTokenOrThrow(body.auth_token);
  const expiresAt = expiryFrom(deps.now(), body.expires_in_hours);
  // An update's keys are checked after the token: which keys are valid depends on the type of
  // the profile, known only from a verified read.
  if (body.auth_token !== undefined) {
    return updateInPlace(deps, caller, body, body.auth_token, expiresAt, options.compatible === true);
  }
  if (body.name === undefined) throw new ValidationError('name is required when auth_token is not given');
  // The agent, the profile of that name and its saved session in one round trip (a replace
  // removes the session); a renamed profile costs one more (shared/credentials/profile-names.ts).
  const named = await loadNamedProfile(deps.store, tenant, body.agent_id, body.name, { withSession: true });
  const ctx = named.ctx;
  const agent = ctx.agent;
  if (!agent) throw agentNotFound(body.agent_id);

  const name = body.name as string;
  // A new name is claimed before anything is written: the claim decides the new profile's slot.
  let claimed: Claimed | undefined;
  if (!ctx.profile) {
    validateProfileInput(agent, body.auth_type ?? 'custom', body.auth_config, body.auth_data, policyOf(body), deploymentOf(deps.config));
    claimed = await claimName(deps.store, named, name, undefined, deps.now);
  }
  const ref = claimed ? profileRef(tenant, agent.agent_id, claimed.slot) : named.ref;
  const authType = body.auth_type ?? 'custom';
  // Validated once against the body before any write; a replace keeps the stored policy fields the body leaves out.
  validateProfileInput(agent, authType, body.auth_config, body.auth_data, policyOf(body), deploymentOf(deps.config), body.end_user_id);
  const repo = deps.store.profiles;
  type Attempt = { token: string; record: ProfileRecord; type: 'create' | 'replace' };
  let lost: Attempt | undefined;
  // Write-ahead (shared/audit/log.ts): the change an attempt is about to make (create, or replace
  // to generation n) is recorded before its write; a retry of that same change reuses the record.
  // An attempt that turns into another change (a concurrent writer moved the generation) first
  // records the abandoned one as 409, so no "ok" record is left for a change that was not made.
  let recorded: AuditEventInput | undefined;
  const recordAttempt = async (a: Attempt) => {
    const event = changeEvent(caller, a.type, a.record);
    if (recorded?.action === event.action && recorded.generation === event.generation) return;
    if (recorded)
      await auditFailure(deps, recorded, new ConflictError('another request wrote this profile first; this write was not made'));
    recorded = undefined;
    await writeAudit(deps, event);
    recorded = event;
  };
  /** The write that landed, and whether a saved session of the previous generation must go. */
  let result: { attempt: Attempt; dropSession: boolean };
  try {
    result = await (async () => {
      for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
        const stored = attempt === 0 ? ctx.profile : await repo.get(ref);
        // A profile renamed away meanwhile is no longer this name's.
        const existing = stored?.name === name ? stored : undefined;
        if (stored && !existing)
          throw new ConflictError(`Auth profile "${name}" was renamed by another request while this write ran; retry`);
        // Replacing needs read_write; a profile the caller cannot see answers as if unknown.
        if (existing) assertCanWrite(caller, existing, () => profileNameNotFound(agent.agent_id, name), 'Replacing this auth profile');
        // The previous attempt's write may have landed with its answer lost: then it is the result.
        if (lost && isSameSeal(existing, lost.record)) return { attempt: lost, dropSession: true };
        const shouldSave = body.should_save_session ?? existing?.should_save_session ?? false;
        const spec = validateProfileInput(
          agent,
          authType,
          body.auth_config,
          body.auth_data,
          policyOf(body, existing),
          deploymentOf(deps.config),
          body.end_user_id ?? (authType === 'oauth2_authorization_code' ? existing?.end_user_id : undefined),
        );
        const fresh: Attempt = {
          ...freshProfile(deps, tenant, agent, name, body.auth_data, shouldSave, spec, caller, ref.slot, existing, expiresAt),
          type: existing ? 'replace' : 'create',
        };
        await recordAttempt(fresh);
        if (!existing && claimed) assertClaimFresh(claimed, agent.agent_id, name, deps.now());
        if (existing ? await repo.replace(fresh.record, existing) : await repo.create(fresh.record)) {
          // A session saved after our read came from a run, which checks the profile after saving
          // and removes its own session: only one seen here (or on a retry, unknown) needs removing.
          return { attempt: fresh, dropSession: existing !== undefined && (ctx.session !== undefined || attempt > 0) };
        }
        lost = fresh;
      }
      if (lost && (await landedAnyway(deps, lost.record))) return { attempt: lost, dropSession: true };
      throw new ConflictError(`Auth profile "${name}" is being written by other requests at the same time; retry`);
    })();
  } catch (err) {
    if (recorded) await auditFailure(deps, recorded, err);
    throw err;
  }
  // After the recorded change landed: a failure here is not a failed write.
  if (result.dropSession) await dropOlderSession(deps, result.attempt.record);
  const w = result.attempt;
  return withWarnings(agent, { auth_token: w.token, name, type: w.type, record: w.record });
}

async function updateInPlace(
  deps: Deps,
  caller: Caller,
  body: UpsertProfileBody,
  authToken: string,
  tokenExpiresAt: string | undefined,
  compatible: boolean,
): Promise<{ auth_token: string; name: string; type: 'update'; record: ProfileRecord; warnings?: string[] }> {
  // An edit, not a use: the gate's access (read_write) → verify → binding → decrypt, no use counted.
  const { agent, profile: opened, values: current } = await openForEdit(deps, caller, { kind: 'token', agentId: body.agent_id, token: authToken, unknownIfMalformed: compatible }, 'Updating this auth profile');
  const { item } = opened;
  if (body.name !== undefined && body.name !== item.name) {
    throw new ValidationError(
      `name "${body.name}" does not match the profile of this auth_token ("${item.name}"); omit name or correct it`,
    );
  }
  if (body.auth_type !== undefined && body.auth_type !== item.auth_type) {
    throw new ValidationError(
      `auth_type "${body.auth_type}" differs from the profile's ("${item.auth_type}"); an update in place keeps the type: replace the profile (upsert by name without auth_token) to change it`,
    );
  }
  const merged = { ...current, ...body.auth_data };
  const spec = validateProfileInput(agent, item.auth_type, body.auth_config ?? item.auth_config, merged, policyOf(body, item), deploymentOf(deps.config), body.end_user_id ?? item.end_user_id);
  const record = resealProfile(
    deps.serverKeys.current, // re-encrypting moves the profile to the current server key
    { tenant: caller.tenant, agentId: agent.agent_id, slot: opened.keys.binding.slot, generation: item.generation },
    opened,
    item.record_version + 1,
    merged,
    approvalFor(agent), // an update by the token holder approves the current runner and delivery
    // Settings, usage and test results stay as they are; only values, type spec and expiry change
    // (each later part wins; assigned into the record itself: docs/architecture.md, "Performance").
    item,
    { should_save_session: body.should_save_session ?? item.should_save_session, updated_at: deps.now().toISOString() },
    spec,
    { token_expires_at: tokenExpiresAt ?? item.token_expires_at },
  );
  await auditedChange(deps, changeEvent(caller, 'update', record), async () => {
    if (!(await deps.store.profiles.rewrite(record, item)) && !(await landedAnyway(deps, record))) {
      throw new ConflictError(`Auth profile "${item.name}" was changed by another request while this update ran; read it again and retry`);
    }
  });
  return withWarnings(agent, { auth_token: body.auth_token as string, name: item.name, type: 'update' as const, record });
}

/** What the API shows of a profile: names, type, config, policy, lifecycle and usage; never a value. */
export function toMetadata(item: Omit<ProfileItem, 'pk' | 'sk' | 'entity'>, now: Date): ProfileMetadata {
  return {
    agent_id: item.agent_id,
    name: item.name,
    fields: Object.keys(item.fields).sort(),
    auth_type: item.auth_type,
    auth_config: item.auth_config,
    allowed_hosts: item.allowed_hosts,
    allowed_path_prefixes: item.allowed_path_prefixes,
    allowed_methods: item.allowed_methods as ProfileMetadata['allowed_methods'],
    last_tested_at: item.last_tested_at,
    last_test_ok: item.last_test_ok,
    last_error: item.last_error,
    last_error_at: item.last_error_at,
    generation: item.generation,
    record_version: item.record_version,
    should_save_session: item.should_save_session,
    created_at: item.created_at,
    updated_at: item.updated_at,
    last_used_at: item.last_used_at,
    use_count: item.use_count,
    ...lifecycleMetadata(item, now),
    owner: item.owner,
    visibility: item.visibility ?? 'private',
    grants: item.grants ?? [],
    ...(item.auth_type === 'oauth2_authorization_code'
      ? {
          end_user_id: item.end_user_id,
          connection_state: item.connection_state ?? 'pending',
          connected_at: item.connected_at,
          scopes_granted: item.scopes_granted,
          last_refreshed_at: item.last_refreshed_at,
        }
      : {}),
  };
}

/** A profile's metadata: the route's permission (read) already read it (shared/http/authorize.ts). */
export function getProfileMetadata(deps: Deps, target: ProfileTarget): ProfileMetadata {
  return toMetadata(target.profile, deps.now());
}

/**
 * Whether a profile matches every filter given (docs/api.md, "Search and filter"): name contains
 * `q` (case-insensitive), and each other filter equals the profile's value (token_state as of `now`).
 */
export function matchesFilter(item: ProfileItem, f: ProfileFilter, now: Date): boolean {
  if (f.agent_id !== undefined && item.agent_id !== f.agent_id) return false;
  if (f.q !== undefined && !item.name.toLowerCase().includes(f.q.toLowerCase())) return false;
  if (f.auth_type !== undefined && item.auth_type !== f.auth_type) return false;
  if (f.visibility !== undefined && (item.visibility ?? 'private') !== f.visibility) return false;
  if (f.active !== undefined && item.active !== f.active) return false;
  if (f.token_state !== undefined && tokenState(item.token_expires_at, now) !== f.token_state) return false;
  if (f.connection_state !== undefined && item.connection_state !== f.connection_state) return false;
  if (f.end_user_id !== undefined && item.end_user_id !== f.end_user_id) return false;
  return true;
}

/**
 * One page of the agent's profiles the caller may see that match `filter`. Filters and the
 * access check drop items after each read, so a page may hold fewer than `limit` profiles (even
 * none) while next_cursor goes on (store/items.ts fillProfilePage).
 */
export async function listProfiles(
  deps: Deps,
  caller: Caller,
  agentId: string,
  limit: number,
  cursor?: string,
  filter: ProfileFilter = {},
) {
  await requireAgent(deps, caller.tenant, agentId);
  const now = deps.now();
  const page = await deps.store.profiles.listMatching(
    { tenant: caller.tenant, agentId },
    limit,
    cursor,
    (i) => canRead(caller, i) && matchesFilter(i, filter, now),
  );
  return { profiles: page.items.map((i) => toMetadata(i, now)), next_cursor: page.next };
}

/**
 * GET /v1/auth-profiles: the tenant's profiles the caller may see that match `filter`, in name
 * order then agent id, from the name index (a Query, never a scan); `agent_id` narrows to one agent.
 */
export async function listTenantProfiles(deps: Deps, caller: Caller, limit: number, cursor?: string, filter: ProfileFilter = {}) {
  const now = deps.now();
  const page = await deps.store.profiles.listMatching(
    { tenant: caller.tenant },
    limit,
    cursor,
    (i) => canRead(caller, i) && matchesFilter(i, filter, now),
  );
  return { profiles: page.items.map((i) => toMetadata(i, now)), next_cursor: page.next };
}
