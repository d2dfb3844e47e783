import * as z from 'zod';
import { ValidationError } from '../../errors.ts';
import { type AuthTypeModule, type Deployment, injectHeaders, injected } from './types.ts';

/**
 * oauth2_authorization_code (docs/architecture.md, "Delegated OAuth 2.0"): an end user connects
 * their account. auth_data `{client_id, client_secret?}` (sealed; no secret for a public client,
 * `client_auth: none`, which PKCE protects); auth_config in clear, covered by the store's MAC. The
 * connect flow (shared/credentials/oauth2/connection.ts) obtains a refresh token sealed under the
 * profile's keys; uses inject the access token (`injection: 'access_token'`, refreshed under the
 * single-flight lease of shared/credentials/oauth2/access-token.ts), runs get only the access token.
 */

const httpUrl = (what: string) =>
  z
    .url({ protocol: /^https?$/, error: `must be an http(s) URL (https when deployed)` })
    .max(2048)
    .refine((u) => !URL.canParse(u) || (!new URL(u).username && !new URL(u).password), 'must not contain credentials; they go in auth_data')
    .describe(what);

/** RFC 6749 §3.3 scope-token. */
const ScopeToken = z
  .string()
  .regex(/^[\x21\x23-\x5b\x5d-\x7e]{1,256}$/, 'must be one scope token (visible ASCII, no space, quote or backslash)');

/** Authorize parameters the vault sets itself and a profile may not override. */
const RESERVED_PARAMS = new Set([
  'response_type',
  'client_id',
  'client_secret',
  'redirect_uri',
  'state',
  'scope',
  'code_challenge',
  'code_challenge_method',
  'code_verifier',
  'request',
  'request_uri',
]);

export const OAuth2AuthorizationCodeConfig = z.strictObject({
  authorize_url: httpUrl("The provider's authorization endpoint, where the end user's browser is sent"),
  token_url: httpUrl('Token endpoint (code exchange and refresh); reachable only for the vault, never through the proxy'),
  revocation_url: httpUrl(
    'RFC 7009 revocation endpoint; set: disconnect and delete (with the auth token) revoke the refresh token',
  ).optional(),
  scopes: z.array(ScopeToken).max(100).default([]).describe('Scopes to request'),
  authorize_params: z
    .record(z.string().regex(/^[A-Za-z][A-Za-z0-9_.-]{0,63}$/, 'must be a parameter name'), z.string().max(1024))
    .refine(
      (p) => Object.keys(p).every((k) => !RESERVED_PARAMS.has(k)),
      `may not set a parameter the vault sets itself (${[...RESERVED_PARAMS].join(', ')})`,
    )
    .refine((p) => Object.keys(p).length <= 20, 'at most 20 parameters')
    .optional()
    .describe('Extra authorization request parameters, e.g. {"access_type": "offline", "prompt": "consent"}'),
  client_auth: z
    .enum(['basic', 'post', 'none'])
    .default('basic')
    .describe('basic (default) | post | none (a public client: no client_secret, PKCE only)'),
  return_url: httpUrl('Where the end user is sent back after connecting, with status=connected or status=error&error=…'),
  issuer: z
    .url()
    .max(2048)
    .optional()
    .describe(
      "The authorization server's issuer identifier; the callback's iss (RFC 9207) must equal it (default: the origin of authorize_url)",
    ),
});
export type OAuth2AuthorizationCodeConfig = z.infer<typeof OAuth2AuthorizationCodeConfig>;

const PublicClientSecret = z.strictObject({ client_id: z.string().min(1) });
const ConfidentialClientSecret = z.strictObject({ client_id: z.string().min(1), client_secret: z.string().min(1) });

const isHttps = (u: string) => URL.canParse(u) && new URL(u).protocol === 'https:';

/**
 * Why the vault may not send an end user to `returnUrl`, or undefined. Deployed: https, and its
 * host in VAULT_ALLOWED_RETURN_HOSTS (none listed: none allowed). Locally: any host unless a list
 * is set. Checked when the profile is written and again before every redirect (a stored item may
 * come from local mode or a table writer).
 */
export function returnUrlRefusal(returnUrl: string, deployment: Deployment): string | undefined {
  if (!URL.canParse(returnUrl)) return 'return_url is not a URL';
  const url = new URL(returnUrl);
  if (deployment.httpsOnly && url.protocol !== 'https:') return 'return_url must use https in deployed mode';
  const host = url.hostname.toLowerCase().replace(/\.+$/, '');
  const allowed = deployment.allowedReturnHosts ?? [];
  if (deployment.httpsOnly && allowed.length === 0)
    return `return_url host "${host}" is not allowed: the vault's operator lists the hosts end users may return to in VAULT_ALLOWED_RETURN_HOSTS`;
  if (allowed.length > 0 && !allowed.includes(host)) return `return_url host "${host}" is not allowed (allowed: ${allowed.join(', ')})`;
  return undefined;
}

/** Why this config may not be used where the vault runs (https everywhere when deployed, an allowed return host), or undefined. */
export function configRefusal(config: OAuth2AuthorizationCodeConfig, deployment: Deployment): string | undefined {
  if (deployment.httpsOnly) {
    for (const field of ['authorize_url', 'token_url', 'revocation_url'] as const) {
      const u = config[field];
      if (u !== undefined && !isHttps(u))
        return `${field} must use https in deployed mode: the vault sends codes, tokens and client credentials only over TLS`;
    }
  }
  return returnUrlRefusal(config.return_url, deployment);
}

export const oauth2AuthorizationCode: AuthTypeModule<OAuth2AuthorizationCodeConfig> = {
  name: 'oauth2_authorization_code',
  config: OAuth2AuthorizationCodeConfig,
  schemaFor: (config) => (config.client_auth === 'none' ? PublicClientSecret : ConfidentialClientSecret),
  injection: 'access_token',
  assertDeployable: (config, deployment) => {
    const refused = configRefusal(config, deployment);
    if (refused) throw new ValidationError(`Invalid auth_config for auth_type oauth2_authorization_code: auth_config.${refused}`);
  },
  /** `secret` is `{access_token}` from the vault's token fetch: a runner never gets the refresh token or the client secret. */
  runParameters: (secret) => ({ access_token: secret.access_token ?? '' }),
  runsWith: 'access_token',
  inject: (request, secret) => injected(injectHeaders(request, { authorization: `Bearer ${secret.access_token ?? ''}` })),
  secretValues: (secret) => [...Object.values(secret), ...(secret.access_token ? [`Bearer ${secret.access_token}`] : [])],
};
