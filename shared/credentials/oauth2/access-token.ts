import { randomBytes } from 'node:crypto';
import { DecryptionError } from '../../crypto/aead.ts';
import type { Deps } from '../../deps.ts';
import { BadGatewayError, ConflictError, ServiceUnavailableError } from '../../errors.ts';
import type { OAuthTokenItem } from '../../schemas/items.ts';
import { sleep } from '../../sleep.ts';
import type { OpenedForUse } from '../gate.ts';
import type { Secret } from '../types/index.ts';
import {
  type TokenEndpointConfig,
  type TokenFetchOptions,
  type TokenFetchResult,
  fetchAccessToken,
  requestToken,
  tokenConnectionScope,
  tokenUrlRefusal,
} from './token-endpoint.ts';
import { emitConnectionEvent } from './connection-events.ts';
import { type ProfileRef, profileRefOf } from '../../store/profile-ref.ts';
import { countMetric, latencyMetric, METRIC } from '../../metrics.ts';

/**
 * OAuth2 client credentials: the access token a use injects (docs/architecture.md, "Typed profiles, injection and grants"). The token is cached
 * in DynamoDB, sealed under the profile's own keys (so only a holder of the profile's token or
 * grant can read it) with its expiry in the AAD, and refreshed ahead of expiry. A refresh is
 * single-flight across processes (Lambda has no shared memory): the use that takes the lease on
 * the cache item (a conditional write) fetches; the others poll the item with backoff until it
 * writes, or take the lease over once it has lapsed (a leaseholder that died).
 */

/** Refresh this long before expiry at most (a token of 1 h is refreshed 60 s ahead). */
export const REFRESH_AHEAD_MS = 60_000;
/** …and at most a tenth of the lifetime ahead (a 30 s token is refreshed 3 s ahead). */
export const REFRESH_AHEAD_FRACTION = 0.1;
/** The item outlives the token by this long for DynamoDB's TTL (reads check the expiry themselves). */
const TTL_AFTER_EXPIRY_S = 86_400;
/** Polling backoff while another use refreshes. */
const POLL_FIRST_MS = 20;
const POLL_MAX_MS = 250;
/** After a failed fetch, uses answer its error for this long before one tries again (a burst costs the endpoint one request). */
export const ERROR_HOLD_MS = 5_000;

/** Field under which the token is sealed; `$` cannot start an input argument name. */
const TOKEN_FIELD = '$oauth_access_token';

/** The AAD field of a token: its expiry is bound in, so a blob moved next to another expires_at does not open. */
export const tokenField = (tokenExpiresAt: number) => `${TOKEN_FIELD}#${tokenExpiresAt}`;

/**
 * oauth2_authorization_code: the refresh token's field, sealed under record version 0 (not the
 * profile's): an update in place (new client secret, scopes) keeps the connection; a rotation or
 * a replace (new token, new keys) does not open it.
 */
export const REFRESH_FIELD = '$oauth_refresh_token';
export const REFRESH_RECORD_VERSION = 0;

/** Is this profile's type the delegated one (an end user's refresh token, not client credentials)? */
const isDelegated = (use: OpenedForUse) => use.profile.item.auth_type === 'oauth2_authorization_code';

/** 409 reauthorization_required: the end user must connect (again) through a new connect link. */
export function reauthorizationRequired(profileName: string, state: string | undefined, agentId: string): ConflictError {
  const why =
    state === 'pending' || state === undefined
      ? 'has not been connected yet'
      : state === 'disconnected'
        ? 'was disconnected'
        : 'needs its end user to connect again (the provider refused its refresh token)';
  return new ConflictError(
    `auth profile "${profileName}" ${why}: create a connect link with POST /v1/agents/${agentId}/auth-profiles/${encodeURIComponent(profileName)}/connect and open it in the end user's browser`,
    'reauthorization_required',
  );
}

/** The sealed refresh token of the connection on `cached`, if it belongs to this profile (generation and creation). */
function connectionOf(use: OpenedForUse, cached: OAuthTokenItem | undefined): Uint8Array | undefined {
  const item = use.profile.item;
  if (!cached?.refresh_blob || cached.generation !== item.generation || cached.profile_created_at !== item.created_at) return undefined;
  return cached.refresh_blob;
}

