import * as z from 'zod';
import { ForbiddenError, MethodRefusedError, ValidationError } from '../errors.ts';

/**
 * A profile's outbound policy: where the vault may send its credentials when it proxies a
 * request. `allowed_hosts` is required before a profile can be proxied, so a compromised agent
 * cannot send the key anywhere else. Stored in clear on the profile item.
 */
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

export const AllowedHosts = z
  .array(
    z.string().transform((s, ctx) => {
      const c = canonicalHostPattern(s);
      if (c === undefined) {
        ctx.addIssue({ code: 'custom', message: `"${s.slice(0, 80)}" is not a host name, IP address or *.domain, optionally with :port` });
        return z.NEVER;
      }
      return c;
    }),
  )
  .min(1, 'must list at least one host')
  .max(50, 'at most 50 hosts')
  .describe('Hosts the proxy may send this profile\'s credentials to: "api.example.com", "*.example.com" (subdomains), "127.0.0.1:8080" (one port). Required before the profile can be proxied.');

export const AllowedPathPrefixes = z
  .array(
    z
      .string()
      .max(512)
      .regex(/^\/[^?#\s]*$/, 'must start with "/" and contain no "?", "#" or spaces')
      .refine((p) => !p.split('/').some((seg) => seg === '.' || seg === '..'), 'must not contain "." or ".." segments')
      .refine((p) => !/%2f|%5c|\\/i.test(p), 'must not contain encoded slashes or backslashes')
      // A path holding either is refused whenever prefixes are set (assertOutboundAllowed), so such a prefix would match nothing.
      .refine((p) => !/;|%25/i.test(p), 'must not contain ";" or "%25": a path holding either is refused when allowed_path_prefixes is set'),
  )
  .min(1, 'must list at least one prefix (omit the field to allow every path)')
  .max(50, 'at most 50 prefixes')
  .describe('Optional: paths the proxy may call, by prefix on segment boundaries ("/v1" matches /v1 and /v1/x, not /v10)');

export const AllowedMethods = z
  .array(ProxyMethod)
  .min(1, 'must list at least one method')
  .refine((m) => new Set(m).size === m.length, 'must not repeat a method')
  .describe('Optional: HTTP methods the proxy may send with this profile (others get 405); default all');

/** The policy fields, as accepted on create/upsert/native bodies and stored on the item. */
export const OutboundPolicyFields = {
  allowed_hosts: AllowedHosts.optional(),
  allowed_path_prefixes: AllowedPathPrefixes.optional(),
  allowed_methods: AllowedMethods.optional(),
};

export interface OutboundPolicy {
  readonly allowed_hosts?: readonly string[];
  readonly allowed_path_prefixes?: readonly string[];
  readonly allowed_methods?: readonly string[];
}

const defaultPort = (protocol: string) => (protocol === 'https:' ? 443 : 80);

/** True if `url`'s host (and port) matches one of the canonical patterns. */
export function hostAllowed(patterns: readonly string[], url: URL): boolean {
  const host = url.hostname.toLowerCase().replace(/\.$/, '');
  const port = url.port === '' ? defaultPort(url.protocol) : Number(url.port);
  return patterns.some((pattern) => {
    const m = /^(.*?)(?::(\d+))?$/.exec(pattern);
    const hostPart = m?.[1] ?? pattern;
    if (m?.[2] !== undefined && Number(m[2]) !== port) return false;
    if (hostPart.startsWith('*.')) return host.endsWith(hostPart.slice(1)) && host.length > hostPart.length - 1;
    return host === hostPart;
  });
}

/** True if `pathname` lies under one of the prefixes, on a segment boundary. */
export function pathAllowed(prefixes: readonly string[], pathname: string): boolean {
  return prefixes.some((p) => (p.endsWith('/') ? pathname.startsWith(p) : pathname === p || pathname.startsWith(`${p}/`)));
}

/**
 * Checks one outbound request against a profile's policy: no allowed_hosts at all → 403
 * `proxy_not_configured`; a method outside allowed_methods → 405; a host or path outside → 403.
 * `url` must already be parsed by the WHATWG parser (dot segments resolved, IPs canonical).
 */
export function assertOutboundAllowed(policy: OutboundPolicy, profileName: string, method: string, url: URL): void {
  const hosts = policy.allowed_hosts ?? [];
  if (hosts.length === 0) {
    throw new ForbiddenError(
      `auth profile "${profileName}" has no allowed_hosts, so it cannot be proxied; set allowed_hosts (the hosts its credentials may be sent to) with an upsert first`,
      'proxy_not_configured',
    );
  }
  if (policy.allowed_methods && !policy.allowed_methods.includes(method)) {
    throw new MethodRefusedError(
      `auth profile "${profileName}" allows only ${policy.allowed_methods.join(', ')} through the proxy, not ${method}`,
      'method_not_allowed_by_profile',
    );
  }
  if (!hostAllowed(hosts, url)) {
    throw new ForbiddenError(
      `host ${url.host} is not in the allowed_hosts of auth profile "${profileName}" (${hosts.join(', ')})`,
      'host_not_allowed',
    );
  }
  const prefixes = policy.allowed_path_prefixes;
  if (prefixes) {
    // Servlet containers (Tomcat, Jetty, Spring) drop a segment's ";params" after our check, so
    // "/v1/..;/admin" is /admin to them; "%25" decodes to "%", so "%252e%252e" or "%252f" can become
    // a dot segment or a slash after a second decode. Neither has a place in a path a prefix limits.
    const shape = /;/.test(url.pathname) ? '";" (path parameters)' : /%25/i.test(url.pathname) ? '"%25" (an encoded "%")' : undefined;
    if (shape !== undefined) {
      throw new ForbiddenError(
        `path ${url.pathname.slice(0, 200)} contains ${shape}, which an upstream may decode into another path after this check; auth profile "${profileName}" limits paths (allowed_path_prefixes), so such a path is refused: send the path without it`,
        'path_not_allowed',
      );
    }
    // An upstream may decode %2F after our check; refuse what could change the path's shape.
    if (/%2f|%5c/i.test(url.pathname) || !pathAllowed(prefixes, url.pathname)) {
      throw new ForbiddenError(
        `path ${url.pathname.slice(0, 200)} is not under the allowed_path_prefixes of auth profile "${profileName}" (${prefixes.join(', ')})`,
        'path_not_allowed',
      );
    }
  }
}

/**
 * The outbound rules of one proxied or tested request, checked by the gate after the token is
 * verified: the type must be injectable (custom is not: 400 not_injectable), an OAuth2 profile's
 * token_url is reachable only for the token fetch (403), then the profile's policy.
 */
export function assertOutboundUse(
  item: OutboundPolicy & { readonly name: string; readonly auth_type: string },
  type: { readonly injection: string },
  config: Readonly<Record<string, unknown>>,
  method: string,
  url: URL,
): void {
  if (type.injection === 'none') {
    throw new ValidationError(
      `auth profile "${item.name}" is of auth_type ${item.auth_type}, whose values the vault cannot place in a request; use a typed profile (bearer, basic, api_key, oauth2_client_credentials) to proxy`,
      'not_injectable',
    );
  }
  if (typeof config.token_url === 'string' && URL.canParse(config.token_url)) {
    const tokenUrl = new URL(config.token_url);
    if (tokenUrl.origin === url.origin && tokenUrl.pathname === url.pathname) {
      throw new ForbiddenError(`the token_url of auth profile "${item.name}" is reachable only for the vault's own token fetch, not through the proxy`, 'token_url_not_proxied');
    }
  }
  assertOutboundAllowed(item, item.name, method, url);
}

/**
 * Parses the URL a caller wants proxied: absolute http(s), no credentials in it, https only when
 * `httpsOnly` (deployed mode). A 400 that says what to fix otherwise.
 */
export function parseOutboundUrl(raw: string, httpsOnly: boolean): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ValidationError('url must be an absolute http(s) URL such as https://api.example.com/v1/items');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ValidationError('url must use http or https');
  if (httpsOnly && url.protocol !== 'https:') throw new ValidationError('url must use https in deployed mode: the vault does not send credentials in clear text');
  if (url.username || url.password) throw new ValidationError('url must not contain credentials; the auth profile supplies them');
  url.hash = '';
  return url;
}
