import { writeAudit } from '../audit/log.ts';
import type { Caller, Deps } from '../deps.ts';
import { ProfileNotFoundError, agentNotFound } from '../errors.ts';
import { assertCanWrite, canRead } from './access.ts';
import { namedProfileRef } from './profile-keys.ts';
import { loadNamedProfile } from './profile-names.ts';
import { type ProfileRef, profileRef, profileRefOf } from '../store/profile-ref.ts';
import type { ProfileContext, ProfileContextOptions } from '../store/types.ts';
import { enforceTenantRateLimit } from '../limits/tenant-rate-limit.ts';
import type { AgentItem, OAuthTokenItem, SessionItem } from '../schemas/items.ts';
import {
  type OpenedProfile,
  type ParsedToken,
  type VerifiedToken,
  assertBoundToAgent,
  runnerRefusal,
  openProfileKeys,
  openValues,
  parseTokenOrThrow,
  parseTokenOrUnknown,
  verifyToken,
} from './sealed-profile.ts';
import { InvalidGrantError, type ResolvedGrant, resolveGrant } from './grants.ts';
import { type AuthTypeModule, authTypeOf, storedConfig } from './types/index.ts';
import { outboundRefusal, refuseUse, profileEvent, sourceIpRefusal, verifiedProfileRefusal } from './policy.ts';
import { useToRecord } from './usage.ts';
import { countMetric, METRIC } from '../metrics.ts';

/**
 * The one gate every opening of a stored credential passes. A use (openForUse):
 *   access (the caller's key may read the profile) → caller IP allow-list → token (parsed, then
 *   verified) → policy (binding, active, expiry, outbound request) → decrypt → record use (audit
 *   record, fail-closed, then hand out).
 * An edit by the token holder (openForEdit: update in place, rotate):
 *   access (read_write) → token → binding → decrypt.
 * Access comes first so that a profile the caller may not see answers exactly like an unknown
 * one whatever else is wrong (its IP limit, a malformed or forged token); it is the route
 * table's `credential` permission (shared/http/routes.ts). Every refusal of an existing profile
 * on a use is audited (shared/credentials/policy.ts). Nothing else decrypts a profile.
 */

/**
 * Why a credential is being opened. Each purpose is one use of the profile: `run` (a runner
 * receives the values as parameters), `proxy` and `test` (the vault injects them into a request).
 * Policy checks and the audit record see it.
 */
export type UsePurpose = 'run' | 'proxy' | 'test';

/**
 * What the caller presents to open a profile: the profile's auth token (with the agent it is
 * for), or a run grant (grants.ts), which names its tenant, agent, profile and run itself and
 * unwraps the profile's key material. Both continue through the same verify → policy → decrypt.
 */
export type CredentialRef =
  /** `unknownIfMalformed`: the compatible routes' reading, a malformed token is an unknown one (sealed-profile.ts parseTokenOrUnknown). */
  | { readonly kind: 'token'; readonly agentId: string; readonly token: string; readonly unknownIfMalformed?: boolean }
  /** A token for the profile the path names: the token is parsed only after access and caller IP. */
  | { readonly kind: 'named'; readonly agentId: string; readonly name: string; readonly token: string }
  | { readonly kind: 'grant'; readonly grant: string };

export interface UseOptions {
  /** Also read the profile's saved session in the same round trip (runs). */
  readonly withSession?: boolean;
  /**
   * Also read the profile's OAuth2 token cache in the same round trip (uses that inject: proxy,
   * test with a request), so an OAuth2 use with a warm cache costs the round trips of a bearer
   * one. The type is only known once the profile is read; for other types the extra key costs one
   * read unit in the same BatchGetItem, no round trip.
   */
  readonly withOAuthToken?: boolean;
  /**
   * The request the credential will be injected into (proxy, test): checked against the
   * profile's type and outbound policy (allowed hosts, paths, methods) before anything is
   * decrypted; a refusal (405 method, 403 host/path, 400 not injectable) is audited.
   */
  readonly request?: { readonly method: string; readonly url: URL };
}

/** What a committed use records besides who, what and when. */
export interface UseRecordOptions {
  /** The run the use belongs to. */
  readonly sessionId?: string;
  /** The use (a run) may still be going until then: deleting the profile meanwhile needs ?force=true. */
  readonly inFlightUntil?: Date;
}

