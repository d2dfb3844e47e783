import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { handler as agents } from '#functions/agents';
import { handler as keys } from '#functions/keys';
import { handler as meta } from '#functions/meta';
import { handler as profiles } from '#functions/profiles';
import { handler as runs } from '#functions/runs';
import { handler as webhooks } from '#functions/webhooks';
import { DEFAULT_ROUTE_KEY, matchRoute, type RouteGroup, routeKey } from '#shared/http/routes';

/** The Lambda handler exports the deployment uses, by route group. */
export const handlers: Record<RouteGroup, (event: APIGatewayProxyEventV2, context: Context) => Promise<unknown>> = {
  agents: agents as never,
  profiles: profiles as never,
  runs: runs as never,
  keys: keys as never,
  webhooks: webhooks as never,
  meta: meta as never,
};

let seq = 0;

/**
 * An API Gateway HTTP API (payload v2) event as API Gateway would build it — the same shape as
 * infra/local/http-adapter.ts `toApiGatewayEvent`, without a Node request behind it.
 */
export function apiEvent(
  method: string,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): { event: APIGatewayProxyEventV2; group: RouteGroup } {
  const url = new URL(path, 'http://localhost');
  const match = matchRoute(method, url.pathname);
  const matched = match && 'route' in match ? match : undefined;
  const key = matched ? routeKey(matched.route) : DEFAULT_ROUTE_KEY;
  const text = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  const allHeaders: Record<string, string> = {
    host: 'vault.bench',
    'user-agent': 'bench',
    ...(text !== undefined ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) } : {}),
    ...headers,
  };
  const now = Date.now();
  const requestId = `bench-${++seq}`;
  const query = Object.fromEntries(url.searchParams);
  const event: APIGatewayProxyEventV2 = {
    version: '2.0',
    routeKey: key,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers: allHeaders,
    ...(Object.keys(query).length ? { queryStringParameters: query } : {}),
    ...(matched && Object.keys(matched.pathParameters).length ? { pathParameters: matched.pathParameters } : {}),
    ...(text !== undefined ? { body: text } : {}),
    isBase64Encoded: false,
    requestContext: {
      accountId: '000000000000',
      apiId: 'bench',
      domainName: 'vault.bench',
      domainPrefix: 'vault',
      http: { method, path: url.pathname, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'bench' },
      requestId,
      routeKey: key,
      stage: '$default',
      time: new Date(now).toUTCString(),
      timeEpoch: now,
    },
  };
  return { event, group: matched ? matched.route.group : 'meta' };
}

export const lambdaContext: Context = {
  callbackWaitsForEmptyEventLoop: false,
  functionName: 'bench',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:local:000000000000:function:bench',
  memoryLimitInMB: '1024',
  awsRequestId: 'bench',
  logGroupName: 'bench',
  logStreamName: 'bench',
  getRemainingTimeInMillis: () => 30_000,
  done: () => {},
  fail: () => {},
  succeed: () => {},
};

export interface Prepared {
  readonly event: APIGatewayProxyEventV2;
  readonly group: RouteGroup;
}

/** Invokes the handler for a prepared event; returns status and parsed JSON body. */
export async function invoke(p: Prepared): Promise<{ status: number; json: any }> {
  const res = (await handlers[p.group](p.event, lambdaContext)) as APIGatewayProxyStructuredResultV2;
  return { status: res.statusCode ?? 200, json: res.body ? JSON.parse(res.body) : undefined };
}

/** Invokes and throws unless the status is `expected` (a bench must never time error paths by accident). */
export async function invokeOk(p: Prepared, expected = 200): Promise<any> {
  const r = await invoke(p);
  if (r.status !== expected) {
    throw new Error(`${p.event.routeKey} answered ${r.status} (expected ${expected}): ${JSON.stringify(r.json)}`);
  }
  return r.json;
}
