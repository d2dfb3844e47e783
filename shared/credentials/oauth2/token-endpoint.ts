import type { HostResolver } from '../../outbound/address-policy.ts';
import { sendOutbound } from '../../outbound/http-client.ts';

/**
 * One OAuth 2.0 client-credentials token request (RFC 6749 §4.4) through the vault's outbound
 * client: pinned DNS + SSRF guard, no redirects, a timeout and a size cap. The endpoint's answer
 * body is parsed here and goes nowhere else: failures are described by status and our own
 * words only, so no body text can reach a log line, an error message or the profile metadata.
 */

/** Largest token-endpoint answer read (a token response is a few hundred bytes). */
export const MAX_TOKEN_RESPONSE_BYTES = 64 * 1024;
/** Lifetime assumed when the endpoint omits expires_in (RFC 6749 §5.1 makes it optional): short, so a wrong guess heals quickly. */
export const DEFAULT_EXPIRES_IN_S = 300;
/** Longest lifetime honoured; a token is refreshed at least this often. */
export const MAX_EXPIRES_IN_S = 86_400;

/** How the client authenticates at the token (and revocation) endpoint: HTTP Basic, form body, or not at all (a public client: PKCE). */
export type ClientAuth = 'basic' | 'post' | 'none';

export interface TokenEndpointConfig {
  readonly token_url: string;
  readonly scope?: string;
  readonly client_auth: ClientAuth;
}

export interface ClientCredentials {
  readonly client_id: string;
  /** Absent for a public client (client_auth none). */
  readonly client_secret?: string;
}

export interface TokenFetchOptions {
  readonly timeoutMs: number;
  /** Allow loopback / private addresses (local mode, tests). */
  readonly allowPrivate: boolean;
  /** Deployed mode (VAULT_MODE=aws): client credentials go only to an https token_url. */
  readonly httpsOnly: boolean;
  readonly resolveHost?: HostResolver;
}

/**
 * One call to a token or revocation endpoint: the outbound settings and the connection scope, the
 * profile whose client credentials (or tokens) the request carries (tokenConnectionScope), so a
 * kept-alive connection to the endpoint serves that profile only (shared/outbound/http-client.ts).
 */
export interface TokenCallOptions extends TokenFetchOptions {
  readonly connectionScope: string;
}

/**
 * The connection scope of a profile's token-endpoint calls (fetch, refresh, code exchange,
 * revocation): this incarnation of the profile in its tenant, as the proxy scopes its calls.
 */
export const tokenConnectionScope = (item: { tenant: string; agent_id: string; slot: string; created_at: string }) =>
  JSON.stringify(['oauth-token', item.tenant, item.agent_id, item.slot, item.created_at]);

export type TokenFetchResult =
  | {
      readonly ok: true;
      readonly accessToken: string;
      readonly expiresInS: number;
      readonly refreshToken?: string;
      readonly scope?: string;
    }
  /**
   * `message` names the endpoint's host and status (or the network fault), never body content;
   * `oauthError` is the RFC 6749 §5.2 error code when the body held exactly one (invalid_grant…).
   */
  | { readonly ok: false; readonly message: string; readonly status?: number; readonly oauthError?: string };

/** application/x-www-form-urlencoded encoding of one value (RFC 6749 §2.3.1 encodes client_id/secret so before Basic). */
const formEncode = (v: string) => new URLSearchParams({ v }).toString().slice(2);

/** Client authentication added to a form request (RFC 6749 §2.3.1): Basic, in the form, or only client_id (public client). */
function authenticated(
  clientAuth: ClientAuth,
  creds: ClientCredentials,
  form: URLSearchParams,
): { headers: Record<string, string | number>; body: string } {
  const headers: Record<string, string | number> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  if (clientAuth === 'basic') {
    headers.authorization = `Basic ${Buffer.from(`${formEncode(creds.client_id)}:${formEncode(creds.client_secret ?? '')}`, 'utf8').toString('base64')}`;
  } else {
    form.set('client_id', creds.client_id);
    if (clientAuth === 'post') form.set('client_secret', creds.client_secret ?? '');
  }
  const body = form.toString();
  headers['content-length'] = Buffer.byteLength(body);
  return { headers, body };
}