/** When to start refreshing a token that expires at `expiresAt` after `lifetimeMs`. */
export function refreshAt(expiresAt: number, lifetimeMs: number): number {
  return expiresAt - Math.min(REFRESH_AHEAD_MS, Math.floor(lifetimeMs * REFRESH_AHEAD_FRACTION));
}

/** A 502 oauth_token_failed for a profile; `message` names the endpoint's status, never its body. */
export const oauthTokenFailed = (profileName: string, message: string) =>
  new BadGatewayError(`auth profile "${profileName}" could not get an OAuth2 access token: ${message}`, 'oauth_token_failed');

/** The options the vault fetches tokens with (the caller passes its outbound settings). */
export type AccessTokenOptions = TokenFetchOptions;

/**
 * The access token for an opened oauth2_client_credentials profile: `{access_token}` for the
 * type's `inject`. Cached → returned; due for refresh → one use refreshes while the others keep
 * using the still-valid token; missing or expired → one use fetches, the others wait for it.
 * A failed fetch → 502 oauth_token_failed (for the fetching use and its waiters), recorded on
 * the profile as last_error.
 */
export async function accessTokenFor(deps: Deps, use: OpenedForUse, opts: AccessTokenOptions): Promise<Secret> {
  const item = use.profile.item;
  // Before any cache read or lease: a profile whose token_url the vault may not send the client
  // secret to (plain http when deployed) is refused outright, without a network call.
  const refused = tokenUrlRefusal((use.config as unknown as TokenEndpointConfig).token_url, opts.httpsOnly);
  if (refused) throw oauthTokenFailed(item.name, `${refused}; update the profile's auth_config.token_url`);
  const ref = profileRefOf(item);
  const repo = deps.store.oauthTokens;
  const leaseMs = opts.timeoutMs + 2_000;
  const leaseId = randomBytes(12).toString('base64url');
  let waitingSince: number | undefined;
  let delay = POLL_FIRST_MS;
  // A leaseholder that dies is taken over after its lease; waiting longer than two leases means
  // the store is not making progress: give up with a retryable 503 rather than spin.
  const giveUpAt = deps.now().getTime() + 2 * leaseMs + 1_000;
  // The gate may have read the cache item with the profile, in the same round trip: the first
  // pass uses that read; every later pass (after a lost lease race, while polling) reads afresh.
  let prefetched = use.oauthToken;
  for (;;) {
    const now = deps.now().getTime();
    const cached = prefetched ? prefetched.item : await repo.get(ref);
    prefetched = undefined;
    const token = openCached(deps, use, cached, now);
    if (token !== undefined && cached?.refresh_at !== undefined && now < cached.refresh_at) return { access_token: token };
    // A delegated profile refreshes with its end user's refresh token: none (never connected,
    // disconnected, refused by the provider) and no valid access token → the user must connect.
    if (isDelegated(use) && token === undefined && !connectionOf(use, cached))
      throw reauthorizationRequired(item.name, item.connection_state, item.agent_id);
    // A refresh we were waiting for failed, or one failed a moment ago: answer its error rather
    // than fetch again at once — if it failed for this state of the profile. An error of an
    // earlier state (say, before the client secret was corrected) says nothing about this one.
    const error = cached && errorOfThisState(use, cached);
    if (token === undefined && error && cached.lease_id === undefined) {
      const waitedForIt = waitingSince !== undefined && cached.version > waitingSince;
      if (waitedForIt || now < error.until) throw oauthTokenFailed(item.name, error.message);
    }
    // Due for refresh but the last attempt failed a moment ago: keep the valid token, don't retry yet.
    if (token !== undefined && error && now < error.until) return { access_token: token };
    const leaseLive = cached?.lease_until !== undefined && cached.lease_until >= now;
    if (!leaseLive) {
      if (await repo.takeLease(ref, cached?.version, leaseId, now, now + leaseMs))
        return { access_token: await refresh(deps, use, ref, leaseId, opts, token, cached) };
      continue; // someone wrote first: read what they wrote
    }
    // Another use is refreshing; the current token is still valid, use it meanwhile.
    if (token !== undefined) return { access_token: token };
    waitingSince ??= cached.version;
    if (now > giveUpAt)
      throw new ServiceUnavailableError(
        `auth profile "${item.name}": another request is fetching its OAuth2 access token and has not finished; retry after a moment`,
      );
    await sleep(delay);
    delay = Math.min(POLL_MAX_MS, Math.ceil(delay * 1.5));
  }
}

