import middy from '@middy/core';
import type { APIGatewayProxyResultV2 } from 'aws-lambda';
import type * as z from '../schemas/zod.ts';
import { getDeps } from '../context.ts';
import type { Caller, Deps } from '../deps.ts';
import { HttpError, NotFoundError, isTransientDependencyError } from '../errors.ts';
import { NoBody, NoQuery, parseInput } from '../schemas/common.ts';
import type { AgentTarget, ProfileTarget } from '../services/targets.ts';
import { authenticate, grantOf } from './authenticate.ts';
import { authorize } from './authorize.ts';
import { type VaultEvent, errorResponses, jsonBody, observe } from './middleware.ts';
import { errorPage } from './pages.ts';
import { type HttpResponse, withoutBody } from './responses.ts';
import {
  PathParams,
  type RouteDef,
  type RouteGroup,
  type RouteKey,
  type RouteKeyOf,
  type RouteSpec,
  type routes,
  routeOf,
} from './routes.ts';

type Spec<K extends RouteKey> = (typeof routes)[K];
type Parsed<S> = S extends z.core.$ZodType ? z.output<S> : Record<string, never>;
type BodyOf<S> = S extends { grantBody: infer G }
  ? Parsed<S extends { body: infer B } ? B : never> | Parsed<G>
  : S extends { body: infer B }
    ? Parsed<B>
    : Record<string, never>;
type QueryOf<S> = S extends { query: infer Q } ? Parsed<Q> : Record<string, never>;
type TargetOf<S> = S extends { permission: { kind: 'agent_owner' } }
  ? AgentTarget
  : S extends { permission: { kind: 'profile' } }
    ? ProfileTarget
    : undefined;

/** What a route's handler receives: body and query parsed by its strict schemas, its permission checked. */
export interface RouteRequest<K extends RouteKey> {
  readonly deps: Deps;
  /** Who is calling; on a run-grant request (POST /v1/proxy), a caller with an empty tenant. */
  readonly caller: Caller;
  readonly body: BodyOf<Spec<K>>;
  readonly query: QueryOf<Spec<K>>;
  /** Path parameters, validated (agent_id, profile name, key_id, principal). */
  readonly params: Readonly<Record<string, string>>;
  /** What the permission check read and let through (the path's agent or profile). */
  readonly target: TargetOf<Spec<K>>;
  /** The run grant the request presented instead of an API key (routes whose permission allows one). */
  readonly grant?: string;
  readonly event: VaultEvent;
}

/** The handlers of a route group: one for each of its routes in the table, no more (else `tsc` fails). */
export type Handlers<G extends RouteGroup> = { readonly [K in RouteKeyOf<G>]: (req: RouteRequest<K>) => Promise<HttpResponse> };

/** Validates each path parameter the route has with its schema (400 naming it). */
function parsePathParams(event: VaultEvent): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(event.pathParameters ?? {})) {
    const param = PathParams[name as keyof typeof PathParams];
    out[name] = param ? parseInput(param.schema, value, param.what) : (value ?? '');
  }
  return out;
}

/** Does this request present a run grant where its route accepts one? */
const presentsGrant = (route: RouteSpec, event: VaultEvent): string | undefined =>
  route.permission.kind === 'credential' && route.permission.grant ? grantOf(event) : undefined;

/**
 * One Lambda handler for a route group: middleware first (errors mapped once, JSON body, API
 * key), then, for the route the API Gateway route key names: path parameters, body and query
 * parsed by the route's strict schemas (an unknown field is 400 unknown_field), its permission
 * checked against the caller (shared/http/authorize.ts), and its handler.
 */
export function routeGroupHandler<G extends RouteGroup>(group: G, handlers: Handlers<G>) {
  const grantAllowed = (key: string) => {
    const route = routeOf(key);
    return route !== undefined && route.permission.kind === 'credential' && route.permission.grant === true;
  };
  const isPublic = (key: string) => routeOf(key)?.permission.kind === 'public';
  return middy<VaultEvent, APIGatewayProxyResultV2>()
    .use(observe(async () => (await getDeps()).log, group))
    .use(errorResponses(async () => (await getDeps()).log))
    .use(jsonBody())
    .use(authenticate(getDeps, grantAllowed, isPublic))
    .handler(async (event) => {
      const route: RouteDef | undefined = routeOf(event.routeKey);
      // A browser route answers its errors as pages, whatever they are (shared/http/pages.ts).
      if (route?.answers === 'html') {
        try {
          return await dispatch(event, route);
        } catch (err) {
          if (!(err instanceof HttpError) || err.status >= 500 || isTransientDependencyError(err)) {
            const log = (await getDeps()).log;
            log.log(err instanceof HttpError ? 'warn' : 'error', 'browser route failed', {
              route: event.routeKey,
              request_id: event.requestContext?.requestId,
              error_name: err instanceof Error ? err.name : typeof err,
            });
          }
          return errorPage(err, event.requestContext?.requestId ?? 'unknown');
        }
      }
      return dispatch(event, route);
    });

  async function dispatch(event: VaultEvent, route: RouteDef | undefined): Promise<HttpResponse> {
    const handle =
      route && route.group === group
        ? (handlers as Record<string, (req: RouteRequest<RouteKey>) => Promise<HttpResponse>>)[route.key]
        : undefined;
    if (!route || !handle) throw new NotFoundError(`No route ${event.routeKey}`, 'route_not_found');
    const grant = presentsGrant(route, event);
    const params = parsePathParams(event);
    const body = parseInput((grant !== undefined ? route.grantBody : undefined) ?? route.body ?? NoBody, event.json ?? {});
    const query = parseInput(route.query ?? NoQuery, event.queryStringParameters ?? {}, 'query string');
    const deps = await getDeps();
    const caller: Caller = event.caller ?? {
      tenant: '',
      apiKeyId: '',
      role: 'member',
      sourceIp: event.requestContext?.http?.sourceIp,
      requestId: event.requestContext?.requestId,
    };
    const target = await authorize(deps, caller, route.permission, params);
    const response = await handle({ deps, caller, body, query, params, target, grant, event } as RouteRequest<RouteKey>);
    return event.requestContext.http.method === 'HEAD' ? withoutBody(response) : response;
  }
}
