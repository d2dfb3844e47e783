import middy from '@middy/core';
import type { APIGatewayProxyResultV2 } from 'aws-lambda';
import { getDeps } from '../context.ts';
import type { Caller, Deps } from '../deps.ts';
import { NotFoundError } from '../errors.ts';
import { authenticate } from './authenticate.ts';
import { type VaultEvent, errorResponses, jsonBody } from './middleware.ts';
import { type HttpResponse, withoutBody } from './responses.ts';
import { dispatchKey } from './routes.ts';

/** What a route function receives: everything parsed, the tenant authenticated. */
export interface RouteRequest {
  readonly deps: Deps;
  /** The caller's tenant (= caller.tenant). */
  readonly tenant: string;
  /** Who is calling; on an unauthenticated route group, a caller with an empty tenant. */
  readonly caller: Caller;
  readonly body: unknown;
  readonly params: Readonly<Record<string, string | undefined>>;
  readonly query: Readonly<Record<string, string | undefined>>;
  readonly event: VaultEvent;
}

export type RouteFn = (req: RouteRequest) => Promise<HttpResponse>;

/**
 * One Lambda handler for a route group: middleware first (errors mapped once, JSON body,
 * API key), then the route function picked by the API Gateway route key.
 */
export function routeGroupHandler(routesByKey: Readonly<Record<string, RouteFn>>, options: { authenticate?: boolean; grantRoutes?: readonly string[] } = {}) {
  const base = middy<VaultEvent, APIGatewayProxyResultV2>().use(errorResponses(async () => (await getDeps()).log)).use(jsonBody());
  const withAuth = options.authenticate === false ? base : base.use(authenticate(getDeps, options.grantRoutes));
  return withAuth.handler(async (event) => {
    const fn = routesByKey[dispatchKey(event.routeKey)];
    if (!fn) throw new NotFoundError(`No route ${event.routeKey}`, 'route_not_found');
    const response = await fn({
      deps: await getDeps(),
      tenant: event.tenant ?? '',
      caller: event.caller ?? { tenant: '', apiKeyId: '', role: 'member', sourceIp: event.requestContext?.http?.sourceIp, requestId: event.requestContext?.requestId },
      body: event.json ?? {},
      params: event.pathParameters ?? {},
      query: event.queryStringParameters ?? {},
      event,
    });
    return event.requestContext.http.method === 'HEAD' ? withoutBody(response) : response;
  });
}

