/**
 * A thin typed client over `fetch` (no runtime dependency): one method per operation of the
 * vault's OpenAPI document, named by its operationId, taking path parameters first, then the body
 * or query, then per-call options. Bodies and answers are the generated types (schema.d.ts).
 * clients/typescript/README.md documents the behaviour (retries, errors, paging, timeouts).
 */
import { type TransportFailure, VaultConnectionError, VaultError } from './errors.ts';
import { type Method, OPERATIONS } from './operations.ts';
import type { OperationId, PageItem, PathParams, QueryParams, RequestBody, ResponseBody } from './types.ts';

export interface RetryOptions {
  /** Retries after the first attempt (default 2: at most 3 attempts). */
  readonly maxRetries?: number;
  /** A `Retry-After` longer than this is not waited for: the error is thrown at once (default 30 000 ms). */
  readonly maxDelayMs?: number;
  /** The first backoff when the answer carries no `Retry-After` (default 500 ms; doubled each retry). */
  readonly baseDelayMs?: number;
}

/** What `onRetry` is told before each wait. */
export interface RetryInfo {
  readonly operation: string;
  /** The attempt that failed (1 = the first). */
  readonly attempt: number;
  readonly status: number;
  readonly code: string;
  /** The wait before the next attempt: `Retry-After` plus jitter, or the jittered backoff. */
  readonly delayMs: number;
  readonly retryAfterSeconds: number | undefined;
}

export interface ClientOptions {
  /** The vault's base URL, e.g. `http://127.0.0.1:3000` or an API Gateway stage URL. */
  readonly baseUrl: string;
  /** A tenant API key (`avk_…`), or a run grant (`avg_…`: POST /v1/proxy only). Sent as `Authorization: Bearer`. */
  readonly apiKey?: string;
  /** Per attempt (default 60 000 ms: a synchronous run waits for its runner, 30 s by default). */
  readonly timeoutMs?: number;
  /** Retry policy for 429 and 503 answers; `false` never retries. */
  readonly retry?: RetryOptions | false;
  /** Called before each retry's wait (logging, metrics). */
  readonly onRetry?: (info: RetryInfo) => void;
  /** The fetch implementation (default: the global one). */
  readonly fetch?: typeof fetch;
  /** Extra headers on every request (e.g. a user-agent). */
  readonly headers?: Readonly<Record<string, string>>;
}

export interface CallOptions {
  /** Aborts the call, its retries and their waits. */
  readonly signal?: AbortSignal;
  /** Overrides the client's per-attempt timeout. */
  readonly timeoutMs?: number;
  /** Overrides the client's retry policy for this call. */
  readonly retry?: RetryOptions | false;
  /**
   * Declares a POST safe to repeat, so that a 503 is retried for it too (e.g. a GET-like POST of
   * your own). Without it a POST is retried only on 429, which the vault answers before doing
   * anything.
   */
  readonly idempotent?: boolean;
}

/** The parts of a request, typed by the operation. */
export interface RequestParts<Op extends OperationId> {
  readonly path?: PathParams<Op>;
  readonly query?: QueryParams<Op>;
  readonly body?: RequestBody<Op>;
}

/** An API-key proxy request: the request plus the profile's `agent_id` and `auth_token` (a grant's is in runner.ts). */
export type ProxyRequest = Extract<RequestBody<'proxyRequest'>, { auth_token: unknown }>;

const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_RETRY: Required<RetryOptions> = { maxRetries: 2, maxDelayMs: 30_000, baseDelayMs: 500 };
/** Methods the vault serves idempotently: repeating one after a 503 converges to the same state. */
const IDEMPOTENT = new Set<Method | 'HEAD'>(['GET', 'HEAD', 'PUT', 'PATCH', 'DELETE']);

/**
 * `Retry-After` as seconds (RFC 9110 §10.2.3: delay-seconds or an HTTP-date), or undefined when
 * absent or unreadable.
 */
