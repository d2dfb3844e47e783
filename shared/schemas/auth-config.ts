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

export const ApiKeyMethod = z.enum(['header', 'query', 'body']).describe('Where the key/value pairs go: request headers, query string or body fields');

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
  client_auth: z.enum(['basic', 'post']).default('basic').describe('basic: HTTP Basic client_id:client_secret (default); post: both in the form body'),
});
