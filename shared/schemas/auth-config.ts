import * as z from './zod.ts';
import { describe } from './zod.ts';

/**
 * The `auth_config` of each auth type: the non-secret settings a typed profile keeps in clear.
 * The type modules (shared/credentials/types/*.ts) validate a profile's config with these; the
 * OpenAPI document (shared/schemas/openapi.ts) shows `auth_config` as one of them, chosen by
 * `auth_type`. They live here, with the other request schemas, so the document can render them.
 */

/** custom, bearer and basic take no auth_config (an empty object, or none). */
export const CustomConfig = describe(z.strictObject({}), 'custom takes no auth_config');
export const BearerConfig = describe(z.strictObject({}), 'bearer takes no auth_config');
export const BasicConfig = describe(z.strictObject({}), 'basic takes no auth_config');

export const ApiKeyMethod = describe(
  z.enum(['header', 'query', 'body']),
  'Where the key/value pairs go: request headers, query string or body fields',
);

/** api_key: `auth_config {api_key_method}`; auth_data holds one or more name → value pairs. */
export const ApiKeyConfig = z.strictObject({ api_key_method: ApiKeyMethod });

/** oauth2_client_credentials: `auth_config {token_url, scope?, client_auth?}`; auth_data `{client_id, client_secret}`. */
export const OAuth2Config = z.strictObject({
  token_url: describe(
    z.url({ protocol: /^https?$/, error: 'must be an http(s) URL (https when deployed)' }).check(
      z.maxLength(2048),
      z.refine(
        (u) => !URL.canParse(u) || (!new URL(u).username && !new URL(u).password),
        'must not contain credentials; they go in auth_data',
      ),
    ),
    'Token endpoint (RFC 6749 §4.4); reachable only for the token fetch, never through the proxy',
  ),
  scope: describe(z.optional(z.string().check(z.maxLength(1024))), 'Space-separated scopes to request'),
  client_auth: describe(
    z._default(z.enum(['basic', 'post']), 'basic'),
    'basic: HTTP Basic client_id:client_secret (default); post: both in the form body',
  ),
});

/**
 * oauth2_authorization_code (delegated OAuth: shared/credentials/types/oauth2-authorization-code.ts):
 * the provider's endpoints, scopes, extra authorize parameters, client authentication and where
 * the end user returns; auth_data `{client_id, client_secret?}` is sealed.
 */
const httpUrl = (what: string) =>
  describe(
    z.url({ protocol: /^https?$/, error: `must be an http(s) URL (https when deployed)` }).check(
      z.maxLength(2048),
      z.refine(
        (u) => !URL.canParse(u) || (!new URL(u).username && !new URL(u).password),
        'must not contain credentials; they go in auth_data',
      ),
    ),
    what,
  );

/** RFC 6749 §3.3 scope-token. */
const ScopeToken = z
  .string()
  .check(z.regex(/^[\x21\x23-\x5b\x5d-\x7e]{1,256}$/, 'must be one scope token (visible ASCII, no space, quote or backslash)'));

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
  revocation_url: z.optional(
    httpUrl('RFC 7009 revocation endpoint; set: disconnect and delete (with the auth token) revoke the refresh token'),
  ),
  scopes: describe(z._default(z.array(ScopeToken).check(z.maxLength(100)), []), 'Scopes to request'),
  authorize_params: describe(
    z.optional(
      z
        .record(
          z.string().check(z.regex(/^[A-Za-z][A-Za-z0-9_.-]{0,63}$/, 'must be a parameter name')),
          z.string().check(z.maxLength(1024)),
        )
        .check(
          z.refine(
            (p) => Object.keys(p).every((k) => !RESERVED_PARAMS.has(k)),
            `may not set a parameter the vault sets itself (${[...RESERVED_PARAMS].join(', ')})`,
          ),
          z.refine((p) => Object.keys(p).length <= 20, 'at most 20 parameters'),
        ),
    ),
    'Extra authorization request parameters, e.g. {"access_type": "offline", "prompt": "consent"}',
  ),
  client_auth: describe(
    z._default(z.enum(['basic', 'post', 'none']), 'basic'),
    'basic (default) | post | none (a public client: no client_secret, PKCE only)',
  ),
  return_url: httpUrl('Where the end user is sent back after connecting, with status=connected or status=error&error=…'),
  issuer: describe(
    z.optional(z.url().check(z.maxLength(2048))),
    "The authorization server's issuer identifier; the callback's iss (RFC 9207) must equal it (default: the origin of authorize_url)",
  ),
});
export type OAuth2AuthorizationCodeConfig = z.infer<typeof OAuth2AuthorizationCodeConfig>;
