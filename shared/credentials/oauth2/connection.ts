import { createHash, randomBytes } from 'node:crypto';
import { auditedChange } from '../../audit/log.ts';
import { DecryptionError } from '../../crypto/aead.ts';
import { openBlob, sealBlob } from '../../crypto/blob.ts';
import { lengthPrefixed } from '../../crypto/encoding.ts';
import { hkdfExpand, hkdfExtract } from '../../crypto/hkdf.ts';
import type { ServerKey } from '../../crypto/server-key.ts';
import { SECRET_BYTES, TOKEN_LENGTH, TOKEN_PREFIX, TokenFormatError, formatToken, parseToken } from '../../crypto/token.ts';
import type { Caller, Deps } from '../../deps.ts';
import { ValidationError } from '../../errors.ts';
import type { OAuthLinkItem, ProfileItem } from '../../schemas/items.ts';
import { type ProfileRef, profileRef, profileRefOf } from '../../store/profile-ref.ts';
import type { OAuthLinkPurpose } from '../../store/types.ts';
import { type OpenedForConnection, openForConnection } from '../gate.ts';
import { profileEvent } from '../policy.ts';
import type { ProfileKeys } from '../profile-keys.ts';
import type { OpenedProfile } from '../sealed-profile.ts';
import { sleep } from '../../sleep.ts';
import { type OAuth2AuthorizationCodeConfig, configRefusal, returnUrlRefusal } from '../types/oauth2-authorization-code.ts';
import { deploymentOf } from '../types/types.ts';
import { REFRESH_FIELD, REFRESH_RECORD_VERSION, refreshAt, tokenField } from './access-token.ts';
import { emitConnectionEvent } from './connection-events.ts';
import { type RevocationResult, type TokenFetchOptions, requestToken, revokeToken, tokenConnectionScope } from './token-endpoint.ts';

/**
 * The connect flow of oauth2_authorization_code profiles (docs/architecture.md, "Delegated
 * OAuth 2.0"): a single-use connect link (`avc_…`) the platform hands to its end user's browser;
 * opening it sends the browser to the provider (authorization code, S256 PKCE, a single-use
 * `state` `avs_…`); the callback exchanges the code and seals the tokens under the profile's keys.
 *
 * Key material travels like a run grant (shared/credentials/grants.ts): the link item holds the
 * profile's token secret sealed under HKDF(server key, link secret), the state item the token
 * secret and the PKCE verifier under HKDF(server key, state secret). Neither secret is stored, so
 * a table dump opens nothing, and each item is consumed (a conditional delete) by its first use.
 */

/** A connect link is valid this long. */
export const CONNECT_TTL_MS = 15 * 60_000;
/** An authorization request (the end user at the provider's consent page) may take this long. */
export const STATE_TTL_MS = 10 * 60_000;
export const CONNECT_PREFIX = 'avc_';
export const STATE_PREFIX = 'avs_';
/** Where connect links and the callback live (shared/http/routes.ts). */
export const CONNECT_PATH = '/v1/oauth/connect';
export const CALLBACK_PATH = '/v1/oauth/callback';

const FORMAT = 'oauth-link/v1';
const PREFIX: Record<OAuthLinkPurpose, string> = { CONNECT: CONNECT_PREFIX, STATE: STATE_PREFIX };

/** The one answer for a connect link that is malformed, unknown, expired, already used or forged. */
export const linkUnusable = () =>
  new ValidationError(
    'This connect link is unknown, has expired (links work for 15 minutes) or was already used (each works once). Ask the application that sent it for a new link.',
    'connect_link_invalid',
  );

/** The one answer for a callback whose state is malformed, unknown, expired, already used or forged. */
export const stateUnusable = () =>
  new ValidationError(
    'This sign-in cannot be completed: its request is unknown, has expired (10 minutes) or was already completed. Start again from a new connect link.',
    'oauth_state_invalid',
  );

