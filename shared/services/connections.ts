import { auditedChange } from '../audit/log.ts';
import { openForEdit } from '../credentials/gate.ts';
import {
  type CallbackQuery,
  type RevocationOutcome,
  completeAuthorization,
  issueConnectLink,
  revokeConnection,
  startAuthorization,
} from '../credentials/oauth2/connection.ts';
import { profileEvent } from '../credentials/policy.ts';
import { authTypeOf, storedConfig } from '../credentials/types/index.ts';
import type { Caller, Deps } from '../deps.ts';
import { ValidationError } from '../errors.ts';
import type { ProfileItem } from '../schemas/items.ts';
import { type OpenedProfile, parseTokenOrThrow } from '../credentials/sealed-profile.ts';
import { profileRefOf } from '../store/profile-ref.ts';

/**
 * Connecting an end user's account to an oauth2_authorization_code profile (docs/architecture.md,
 * "Delegated OAuth 2.0"): a connect link for the token holder, the two public steps the end
 * user's browser takes (open the link, come back from the provider), and disconnect.
 */

function assertDelegated(item: ProfileItem, what: string): void {
  if (item.auth_type !== 'oauth2_authorization_code') {
    throw new ValidationError(
      `${what} is for auth profiles of auth_type oauth2_authorization_code; "${item.name}" is ${item.auth_type}`,
      'not_connectable',
    );
  }
}

/** POST …/auth-profiles/{name}/connect: a new single-use connect link (15 minutes) for the token holder to hand to the end user. */
export async function connectLink(deps: Deps, caller: Caller, agentId: string, name: string, authToken: string, baseUrl: string) {
  const { profile } = await openForEdit(deps, caller, { kind: 'named', agentId, name, token: authToken }, 'Connecting this auth profile');
  assertDelegated(profile.item, 'A connect link');
  return issueConnectLink(deps, profile.item, profile.secret, baseUrl);
}

/** The connect link a create or replace answers for a new oauth2_authorization_code profile (the caller holds its fresh token). */
export async function connectLinkForNew(
  deps: Deps,
  record: Pick<ProfileItem, 'auth_type' | 'tenant' | 'agent_id' | 'slot' | 'generation' | 'created_at'>,
  authToken: string,
  baseUrl: string,
) {
  if (record.auth_type !== 'oauth2_authorization_code') return {};
  return issueConnectLink(deps, record, parseTokenOrThrow(authToken).secret, baseUrl);
}

/** GET /v1/oauth/connect?link=avc_…: where to send the end user's browser (the provider's authorization URL). */
export const openConnectLink = (deps: Deps, link: string | undefined, baseUrl: string) => startAuthorization(deps, link, baseUrl);

/** GET /v1/oauth/callback: where to send the end user's browser back (the profile's return_url with the outcome). */
export const oauthCallback = (deps: Deps, query: CallbackQuery, sourceIp?: string, requestId?: string) =>
  completeAuthorization(deps, query, sourceIp, requestId);

/**
 * Revokes the refresh token at the provider (RFC 7009) when the profile has a revocation_url and a
 * connection, for a caller holding the auth token (only it can read the refresh token). Used by
 * disconnect and by a delete that carries the auth token.
 */
export async function revokeWithToken(
  deps: Deps,
  caller: Caller,
  agentId: string,
  name: string,
  authToken: string,
  what: string,
): Promise<{ profile: OpenedProfile; revocation?: RevocationOutcome; revocation_error?: string }> {
  const { profile, values } = await openForEdit(deps, caller, { kind: 'named', agentId, name, token: authToken }, what);
  if (profile.item.auth_type !== 'oauth2_authorization_code') return { profile };
  const config = storedConfig(authTypeOf(profile.item), profile.item.auth_config);
  return { profile, ...(await revokeConnection(deps, profile, config, values)) };
}

/**
 * POST …/auth-profiles/{name}/disconnect: revokes the refresh token at the provider when it can,
 * removes the sealed tokens, and marks the profile disconnected. The answer says whether the
 * provider confirmed the revocation.
 */
export async function disconnectProfile(
  deps: Deps,
  caller: Caller,
  agentId: string,
  name: string,
  authToken: string,
): Promise<{ connection_state: 'disconnected'; revocation: RevocationOutcome; revocation_error?: string }> {
  const out = await revokeWithToken(deps, caller, agentId, name, authToken, 'Disconnecting this auth profile');
  const item = out.profile.item;
  assertDelegated(item, 'Disconnect');
  const ref = profileRefOf(item);
  await auditedChange(deps, profileEvent(caller, 'disconnect', item, 200, 'ok'), async () => {
    await deps.store.oauthTokens.clearConnection(ref);
    await deps.store.profiles.recordConnection(
      ref,
      { generation: item.generation, created_at: item.created_at },
      { connection_state: 'disconnected', last_error: null },
    );
  });
  return {
    connection_state: 'disconnected',
    revocation: out.revocation ?? 'not_configured',
    ...(out.revocation_error ? { revocation_error: out.revocation_error } : {}),
  };
}