/**
 * The failed fetch recorded on the cache item, if it was recorded for this profile state (the
 * same generation, record version and created_at, as for a cached token in openCached); else
 * undefined, and the use fetches anew.
 */
function errorOfThisState(use: OpenedForUse, cached: OAuthTokenItem): { message: string; until: number } | undefined {
  const item = use.profile.item;
  if (!cached.error_message || cached.error_until === undefined) return undefined;
  if (
    cached.error_generation !== item.generation ||
    cached.error_record_version !== item.record_version ||
    cached.error_profile_created_at !== item.created_at
  )
    return undefined;
  return { message: cached.error_message, until: cached.error_until };
}

/** The cached token if it belongs to this profile state, has not expired and opens; else undefined. */
function openCached(deps: Deps, use: OpenedForUse, cached: OAuthTokenItem | undefined, now: number): string | undefined {
  const item = use.profile.item;
  if (!cached?.blob || cached.token_expires_at === undefined || now >= cached.token_expires_at) return undefined;
  // Replaced (generation), updated in place (record version: maybe a new secret or scope) or
  // deleted and created again (created_at): the cached token is someone else's.
  if (
    cached.generation !== item.generation ||
    cached.record_version !== item.record_version ||
    cached.profile_created_at !== item.created_at
  )
    return undefined;
  try {
    return use.profile.keys.open(tokenField(cached.token_expires_at), item.record_version, cached.blob).toString('utf8');
  } catch (err) {
    if (!(err instanceof DecryptionError)) throw err;
    deps.log.log('warn', 'cached oauth token failed to open; fetching a new one', {
      tenant: item.tenant,
      agent_id: item.agent_id,
      slot: item.slot,
    });
    return undefined;
  }
}

/**
 * The leaseholder's work: fetch, then store (sealed) or record the failure; releases the lease
 * either way. A failed early refresh falls back on `current`, the cached token that is still valid.
 */