interface LinkBinding {
  readonly purpose: OAuthLinkPurpose;
  readonly idHex: string;
  readonly tenant: string;
  readonly agentId: string;
  readonly slot: string;
  readonly generation: number;
  readonly profileCreatedAt: string;
  readonly deadlineMs: number;
  readonly redirectUri: string;
}

const aadOf = (b: LinkBinding) =>
  lengthPrefixed(FORMAT, b.purpose, b.idHex, b.tenant, b.agentId, b.slot, b.generation, b.profileCreatedAt, b.deadlineMs, b.redirectUri);

/** Per-blob key: HKDF-Expand(HKDF-Extract(salt = server profile-extract subkey, ikm = link secret), "oauth-link/v1" ‖ salt ‖ AAD). */
function keyFor(serverKey: ServerKey, linkSecret: Uint8Array, aad: Buffer) {
  const prk = hkdfExtract(serverKey.profileExtractKey, linkSecret);
  return (salt: Buffer) => hkdfExpand(prk, lengthPrefixed(FORMAT, salt, aad), 32);
}

const bindingOf = (purpose: OAuthLinkPurpose, idHex: string, item: Omit<OAuthLinkItem, 'pk' | 'sk' | 'entity'>): LinkBinding => ({
  purpose,
  idHex,
  tenant: item.tenant,
  agentId: item.agent_id,
  slot: item.slot,
  generation: item.generation,
  profileCreatedAt: item.profile_created_at,
  deadlineMs: item.deadline_ms,
  redirectUri: item.redirect_uri ?? '',
});

/** Issues a link (or state) for `profile`, sealing `plaintext`; returns its text (never stored). */
async function issueLink(
  deps: Deps,
  purpose: OAuthLinkPurpose,
  profile: Pick<ProfileItem, 'tenant' | 'agent_id' | 'slot' | 'generation' | 'created_at'>,
  plaintext: Buffer,
  ttlMs: number,
  redirectUri?: string,
) {
  const id = randomBytes(16);
  const secret = randomBytes(SECRET_BYTES);
  const idHex = id.toString('hex');
  const deadlineMs = deps.now().getTime() + ttlMs;
  const serverKey = deps.serverKeys.current;
  const record = {
    tenant: profile.tenant,
    agent_id: profile.agent_id,
    slot: profile.slot,
    generation: profile.generation,
    profile_created_at: profile.created_at,
    deadline_ms: deadlineMs,
    ...(redirectUri !== undefined ? { redirect_uri: redirectUri } : {}),
    server_key_id: serverKey.idHex,
    expires_at: Math.ceil(deadlineMs / 1000),
  };
  const aad = aadOf(bindingOf(purpose, idHex, { ...record, sealed: Buffer.alloc(0) }));
  const sealed = sealBlob(serverKey.id, keyFor(serverKey, secret, aad), plaintext, aad);
  if (!(await deps.store.oauthLinks.create({ ...record, sealed, id_hex: idHex, purpose }))) throw new Error('oauth link id collision');
  return { text: PREFIX[purpose] + formatToken(id, secret).slice(TOKEN_PREFIX.length), deadlineMs };
}

/**
 * Opens and consumes a link (or state): parsed by position, read, its deadline checked, unwrapped
 * (a forged secret consumes nothing), then deleted on condition, so of any number of concurrent
 * openings exactly one gets the key material. Every failure is `refuse()`.
 */
