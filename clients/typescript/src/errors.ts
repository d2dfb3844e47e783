import type { ErrorCode } from './types.ts';

/** One unknown field of a strict body or query (`unknown_field` answers list them). */
export interface UnknownField {
  readonly field: string;
  readonly suggestion?: string;
  readonly hint?: string;
}

/**
 * The vault answered with an error: `{"error":{"code","message",…}}` and a 4xx/5xx status.
 * `message` is the vault's own text (it says what to fix and never carries a secret); `details`
 * holds any other field of the error object (e.g. `usage` of a 409 `profile_in_use`).
 */
export class VaultError extends Error {
  override readonly name = 'VaultError';
  readonly status: number;
  /** The vault's stable snake_case code; `http_<status>` when the answer carried none (a proxy in front). */
  readonly code: ErrorCode;
  /** The vault's `x-request-id`: quote it when reporting a 500. */
  readonly requestId: string | undefined;
  /** The operation that failed (its operationId). */
  readonly operation: string;
  /** Seconds the vault asked to wait (`Retry-After` of a 429/503), when it said. */
  readonly retryAfterSeconds: number | undefined;
  readonly unknownFields: readonly UnknownField[] | undefined;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(init: {
    status: number;
    code: string;
    message: string;
    operation: string;
    requestId?: string;
    retryAfterSeconds?: number;
    unknownFields?: readonly UnknownField[];
    details?: Record<string, unknown>;
  }) {
    super(init.message);
    this.status = init.status;
    this.code = init.code as ErrorCode;
    this.operation = init.operation;
    this.requestId = init.requestId;
    this.retryAfterSeconds = init.retryAfterSeconds;
    this.unknownFields = init.unknownFields;
    this.details = init.details ?? {};
  }
}

/** Why a request got no answer from the vault. */
export type TransportFailure = 'timeout' | 'aborted' | 'network' | 'invalid_response';

/**
 * The request got no usable answer: it timed out (`timeoutMs`), the caller's AbortSignal fired,
 * the connection failed, or the answer was not the vault's JSON. The message names the URL's
 * origin and the operation, never a header or a body.
 */
export class VaultConnectionError extends Error {
  override readonly name = 'VaultConnectionError';
  readonly kind: TransportFailure;
  readonly operation: string;
  /** The HTTP status, for `invalid_response`. */
  readonly status: number | undefined;

  constructor(kind: TransportFailure, operation: string, message: string, options?: { cause?: unknown; status?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.operation = operation;
    this.status = options?.status;
  }
}
