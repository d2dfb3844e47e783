import * as z from 'zod';

/**
 * The `auth_config` of each auth type: the non-secret settings a typed profile keeps in clear.
 * The type modules (shared/credentials/types/*.ts) validate a profile's config with these; the
 * OpenAPI document (shared/schemas/openapi.ts) shows `auth_config` as one of them, chosen by
 * `auth_type`. They live here, with the other request schemas, so the document can render them.
 */

/** custom, bearer and basic take no auth_config (an empty object, or none). */
export const CustomConfig = z.strictObject({}).describe('custom takes no auth_config');
export const BearerConfig = z.strictObject({}).describe('bearer takes no auth_config');
export const BasicConfig = z.strictObject({}).describe('basic takes no auth_config');

export const ApiKeyMethod = z
  .enum(['header', 'query', 'body'])
  .describe('Where the key/value pairs go: request headers, query string or body fields');

/** api_key: `auth_config {api_key_method}`; auth_data holds one or more name → value pairs. */
export const ApiKeyConfig = z.strictObject({ api_key_method: ApiKeyMethod });

/** oauth2_client_credentials: `auth_config {token_url, scope?, client_auth?}`; auth_data `{client_id, client_secret}`. */
export const OAuth2Config = z.strictObject({
  token_url: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL (https when deployed)' })
    .max(2048)
    .refine((u) => !URL.canParse(u) || (!new URL(u).username && !new URL(u).password), 'must not contain credentials; they go in auth_data')
    .describe('Token endpoint (RFC 6749 §4.4); reachable only for the token fetch, never through the proxy'),
  scope: z.string().max(1024).optional().describe('Space-separated scopes to request'),
  client_auth: z
    .enum(['basic', 'post'])
    .default('basic')
    .describe('basic: HTTP Basic client_id:client_secret (default); post: both in the form body'),
});

/**
 * oauth2_authorization_code (delegated OAuth: shared/credentials/types/oauth2-authorization-code.ts):
 * the provider's endpoints, scopes, extra authorize parameters, client authentication and where
 * the end user returns; auth_data `{client_id, client_secret?}` is sealed.
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
