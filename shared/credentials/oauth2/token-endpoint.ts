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

export interface TokenEndpointConfig {
  readonly token_url: string;
  readonly scope?: string;
  readonly client_auth: 'basic' | 'post';
}

export interface ClientCredentials {
  readonly client_id: string;
  readonly client_secret: string;
}

export interface TokenFetchOptions {
  readonly timeoutMs: number;
  /** Allow loopback / private addresses (local mode, tests). */
  readonly allowPrivate: boolean;
  /** Deployed mode (VAULT_MODE=aws): client credentials go only to an https token_url. */
  readonly httpsOnly: boolean;
  readonly resolveHost?: HostResolver;
}

export type TokenFetchResult =
  | { readonly ok: true; readonly accessToken: string; readonly expiresInS: number }
  /** `message` names the endpoint's host and status (or the network fault), never body content. */
  | { readonly ok: false; readonly message: string; readonly status?: number };

/** application/x-www-form-urlencoded encoding of one value (RFC 6749 §2.3.1 encodes client_id/secret so before Basic). */
const formEncode = (v: string) => new URLSearchParams({ v }).toString().slice(2);

/** The token request: form body, client authentication as configured. */
export function tokenRequest(config: TokenEndpointConfig, creds: ClientCredentials): { headers: Record<string, string | number>; body: string } {
  const form = new URLSearchParams({ grant_type: 'client_credentials' });
  if (config.scope) form.set('scope', config.scope);
  const headers: Record<string, string | number> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  if (config.client_auth === 'post') {
    form.set('client_id', creds.client_id);
    form.set('client_secret', creds.client_secret);
  } else {
    headers.authorization = `Basic ${Buffer.from(`${formEncode(creds.client_id)}:${formEncode(creds.client_secret)}`, 'utf8').toString('base64')}`;
  }
  const body = form.toString();
  headers['content-length'] = Buffer.byteLength(body);
  return { headers, body };
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
export async function fetchAccessToken(config: TokenEndpointConfig, creds: ClientCredentials, opts: TokenFetchOptions): Promise<TokenFetchResult> {
  const refused = tokenUrlRefusal(config.token_url, opts.httpsOnly);
  if (refused) return { ok: false, message: refused };
  const url = new URL(config.token_url);
  const where = `token endpoint ${url.host}`;
  const { headers, body } = tokenRequest(config, creds);
  const res = await sendOutbound({
    url,
    method: 'POST',
    headers,
    body,
    timeoutMs: opts.timeoutMs,
    maxResponseBytes: MAX_TOKEN_RESPONSE_BYTES,
    allowPrivate: opts.allowPrivate,
    resolveHost: opts.resolveHost,
  });
  if (!res.ok) {
    switch (res.reason) {
      case 'blocked':
        return { ok: false, message: `${where} resolves to a loopback, private or link-local address, which the vault refuses` };
      case 'timeout':
      case 'dns_timeout':
        return { ok: false, message: `${where} did not answer in time` };
      case 'too_large':
        return { ok: false, message: `${where} answered with more than 64 KiB` };
      case 'unresolvable':
        return { ok: false, message: `${where} could not be resolved` };
      default:
        return { ok: false, message: `${where} could not be reached` };
    }
  }
  if (res.status < 200 || res.status > 299) {
    return { ok: false, status: res.status, message: `${where} answered ${res.status}${res.status >= 300 && res.status < 400 ? ' (redirects are not followed)' : ''}` };
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
  return { ok: true, accessToken: o.access_token, expiresInS: Math.min(Math.floor(raw), MAX_EXPIRES_IN_S) };
}