export function parseRetryAfter(value: string | null, nowMs = Date.now()): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  if (/^\d{1,9}$/.test(v)) return Number(v);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - nowMs) / 1000));
}

/** The wait before retry number `retry` (0-based): never earlier than `Retry-After`, plus up to 20 % (≤ 1 s) of jitter. */
export function retryDelayMs(
  retry: number,
  retryAfterSeconds: number | undefined,
  baseDelayMs: number,
  random: () => number = Math.random,
): number {
  if (retryAfterSeconds !== undefined) {
    const ms = retryAfterSeconds * 1000;
    return Math.round(ms + random() * Math.min(1000, Math.max(100, ms * 0.2)));
  }
  const backoff = baseDelayMs * 2 ** retry;
  return Math.round(backoff / 2 + (random() * backoff) / 2);
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function fillPath(template: string, params: Readonly<Record<string, unknown>> | undefined, operation: string): string {
  return template.replace(/\{([a-z_]+)\}/g, (_m, name: string) => {
    const value = params?.[name];
    if (typeof value !== 'string' || value === '') throw new TypeError(`${operation}: path parameter ${name} is required`);
    return encodeURIComponent(value);
  });
}

/** A typed client for one vault. */
export class VaultClient {
  readonly baseUrl: string;
  readonly #apiKey: string | undefined;
  readonly #timeoutMs: number;
  readonly #retry: Required<RetryOptions> | false;
  readonly #onRetry: ((info: RetryInfo) => void) | undefined;
  readonly #fetch: typeof fetch;
  readonly #headers: Readonly<Record<string, string>>;

  constructor(options: ClientOptions) {
    let url: URL;
    try {
      url = new URL(options.baseUrl);
    } catch {
      throw new TypeError(`baseUrl is not a URL: set it to the vault's address, e.g. http://127.0.0.1:3000`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError('baseUrl must be an http: or https: URL');
    this.baseUrl = `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
    this.#apiKey = options.apiKey;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#retry = options.retry === false ? false : { ...DEFAULT_RETRY, ...options.retry };
    this.#onRetry = options.onRetry;
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.#headers = options.headers ?? {};
  }

  /** Never shows the key (a client logged or inspected by accident). */
  toJSON() {
    return { baseUrl: this.baseUrl };
  }

  /**
   * Calls any operation by its operationId: the methods below are this with their parameters
   * spelled out.
   */
  request<Op extends OperationId>(operation: Op, parts: RequestParts<Op> = {}, options: CallOptions = {}): Promise<ResponseBody<Op>> {
    const { method, path } = OPERATIONS[operation] as { method: Method; path: string };
    const url = new URL(`${this.baseUrl}${fillPath(path, parts.path as Record<string, unknown> | undefined, operation)}`);
    for (const [k, v] of Object.entries((parts.query ?? {}) as Record<string, unknown>)) {
      if (v !== undefined && v !== null) url.searchParams.set(k, String(v));
    }
    return this.send(operation, method, url, parts.body, options) as Promise<ResponseBody<Op>>;
  }

  /** Sends one request with the client's auth, timeout and retry policy. Exposed for the runner helpers (a grant's proxy_url). */
  async send(operation: string, method: Method, url: URL, body: unknown, options: CallOptions = {}): Promise<unknown> {
    const retry = options.retry === false ? false : options.retry ? { ...DEFAULT_RETRY, ...options.retry } : this.#retry;
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    const headers: Record<string, string> = { accept: 'application/json', ...this.#headers };
    if (this.#apiKey) headers.authorization = `Bearer ${this.#apiKey}`;
    const payload = body === undefined ? undefined : JSON.stringify(body);
    if (payload !== undefined) headers['content-type'] = 'application/json';
    for (let attempt = 1; ; attempt++) {
      const answer = await this.#attempt(operation, method, url, headers, payload, timeoutMs, options.signal);
      if (answer.ok) return answer.value;
      const error = answer.error;
      const retryable = error.status === 429 || (error.status === 503 && (IDEMPOTENT.has(method) || options.idempotent === true));
      if (!retry || !retryable || attempt > retry.maxRetries) throw error;
      if (error.retryAfterSeconds !== undefined && error.retryAfterSeconds * 1000 > retry.maxDelayMs) throw error;
      const delayMs = retryDelayMs(attempt - 1, error.retryAfterSeconds, retry.baseDelayMs);
      this.#onRetry?.({ operation, attempt, status: error.status, code: error.code, delayMs, retryAfterSeconds: error.retryAfterSeconds });
      try {
        await sleep(delayMs, options.signal);
      } catch (cause) {
        throw new VaultConnectionError('aborted', operation, `${operation} was aborted while waiting to retry`, { cause });
      }
    }
  }

  async #attempt(
    operation: string,
    method: Method,
    url: URL,
    headers: Record<string, string>,
    payload: string | undefined,
    timeoutMs: number,
    callerSignal: AbortSignal | undefined,
  ): Promise<{ ok: true; value: unknown } | { ok: false; error: VaultError }> {
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = callerSignal ? AbortSignal.any([callerSignal, timeout]) : timeout;
    const where = `${method} ${url.origin}${url.pathname}`;
    const fail = (cause: unknown, what: string): never => {
      const kind: TransportFailure = callerSignal?.aborted ? 'aborted' : timeout.aborted ? 'timeout' : 'network';
      const message =
        kind === 'aborted'
          ? `${operation} (${where}) was aborted`
          : kind === 'timeout'
            ? `${operation} (${where}) got no answer within ${timeoutMs} ms`
            : `${operation} (${where}): ${what}; is the vault running at ${url.origin}?`;
      throw new VaultConnectionError(kind, operation, message, { cause });
    };
    let res: Response;
    let text: string;
    try {
      res = await this.#fetch(url, { method, headers, body: payload, signal, redirect: 'manual' });
    } catch (cause) {
      return fail(cause, 'the connection failed');
    }
    try {
      text = await res.text();
    } catch (cause) {
      return fail(cause, 'the connection failed while reading the answer');
    }
    const requestId = res.headers.get('x-request-id') ?? undefined;
    let json: unknown;
    if (text !== '') {
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
    }
    if (res.status >= 200 && res.status < 300) {
      if (res.status === 204 || text === '') return { ok: true, value: undefined };
      if (json === undefined) {
        throw new VaultConnectionError(
          'invalid_response',
          operation,
          `${operation} (${where}) answered HTTP ${res.status} with a body that is not JSON: is ${url.origin} an agent-vault?`,
          {
            status: res.status,
          },
        );
      }
      return { ok: true, value: json };
    }
    const err = (json as { error?: Record<string, unknown> } | undefined)?.error;
    const retryAfterSeconds = parseRetryAfter(res.headers.get('retry-after'));
    if (err && typeof err === 'object' && typeof err.code === 'string' && typeof err.message === 'string') {
      const { code, message, unknown_fields, ...details } = err as { code: string; message: string; unknown_fields?: unknown };
      return {
        ok: false,
        error: new VaultError({
          status: res.status,
          code,
          message,
          operation,
          requestId,
          retryAfterSeconds,
          unknownFields: Array.isArray(unknown_fields) ? (unknown_fields as VaultError['unknownFields']) : undefined,
          details,
        }),
      };
    }
    // Not the vault's error shape: something in front of it (API Gateway's throttle, a proxy).
    const front = (json as { message?: unknown } | undefined)?.message;
    const what =
      res.status >= 300 && res.status < 400
        ? `a redirect to ${res.headers.get('location') ?? '?'} (not followed)`
        : typeof front === 'string'
          ? front.slice(0, 200)
          : `HTTP ${res.status}`;
    return {
      ok: false,
      error: new VaultError({
        status: res.status,
        code: `http_${res.status}`,
        message: `${operation} (${where}) answered ${what}`,
        operation,
        requestId,
        retryAfterSeconds,
      }),
    };
  }

  async *#pages<Op extends 'listAgents' | 'listApiKeys' | 'listAgentAuthProfiles' | 'listAuditRecords'>(
    operation: Op,
    parts: RequestParts<Op>,
    options: CallOptions,
  ): AsyncGenerator<ResponseBody<Op>> {
    let cursor: string | undefined = (parts.query as { cursor?: string } | undefined)?.cursor;
    do {
      const query = { ...parts.query, ...(cursor ? { cursor } : {}) } as QueryParams<Op>;
      const page: ResponseBody<Op> = await this.request(operation, { ...parts, query }, options);
      yield page;
      cursor = (page as { next_cursor?: string }).next_cursor;
    } while (cursor);
  }

  // ---- Paged lists: async iterators over every item, following next_cursor ----

  /** Every agent, page after page (`limit` is the page size). */
  async *iterateAgents(query: QueryParams<'listAgents'> = {}, options: CallOptions = {}): AsyncGenerator<PageItem<'listAgents', 'agents'>> {
    for await (const page of this.#pages('listAgents', { query }, options)) yield* page.agents;
  }

  /** Every API key of the tenant (admin only). */
  async *iterateApiKeys(
    query: QueryParams<'listApiKeys'> = {},
    options: CallOptions = {},
  ): AsyncGenerator<PageItem<'listApiKeys', 'api_keys'>> {
    for await (const page of this.#pages('listApiKeys', { query }, options)) yield* page.api_keys;
  }

  /** Every auth profile of an agent the key may read (metadata only). */
  async *iterateAgentAuthProfiles(
    agentId: string,
    query: QueryParams<'listAgentAuthProfiles'> = {},
    options: CallOptions = {},
  ): AsyncGenerator<PageItem<'listAgentAuthProfiles', 'profiles'>> {
    for await (const page of this.#pages('listAgentAuthProfiles', { path: { agent_id: agentId }, query }, options)) yield* page.profiles;
  }

  /** Every audit record the filters select, newest first. */
  async *iterateAuditRecords(
    query: QueryParams<'listAuditRecords'> = {},
    options: CallOptions = {},
  ): AsyncGenerator<PageItem<'listAuditRecords', 'records'>> {
    for await (const page of this.#pages('listAuditRecords', { query }, options)) yield* page.records;
  }

  // ---- Compatible endpoints ----

  createAgentAuthProfile(body: RequestBody<'createAgentAuthProfile'>, options?: CallOptions) {
    return this.request('createAgentAuthProfile', { body }, options);
  }
  upsertAgentAuthProfile(body: RequestBody<'upsertAgentAuthProfile'>, options?: CallOptions) {
    return this.request('upsertAgentAuthProfile', { body }, options);
  }
  runAgent(body: RequestBody<'runAgent'>, options?: CallOptions) {
    return this.request('runAgent', { body }, options);
  }
  runAgentAlias(body: RequestBody<'runAgentAlias'>, options?: CallOptions) {
    return this.request('runAgentAlias', { body }, options);
  }

  // ---- Agents ----

  listAgents(query?: QueryParams<'listAgents'>, options?: CallOptions) {
    return this.request('listAgents', { query }, options);
  }
  createAgent(body: RequestBody<'createAgent'>, options?: CallOptions) {
    return this.request('createAgent', { body }, options);
  }
  getAgent(agentId: string, options?: CallOptions) {
    return this.request('getAgent', { path: { agent_id: agentId } }, options);
  }
  updateAgent(agentId: string, body: RequestBody<'updateAgent'>, options?: CallOptions) {
    return this.request('updateAgent', { path: { agent_id: agentId }, body }, options);
  }
  deleteAgent(agentId: string, query?: QueryParams<'deleteAgent'>, options?: CallOptions) {
    return this.request('deleteAgent', { path: { agent_id: agentId }, query }, options);
  }
  rotateAgentSigningSecret(agentId: string, options?: CallOptions) {
    return this.request('rotateAgentSigningSecret', { path: { agent_id: agentId } }, options);
  }

  // ---- API keys (admin) ----

  listApiKeys(query?: QueryParams<'listApiKeys'>, options?: CallOptions) {
    return this.request('listApiKeys', { query }, options);
  }
  createApiKey(body: RequestBody<'createApiKey'>, options?: CallOptions) {
    return this.request('createApiKey', { body }, options);
  }
  revokeApiKey(keyId: string, options?: CallOptions) {
    return this.request('revokeApiKey', { path: { key_id: keyId } }, options);
  }

  // ---- Auth profiles ----

  listAgentAuthProfiles(agentId: string, query?: QueryParams<'listAgentAuthProfiles'>, options?: CallOptions) {
    return this.request('listAgentAuthProfiles', { path: { agent_id: agentId }, query }, options);
  }
  createAuthProfile(agentId: string, body: RequestBody<'createAuthProfile'>, options?: CallOptions) {
    return this.request('createAuthProfile', { path: { agent_id: agentId }, body }, options);
  }
  getAgentAuthProfile(agentId: string, name: string, options?: CallOptions) {
    return this.request('getAgentAuthProfile', { path: { agent_id: agentId, name } }, options);
  }
  putAuthProfile(agentId: string, name: string, body: RequestBody<'putAuthProfile'>, options?: CallOptions) {
    return this.request('putAuthProfile', { path: { agent_id: agentId, name }, body }, options);
  }
  deleteAgentAuthProfile(agentId: string, name: string, query?: QueryParams<'deleteAgentAuthProfile'>, options?: CallOptions) {
    return this.request('deleteAgentAuthProfile', { path: { agent_id: agentId, name }, query }, options);
  }
  patchAuthProfile(agentId: string, name: string, body: RequestBody<'patchAuthProfile'>, options?: CallOptions) {
    return this.request('patchAuthProfile', { path: { agent_id: agentId, name }, body }, options);
  }
  testAuthProfile(agentId: string, name: string, body: RequestBody<'testAuthProfile'>, options?: CallOptions) {
    return this.request('testAuthProfile', { path: { agent_id: agentId, name }, body }, options);
  }
  rotateAuthProfile(agentId: string, name: string, body: RequestBody<'rotateAuthProfile'>, options?: CallOptions) {
    return this.request('rotateAuthProfile', { path: { agent_id: agentId, name }, body }, options);
  }
  getAuthProfileUsage(agentId: string, name: string, options?: CallOptions) {
    return this.request('getAuthProfileUsage', { path: { agent_id: agentId, name } }, options);
  }
  shareAuthProfile(agentId: string, name: string, body: RequestBody<'shareAuthProfile'>, options?: CallOptions) {
    return this.request('shareAuthProfile', { path: { agent_id: agentId, name }, body }, options);
  }
  unshareAuthProfile(agentId: string, name: string, principal: string, options?: CallOptions) {
    return this.request('unshareAuthProfile', { path: { agent_id: agentId, name, principal } }, options);
  }
  /** POST /v1/proxy with an API key (the body names the profile by `agent_id` and `auth_token`); a runner uses its grant instead (runner.ts). */
  proxyRequest(body: RequestBody<'proxyRequest'>, options?: CallOptions) {
    return this.request('proxyRequest', { body }, options);
  }

  // ---- Runs, audit, meta ----

  getRun(sessionId: string, options?: CallOptions) {
    return this.request('getRun', { path: { session_id: sessionId } }, options);
  }
  listAuditRecords(query?: QueryParams<'listAuditRecords'>, options?: CallOptions) {
    return this.request('listAuditRecords', { query }, options);
  }
  getOpenApiDocument(options?: CallOptions) {
    return this.request('getOpenApiDocument', {}, options);
  }
  getHealth(options?: CallOptions) {
    return this.request('getHealth', {}, options);
  }
}