async function consumeLink(
  deps: Deps,
  purpose: OAuthLinkPurpose,
  text: string | undefined,
  refuse: () => Error,
): Promise<{ item: OAuthLinkItem; plaintext: Buffer; idHex: string }> {
  const prefix = PREFIX[purpose];
  if (typeof text !== 'string' || !text.startsWith(prefix) || text.length !== TOKEN_LENGTH) throw refuse();
  let id: Buffer;
  let secret: Buffer;
  try {
    ({ slot: id, secret } = parseToken(TOKEN_PREFIX + text.slice(prefix.length)));
  } catch (err) {
    if (err instanceof TokenFormatError) throw refuse();
    throw err;
  }
  const idHex = id.toString('hex');
  const item = await deps.store.oauthLinks.get(purpose, idHex);
  if (!item || deps.now().getTime() >= item.deadline_ms) throw refuse();
  const serverKey = deps.serverKeys.byId(item.server_key_id);
  if (!serverKey) throw refuse();
  const aad = aadOf(bindingOf(purpose, idHex, item));
  let plaintext: Buffer;
  try {
    plaintext = openBlob(item.sealed, serverKey.id, keyFor(serverKey, secret, aad), aad);
  } catch (err) {
    if (err instanceof DecryptionError) throw refuse();
    throw err;
  }
  if (!(await deps.store.oauthLinks.consume(purpose, idHex))) throw refuse();
  return { item, plaintext, idHex };
}

/** The URL a connect link is opened at, and the callback (the redirect_uri registered at the provider). */
export const connectUrlOf = (baseUrl: string, link: string) => `${baseUrl}${CONNECT_PATH}?link=${link}`;
export const callbackUrlOf = (baseUrl: string) => `${baseUrl}${CALLBACK_PATH}`;

/**
 * A connect link for a profile whose token secret the caller proved (create, or POST …/connect
 * with the auth token): valid CONNECT_TTL_MS, single use.
 */
export async function issueConnectLink(
  deps: Deps,
  profile: Pick<ProfileItem, 'tenant' | 'agent_id' | 'slot' | 'generation' | 'created_at'>,
  tokenSecret: Buffer,
  baseUrl: string,
) {
  const { text, deadlineMs } = await issueLink(deps, 'CONNECT', profile, tokenSecret, CONNECT_TTL_MS);
  return { connect_url: connectUrlOf(baseUrl, text), connect_expires_at: new Date(deadlineMs).toISOString() };
}

const bindingFrom = (item: OAuthLinkItem) => ({
  ref: profileRef(item.tenant, item.agent_id, item.slot),
  generation: item.generation,
  profileCreatedAt: item.profile_created_at,
});

/** The S256 challenge of a PKCE verifier (RFC 7636 §4.2). */
export const pkceChallenge = (verifier: string) => createHash('sha256').update(verifier, 'ascii').digest('base64url');

const configOf = (opened: OpenedForConnection) => opened.config as unknown as OAuth2AuthorizationCodeConfig;

/**
 * GET on a connect link: consumes it, re-seals the key material with a fresh PKCE verifier under a
 * new state, and answers the provider's authorization URL (response_type=code, S256 PKCE, state,
 * redirect_uri = the vault's callback, scopes and the profile's extra parameters).
 */
export async function startAuthorization(deps: Deps, link: string | undefined, baseUrl: string): Promise<string> {
  const { item, plaintext: tokenSecret } = await consumeLink(deps, 'CONNECT', link, linkUnusable);
  const opened = await openForConnection(deps, bindingFrom(item), tokenSecret, linkUnusable);
  const config = configOf(opened);
  const refused = configRefusal(config, deploymentOf(deps.config));
  if (refused)
    throw new ValidationError(
      `This account cannot be connected: the auth profile's ${refused}. Tell the application that sent the link.`,
      'connect_not_allowed',
    );
  const verifier = randomBytes(32).toString('base64url');
  const redirectUri = callbackUrlOf(baseUrl);
  const state = await issueLink(
    deps,
    'STATE',
    opened.profile.item,
    Buffer.concat([tokenSecret, Buffer.from(verifier, 'ascii')]),
    STATE_TTL_MS,
    redirectUri,
  );
  const url = new URL(config.authorize_url);
  for (const [k, v] of Object.entries(config.authorize_params ?? {})) url.searchParams.set(k, v);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', opened.secret.client_id ?? '');
  url.searchParams.set('redirect_uri', redirectUri);
  if (config.scopes.length > 0) url.searchParams.set('scope', config.scopes.join(' '));
  url.searchParams.set('state', state.text);
  url.searchParams.set('code_challenge', pkceChallenge(verifier));
  url.searchParams.set('code_challenge_method', 'S256');
  return url.toString();
}

