/**
 * The route table: the one list of HTTP routes. Each entry carries everything about its route —
 * the Lambda function (route group) that serves it, the permission it needs, the schemas of its
 * body and query string; its OpenAPI operation is beside it, by route key, in
 * shared/http/route-docs.ts (only the document reads it, so only the meta function bundles it)
 * — and every other place reads it from here:
 * - the group handlers (functions/*.ts) must supply a handler for exactly their routes
 *   (`Handlers<G>` below: a missing one fails `tsc`), and shared/http/handler.ts parses the body
 *   and query with the route's strict schemas and checks its permission once, before the handler;
 * - the CDK stack adds one API Gateway route per entry (infra/cdk/constructs/vault-api.ts);
 * - the local server matches requests against it (infra/local/http-adapter.ts);
 * - `/openapi.json` is generated from it (shared/schemas/openapi.ts).
 * docs/architecture.md ("Authority") describes the permission model.
 */
import { CreateAgentBody, UpdateAgentBody } from '../schemas/agents.ts';
import { ApiKeyId, CreateApiKeyBody } from '../schemas/api-keys.ts';
import { AuditQuery } from '../schemas/audit.ts';
import { AgentId, ProfileName } from '../schemas/common.ts';
import { DeleteQuery, PatchProfileBody, RotateProfileBody } from '../schemas/lifecycle.ts';
import {
  CallbackQuery,
  ConnectBody,
  ConnectQuery,
  CreateProfileBody,
  DeleteProfileBody,
  DisconnectBody,
  GrantPrincipal,
  ListQuery,
  NativeCreateProfileBody,
  NativePutProfileBody,
  ProfileListQuery,
  ShareProfileBody,
  TenantProfileListQuery,
  UpsertProfileBody,
} from '../schemas/profiles.ts';
import { GrantProxyBody, ProxyBody, TestProfileBody } from '../schemas/proxy.ts';
import { RunAgentBody } from '../schemas/runs.ts';
import { CreateWebhookBody, DeliveriesQuery, UpdateWebhookBody, WebhookId } from '../schemas/webhooks.ts';
import * as z from '../schemas/zod.ts';

export type RouteGroup = 'agents' | 'profiles' | 'runs' | 'keys' | 'webhooks' | 'meta';
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
/** What a path may answer: the table's methods, plus HEAD wherever GET is. */
export type AllowedMethod = HttpMethod | 'HEAD';

/**
 * What a caller needs to be served a route. The check runs once, in shared/http/authorize.ts,
 * from this value and the request's Caller, before the route's handler:
 * - `public`: no API key (meta routes).
 * - `key`: any API key of the tenant. What the route shows or creates is the caller's own, or is
 *   filtered by the one access check (shared/credentials/access.ts): lists, creating a profile or an
 *   agent the caller will own.
 * - `admin`: an admin key (API-key management).
 * - `agent_owner`: the path's agent, whose owner or an admin the caller must be (changing, rotating,
 *   deleting an agent). The handler receives the agent read.
 * - `profile`: the path's profile, on which the caller needs `need` (read: see and use it;
 *   read_write: change it). Without read the answer is the unknown-profile 404; with read only, a
 *   403. The handler receives the agent and the profile read (with `load`: also those items, in
 *   the same round trip).
 * - `credential`: the credential in the body (auth token with agent_id, or a run grant with
 *   `grant`): the profile it names is only known once the token is parsed, so the check is the
 *   credential gate's first stage (shared/credentials/gate.ts: access → caller IP → token), with `need`.
 */
export type Permission =
  | { readonly kind: 'public' }
  | { readonly kind: 'key' }
  | { readonly kind: 'admin'; readonly action: string }
  | { readonly kind: 'agent_owner'; readonly action: string }
  | {
      readonly kind: 'profile';
      readonly need: 'read' | 'read_write';
      /** Names the refused action in a 403 ("Rotating this auth profile needs read_write…"). */
      readonly action: string;
      /** Also read these with the agent and profile (one round trip). */
      readonly load?: { readonly withOAuthToken?: boolean };
    }
  | { readonly kind: 'credential'; readonly need: 'read' | 'read_write'; readonly grant?: true };

export interface RouteSpec {
  readonly group: RouteGroup;
  readonly permission: Permission;
  /** The request body's strict schema; absent: the route takes no body (fields in one are 400 unknown_field). */
  readonly body?: z.ZodMiniType;
  /** The body a run grant presents instead (POST /v1/proxy). */
  readonly grantBody?: z.ZodMiniType;
  /** The query string's strict schema; absent: the route takes no query parameters. */
  readonly query?: z.ZodMiniType;
  /**
   * `html`: the route is opened by an end user's browser (the OAuth connect flow): it answers a
   * redirect or an HTML page, and every error, whatever it is, as an HTML page (never JSON, never
   * a stack) — shared/http/handler.ts.
   */
  readonly answers?: 'html';
}

/** GET /healthz's answer. */
export const Health = z.object({ status: z.literal('ok') });

