/**
 * Typed errors that carry their HTTP status and a stable snake_case code. The HTTP layer maps
 * them to `{"error": {"code", "message"}}` in one place (`shared/http/middleware.ts`); anything
 * else becomes a generic 500 that carries no internals.
 */
export abstract class HttpError extends Error {
  abstract readonly status: number;
  abstract readonly code: string;
  readonly headers: Record<string, string> = {};
}

export class ValidationError extends HttpError {
  override readonly name = 'ValidationError';
  readonly status = 400;
  constructor(
    message: string,
    readonly code: string = 'validation_error',
  ) {
    super(message);
  }
}

export class UnauthorizedError extends HttpError {
  override readonly name = 'UnauthorizedError';
  readonly status = 401;
  readonly code = 'unauthorized';
}

export class NotFoundError extends HttpError {
  override readonly name = 'NotFoundError';
  readonly status = 404;
  constructor(
    message: string,
    readonly code: string = 'not_found',
  ) {
    super(message);
  }
}

/** The one answer for an unknown, replaced, deleted or other-agent auth token. */
export class ProfileNotFoundError extends NotFoundError {
  constructor() {
    super('No auth profile matches this auth_token for this agent. Create one or use the token returned by the last create/replace.', 'profile_not_found');
  }
}

export class MethodNotAllowedError extends HttpError {
  override readonly name = 'MethodNotAllowedError';
  readonly status = 405;
  readonly code = 'method_not_allowed';
  constructor(method: string, path: string, allowed: readonly string[]) {
    super(`${method} is not supported on ${path}; use ${allowed.join(' or ')}`);
    this.headers.allow = allowed.join(', ');
  }
}

export class ConflictError extends HttpError {
  override readonly name = 'ConflictError';
  readonly status = 409;
  constructor(
    message: string,
    readonly code: string = 'conflict',
  ) {
    super(message);
  }
}

export class PayloadTooLargeError extends HttpError {
  override readonly name = 'PayloadTooLargeError';
  readonly status = 413;
  readonly code = 'payload_too_large';
}

export class UnsupportedMediaTypeError extends HttpError {
  override readonly name = 'UnsupportedMediaTypeError';
  readonly status = 415;
  readonly code = 'unsupported_media_type';
}

export class TooManyRequestsError extends HttpError {
  override readonly name = 'TooManyRequestsError';
  readonly status = 429;
  readonly code = 'too_many_requests';
  constructor(message: string, retryAfterSeconds = 1) {
    super(message);
    this.headers['retry-after'] = String(retryAfterSeconds);
  }
}

/** A dependency (DynamoDB, Secrets Manager, KMS) is throttling or failing: retry later. */
export class ServiceUnavailableError extends HttpError {
  override readonly name = 'ServiceUnavailableError';
  readonly status = 503;
  readonly code = 'service_unavailable';
  constructor(message = 'The vault is temporarily unable to serve this request; retry after a moment.', retryAfterSeconds = 1) {
    super(message);
    this.headers['retry-after'] = String(retryAfterSeconds);
  }
}

const TRANSIENT_DEPENDENCY_ERRORS = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'LimitExceededException',
  'KMSInternalException',
  'InternalServiceError',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
]);

/**
 * True for an AWS SDK error that retrying later can fix (throttling, a 5xx, a timeout): the
 * SDK's own retries are spent by the time we see it, so the caller gets 503 + Retry-After.
 */
export function isTransientDependencyError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return (
    TRANSIENT_DEPENDENCY_ERRORS.has(err.name) ||
    (typeof status === 'number' && status >= 500) ||
    (err as { $retryable?: unknown }).$retryable !== undefined ||
    (err as NodeJS.ErrnoException).code === 'ECONNRESET' ||
    (err as NodeJS.ErrnoException).code === 'ECONNREFUSED' ||
    (err as NodeJS.ErrnoException).code === 'ETIMEDOUT'
  );
}

export function isConditionalCheckFailed(err: unknown): boolean {
  return err instanceof Error && err.name === 'ConditionalCheckFailedException';
}