/** What the provider's redirect to the callback carries (RFC 6749 §4.1.2, RFC 9207). */
export interface CallbackQuery {
  readonly state?: string;
  readonly code?: string;
  readonly iss?: string;
  readonly error?: string;
}

/** An RFC 6749 §4.1.2.1 error code the vault passes on to return_url; anything else becomes authorization_failed. */
const AUTHORIZE_ERRORS = new Set([
  'invalid_request',
  'unauthorized_client',
  'access_denied',
  'unsupported_response_type',
  'invalid_scope',
  'server_error',
  'temporarily_unavailable',
  'login_required',
  'consent_required',
  'interaction_required',
]);

/** The URL the end user goes back to: return_url with status (and error), nothing else — never a token or a code. */
function backTo(returnUrl: string, status: 'connected' | 'error', error?: string): string {
  const url = new URL(returnUrl);
  url.searchParams.set('status', status);
  if (error !== undefined) url.searchParams.set('error', error);
  return url.toString();
}

/** The issuer the callback's `iss` must name: the configured one, else the authorization endpoint's origin. */
const expectedIssuer = (config: OAuth2AuthorizationCodeConfig) =>
  (config.issuer ?? new URL(config.authorize_url).origin).replace(/\/+$/, '');

/** How the vault reaches token and revocation endpoints: the proxy's outbound settings (SSRF guard, https when deployed). */
export const endpointOptions = (deps: Deps): TokenFetchOptions => ({
  timeoutMs: deps.config.proxyTimeoutMs,
  allowPrivate: deps.config.allowPrivateUpstreams,
  httpsOnly: deps.config.mode === 'aws',
});

/** The caller an end user's browser is, for the audit log: the profile's tenant, no API key. */
const endUserCaller = (tenant: string, linkIdHex: string, sourceIp?: string, requestId?: string): Caller => ({
  tenant,
  apiKeyId: `connect:${linkIdHex.slice(0, 8)}`,
  role: 'member',
  sourceIp,
  requestId,
});

/**
 * The callback: consumes the state, checks `iss` (RFC 9207), exchanges the code (with the PKCE
 * verifier and the exact redirect_uri), seals the access and refresh tokens under the profile's
 * keys in one write, and answers where to send the end user: return_url with status=connected,
 * or status=error&error=<code>. A state that cannot be used has no return_url to go to: that is
 * `stateUnusable` (the route answers an HTML page).
 */
