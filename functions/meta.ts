import middy from '@middy/core';
import type { APIGatewayProxyResultV2 } from 'aws-lambda';
import { MethodNotAllowedError, NotFoundError } from '#shared/errors';
import { consoleResponse } from '#shared/http/console';
import { type VaultEvent, errorResponses } from '#shared/http/middleware';
import { ok, withoutBody } from '#shared/http/responses';
import { dispatchKey, matchRoute } from '#shared/http/routes';
import { createLogger } from '#shared/log';
import { buildOpenApi } from '#shared/schemas/openapi';

let openApi: ReturnType<typeof buildOpenApi> | undefined;
const metaLog = createLogger();

/**
 * Public, storage-free routes: the OpenAPI document, liveness, the browser console's static files
 * (bundled into this function: shared/http/console.ts), and the `$default` route that answers
 * unknown paths with a JSON 404 and wrong methods with a JSON 405.
 */
export const handler = middy<VaultEvent, APIGatewayProxyResultV2>()
  // No dependencies here: this function has no table and no secret (least privilege).
  .use(errorResponses(async () => metaLog))
  .handler(async (event) => {
    const head = event.requestContext.http.method === 'HEAD';
    // The console by path, whatever the route key: `/console/` arrives as `$default`.
    if ((event.requestContext.http.method === 'GET' || head) && (event.rawPath === '/console' || event.rawPath.startsWith('/console/'))) {
      const file = consoleResponse(event.rawPath, event.headers?.['if-none-match']);
      if (file) return head ? withoutBody(file) : file;
    }
    switch (dispatchKey(event.routeKey)) {
      case 'GET /openapi.json':
        openApi ??= buildOpenApi();
        return head ? withoutBody(ok(openApi)) : ok(openApi);
      case 'GET /healthz':
        return head ? withoutBody(ok({ status: 'ok' })) : ok({ status: 'ok' });
      default: {
        const method = event.requestContext.http.method;
        const path = event.rawPath;
        const match = matchRoute(method, path);
        if (match && 'allowed' in match) throw new MethodNotAllowedError(method, path, match.allowed);
        throw new NotFoundError(`No route ${method} ${path}; see GET /openapi.json for the API`, 'route_not_found');
      }
    }
  });
