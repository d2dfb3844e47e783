import { ForbiddenError, MethodRefusedError, ValidationError } from '../errors.ts';

// The policy's fields and their schemas live with the other request schemas (they are input
// first); this module enforces them.
export {
  AllowedHosts,
  AllowedMethods,
  AllowedPathPrefixes,
  canonicalHostPattern,
  type OutboundPolicy,
  OutboundPolicyFields,
  PROXY_METHODS,
  ProxyMethod,
} from '../schemas/policy.ts';
import type { OutboundPolicy } from '../schemas/policy.ts';

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
