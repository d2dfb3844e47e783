/**
 * Typed errors that carry their HTTP status and a stable snake_case code. The HTTP layer maps
 * them to `{"error": {"code", "message"}}` in one place (`shared/http/middleware.ts`); anything
 * else becomes a generic 500 that carries no internals.
 */
export abstract class HttpError extends Error {
  abstract readonly status: number;
  abstract readonly code: string;
  readonly headers: Record<string, string> = {};
  /** Extra non-secret fields of the error object (e.g. the usage summary of a 409 profile_in_use). */
  details?: Record<string, unknown>;
}

/** An HttpError class with a fixed status and a default code that a call may override. */
function withStatus(status: number, defaultCode: string) {
  return class extends HttpError {
    readonly status = status;
    constructor(
      message: string,
      readonly code: string = defaultCode,
    ) {
      super(message);
    }
  };
}

export class ValidationError extends withStatus(400, 'validation_error') {
  override readonly name = 'ValidationError';
}

export class UnauthorizedError extends withStatus(401, 'unauthorized') {
  override readonly name = 'UnauthorizedError';
}

/** A verified token past its `token_expires_at` (after verification: an unknown token still looks unknown). */
export class TokenExpiredError extends withStatus(401, 'token_expired') {
  override readonly name = 'TokenExpiredError';
  constructor(expiredAt: string) {
    super(`This auth_token expired at ${expiredAt}; rotate it (POST .../auth-profiles/{name}/rotate) or replace the profile to get a new one`);
  }
}

/** A profile switched off with PATCH {active: false}. */
export class ProfileInactiveError extends withStatus(403, 'profile_inactive') {
  override readonly name = 'ProfileInactiveError';
  constructor(name: string) {
    super(`Auth profile "${name}" is inactive; switch it on with PATCH .../auth-profiles/{name} {"active": true}`);
  }
}

/** The caller's source IP is outside the profile's allowed_source_ips (checked before the token). */
export class SourceIpNotAllowedError extends withStatus(403, 'source_ip_not_allowed') {
  override readonly name = 'SourceIpNotAllowedError';
  constructor() {
    super("The caller's IP address is not in this auth profile's allowed_source_ips");
  }
}

export class NotFoundError extends withStatus(404, 'not_found') {
  override readonly name = 'NotFoundError';
}

/** The one answer for an unknown, replaced, deleted or other-agent auth token. */
export class ProfileNotFoundError extends NotFoundError {
  constructor() {
    super('No auth profile matches this auth_token for this agent. Create one or use the token returned by the last create/replace.', 'profile_not_found');
  }
}

/** 404 agent_not_found, with the way to fix it. */
export const agentNotFound = (agentId: string) =>
  new NotFoundError(`No agent "${agentId}" in this tenant; register it with POST /v1/agents first`, 'agent_not_found');

/**
 * A stored item failed its integrity MAC (written by someone without the server key, or from
 * before MACs existed): it is refused and never used. A 500, because nothing the caller sent is
 * wrong; the message says what to do and nothing about why the check failed.
 */
export class IntegrityError extends withStatus(500, 'integrity_check_failed') {
  override readonly name = 'IntegrityError';
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

/** Refused by a policy (a profile's outbound hosts or paths, a blocked destination). */
export class ForbiddenError extends withStatus(403, 'forbidden') {
  override readonly name = 'ForbiddenError';
}

/** A method a profile's policy does not allow (the route itself exists). */
export class MethodRefusedError extends withStatus(405, 'method_not_allowed') {
  override readonly name = 'MethodRefusedError';
}

/** A feature that exists in the API but is not available in this build. */
export class NotImplementedError extends withStatus(501, 'not_implemented') {
  override readonly name = 'NotImplementedError';
}

/** An upstream the vault called for the caller failed (unreachable, bad answer, too large). */
export class BadGatewayError extends withStatus(502, 'bad_gateway') {
  override readonly name = 'BadGatewayError';
}

/** An upstream the vault called for the caller did not answer in time. */
export class GatewayTimeoutError extends withStatus(504, 'upstream_timeout') {
  override readonly name = 'GatewayTimeoutError';
}

export class ConflictError extends withStatus(409, 'conflict') {
  override readonly name = 'ConflictError';
}

/** Deleting a profile used recently or with a run in flight; the body carries the usage summary. */
export class ProfileInUseError extends withStatus(409, 'profile_in_use') {
  override readonly name = 'ProfileInUseError';
  constructor(message: string, usage: Record<string, unknown>) {
    super(message);
    this.details = { usage };
  }
}

export class PayloadTooLargeError extends withStatus(413, 'payload_too_large') {
  override readonly name = 'PayloadTooLargeError';
}

export class UnsupportedMediaTypeError extends withStatus(415, 'unsupported_media_type') {
  override readonly name = 'UnsupportedMediaTypeError';
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

/** One field a strict request object does not know, and the known field of that object it is nearest to. */
export interface UnknownField {
  /** Its path in the input: `allowed_source_ip`, `input_args[0].secrte`. */
  readonly field: string;
  /** The nearest known field of the same object, when one is close enough to be a likely typo. */
  readonly suggestion?: string;
  /** Where the field (or the suggested one) is set instead, when another request sets it. */
  readonly hint?: string;
}

/**
 * A request body or query carried a field its schema does not know (every request object is
 * strict, shared/schemas/common.ts parseInput): a misspelled security setting must never be
 * dropped silently. A 400 ValidationError with the code `unknown_field`; `details.unknown_fields` lists
 * each with its suggestion.
 */
export class UnknownFieldError extends ValidationError {
  constructor(
    message: string,
    readonly unknownFields: readonly UnknownField[],
  ) {
    super(message, 'unknown_field');
    this.details = { unknown_fields: unknownFields.map((f) => ({ ...f })) };
  }
}