/** The token request: form body, client authentication as configured. */
export function tokenRequest(
  config: TokenEndpointConfig,
  creds: ClientCredentials,
): { headers: Record<string, string | number>; body: string } {
  const form = new URLSearchParams({ grant_type: 'client_credentials' });
  if (config.scope) form.set('scope', config.scope);
  return authenticated(config.client_auth, creds, form);
}

/**
 * Why client credentials may not be sent to `tokenUrl`, or undefined. Deployed, only https: the
 * request carries the client secret (Basic or form body), as shared/outbound/runner-policy.ts
 * and shared/credentials/outbound-policy.ts refuse plain http for runner calls and proxied
 * requests. Checked when the profile is written (types/oauth2-client-credentials.ts) and again
 * before every fetch: a stored item may come from local mode or from a table writer.
 */
export function tokenUrlRefusal(tokenUrl: string, httpsOnly: boolean): string | undefined {
  if (!httpsOnly) return undefined;
  if (URL.canParse(tokenUrl) && new URL(tokenUrl).protocol === 'https:') return undefined;
  return 'token_url must use https in deployed mode: the vault does not send client credentials in clear text';
}

/** An access token goes into an Authorization header: visible ASCII only, bounded. */
const USABLE_TOKEN = /^[\x21-\x7e]{1,8192}$/;

/** Fetches an access token. Never throws for an endpoint or network fault; never returns body text. */
export async function fetchAccessToken(
  config: TokenEndpointConfig,
  creds: ClientCredentials,
  opts: TokenCallOptions,
): Promise<TokenFetchResult> {
  const form = new URLSearchParams({ grant_type: 'client_credentials' });
  if (config.scope) form.set('scope', config.scope);
  return requestToken(config.token_url, config.client_auth, creds, form, opts);
}

/**
 * The error codes of RFC 6749 §5.2 (and RFC 8628's, which some servers send on refresh): the only
 * part of a failed token response the vault repeats, and only when it is exactly one of these.
 */
const OAUTH_ERRORS = new Set([
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'access_denied',
  'expired_token',
]);

/** What a failure's `error` field says, if it is one of OAUTH_ERRORS (else undefined: nothing of the body goes out). */
function oauthErrorOf(body: Buffer): string | undefined {
  try {
    const o = JSON.parse(body.toString('utf8')) as { error?: unknown };
    return typeof o?.error === 'string' && OAUTH_ERRORS.has(o.error) ? o.error : undefined;
  } catch {
    return undefined;
  }
}

/** Scope strings the vault records (scopes_granted): space-separated RFC 6749 §3.3 scope tokens, bounded. */
const SCOPE = /^[\x21\x23-\x5b\x5d-\x7e]{1,256}( [\x21\x23-\x5b\x5d-\x7e]{1,256}){0,99}$/;

/** Why a network call produced no answer, in our words. */
function unreachable(where: string, reason: string): string {
  switch (reason) {
    case 'blocked':
      return `${where} resolves to a loopback, private or link-local address, which the vault refuses`;
    case 'timeout':
    case 'dns_timeout':
      return `${where} did not answer in time`;
    case 'too_large':
      return `${where} answered with more than 64 KiB`;
    case 'unresolvable':
      return `${where} could not be resolved`;
    default:
      return `${where} could not be reached`;
  }
}

/**
 * One token request (any grant: client_credentials, authorization_code, refresh_token) through
 * the outbound client, with the client authenticated as configured. Never throws for an endpoint
 * or network fault; never returns body text (an RFC 6749 error code is the one exception).
 */