/** Path parameters, validated by the dispatcher before the permission check. */
export const PathParams = {
  agent_id: { schema: AgentId, what: 'agent_id' },
  name: { schema: ProfileName, what: 'profile name' },
  key_id: { schema: ApiKeyId, what: 'key_id' },
  principal: { schema: GrantPrincipal, what: 'principal' },
  session_id: { schema: z.string().check(z.maxLength(128)), what: 'session_id' },
  webhook_id: { schema: WebhookId, what: 'webhook_id' },
  asset: { schema: z.string(), what: 'asset' },
} as const;

const agentWrite = (action: string) => ({ kind: 'agent_owner', action }) as const;
const profileRead = (action: string, load?: { withOAuthToken?: boolean }) =>
  ({ kind: 'profile', need: 'read', action, ...(load ? { load } : {}) }) as const;
const profileWrite = (action: string) => ({ kind: 'profile', need: 'read_write', action }) as const;

export const routes = {
  // Compatible endpoints (public create / upsert / run_agent API shapes).
  'POST /api/create_agent_auth_profile': {
    group: 'profiles',
    permission: { kind: 'key' },
    body: CreateProfileBody,
  },
  'POST /api/upsert_agent_auth_profile': {
    group: 'profiles',
    permission: { kind: 'credential', need: 'read_write' },
    body: UpsertProfileBody,
  },
  'POST /run_agent': {
    group: 'runs',
    permission: { kind: 'credential', need: 'read' },
    body: RunAgentBody,
  },
  'POST /api/run_agent': {
    group: 'runs',
    permission: { kind: 'credential', need: 'read' },
    body: RunAgentBody,
  },

  // Agents: any key registers (and owns) one; its owner or an admin changes it.
  'POST /v1/agents': {
    group: 'agents',
    permission: { kind: 'key' },
    body: CreateAgentBody,
  },
  'GET /v1/agents': {
    group: 'agents',
    permission: { kind: 'key' },
    query: ListQuery,
  },
  'GET /v1/agents/{agent_id}': {
    group: 'agents',
    permission: { kind: 'key' },
  },
  'PUT /v1/agents/{agent_id}': {
    group: 'agents',
    permission: agentWrite('Changing this agent'),
    body: UpdateAgentBody,
  },
  'DELETE /v1/agents/{agent_id}': {
    group: 'agents',
    permission: agentWrite('Deleting this agent'),
    query: DeleteQuery,
  },
  'POST /v1/agents/{agent_id}/rotate-signing-secret': {
    group: 'agents',
    permission: agentWrite('Rotating the signing secret of this agent'),
  },

  // Tenant administration: API keys as principals (admin only). Their own function, the only one
  // whose role may write API-key items (infra/cdk/constructs/vault-function.ts).
  'POST /v1/api-keys': {
    group: 'keys',
    permission: { kind: 'admin', action: 'Creating API keys' },
    body: CreateApiKeyBody,
  },
  'GET /v1/api-keys': {
    group: 'keys',
    permission: { kind: 'admin', action: 'Listing API keys' },
    query: ListQuery,
  },
  'DELETE /v1/api-keys/{key_id}': {
    group: 'keys',
    permission: { kind: 'admin', action: 'Revoking API keys' },
  },

  // Tenant webhooks (admin only): their own function, like API keys.
  'POST /v1/webhooks': {
    group: 'webhooks',
    permission: { kind: 'admin', action: 'Managing webhooks' },
    body: CreateWebhookBody,
  },
  'GET /v1/webhooks': {
    group: 'webhooks',
    permission: { kind: 'admin', action: 'Listing webhooks' },
    query: ListQuery,
  },
  'GET /v1/webhooks/{webhook_id}': {
    group: 'webhooks',
    permission: { kind: 'admin', action: 'Reading webhooks' },
  },
  'PATCH /v1/webhooks/{webhook_id}': {
    group: 'webhooks',
    permission: { kind: 'admin', action: 'Changing webhooks' },
    body: UpdateWebhookBody,
  },
  'DELETE /v1/webhooks/{webhook_id}': {
    group: 'webhooks',
    permission: { kind: 'admin', action: 'Deleting webhooks' },
  },
  'POST /v1/webhooks/{webhook_id}/rotate-secret': {
    group: 'webhooks',
    permission: { kind: 'admin', action: 'Rotating webhook secrets' },
  },
  'GET /v1/webhooks/{webhook_id}/deliveries': {
    group: 'webhooks',
    permission: { kind: 'admin', action: 'Reading webhook deliveries' },
    query: DeliveriesQuery,
  },
  'POST /v1/webhooks/{webhook_id}/test': {
    group: 'webhooks',
    permission: { kind: 'admin', action: 'Sending webhook test events' },
  },

  // Profiles (native).
  'GET /v1/agents/{agent_id}/auth-profiles': {
    group: 'profiles',
    permission: { kind: 'key' },
    query: ProfileListQuery,
  },
  'GET /v1/auth-profiles': {
    group: 'profiles',
    permission: { kind: 'key' },
    query: TenantProfileListQuery,
  },
  'POST /v1/agents/{agent_id}/auth-profiles': {
    group: 'profiles',
    permission: { kind: 'key' },
    body: NativeCreateProfileBody,
  },
  'PUT /v1/agents/{agent_id}/auth-profiles/{name}': {
    group: 'profiles',
    permission: { kind: 'credential', need: 'read_write' },
    body: NativePutProfileBody,
  },
  'POST /v1/agents/{agent_id}/auth-profiles/{name}/test': {
    group: 'profiles',
    permission: { kind: 'credential', need: 'read' },
    body: TestProfileBody,
  },
  'POST /v1/proxy': {
    group: 'profiles',
    permission: { kind: 'credential', need: 'read', grant: true },
    body: ProxyBody,
    grantBody: GrantProxyBody,
  },
  'GET /v1/agents/{agent_id}/auth-profiles/{name}': {
    group: 'profiles',
    permission: profileRead('Reading this auth profile'),
  },
  'PATCH /v1/agents/{agent_id}/auth-profiles/{name}': {
    group: 'profiles',
    permission: profileWrite('Changing the settings of this auth profile'),
    body: PatchProfileBody,
  },
  'DELETE /v1/agents/{agent_id}/auth-profiles/{name}': {
    group: 'profiles',
    permission: profileWrite('Deleting this auth profile'),
    query: DeleteQuery,
    body: DeleteProfileBody,
  },
  'POST /v1/agents/{agent_id}/auth-profiles/{name}/rotate': {
    group: 'profiles',
    permission: { kind: 'credential', need: 'read_write' },
    body: RotateProfileBody,
  },
  'POST /v1/agents/{agent_id}/auth-profiles/{name}/connect': {
    group: 'profiles',
    permission: { kind: 'credential', need: 'read_write' },
    body: ConnectBody,
  },
  'POST /v1/agents/{agent_id}/auth-profiles/{name}/disconnect': {
    group: 'profiles',
    permission: { kind: 'credential', need: 'read_write' },
    body: DisconnectBody,
  },
  'GET /v1/oauth/connect': {
    group: 'profiles',
    permission: { kind: 'public' },
    query: ConnectQuery,
    answers: 'html',
  },
  'GET /v1/oauth/callback': {
    group: 'profiles',
    permission: { kind: 'public' },
    query: CallbackQuery,
    answers: 'html',
  },
  'GET /v1/agents/{agent_id}/auth-profiles/{name}/usage': {
    group: 'profiles',
    permission: profileRead('Reading the usage of this auth profile'),
  },
  'POST /v1/agents/{agent_id}/auth-profiles/{name}/share': {
    group: 'profiles',
    permission: profileWrite('Sharing this auth profile'),
    body: ShareProfileBody,
  },
  'DELETE /v1/agents/{agent_id}/auth-profiles/{name}/share/{principal}': {
    group: 'profiles',
    permission: profileWrite('Unsharing this auth profile'),
  },
  'GET /v1/audit': {
    group: 'profiles',
    permission: { kind: 'key' },
    query: AuditQuery,
  },
  'GET /v1/runs/{session_id}': {
    group: 'runs',
    permission: { kind: 'key' },
  },
  'GET /openapi.json': {
    group: 'meta',
    permission: { kind: 'public' },
  },
  'GET /healthz': {
    group: 'meta',
    permission: { kind: 'public' },
  },
  // The browser console (console/, served by meta from its bundle); `/console/` itself reaches
  // meta through `$default`, since a route path cannot end with an empty segment.
  'GET /console': { group: 'meta', permission: { kind: 'public' } },
  'GET /console/{asset}': { group: 'meta', permission: { kind: 'public' } },
} as const satisfies Readonly<Record<string, RouteSpec>>;