export async function completeAuthorization(deps: Deps, query: CallbackQuery, sourceIp?: string, requestId?: string): Promise<string> {
  const { item: stateItem, plaintext, idHex } = await consumeLink(deps, 'STATE', query.state, stateUnusable);
  const tokenSecret = plaintext.subarray(0, SECRET_BYTES);
  const verifier = plaintext.subarray(SECRET_BYTES).toString('ascii');
  const opened = await openForConnection(deps, bindingFrom(stateItem), tokenSecret, stateUnusable);
  const config = configOf(opened);
  const deployment = deploymentOf(deps.config);
  const refusedReturn = returnUrlRefusal(config.return_url, deployment);
  if (refusedReturn)
    throw new ValidationError(
      `The account could not be connected: the auth profile's ${refusedReturn}. Tell the application that sent you here.`,
      'connect_not_allowed',
    );
  const item = opened.profile.item;
  const ref = profileRefOf(item);
  const now = deps.now();
  const fail = async (error: string, lastError: string) => {
    await deps.store.profiles.recordConnection(
      ref,
      { generation: item.generation, created_at: item.created_at },
      { last_error: lastError, last_error_at: now.toISOString() },
    );
    return backTo(config.return_url, 'error', error);
  };
  if (query.error !== undefined) {
    const code = AUTHORIZE_ERRORS.has(query.error) ? query.error : 'authorization_failed';
    return fail(code, `the provider answered the authorization request with ${code}`);
  }
  // RFC 9207: a response that names another issuer came from another server (a mix-up attack).
  if (query.iss !== undefined ? query.iss.replace(/\/+$/, '') !== expectedIssuer(config) : config.issuer !== undefined) {
    return fail('issuer_mismatch', "the authorization response named another issuer than the profile's (RFC 9207); no code was exchanged");
  }
  if (typeof query.code !== 'string' || query.code.length === 0 || query.code.length > 4096)
    return fail('invalid_request', 'the authorization response carried no code');
  const creds = { client_id: opened.secret.client_id ?? '', client_secret: opened.secret.client_secret };
  const form = new URLSearchParams({
    grant_type: 'authorization_code',
    code: query.code,
    redirect_uri: stateItem.redirect_uri ?? '',
    code_verifier: verifier,
  });
  const result = await requestToken(config.token_url, config.client_auth, creds, form, {
    ...endpointOptions(deps),
    connectionScope: tokenConnectionScope(item),
  });
  if (!result.ok) {
    deps.log.log('warn', 'oauth code exchange failed', {
      tenant: item.tenant,
      agent_id: item.agent_id,
      slot: item.slot,
      status: result.status,
    });
    return fail('token_exchange_failed', `${result.message}${result.oauthError ? ` ${result.oauthError}` : ''}`);
  }
  const at = deps.now();
  const lifetimeMs = result.expiresInS * 1000;
  const tokenExpiresAt = at.getTime() + lifetimeMs;
  const keys = opened.profile.keys;
  const token = {
    blob: keys.seal(tokenField(tokenExpiresAt), item.record_version, Buffer.from(result.accessToken, 'utf8')),
    token_expires_at: tokenExpiresAt,
    refresh_at: refreshAt(tokenExpiresAt, lifetimeMs),
    ...(result.refreshToken !== undefined
      ? { refresh_blob: keys.seal(REFRESH_FIELD, REFRESH_RECORD_VERSION, Buffer.from(result.refreshToken, 'utf8')) }
      : {}),
    generation: item.generation,
    record_version: item.record_version,
    profile_created_at: item.created_at,
  };
  const caller = endUserCaller(item.tenant, idHex, sourceIp, requestId);
  const scopes = (result.scope ?? config.scopes.join(' ')).split(' ').filter(Boolean);
  await auditedChange(deps, profileEvent(caller, 'connect', item, 200, 'ok'), async () => {
    await deps.store.oauthTokens.storeConnection(ref, token);
    await deps.store.profiles.recordConnection(
      ref,
      { generation: item.generation, created_at: item.created_at },
      {
        connection_state: 'connected',
        connected_at: at.toISOString(),
        scopes_granted: scopes,
        last_refreshed_at: at.toISOString(),
        last_error: null,
      },
    );
  });
  await emitConnectionEvent(deps, ref, 'connection.connected', {
    profile: item.name,
    ...(item.end_user_id !== undefined ? { end_user_id: item.end_user_id } : {}),
  });
  return backTo(config.return_url, 'connected');
}

/** What a disconnect (or a delete with the auth token) says about revoking at the provider. */
export type RevocationOutcome = 'confirmed' | 'failed' | 'not_configured' | 'not_connected';

/**
 * Revokes the profile's refresh token at its revocation_url (RFC 7009), if it has one and a
 * connection: the token holder opened the profile, so the refresh token can be read to send it.
 */
