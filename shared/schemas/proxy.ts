import { PROXY_METHODS, ProxyMethod } from './policy.ts';
import { documentedAs } from './doc.ts';
import { AgentId, ApiKeyField } from './common.ts';
import { AuthToken } from './profiles.ts';
import * as z from './zod.ts';
import { describe } from './zod.ts';

/** RFC 9110 token characters: what a header name may be made of. */
const HeaderName = z.string().check(z.regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/, 'must be an HTTP header name (token characters)'));
const HeaderValue = z.string().check(
  z.maxLength(8192),
  // What HTTP/1.1 can carry in a header value (Node refuses anything else): tab, visible ASCII, Latin-1.
  z.regex(
    /^[\t\x20-\x7e\x80-\xff]*$/,
    'must be text HTTP can carry: no control characters (CR, LF, NUL, …) and no characters above U+00FF',
  ),
);

// Accepted in any letter case (upper-cased before the check); documented as the upper-case enum.
const Method = documentedAs(
  describe(
    z.pipe(
      z.pipe(
        z.string(),
        z.transform((m: string) => m.toUpperCase()),
      ),
      ProxyMethod,
    ),
    'GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS',
  ),
  { type: 'string', enum: [...PROXY_METHODS] },
);

const Url = describe(
  z.string().check(z.minLength(1), z.maxLength(8192)),
  "Absolute http(s) URL of the upstream API; its host must be in the profile's allowed_hosts",
);

/** POST /v1/proxy: a request the vault sends on with the profile's credentials injected. */
export const ProxyBody = z.strictObject({
  api_key: ApiKeyField,
  agent_id: AgentId,
  auth_token: AuthToken,
  method: Method,
  url: Url,
  headers: describe(
    z.optional(z.record(HeaderName, HeaderValue).check(z.refine((h) => Object.keys(h).length <= 64, 'at most 64 headers'))),
    "Request headers; Authorization and the profile's own key names are replaced by the profile's values; hop-by-hop and method-override headers (X-HTTP-Method-Override, X-HTTP-Method, X-Method-Override) are dropped",
  ),
  query: describe(
    z.optional(
      z.record(
        z.string().check(z.maxLength(256)),
        z.union([z.string().check(z.maxLength(8192)), z.array(z.string().check(z.maxLength(8192))).check(z.maxLength(64))]),
      ),
    ),
    "Query parameters appended to url's own",
  ),
  body: describe(z.optional(z.unknown()), 'A string is sent as is (set content-type in headers); any other JSON value is sent as JSON'),
});

export const ProxyResponse = z.object({
  status: describe(z.int(), "The upstream's HTTP status (redirects are returned, not followed)"),
  headers: describe(z.record(z.string(), z.string()), "The upstream's response headers (hop-by-hop dropped), secret values redacted"),
  body: describe(z.string(), "The response body, the profile's secret values replaced by [REDACTED]"),
  body_encoding: describe(z.enum(['utf8', 'base64']), 'utf8 text, or base64 when the body is not valid UTF-8'),
});

/** POST /v1/agents/{agent_id}/auth-profiles/{name}/test. */
export const TestProfileBody = z.strictObject({
  api_key: ApiKeyField,
  auth_token: AuthToken,
  request: describe(
    z.optional(z.strictObject({ method: z._default(Method, 'GET'), url: Url })),
    'The call to make with the credentials injected. Required except for oauth2_client_credentials, whose test is a token fetch',
  ),
});

export const TestProfileResponse = z.object({
  ok: describe(z.boolean(), 'true when the upstream answered 2xx'),
  status: describe(z.optional(z.int()), "The upstream's HTTP status; absent when there was no answer"),
  latency_ms: z.number(),
  error: describe(z.optional(z.string()), 'Why the test failed; never carries the response body'),
});

/**
 * POST /v1/proxy by a runner holding a run grant (`Authorization: Bearer avg_…`, no API key): the
 * grant names the agent and profile, so the body is only the request.
 */
export const GrantProxyBody = describe(
  z.omit(ProxyBody, { api_key: true, agent_id: true, auth_token: true }),
  'With Authorization: Bearer avg_… (a run grant handed to a runner of an agent with credential_delivery "proxy"): the request only; the grant names the agent and profile',
);

export type ProxyBody = z.infer<typeof ProxyBody>;
export type GrantProxyBody = z.infer<typeof GrantProxyBody>;
export type ProxyResponse = z.infer<typeof ProxyResponse>;
export type TestProfileBody = z.infer<typeof TestProfileBody>;
export type TestProfileResponse = z.infer<typeof TestProfileResponse>;
