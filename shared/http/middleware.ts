import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, Context } from 'aws-lambda';
import {
  HttpError,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
  ValidationError,
  isTransientDependencyError,
} from '../errors.ts';
import { type Logger, VaultLogger, createLogger } from '../log.ts';
import { flushMetrics } from '../metrics.ts';
import { traceInvocation, tracingEnabled } from '../tracing.ts';
import type { Caller } from '../deps.ts';
import { MAX_JSON_DEPTH, jsonDepth } from '../schemas/json-depth.ts';
import { errorBody, json } from './responses.ts';

/** Request bodies above this are refused with 413 before parsing. */
export const MAX_BODY_BYTES = 256 * 1024;

/** The API Gateway v2 event, plus what the vault's middleware adds. */
export interface VaultEvent extends APIGatewayProxyEventV2 {
  /** Parsed JSON body (`{}` when the request had none). */
  json?: unknown;
  /** Tenant of the authenticated API key. */
  tenant?: string;
  /** Who is calling, built once by the authenticate middleware (shared/http/caller.ts). */
  caller?: Caller;
}

export type Mw = MiddlewareObj<VaultEvent, APIGatewayProxyResultV2, Error, Context>;

/** Stack frames without the message (which may span lines): a message could quote input, frames cannot. */
function framesOnly(err: Error): string | undefined {
  return err.stack
    ?.split('\n')
    .filter((line) => /^\s+at /.test(line))
    .slice(0, 8)
    .join('\n');
}

/**
 * Maps every error to the JSON error body, once, for every handler: HttpErrors keep their status
 * and message; transient dependency faults (throttling, 5xx, timeouts) become 503 + Retry-After;
 * anything else is a 500 that says only the request id. Requests are logged without bodies or headers.
 */
export function errorResponses(getLog: () => Promise<Logger>): Mw {
  return {
    onError: async (request) => {
      const err = request.error;
      const requestId = request.event.requestContext?.requestId ?? 'unknown';
      if (err instanceof HttpError) {
        request.response = json(err.status, errorBody(err.code, err.message, err.details), { ...err.headers, 'x-request-id': requestId });
        return;
      }
      const log = await getLog().catch(() => undefined);
      const fields = {
        request_id: requestId,
        route: request.event.routeKey,
        error_name: err instanceof Error ? err.name : typeof err,
        stack: err instanceof Error ? framesOnly(err) : undefined,
      };
      if (isTransientDependencyError(err)) {
        log?.log('warn', 'dependency unavailable', fields);
        request.response = json(503, errorBody('service_unavailable', 'The vault is temporarily unable to serve this request; retry after a moment.'), {
          'retry-after': '1',
          'x-request-id': requestId,
        });
        return;
      }
      (log ?? createLogger((line) => process.stderr.write(`${line}\n`))).log('error', 'unhandled error', fields);
      request.response = json(500, errorBody('internal_error', `Internal error; quote request id ${requestId} when reporting it.`), {
        'x-request-id': requestId,
      });
    },
  };
}

/**
 * Observability around each invocation (docs/architecture.md, "Observability"): inside Lambda the
 * logger carries the function's context and the API Gateway request id as correlation id for the
 * request's lines, and the request's metrics are written (EMF) when it ends, answered or failed.
 * Outside Lambda (the local server serves requests concurrently) no context is attached.
 */
export function observe(getLog: () => Promise<Logger>, name: string): Mw {
  let log: VaultLogger | undefined;
  let endTrace: ((err?: unknown) => void) | undefined;
  const end = (err?: unknown) => {
    endTrace?.(err);
    endTrace = undefined;
    log?.endRequest();
    flushMetrics();
  };
  return {
    before: async (request) => {
      if (!request.context?.awsRequestId || process.env.AWS_LAMBDA_FUNCTION_NAME === undefined) return;
      if (tracingEnabled()) endTrace = await traceInvocation(name);
      const l = await getLog().catch(() => undefined);
      log = l instanceof VaultLogger ? l : undefined;
      log?.beginRequest(request.context, request.event.requestContext?.requestId);
    },
    after: () => end(),
    onError: (request) => end(request.error),
  };
}

/** Dangerous JSON keys are refused at parse time, before any object is built from the input. */
function rejectProtoKeys(key: string, value: unknown): unknown {
  if (key === '__proto__') throw new ValidationError('JSON key "__proto__" is not allowed');
  return value;
}

/**
 * JSON bodies: 413 over MAX_BODY_BYTES, 415 unless Content-Type is JSON, 400 for malformed JSON
 * or a body that is not an object. A request without a body gets `{}`.
 */
export function jsonBody(): Mw {
  return {
    before: (request) => {
      const event = request.event;
      const raw = event.body;
      if (raw === undefined || raw === null || raw === '') {
        event.json = {};
        return;
      }
      const text = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
      if (Buffer.byteLength(text, 'utf8') > MAX_BODY_BYTES) {
        throw new PayloadTooLargeError(`Request body exceeds ${MAX_BODY_BYTES} bytes (256 KiB); auth_data may hold at most 64 KiB`);
      }
      const type = event.headers?.['content-type'] ?? '';
      if (!/^application\/([a-z0-9.+-]+\+)?json\s*(;|$)/i.test(type)) {
        throw new UnsupportedMediaTypeError('Send the request body as JSON with "Content-Type: application/json"');
      }
      if (jsonDepth(text) > MAX_JSON_DEPTH) {
        throw new ValidationError(`Request body nests objects or arrays more than ${MAX_JSON_DEPTH} levels deep`, 'invalid_json');
      }
      let parsed: unknown;
      try {
        // The reviver costs 3x a plain parse; a key can only spell __proto__ literally or with \u escapes.
        parsed = text.includes('__proto__') || text.includes('\\u') ? JSON.parse(text, rejectProtoKeys) : JSON.parse(text);
      } catch (err) {
        if (err instanceof ValidationError) throw err;
        throw new ValidationError('Request body is not valid JSON', 'invalid_json');
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        throw new ValidationError('Request body must be a JSON object', 'invalid_json');
      }
      event.json = parsed;
    },
  };
}