/** What the gate hands a use: the agent, the opened profile, its type module and decrypted secret. */
export interface OpenedForUse {
  readonly purpose: UsePurpose;
  readonly caller: Caller;
  readonly agent: AgentItem;
  readonly profile: OpenedProfile;
  readonly type: AuthTypeModule;
  /** The type's non-secret config, as stored on the profile (parsed again by the type). */
  readonly config: Record<string, unknown>;
  readonly secret: Readonly<Record<string, string>>;
  readonly session?: SessionItem;
  /**
   * The OAuth2 token cache as read with the profile (`item` undefined: no cache item), when the
   * use asked for it (UseOptions.withOAuthToken) and the profile is oauth2_client_credentials.
   */
  readonly oauthToken?: { readonly item?: OAuthTokenItem };
  /**
   * Records the use: writes its audit record and counts it (last_used_at, use_count, the day's
   * counter of its kind; a profile replaced or deleted meanwhile is not counted), both in one
   * round trip. The caller invokes it once, when the use is committed (after its own validation
   * passed, so a refused request is not counted) and BEFORE the credential leaves the vault (to
   * a runner, into a proxied request): if the audit record cannot be written it throws
   * AuditUnavailableError (503) and the use must not happen — the vault fails closed.
   */
  recordUse(options?: UseRecordOptions): Promise<void>;
}

/** Context every policy check sees. */
export interface PolicyContext {
  readonly caller: Caller;
  readonly purpose: UsePurpose;
  readonly agent: AgentItem;
  readonly verified: VerifiedToken;
  readonly now: Date;
}

/**
 * A policy check throws an HttpError to refuse the use. Checks that must not reveal whether the
 * profile exists throw ProfileNotFoundError. Expiry, source-IP, method and host checks are added
 * to POLICY as they are built.
 */
export type PolicyCheck = (ctx: PolicyContext) => void;

/** A profile is usable only by the registration of the agent it was created for. */
const boundToAgentIncarnation: PolicyCheck = ({ agent, verified }) => assertBoundToAgent(verified, agent.incarnation);

/** The checks every use passes after its token verified, in order. */
export const POLICY: readonly PolicyCheck[] = [boundToAgentIncarnation];

/**
 * Opens a credential for one use by `caller` (its tenant scopes every read).
 * Malformed token → 400 before any read; unknown agent → 404 agent_not_found; an agent that fails
 * its integrity check (as any stored item: the signed store) → 500 integrity_check_failed; unknown profile, wrong secret, other
 * agent or tenant, or an earlier registration's profile → the same 404; a run whose agent's runner
 * moved to an origin the profile never approved → 409 runner_changed.
 */