export async function revokeConnection(
  deps: Deps,
  profile: OpenedProfile,
  config: Record<string, unknown>,
  secret: Readonly<Record<string, string>>,
): Promise<{ revocation: RevocationOutcome; revocation_error?: string }> {
  const c = config as unknown as OAuth2AuthorizationCodeConfig;
  const item = profile.item;
  const ref: ProfileRef = profileRefOf(item);
  const cached = await deps.store.oauthTokens.get(ref);
  const blob =
    cached?.refresh_blob && cached.generation === item.generation && cached.profile_created_at === item.created_at
      ? cached.refresh_blob
      : undefined;
  if (!blob) return { revocation: 'not_connected' };
  if (c.revocation_url === undefined) return { revocation: 'not_configured' };
  const refreshToken = profile.keys.open(REFRESH_FIELD, REFRESH_RECORD_VERSION, blob).toString('utf8');
  const result: RevocationResult = await revokeToken(
    c.revocation_url,
    c.client_auth,
    { client_id: secret.client_id ?? '', client_secret: secret.client_secret },
    refreshToken,
    { ...endpointOptions(deps), connectionScope: tokenConnectionScope(item) },
  );
  if (result.confirmed) return { revocation: 'confirmed' };
  deps.log.log('warn', 'oauth revocation not confirmed', { tenant: item.tenant, agent_id: item.agent_id, slot: item.slot });
  return { revocation: 'failed', revocation_error: result.message };
}

/** How long a rotation waits for a refresh in flight to finish before giving the connection up. */
const RESEAL_WAIT_MS = 10_000;

/**
 * After a rotation (new token, generation + 1): the connection sealed under the old token's keys
 * is sealed again under the new ones, so the end user need not connect again. Done under the
 * refresh lease (conditioned on the version read), so a refresh in flight is waited for and its
 * rotated refresh token is the one carried over, never lost. False if there was no connection or
 * it could not be carried over (then uses answer reauthorization_required).
 */
export async function resealConnection(
  deps: Deps,
  from: OpenedProfile,
  to: { keys: ProfileKeys; item: Pick<ProfileItem, 'generation' | 'record_version' | 'created_at'> },
): Promise<boolean> {
  const ref = profileRefOf(from.item);
  const repo = deps.store.oauthTokens;
  const giveUpAt = deps.now().getTime() + RESEAL_WAIT_MS;
  const leaseId = randomBytes(12).toString('base64url');
  for (;;) {
    const cached = await repo.get(ref);
    if (!cached?.refresh_blob || cached.generation !== from.item.generation || cached.profile_created_at !== from.item.created_at)
      return false;
    const now = deps.now().getTime();
    if (cached.lease_until !== undefined && cached.lease_until >= now) {
      if (now > giveUpAt) return false;
      await sleep(100);
      continue;
    }
    if (!(await repo.takeLease(ref, cached.version, leaseId, now, now + RESEAL_WAIT_MS))) continue;
    const refresh = from.keys.open(REFRESH_FIELD, REFRESH_RECORD_VERSION, cached.refresh_blob);
    let access: Buffer = Buffer.alloc(0);
    let expiresAt = 0;
    if (cached.blob && cached.token_expires_at !== undefined && cached.record_version !== undefined && now < cached.token_expires_at) {
      try {
        access = from.keys.open(tokenField(cached.token_expires_at), cached.record_version, cached.blob);
        expiresAt = cached.token_expires_at;
      } catch (err) {
        if (!(err instanceof DecryptionError)) throw err;
      }
    }
    return repo.storeToken(ref, leaseId, {
      blob: to.keys.seal(tokenField(expiresAt), to.item.record_version, access),
      token_expires_at: expiresAt,
      refresh_at: cached.refresh_at !== undefined && expiresAt > 0 ? cached.refresh_at : 0,
      refresh_blob: to.keys.seal(REFRESH_FIELD, REFRESH_RECORD_VERSION, refresh),
      generation: to.item.generation,
      record_version: to.item.record_version,
      profile_created_at: to.item.created_at,
    });
  }
}
