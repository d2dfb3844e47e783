import type { ProfileRef } from '../../store/profile-ref.ts';
import { type PublishDeps, publishEvent } from '../../webhooks/publish.ts';

/**
 * The one seam through which every connection event of an oauth2_authorization_code profile
 * leaves (docs/architecture.md, "Delegated OAuth 2.0"): a structured log line, and the tenant's
 * webhooks (shared/webhooks/publish.ts: one delivery job per subscribed webhook, at least once).
 * `detail` carries names, ids and our own words, never a token, a code or a provider's body.
 */
export type ConnectionEventType = 'connection.connected' | 'connection.needs_reauth' | 'connection.refresh_failed' | 'connection.recovered';

export interface ConnectionEventDetail {
  /** The profile's name. */
  readonly profile: string;
  readonly end_user_id?: string;
  /** Why (needs_reauth, refresh_failed): the endpoint's status and RFC 6749 error code, in our words. */
  readonly reason?: string;
}

/** Emits one connection event; never throws (an event that cannot be emitted must not fail the use that caused it). */
export async function emitConnectionEvent(
  deps: PublishDeps,
  ref: ProfileRef,
  type: ConnectionEventType,
  detail: ConnectionEventDetail,
): Promise<void> {
  try {
    deps.log.log('info', 'connection event', {
      event: type,
      tenant: ref.tenant,
      agent_id: ref.agentId,
      slot: ref.slot,
      at: deps.now().toISOString(),
      ...detail,
    });
  } catch {
    // A log sink that throws loses the log line, not the request.
  }
  const { profile, end_user_id, reason } = detail;
  // publishEvent never throws: a delivery that cannot be enqueued is logged and counted there.
  await publishEvent(deps, ref.tenant, {
    type,
    agent_id: ref.agentId,
    profile,
    data: { ...(end_user_id === undefined ? {} : { end_user_id }), ...(reason === undefined ? {} : { reason }) },
  });
}
