import { writeAudit } from '../audit/log.ts';
import type { Caller, Deps } from '../deps.ts';
import { ProfileNotFoundError, agentNotFound } from '../errors.ts';
import { verifiedAgent } from '../integrity.ts';
import { loadProfileContext } from '../repositories/profile-context.ts';
import { profileRepository } from '../repositories/profiles.ts';
import type { AgentItem, SessionItem } from '../schemas/items.ts';
import {
  type OpenedProfile,
  type VerifiedToken,
  assertBoundToAgent,
  assertRunnerApproved,
  openProfileKeys,
  openValues,
  parseTokenOrThrow,
  verifyToken,
} from './sealed-profile.ts';
import { type AuthTypeModule, authTypeOf, storedConfig } from './types/index.ts';
import { outboundRefusal, refuseUse, sourceIpRefusal, useEvent, verifiedProfileRefusal } from './policy.ts';
import { useToRecord } from './usage.ts';

/**
 * The one gate every use of a stored credential passes:
 *   caller IP allow-list → verify → policy (binding, active, expiry, outbound request) → decrypt →
 *   record use (audit record, fail-closed, then hand out).
 * Every refusal of an existing profile is audited (shared/credentials/policy.ts).
 * Nothing else in the code base decrypts a profile for use; the profile service's in-place
 * update (an edit, not a use) composes the same stages itself.
 */

/**
 * Why a credential is being opened. Each purpose is one use of the profile: `run` (a runner
 * receives the values as parameters), `proxy` and `test` (the vault injects them into a request).
 * Policy checks and the audit record see it.
 */
export type UsePurpose = 'run' | 'proxy' | 'test';

/**
 * What the caller presents to open a profile. Today: the profile's auth token (with the agent it
 * is for). Extension point: a run grant becomes `| { kind: 'grant'; grant: string }`, resolved
 * to a profile and its key material in `resolve()` below; the rest of the gate is unchanged.
 */
export type CredentialRef = { readonly kind: 'token'; readonly agentId: string; readonly token: string };

export interface UseOptions {
  /** Also read the profile's saved session in the same round trip (runs). */
  readonly withSession?: boolean;
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

/** The checks every use passes, in order. */
export const POLICY: readonly PolicyCheck[] = [boundToAgentIncarnation];

/**
 * Opens a credential for one use by `caller` (its tenant scopes every read).
 * Malformed token → 400 before any read; unknown agent → 404 agent_not_found; an agent that fails
 * its integrity check → 500 agent_integrity_check_failed; unknown profile, wrong secret, other
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
  // Resolve the credential to a slot and key material (a grant will resolve here too).
  const token = parseTokenOrThrow(credential.token);
  const ctx = await loadProfileContext(deps.db, caller.tenant, credential.agentId, token.slot.toString('hex'), { withSession: options.withSession });
  // The agent's MAC is checked before anything it says (runner, incarnation, input args) is used.
  const agent = verifiedAgent(deps, caller.tenant, credential.agentId, ctx.agent);
  if (!agent) throw agentNotFound(credential.agentId);
  const found = ctx.profile;
  // Caller IP allow-list, before verification: a caller outside it learns nothing about the token.
  const ipRefusal = found && sourceIpRefusal(found, caller);
  if (found && ipRefusal) await refuseUse(deps, caller, purpose, found, ipRefusal);
  // Verify. A wrong secret for an existing profile is audited (a guessing attempt); the answer
  // is the same 404 as for an unknown profile.
  let verified: VerifiedToken;
  try {
    verified = verifyToken(deps, caller.tenant, credential.agentId, token, found);
  } catch (err) {
    if (found && err instanceof ProfileNotFoundError) await refuseUse(deps, caller, purpose, found, err);
    throw err;
  }
  // Policy.
  const now = deps.now();
  for (const check of POLICY) check({ caller, purpose, agent, verified, now });
  const item = verified.item;
  const type = authTypeOf(item);
  const config = storedConfig(type, item.auth_config);
  const refusal = verifiedProfileRefusal(item, now) ?? (options.request !== undefined ? outboundRefusal(item, type, config, options.request) : undefined);
  if (refusal) await refuseUse(deps, caller, purpose, item, refusal);
  // Decrypt.
  const profile = openProfileKeys(deps, verified);
  // A run hands the values to the agent's runner: only to the origin the token holder approved.
  if (purpose === 'run') assertRunnerApproved(profile, agent);
  const secret = openValues(deps, profile);
  return {
    purpose,
    caller,
    agent,
    profile,
    type,
    config,
    secret,
    session: ctx.session,
    // Record use: the audit record (fail-closed) and the counters, in parallel.
    recordUse: async ({ sessionId, inFlightUntil }: UseRecordOptions = {}) => {
      const at = deps.now();
      await Promise.all([
        writeAudit(deps, useEvent(caller, purpose, item, 200, 'ok', sessionId)),
        profileRepository(deps.db).recordUse(item.tenant, item.agent_id, item.slot, item.generation, useToRecord(item, purpose, at, inFlightUntil)),
      ]);
    },
  };
}