/** A route key of the table, e.g. `POST /v1/agents`: what API Gateway's `event.routeKey` carries. */
export type RouteKey = keyof typeof routes;
/** The route keys a group serves. */
export type RouteKeyOf<G extends RouteGroup> = { [K in RouteKey]: (typeof routes)[K]['group'] extends G ? K : never }[RouteKey];

/** A route of the table with its method and path split out. */
export interface RouteDef extends RouteSpec {
  readonly key: RouteKey;
  readonly method: HttpMethod;
  /** API Gateway path syntax: `{name}` is one path segment. */
  readonly path: string;
}

/** Every route, in table order. */
export const routeList: readonly RouteDef[] = Object.entries(routes).map(([key, spec]) => {
  const [method, path] = key.split(' ') as [HttpMethod, string];
  return { ...(spec as RouteSpec), key: key as RouteKey, method, path };
});

/** API Gateway route key, e.g. `POST /v1/agents`. */
export const routeKey = (r: Pick<RouteDef, 'method' | 'path'>): string => `${r.method} ${r.path}`;

/** The route of a route key (a HEAD key finds its GET route), or undefined. */
export function routeOf(key: string): RouteDef | undefined {
  const k = dispatchKey(key);
  return Object.hasOwn(routes, k) ? byKey.get(k) : undefined;
}

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

const byKey = new Map(routeList.map((r) => [r.key as string, r]));

const compiled = routeList.map((route) => {
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
export function matchRoute(method: string, rawPath: string): RouteMatch | { allowed: AllowedMethod[] } | undefined {
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