export async function openForUse(
  deps: Deps,
  caller: Caller,
  credential: CredentialRef,
  purpose: UsePurpose,
  options: UseOptions = {},
): Promise<OpenedForUse> {
  // Resolve the credential to where its profile lives (a token's slot, or the path's name).
  const resolved = await resolve(deps, caller, credential, purpose);
  const { token: presented, grant, caller: who } = resolved;
  const { tenant, agentId } = resolved.ref;
  // A runner presenting a run grant sent no API key, so the API-key middleware counted nothing:
  // the request counts against the grant's tenant here (429 + Retry-After when it is over
  // VAULT_TENANT_RATE_LIMIT), in the same round trip as the profile read. Only a grant that has
  // unwrapped gets this far, so a forged or unknown grant never touches a counter and a 429 tells
  // its sender nothing about any tenant.
  const admitted = grant && caller.tenant === '' ? enforceTenantRateLimit(deps, tenant) : undefined;
  const [{ ctx, ref }] = await Promise.all([
    loadResolved(deps, resolved, { withSession: options.withSession, withOAuthToken: options.withOAuthToken }),
    admitted,
  ]);
  // The signed store checked the agent's MAC before anything it says (runner, incarnation, input args) is used.
  const agent = ctx.agent;
  if (!agent) {
    if (grant) throw new InvalidGrantError();
    throw agentNotFound(agentId);
  }
  const found = ctx.profile;
  const now = deps.now();
  let verified: VerifiedToken;
  let type: AuthTypeModule;
  let config: Record<string, unknown>;
  try {
    // Access: a key that may not read the profile hears what an unknown one hears (audited: a
    // valid token shown by the wrong key is worth a record). A run grant is itself the
    // capability: it was issued to a run whose caller passed this check, and it dies with the
    // run (its deadline at the latest) or with the profile's generation.
    if (found && !grant && !canRead(who, found)) await refuseUse(deps, who, purpose, found, new ProfileNotFoundError());
    // Caller IP allow-list, before the token: a caller outside it learns nothing about the token.
    const ipRefusal = found && sourceIpRefusal(found, who);
    if (found && ipRefusal) await refuseUse(deps, who, purpose, found, ipRefusal);
    // Verify. A wrong secret for an existing profile is audited (a guessing attempt); the answer
    // is the same 404 as for an unknown profile. A grant outlives nothing: its profile must be the
    // very generation (and creation) it was issued for.
    try {
      const token = presented();
      verified = verifyToken(deps, tenant, agentId, token, token.slot.toString('hex') === ref.slot ? found : undefined);
      if (grant && (verified.item.generation !== grant.item.generation || verified.item.created_at !== grant.item.profile_created_at))
        throw new ProfileNotFoundError();
    } catch (err) {
      if (found && err instanceof ProfileNotFoundError) await refuseUse(deps, who, purpose, found, err);
      throw err;
    }
    // Policy.
    for (const check of POLICY) check({ caller: who, purpose, agent, verified, now });
    type = authTypeOf(verified.item);
    config = storedConfig(type, verified.item.auth_config);
    const refusal =
      verifiedProfileRefusal(verified.item, now) ??
      (options.request !== undefined ? outboundRefusal(verified.item, type, config, options.request) : undefined);
    if (refusal) await refuseUse(deps, who, purpose, verified.item, refusal);
  } catch (err) {
    // Whatever a token would hear as "unknown profile", a grant hears as "unknown grant".
    if (grant && err instanceof ProfileNotFoundError) throw new InvalidGrantError();
    throw err;
  }
  const item = verified.item;
  // Decrypt.
  const profile = openProfileKeys(deps, verified);
  // A run hands the values to the agent's runner: only to the origin, and in the delivery mode,
  // the token holder approved (409 runner_changed / delivery_changed, audited).
  if (purpose === 'run') {
    const refusal = runnerRefusal(profile, agent);
    if (refusal) await refuseUse(deps, who, purpose, item, refusal);
  }
  const secret = openValues(deps, profile);
  return {
    purpose,
    caller: who,
    agent,
    profile,
    type,
    config,
    secret,
    session: ctx.session,
    oauthToken: options.withOAuthToken && type.injection === 'access_token' ? { item: ctx.oauthToken } : undefined,
    // Record use: the audit record (fail-closed) and the counters, in parallel.
    recordUse: async ({ sessionId, inFlightUntil }: UseRecordOptions = {}) => {
      const at = deps.now();
      await Promise.all([
        writeAudit(deps, profileEvent(who, purpose, item, 200, 'ok', sessionId)),
        deps.store.profiles.recordUse(profileRefOf(item), item.generation, useToRecord(item, purpose, at, inFlightUntil)),
      ]);
      countMetric(METRIC.credentialUse, { action: purpose });
    },
  };
}

/** What the gate hands an edit: the agent, the opened profile and its decrypted values. */
export interface OpenedForEdit {
  readonly agent: AgentItem;
  readonly profile: OpenedProfile;
  readonly values: Record<string, string>;
  /** The profile's saved session, when asked for (`withSession`). */
  readonly session?: SessionItem;
}

/**
 * Opens a profile for an edit by its token holder (update in place, rotate): the caller needs
 * read_write (without read: the unknown-profile 404; with read only: 403 naming `what`), then the
 * token must verify and the profile belong to the agent's registration. Not a use: nothing is
 * counted, and the caller IP allow-list (a limit on uses) does not apply.
 */
export async function openForEdit(
  deps: Deps,
  caller: Caller,
  credential: Exclude<CredentialRef, { kind: 'grant' }>,
  what: string,
  options: { withSession?: boolean } = {},
): Promise<OpenedForEdit> {
  const resolved = await resolve(deps, caller, credential, 'edit');
  const { token: presented } = resolved;
  const { tenant, agentId } = resolved.ref;
  const { ctx, ref } = await loadResolved(deps, resolved, options);
  const agent = ctx.agent;
  if (!agent) throw agentNotFound(agentId);
  const found = ctx.profile;
  if (found) assertCanWrite(caller, found, () => new ProfileNotFoundError(), what);
  const token = presented();
  const verified = verifyToken(deps, tenant, agentId, token, token.slot.toString('hex') === ref.slot ? found : undefined);
  assertBoundToAgent(verified, agent.incarnation);
  const profile = openProfileKeys(deps, verified);
  return { agent, profile, values: openValues(deps, profile), session: ctx.session };
}

/** A credential resolved to where its profile lives and the token secret that opens it. */
interface Resolved {
  readonly ref: ProfileRef;
  /** The token's slot and secret: parsed on demand, after the access and IP stages (400 if malformed). */
  readonly token: () => ParsedToken;
  /** Set when the credential was a run grant. */
  readonly grant?: ResolvedGrant;
  /** Set when the profile is named by the path: `ref` is then only its name's home slot. */
  readonly name?: string;
  /** The caller as the rest of the gate sees it (a grant's caller takes the grant's tenant). */
  readonly caller: Caller;
}

