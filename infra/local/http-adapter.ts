import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { MAX_BODY_BYTES } from '#shared/http/middleware';
import { errorBody } from '#shared/http/responses';
import { DEFAULT_ROUTE_KEY, type RouteGroup, matchRoute } from '#shared/http/routes';

export type LambdaHttpHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<unknown>;

class BodyTooLarge extends Error {}

/**
 * The whole request body, refused past MAX_BODY_BYTES. Read with 'data'/'end' listeners rather
 * than an async iterator over the request: the iterator costs a promise and an object per chunk
 * and more per request, for the one or two chunks a request body is.
 */
function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        stop();
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      stop();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    // A request aborted before its end: 'error' (or 'close' without 'end') settles the read.
    const onError = (err: Error) => {
      stop();
      reject(err);
    };
    const onClose = () => {
      stop();
      reject(new Error('request closed before its body ended'));
    };
    const stop = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

function lambdaContext(group: string, requestId: string): Context {
  const deadline = Date.now() + 30_000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: `agent-vault-local-${group}`,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:agent-vault-local-${group}`,
    memoryLimitInMB: '1024',
    awsRequestId: requestId,
    logGroupName: 'local',
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

/**
 * Builds the API Gateway HTTP API (payload v2) event for a Node request, exactly as API Gateway
 * would: lower-case headers (repeats joined by ","), decoded path parameters from the route
 * table, `$default` for unmatched requests.
 */
export function toApiGatewayEvent(
  req: IncomingMessage,
  body: Buffer,
  requestId: string,
): { event: APIGatewayProxyEventV2; group: RouteGroup } {
  // Concatenated, not resolved against a base: a path starting with "//" must stay a path, not
  // become a host ("//evil/x" resolved against a base would have host "evil").
  let url: URL;
  try {
    url = new URL(`http://localhost${(req.url ?? '/').startsWith('/') ? '' : '/'}${req.url ?? '/'}`);
  } catch {
    url = new URL('http://localhost/');
    url.pathname = '/\u0000invalid'; // matches no route: a JSON 404
  }
  const method = (req.method ?? 'GET').toUpperCase();
  const headers: Record<string, string> = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = (req.rawHeaders[i] as string).toLowerCase();
    const value = req.rawHeaders[i + 1] as string;
    headers[name] = headers[name] === undefined ? value : `${headers[name]},${value}`;
  }
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) query[k] = query[k] === undefined ? v : `${query[k]},${v}`;
  const match = matchRoute(method, url.pathname);
  const matched = match && 'route' in match ? match : undefined;
  // As API Gateway does: a HEAD request carries its own route key (`HEAD /x`).
  const key = matched ? `${method} ${matched.route.path}` : DEFAULT_ROUTE_KEY;
  const now = new Date();
  const event: APIGatewayProxyEventV2 = {
    version: '2.0',
    routeKey: key,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    ...(Object.keys(query).length ? { queryStringParameters: query } : {}),
    ...(matched && Object.keys(matched.pathParameters).length ? { pathParameters: matched.pathParameters } : {}),
    ...(body.length ? { body: body.toString('utf8') } : {}),
    isBase64Encoded: false,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'local',
      http: {
        method,
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId,
      routeKey: key,
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
  };
  return { event, group: matched ? matched.route.group : 'meta' };
}

/** The `error.code` of a JSON error body (our own answers only), for the request log line. */
function errorCodeOf(body: string | undefined): string | undefined {
  if (!body) return undefined;
  try {
    const code = (JSON.parse(body) as { error?: { code?: unknown } }).error?.code;
    return typeof code === 'string' && /^[a-z0-9_]{1,64}$/.test(code) ? code : undefined;
  } catch {
    return undefined;
  }
}

function send(res: ServerResponse, status: number, headers: Record<string, string | number>, body?: string) {
  res.writeHead(status, headers);
  res.end(body);
}

/**
 * A Node request listener that serves the very same Lambda handler exports the deployment uses.
 */
export function lambdaRequestListener(
  handlers: Readonly<Record<RouteGroup, LambdaHttpHandler>>,
  onServed: (line: { method: string; path: string; status: number; error_code?: string; ms: number; request_id: string }) => void,
) {
  return async (req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now();
    const requestId = randomUUID();
    const done = (status: number, errorCode?: string) =>
      onServed({
        method: req.method ?? '',
        path: (req.url ?? '').split('?')[0] ?? '',
        status,
        error_code: errorCode,
        ms: Math.round((performance.now() - started) * 10) / 10,
        request_id: requestId,
      });
    let body: Buffer;
    try {
      body = await readBody(req);
    } catch (err) {
      const tooLarge = err instanceof BodyTooLarge;
      send(
        res,
        tooLarge ? 413 : 400,
        { 'content-type': 'application/json; charset=utf-8', connection: 'close', 'x-request-id': requestId },
        JSON.stringify(
          tooLarge
            ? errorBody('payload_too_large', `Request body exceeds ${MAX_BODY_BYTES} bytes (256 KiB); auth_data may hold at most 64 KiB`)
            : errorBody('bad_request', 'The request body could not be read'),
        ),
      );
      done(tooLarge ? 413 : 400, tooLarge ? 'payload_too_large' : 'bad_request');
      if (tooLarge) req.destroy();
      return;
    }
    let result: APIGatewayProxyStructuredResultV2;
    try {
      const { event, group } = toApiGatewayEvent(req, body, requestId);
      result = (await handlers[group](event, lambdaContext(group, requestId))) as APIGatewayProxyStructuredResultV2;
    } catch {
      // The handlers map every error themselves; reaching here is a bug in the adapter.
      result = {
        statusCode: 500,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(errorBody('internal_error', 'Internal error')),
      };
    }
    const status = result.statusCode ?? 200;
    const headers: Record<string, string | number> = { 'x-request-id': requestId };
    for (const [k, v] of Object.entries(result.headers ?? {})) headers[k] = typeof v === 'boolean' ? String(v) : v;
    const out =
      result.body === undefined ? undefined : result.isBase64Encoded ? Buffer.from(result.body, 'base64').toString() : result.body;
    send(res, status, headers, out);
    done(status, status >= 400 ? errorCodeOf(out) : undefined);
  };
}
