import * as z from 'zod';
import { PROXY_METHODS, ProxyMethod } from './policy.ts';
import { documentedAs } from './doc.ts';
import { AgentId, ApiKeyField } from './common.ts';
import { AuthToken } from './profiles.ts';

/** RFC 9110 token characters: what a header name may be made of. */
const HeaderName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/, 'must be an HTTP header name (token characters)');
const HeaderValue = z
  .string()
  .max(8192)
  // What HTTP/1.1 can carry in a header value (Node refuses anything else): tab, visible ASCII, Latin-1.
  .regex(/^[\t\x20-\x7e\x80-\xff]*$/, 'must be text HTTP can carry: no control characters (CR, LF, NUL, …) and no characters above U+00FF');

// Accepted in any letter case (upper-cased before the check); documented as the upper-case enum.
const Method = documentedAs(
  z
    .string()
    .transform((m) => m.toUpperCase())
    .pipe(ProxyMethod)
    .describe('GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS'),
  { type: 'string', enum: [...PROXY_METHODS] },
);

const Url = z.string().min(1).max(8192).describe('Absolute http(s) URL of the upstream API; its host must be in the profile\'s allowed_hosts');

/** POST /v1/proxy: a request the vault sends on with the profile's credentials injected. */
export const ProxyBody = z.strictObject({
  api_key: ApiKeyField,
  agent_id: AgentId,
  auth_token: AuthToken,
  method: Method,
  url: Url,
  headers: z
    .record(HeaderName, HeaderValue)
    .refine((h) => Object.keys(h).length <= 64, 'at most 64 headers')
    .optional()
    .describe('Request headers; Authorization and the profile\'s own key names are replaced by the profile\'s values; hop-by-hop and method-override headers (X-HTTP-Method-Override, X-HTTP-Method, X-Method-Override) are dropped'),
  query: z
    .record(z.string().max(256), z.union([z.string().max(8192), z.array(z.string().max(8192)).max(64)]))
    .optional()
    .describe('Query parameters appended to url\'s own'),
  body: z
    .unknown()
    .optional()
    .describe('A string is sent as is (set content-type in headers); any other JSON value is sent as JSON'),
});

export const ProxyResponse = z.object({
  status: z.int().describe('The upstream\'s HTTP status (redirects are returned, not followed)'),
  headers: z.record(z.string(), z.string()).describe('The upstream\'s response headers (hop-by-hop dropped), secret values redacted'),
  body: z.string().describe('The response body, the profile\'s secret values replaced by [REDACTED]'),
  body_encoding: z.enum(['utf8', 'base64']).describe('utf8 text, or base64 when the body is not valid UTF-8'),
});

/** POST /v1/agents/{agent_id}/auth-profiles/{name}/test. */
export const TestProfileBody = z.strictObject({
  api_key: ApiKeyField,
  auth_token: AuthToken,
  request: z
    .strictObject({ method: Method.default('GET'), url: Url })
    .optional()
    .describe('The call to make with the credentials injected. Required except for oauth2_client_credentials, whose test is a token fetch'),
});

export const TestProfileResponse = z.object({
  ok: z.boolean().describe('true when the upstream answered 2xx'),
  status: z.int().optional().describe('The upstream\'s HTTP status; absent when there was no answer'),
  latency_ms: z.number(),
  error: z.string().optional().describe('Why the test failed; never carries the response body'),
});

/**
 * POST /v1/proxy by a runner holding a run grant (`Authorization: Bearer avg_…`, no API key): the
 * grant names the agent and profile, so the body is only the request.
 */
export const GrantProxyBody = ProxyBody.omit({ api_key: true, agent_id: true, auth_token: true }).describe(
  'With Authorization: Bearer avg_… (a run grant handed to a runner of an agent with credential_delivery "proxy"): the request only; the grant names the agent and profile',
);

export type ProxyBody = z.infer<typeof ProxyBody>;
export type GrantProxyBody = z.infer<typeof GrantProxyBody>;
export type ProxyResponse = z.infer<typeof ProxyResponse>;
export type TestProfileBody = z.infer<typeof TestProfileBody>;
export type TestProfileResponse = z.infer<typeof TestProfileResponse>;
