import type { Deps } from '../../deps.ts';
import type { ProfileRef } from '../../store/profile-ref.ts';

/**
 * The one seam through which every connection event of an oauth2_authorization_code profile
 * leaves (docs/architecture.md, "Delegated OAuth 2.0"): today a structured log line; the tenant
 * webhooks publisher is wired in here. `detail` carries names, ids and our own words, never a
 * token, a code or a provider's body.
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
  deps: Pick<Deps, 'log' | 'now'>,
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
    // A log sink that throws loses the event, not the request.
  }
}