/**
 * The agent and the profile a resolved credential names, with what `options` asks: by the
 * token's or grant's slot in one read; by name through the name's claim (a renamed profile
 * lives at its first slot: shared/credentials/profile-names.ts), the ref then where it lives.
 */
async function loadResolved(
  deps: Deps,
  resolved: Resolved,
  options: ProfileContextOptions,
): Promise<{ ctx: ProfileContext; ref: ProfileRef }> {
  if (resolved.name === undefined) return { ctx: await deps.store.profileContext.load(resolved.ref, options), ref: resolved.ref };
  const named = await loadNamedProfile(deps.store, resolved.ref.tenant, resolved.ref.agentId, resolved.name, options);
  return { ctx: named.ctx, ref: named.ref };
}

async function resolve(deps: Deps, caller: Caller, credential: CredentialRef, purpose: UsePurpose | 'edit'): Promise<Resolved> {
  if (credential.kind === 'token') {
    // The slot comes from the token itself: a malformed one is a 400 before any read.
    const token = credential.unknownIfMalformed ? parseTokenOrUnknown(credential.token) : parseTokenOrThrow(credential.token);
    return { ref: profileRef(caller.tenant, credential.agentId, token.slot.toString('hex')), token: () => token, caller };
  }
  if (credential.kind === 'named') {
    return {
      ref: namedProfileRef(caller.tenant, credential.agentId, credential.name),
      name: credential.name,
      token: () => parseTokenOrThrow(credential.token),
      caller,
    };
  }
  // A grant is for the proxy only: it never hands out values, so it cannot start a run or a test.
  if (purpose !== 'proxy') throw new InvalidGrantError();
  const grant = await resolveGrant(deps, credential.grant);
  // An API-key caller presenting a grant must be of the grant's tenant (same answer as unknown).
  if (caller.tenant !== '' && caller.tenant !== grant.item.tenant) throw new InvalidGrantError();
  const token = { slot: Buffer.from(grant.item.slot, 'hex'), secret: grant.tokenSecret };
  return {
    ref: profileRef(grant.item.tenant, grant.item.agent_id, grant.item.slot),
    token: () => token,
    grant,
    caller: { ...caller, tenant: grant.item.tenant, apiKeyId: caller.apiKeyId || `grant:${grant.item.session_id}` },
  };
}

/** Where a connect link or an authorization state says its profile is, and which incarnation. */
export interface ConnectionBinding {
  readonly ref: ProfileRef;
  readonly generation: number;
  readonly profileCreatedAt: string;
}

/** What the gate hands the connect flow: the opened oauth2_authorization_code profile, its config and its client credentials. */
export interface OpenedForConnection {
  readonly agent: AgentItem;
  readonly profile: OpenedProfile;
  readonly config: Record<string, unknown>;
  readonly secret: Readonly<Record<string, string>>;
}

/**
 * Opens a profile for its connect flow (docs/architecture.md, "Delegated OAuth 2.0") with the key
 * material a connect link or an authorization state unwrapped: the secret must verify against the
 * profile as it is now, which must still be the incarnation the link was issued for, bound to its
 * agent's registration, active, and oauth2_authorization_code. Every refusal is the same
 * `refuse()`: the end user's browser learns nothing about which check failed.
 */
export async function openForConnection(deps: Deps, binding: ConnectionBinding, tokenSecret: Buffer, refuse: () => Error): Promise<OpenedForConnection> {
  const { ref } = binding;
  const ctx = await deps.store.profileContext.load(ref);
  const agent = ctx.agent;
  const found = ctx.profile;
  if (!agent || !found || found.generation !== binding.generation || found.created_at !== binding.profileCreatedAt) throw refuse();
  let verified: VerifiedToken;
  try {
    verified = verifyToken(deps, ref.tenant, ref.agentId, { slot: Buffer.from(ref.slot, 'hex'), secret: tokenSecret }, found);
    assertBoundToAgent(verified, agent.incarnation);
  } catch (err) {
    if (err instanceof ProfileNotFoundError) throw refuse();
    throw err;
  }
  if (!verified.item.active || verified.item.auth_type !== 'oauth2_authorization_code') throw refuse();
  const type = authTypeOf(verified.item);
  const config = storedConfig(type, verified.item.auth_config);
  const profile = openProfileKeys(deps, verified);
  return { agent, profile, config, secret: openValues(deps, profile) };
}
