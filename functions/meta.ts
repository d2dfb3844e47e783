import middy from '@middy/core';
import type { APIGatewayProxyResultV2 } from 'aws-lambda';
import { MethodNotAllowedError, NotFoundError } from '#shared/errors';
import { consoleResponse } from '#shared/http/console';
import { type VaultEvent, errorResponses } from '#shared/http/middleware';
import { type HttpResponse, ok, withoutBody } from '#shared/http/responses';
import { type RouteKeyOf, dispatchKey, matchRoute } from '#shared/http/routes';
import { createLogger } from '#shared/log';
import { buildOpenApi } from '#shared/schemas/openapi';

let openApi: ReturnType<typeof buildOpenApi> | undefined;
const metaLog = createLogger();

/**
 * Public, storage-free routes: the OpenAPI document, liveness, the browser console's static files
 * (bundled into this function: shared/http/console.ts), and the `$default` route that answers
 * unknown paths with a JSON 404 and wrong methods with a JSON 405.
 */
/** The table's meta routes (shared/http/routes.ts): one answer each, or undefined for "not here". */
const serve: { readonly [K in RouteKeyOf<'meta'>]: (event: VaultEvent) => HttpResponse | undefined } = {
  'GET /openapi.json': () => {
    openApi ??= buildOpenApi();
    return ok(openApi);
  },
  'GET /healthz': () => ok({ status: 'ok' }),
  'GET /console': (event) => consoleResponse(event.rawPath, event.headers?.['if-none-match']),
  'GET /console/{asset}': (event) => consoleResponse(event.rawPath, event.headers?.['if-none-match']),
};

export const handler = middy<VaultEvent, APIGatewayProxyResultV2>()
  // No dependencies here: this function has no table and no secret (least privilege).
  .use(errorResponses(async () => metaLog))
  .handler(async (event) => {
    const method = event.requestContext.http.method;
    const path = event.rawPath;
    // The console by path, whatever the route key: `/console/` arrives as `$default`.
    const key = (method === 'GET' || method === 'HEAD') && (path === '/console' || path.startsWith('/console/')) ? 'GET /console/{asset}' : dispatchKey(event.routeKey);
    const response = Object.hasOwn(serve, key) ? serve[key as RouteKeyOf<'meta'>](event) : undefined;
    if (response) return method === 'HEAD' ? withoutBody(response) : response;
    const match = matchRoute(method, path);
    if (match && 'allowed' in match) throw new MethodNotAllowedError(method, path, match.allowed);
    throw new NotFoundError(`No route ${method} ${path}; see GET /openapi.json for the API`, 'route_not_found');
  });