export async function requestToken(
  tokenUrl: string,
  clientAuth: ClientAuth,
  creds: ClientCredentials,
  form: URLSearchParams,
  opts: TokenCallOptions,
): Promise<TokenFetchResult> {
  const refused = tokenUrlRefusal(tokenUrl, opts.httpsOnly);
  if (refused) return { ok: false, message: refused };
  const url = new URL(tokenUrl);
  const where = `token endpoint ${url.host}`;
  const { headers, body } = authenticated(clientAuth, creds, form);
  const res = await sendOutbound({
    url,
    method: 'POST',
    headers,
    body,
    timeoutMs: opts.timeoutMs,
    maxResponseBytes: MAX_TOKEN_RESPONSE_BYTES,
    allowPrivate: opts.allowPrivate,
    resolveHost: opts.resolveHost,
    connectionScope: opts.connectionScope,
  });
  if (!res.ok) return { ok: false, message: unreachable(where, res.reason) };
  if (res.status < 200 || res.status > 299) {
    const oauthError = res.status === 400 || res.status === 401 ? oauthErrorOf(res.body) : undefined;
    return {
      ok: false,
      status: res.status,
      ...(oauthError ? { oauthError } : {}),
      message: `${where} answered ${res.status}${res.status >= 300 && res.status < 400 ? ' (redirects are not followed)' : ''}`,
    };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(res.body.toString('utf8'));
  } catch {
    return { ok: false, status: res.status, message: `${where} answered ${res.status} without a JSON token response` };
  }
  const o = (parsed && typeof parsed === 'object' ? parsed : {}) as Record<string, unknown>;
  if (typeof o.access_token !== 'string' || !USABLE_TOKEN.test(o.access_token)) {
    return { ok: false, status: res.status, message: `${where} answered ${res.status} without a usable access_token` };
  }
  if (o.token_type !== undefined && (typeof o.token_type !== 'string' || o.token_type.toLowerCase() !== 'bearer')) {
    return { ok: false, status: res.status, message: `${where} issued a token_type other than bearer, which the vault cannot inject` };
  }
  const raw = o.expires_in === undefined ? DEFAULT_EXPIRES_IN_S : typeof o.expires_in === 'string' ? Number(o.expires_in) : o.expires_in;
  if (typeof raw !== 'number' || !Number.isFinite(raw) || raw <= 0) {
    return { ok: false, status: res.status, message: `${where} answered ${res.status} with an expires_in that is not a positive number` };
  }
  if (o.refresh_token !== undefined && (typeof o.refresh_token !== 'string' || !USABLE_TOKEN.test(o.refresh_token))) {
    return { ok: false, status: res.status, message: `${where} answered ${res.status} with a refresh_token the vault cannot store` };
  }
  return {
    ok: true,
    accessToken: o.access_token,
    expiresInS: Math.min(Math.floor(raw), MAX_EXPIRES_IN_S),
    ...(typeof o.refresh_token === 'string' ? { refreshToken: o.refresh_token } : {}),
    ...(typeof o.scope === 'string' && SCOPE.test(o.scope) ? { scope: o.scope } : {}),
  };
}

/** The outcome of a token revocation (RFC 7009): confirmed by a 200, or why not (our words and the status only). */
export type RevocationResult = { readonly confirmed: true } | { readonly confirmed: false; readonly message: string };

/** Revokes a refresh token at `revocationUrl` (RFC 7009 §2.1), the client authenticated as for the token endpoint. */
export async function revokeToken(
  revocationUrl: string,
  clientAuth: ClientAuth,
  creds: ClientCredentials,
  token: string,
  opts: TokenCallOptions,
): Promise<RevocationResult> {
  if (opts.httpsOnly && !(URL.canParse(revocationUrl) && new URL(revocationUrl).protocol === 'https:')) {
    return { confirmed: false, message: 'revocation_url must use https in deployed mode' };
  }
  const url = new URL(revocationUrl);
  const where = `revocation endpoint ${url.host}`;
  const { headers, body } = authenticated(clientAuth, creds, new URLSearchParams({ token, token_type_hint: 'refresh_token' }));
  const res = await sendOutbound({
    url,
    method: 'POST',
    headers,
    body,
    timeoutMs: opts.timeoutMs,
    maxResponseBytes: MAX_TOKEN_RESPONSE_BYTES,
    allowPrivate: opts.allowPrivate,
    resolveHost: opts.resolveHost,
    connectionScope: opts.connectionScope,
  });
  if (!res.ok) return { confirmed: false, message: unreachable(where, res.reason) };
  // RFC 7009 §2.2: 200 whether or not the token was still valid.
  if (res.status === 200) return { confirmed: true };
  return { confirmed: false, message: `${where} answered ${res.status}` };
}
