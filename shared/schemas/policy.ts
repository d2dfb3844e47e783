import { documentedAs } from './doc.ts';
import * as z from './zod.ts';
import { describe } from './zod.ts';

/**
 * The schemas of a profile's policy settings: its type, its outbound policy (where the vault may
 * send its credentials when it proxies a request: `allowed_hosts` is required before a profile
 * can be proxied, so a compromised agent cannot send the key anywhere else), caller IP and
 * expiry bounds. Input first, so they live with the request schemas; the credential modules that
 * enforce them (shared/credentials/outbound-policy.ts, source-ip.ts, token-state.ts, types/)
 * import them from here. Stored in clear on the profile item, covered by the store's MAC.
 */

/** The kinds of auth profile (docs/architecture.md, "Typed profiles, injection and grants"). `custom` is the free-form auth_data of old. */
export const AuthType = describe(
  z.enum(['custom', 'bearer', 'basic', 'api_key', 'oauth2_client_credentials', 'oauth2_authorization_code']),
  'custom (default: free-form auth_data handed to runners) | bearer | basic | api_key | oauth2_client_credentials | oauth2_authorization_code (an end user connects their account)',
);
export type AuthTypeName = z.infer<typeof AuthType>;

/** At most this many caller IPs / CIDRs per profile (shared/credentials/source-ip.ts). */
export const MAX_ALLOWED_SOURCE_IPS = 64;

/** Ten years: the longest token lifetime `expires_in_hours` may set (shared/credentials/token-state.ts). */
export const MAX_EXPIRES_IN_HOURS = 87_600;

export const PROXY_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
export const ProxyMethod = z.enum(PROXY_METHODS);
export type ProxyMethod = z.infer<typeof ProxyMethod>;

const HOST_PATTERN = /^(\*\.)?([a-z0-9-]+(\.[a-z0-9-]+)*\.?|\[[0-9a-f:.]+\])(:\d{1,5})?$/;

/** A host pattern in canonical form: lower case, IPs as the URL parser writes them, no trailing dot. */
export function canonicalHostPattern(pattern: string): string | undefined {
  const p = pattern.trim().toLowerCase();
  if (!HOST_PATTERN.test(p)) return undefined;
  const wildcard = p.startsWith('*.');
  try {
    const u = new URL(`http://${wildcard ? p.slice(2) : p}/`);
    if (u.pathname !== '/' || u.username || u.password) return undefined;
    const host = u.hostname.replace(/\.$/, '');
    if (wildcard && (host.startsWith('[') || /^[\d.]+$/.test(host))) return undefined; // no *.1.2.3.4
    const port = /:(\d{1,5})$/.exec(p)?.[1];
    if (port !== undefined && (Number(port) < 1 || Number(port) > 65_535)) return undefined;
    return `${wildcard ? '*.' : ''}${host}${port !== undefined ? `:${Number(port)}` : ''}`;
  } catch {
    return undefined;
  }
}

export const AllowedHosts = describe(
  z
    .array(
      // Canonicalised: the answer shows it as text (documentedAs: a transform renders as any value).
      documentedAs(
        z.pipe(
          z.string(),
          z.transform((s: string, ctx) => {
            const c = canonicalHostPattern(s);
            if (c === undefined) {
              ctx.issues.push({
                code: 'custom',
                message: `"${s.slice(0, 80)}" is not a host name, IP address or *.domain, optionally with :port`,
                input: s,
              });
              return z.NEVER;
            }
            return c;
          }),
        ),
        { type: 'string' },
      ),
    )
    .check(z.minLength(1, 'must list at least one host'), z.maxLength(50, 'at most 50 hosts')),
  'Hosts the proxy may send this profile\'s credentials to: "api.example.com", "*.example.com" (subdomains), "127.0.0.1:8080" (one port). Required before the profile can be proxied.',
);

export const AllowedPathPrefixes = describe(
  z
    .array(
      z.string().check(
        z.maxLength(512),
        z.regex(/^\/[^?#\s]*$/, 'must start with "/" and contain no "?", "#" or spaces'),
        z.refine((p) => !p.split('/').some((seg) => seg === '.' || seg === '..'), 'must not contain "." or ".." segments'),
        z.refine((p) => !/%2f|%5c|\\/i.test(p), 'must not contain encoded slashes or backslashes'),
        // A path holding either is refused whenever prefixes are set (assertOutboundAllowed), so such a prefix would match nothing.
        z.refine(
          (p) => !/;|%25/i.test(p),
          'must not contain ";" or "%25": a path holding either is refused when allowed_path_prefixes is set',
        ),
      ),
    )
    .check(z.minLength(1, 'must list at least one prefix (omit the field to allow every path)'), z.maxLength(50, 'at most 50 prefixes')),
  'Optional: paths the proxy may call, by prefix on segment boundaries ("/v1" matches /v1 and /v1/x, not /v10)',
);

export const AllowedMethods = describe(
  z.array(ProxyMethod).check(
    z.minLength(1, 'must list at least one method'),
    z.refine((m) => new Set(m).size === m.length, 'must not repeat a method'),
  ),
  'Optional: HTTP methods the proxy may send with this profile (others get 405); default all',
);

/** The policy fields, as accepted on create/upsert/native bodies and stored on the item. */
export const OutboundPolicyFields = {
  allowed_hosts: z.optional(AllowedHosts),
  allowed_path_prefixes: z.optional(AllowedPathPrefixes),
  allowed_methods: z.optional(AllowedMethods),
};

export interface OutboundPolicy {
  readonly allowed_hosts?: readonly string[];
  readonly allowed_path_prefixes?: readonly string[];
  readonly allowed_methods?: readonly string[];
}
