import { type AuditDeps, auditRefusal } from '../audit/log.ts';
import { type AuditAction, type AuditEventInput, type UseAction, eventBy } from '../audit/record.ts';
import type { Caller } from '../deps.ts';
import { HttpError, ProfileInactiveError, SourceIpNotAllowedError, TokenExpiredError } from '../errors.ts';
import { assertOutboundUse } from './outbound-policy.ts';
import type { ProfileItem } from '../schemas/items.ts';
import { isSourceIpAllowed } from './source-ip.ts';
import { isTokenExpired } from './token-state.ts';
import { countMetric, METRIC } from '../metrics.ts';

/**
 * The lifecycle policy of a profile's use, in the order the gate applies it:
 * 1. caller IP allow-list — before the token is verified (403 source_ip_not_allowed);
 * 2. after verification: active (403 profile_inactive), then expiry (401 token_expired), so an
 *    unknown or wrong token still answers exactly like an unknown one;
 * 3. for proxied requests, the outbound policy (method 405, host or path 403).
 * Every refusal of a profile that exists is audited; the refusal stands even if the audit
 * record cannot be written (nothing is handed out).
 */

/** The audit event of a use or refusal (`action` a use) or of a change to a profile, by `caller`. */
export function profileEvent(caller: Caller, action: AuditAction, item: Pick<ProfileItem, 'agent_id' | 'name' | 'slot' | 'generation'>, status: number, result: string, sessionId?: string): AuditEventInput {
  return eventBy(caller, action, status, { result, agent_id: item.agent_id, profile: item.name, slot: item.slot, generation: item.generation, session_id: sessionId });
}

/** Refuses with `err`, auditing the refusal first. */
export function refuseUse(deps: AuditDeps, caller: Caller, action: UseAction, item: ProfileItem, err: HttpError): Promise<never> {
  countMetric(METRIC.credentialRefusal, { code: err.code });
  return auditRefusal(deps, profileEvent(caller, action, item, err.status, err.code), err);
}

/** Step 1: the caller's source IP must be inside the profile's allow-list (if it has one). */
export function sourceIpRefusal(item: ProfileItem, caller: Caller): HttpError | undefined {
  return isSourceIpAllowed(item.allowed_source_ips, caller.sourceIp) ? undefined : new SourceIpNotAllowedError();
}

/** Step 2: active, then not expired. */
export function verifiedProfileRefusal(item: ProfileItem, now: Date): HttpError | undefined {
  if (!item.active) return new ProfileInactiveError(item.name);
  if (item.token_expires_at !== undefined && isTokenExpired(item.token_expires_at, now)) return new TokenExpiredError(item.token_expires_at);
  return undefined;
}

/**
 * Step 3 (proxy, test): the outbound request must fit the profile's type and outbound policy
 * (shared/credentials/outbound-policy.ts: 405 for a method, 403 for a host or path).
 */
export function outboundRefusal(
  item: ProfileItem,
  type: { readonly injection: string },
  config: Readonly<Record<string, unknown>>,
  request: { readonly method: string; readonly url: URL },
): HttpError | undefined {
  try {
    assertOutboundUse(item, type, config, request.method, request.url);
    return undefined;
  } catch (err) {
    if (err instanceof HttpError) return err;
    throw err;
  }
}
