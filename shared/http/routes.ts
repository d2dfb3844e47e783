/**
 * The route table: the single list of HTTP routes, which Lambda function (route group) serves
 * each, and nothing else. The CDK stack adds one API Gateway route per entry, the local server
 * matches requests against it, and the OpenAPI document is generated from it.
 */
export type RouteGroup = 'agents' | 'profiles' | 'runs' | 'keys' | 'meta';
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
/** What a path may answer: the table's methods, plus HEAD wherever GET is. */
export type AllowedMethod = HttpMethod | 'HEAD';

export interface RouteDef {
  readonly method: HttpMethod;
  /** API Gateway path syntax: `{name}` is one path segment. */
  readonly path: string;
  readonly group: RouteGroup;
  /** `false` leaves the route out of the OpenAPI document (the console's static files). */
  readonly documented?: false;
}

/** API Gateway route key, e.g. `POST /v1/agents`: what `event.routeKey` carries. */
export const routeKey = (r: Pick<RouteDef, 'method' | 'path'>): string => `${r.method} ${r.path}`;

export const routes: readonly RouteDef[] = [
  // Compatible endpoints (public create / upsert / run_agent API shapes).
  { method: 'POST', path: '/api/create_agent_auth_profile', group: 'profiles' },
  { method: 'POST', path: '/api/upsert_agent_auth_profile', group: 'profiles' },
  { method: 'POST', path: '/run_agent', group: 'runs' },
  { method: 'POST', path: '/api/run_agent', group: 'runs' },
  // Native endpoints.
  { method: 'POST', path: '/v1/agents', group: 'agents' },
  { method: 'GET', path: '/v1/agents', group: 'agents' },
  { method: 'GET', path: '/v1/agents/{agent_id}', group: 'agents' },
  { method: 'PUT', path: '/v1/agents/{agent_id}', group: 'agents' },
  { method: 'DELETE', path: '/v1/agents/{agent_id}', group: 'agents' },
  { method: 'POST', path: '/v1/agents/{agent_id}/rotate-signing-secret', group: 'agents' },
  // Tenant administration: API keys as principals (admin only). Their own function, the only one
  // whose role may write API-key items (infra/cdk/constructs/vault-function.ts).
  { method: 'POST', path: '/v1/api-keys', group: 'keys' },
  { method: 'GET', path: '/v1/api-keys', group: 'keys' },
  { method: 'DELETE', path: '/v1/api-keys/{key_id}', group: 'keys' },
  { method: 'GET', path: '/v1/agents/{agent_id}/auth-profiles', group: 'profiles' },
  { method: 'POST', path: '/v1/agents/{agent_id}/auth-profiles', group: 'profiles' },
  { method: 'PUT', path: '/v1/agents/{agent_id}/auth-profiles/{name}', group: 'profiles' },
  { method: 'POST', path: '/v1/agents/{agent_id}/auth-profiles/{name}/test', group: 'profiles' },
  { method: 'POST', path: '/v1/proxy', group: 'profiles' },
  { method: 'GET', path: '/v1/agents/{agent_id}/auth-profiles/{name}', group: 'profiles' },
  { method: 'PATCH', path: '/v1/agents/{agent_id}/auth-profiles/{name}', group: 'profiles' },
  { method: 'DELETE', path: '/v1/agents/{agent_id}/auth-profiles/{name}', group: 'profiles' },
  { method: 'POST', path: '/v1/agents/{agent_id}/auth-profiles/{name}/rotate', group: 'profiles' },
  { method: 'GET', path: '/v1/agents/{agent_id}/auth-profiles/{name}/usage', group: 'profiles' },
  { method: 'POST', path: '/v1/agents/{agent_id}/auth-profiles/{name}/share', group: 'profiles' },
  { method: 'DELETE', path: '/v1/agents/{agent_id}/auth-profiles/{name}/share/{principal}', group: 'profiles' },
  { method: 'GET', path: '/v1/audit', group: 'profiles' },
  { method: 'GET', path: '/v1/runs/{session_id}', group: 'runs' },
  { method: 'GET', path: '/openapi.json', group: 'meta' },
  { method: 'GET', path: '/healthz', group: 'meta' },
  // The browser console (console/, served by meta from its bundle); `/console/` itself reaches
  // meta through `$default`, since a route path cannot end with an empty segment.
  { method: 'GET', path: '/console', group: 'meta', documented: false },
  { method: 'GET', path: '/console/{asset}', group: 'meta', documented: false },
];

/**
 * The methods a route is served under: HEAD is answered wherever GET is (RFC 9110 §9.3.2), by
 * the GET route's function, without a body. The stack adds an API Gateway route for each.
 */
export const methodsOf = (r: Pick<RouteDef, 'method'>): AllowedMethod[] => (r.method === 'GET' ? ['GET', 'HEAD'] : [r.method]);

/** Every API Gateway route key the table yields (`GET /x` and `HEAD /x` for a GET route). */
export const routeKeysOf = (r: Pick<RouteDef, 'method' | 'path'>): string[] => methodsOf(r).map((m) => `${m} ${r.path}`);

/** The route key a handler dispatches on: a HEAD request runs its GET route. */
export const dispatchKey = (key: string): string => (key.startsWith('HEAD ') ? `GET ${key.slice(5)}` : key);

/** Requests that match no route go to the `meta` group, which answers a JSON 404 or 405. */
export const DEFAULT_ROUTE_KEY = '$default';

export interface RouteMatch {
  readonly route: RouteDef;
  readonly pathParameters: Record<string, string>;
}

const compiled = routes.map((route) => {
  const names: string[] = [];
  const pattern = route.path.replace(/\{([a-z_]+)\}/g, (_m, name: string) => {
    names.push(name);
    return '([^/]+)';
  });
  return { route, names, regex: new RegExp(`^${pattern}$`) };
});

/**
 * Matches a method and raw path against the table. Returns the route with its decoded path
 * parameters, `{ allowed }` when the path exists under other methods (→ 405), or undefined (→ 404).
 */
export function matchRoute(
  method: string,
  rawPath: string,
): RouteMatch | { allowed: AllowedMethod[] } | undefined {
  const allowed: AllowedMethod[] = [];
  const wanted = method.toUpperCase();
  for (const { route, names, regex } of compiled) {
    const m = regex.exec(rawPath);
    if (!m) continue;
    if (!methodsOf(route).includes(wanted as AllowedMethod)) {
      allowed.push(...methodsOf(route));
      continue;
    }
    const pathParameters: Record<string, string> = {};
    for (const [i, name] of names.entries()) {
      let value = m[i + 1] ?? '';
      try {
        value = decodeURIComponent(value);
      } catch {
        // A malformed escape stays as sent; validation will reject it with a clear message.
      }
      pathParameters[name] = value;
    }
    return { route, pathParameters };
  }
  return allowed.length > 0 ? { allowed } : undefined;
}