async function refresh(
  deps: Deps,
  use: OpenedForUse,
  ref: ProfileRef,
  leaseId: string,
  opts: AccessTokenOptions,
  current: string | undefined,
  cached: OAuthTokenItem | undefined,
): Promise<string> {
  const item = use.profile.item;
  const repo = deps.store.oauthTokens;
  const config = use.config as unknown as TokenEndpointConfig;
  const creds = { client_id: use.secret.client_id ?? '', client_secret: use.secret.client_secret ?? '' };
  const ids = { tenant: item.tenant, agent_id: item.agent_id, slot: item.slot };
  const delegated = isDelegated(use);
  const refreshBlob = delegated ? connectionOf(use, cached) : undefined;
  const started = performance.now();
  // A kept-alive connection to the token endpoint serves this profile's calls only.
  const call = { ...opts, connectionScope: tokenConnectionScope(item) };
  let result: TokenFetchResult;
  if (delegated) {
    if (!refreshBlob) {
      await repo.clearConnection(ref, leaseId);
      throw reauthorizationRequired(item.name, item.connection_state, item.agent_id);
    }
    const refreshToken = use.profile.keys.open(REFRESH_FIELD, REFRESH_RECORD_VERSION, refreshBlob).toString('utf8');
    result = await requestToken(
      config.token_url,
      config.client_auth,
      creds,
      new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
      call,
    );
  } else {
    result = await fetchAccessToken(config, creds, call);
  }
  latencyMetric(METRIC.tokenEndpointLatency, performance.now() - started);
  // A delegated profile's every token request is a refresh (the code exchange is the connect flow's).
  countMetric(delegated || current !== undefined ? METRIC.oauth2Refresh : METRIC.oauth2Fetch);
  const at = deps.now();
  const owner = { generation: item.generation, created_at: item.created_at };
  const detail = { profile: item.name, ...(item.end_user_id !== undefined ? { end_user_id: item.end_user_id } : {}) };
  if (!result.ok) {
    countMetric(METRIC.oauth2FetchFailure);
    // Only our own words and the status go out; the endpoint's body stays in token-endpoint.ts.
    deps.log.log('warn', 'oauth token fetch failed', { ...ids, status: result.status });
    if (delegated && result.oauthError === 'invalid_grant') {
      // The provider no longer honours the refresh token (revoked, expired, reused): the tokens
      // go, and every use from now on answers reauthorization_required until the user connects.
      const reason = `${result.message} invalid_grant`;
      await Promise.all([
        repo.clearConnection(ref, leaseId),
        deps.store.profiles.recordConnection(ref, owner, {
          connection_state: 'needs_reauth',
          last_error: reason,
          last_error_at: at.toISOString(),
        }),
      ]);
      await emitConnectionEvent(deps, ref, 'connection.needs_reauth', { ...detail, reason });
      throw reauthorizationRequired(item.name, 'needs_reauth', item.agent_id);
    }
    await Promise.all([
      repo.storeFailure(ref, leaseId, result.message, at.getTime() + ERROR_HOLD_MS, {
        generation: item.generation,
        record_version: item.record_version,
        profile_created_at: item.created_at,
      }),
      deps.store.profiles.recordTokenError(ref, item.generation, result.message, at.toISOString()),
    ]);
    if (delegated) await emitConnectionEvent(deps, ref, 'connection.refresh_failed', { ...detail, reason: result.message });
    if (current !== undefined) return current;
    throw oauthTokenFailed(item.name, result.message);
  }
  const lifetimeMs = result.expiresInS * 1000;
  const tokenExpiresAt = at.getTime() + lifetimeMs;
  const blob = use.profile.keys.seal(tokenField(tokenExpiresAt), item.record_version, Buffer.from(result.accessToken, 'utf8'));
  // A rotated refresh token is sealed and stored in the same conditional write as the access
  // token it came with: the old one is dead at the provider, so it must never be the one kept.
  const nextRefresh = delegated
    ? result.refreshToken !== undefined
      ? use.profile.keys.seal(REFRESH_FIELD, REFRESH_RECORD_VERSION, Buffer.from(result.refreshToken, 'utf8'))
      : refreshBlob
    : undefined;
  try {
    const stored = await repo.storeToken(ref, leaseId, {
      blob,
      token_expires_at: tokenExpiresAt,
      refresh_at: refreshAt(tokenExpiresAt, lifetimeMs),
      // A connection's item has no TTL: its refresh token outlives any access token.
      ...(delegated ? {} : { expires_at: Math.ceil(tokenExpiresAt / 1000) + TTL_AFTER_EXPIRY_S }),
      ...(nextRefresh !== undefined ? { refresh_blob: nextRefresh } : {}),
      generation: item.generation,
      record_version: item.record_version,
      profile_created_at: item.created_at,
    });
    if (!stored) deps.log.log('warn', 'oauth token lease was taken over before the token was stored', ids);
    if (delegated) {
      await deps.store.profiles.recordConnection(ref, owner, {
        last_refreshed_at: at.toISOString(),
        ...(item.last_error !== undefined ? { last_error: null } : {}),
        ...(result.scope !== undefined ? { scopes_granted: result.scope.split(' ') } : {}),
      });
      if (item.last_error !== undefined) await emitConnectionEvent(deps, ref, 'connection.recovered', detail);
    } else if (item.last_error !== undefined) await deps.store.profiles.recordTokenError(ref, item.generation, undefined, at.toISOString());
  } catch (err) {
    if (delegated && result.refreshToken !== undefined) {
      // A rotated refresh token that was not stored is lost: the next use will need a new connection.
      deps.log.log('error', 'rotated refresh token could not be stored', { ...ids, error: err instanceof Error ? err.name : 'unknown' });
    }
    // The token is good; failing to cache it costs the next use a fetch, not this one its answer.
    deps.log.log('warn', 'oauth token could not be cached', { ...ids, error: err instanceof Error ? err.name : 'unknown' });
  }
  return result.accessToken;
}
