/**
 * For runners: the webhook-signature verifier and a handler helper (verify → handle → answer).
 *
 * The vault calls a webhook runner with `POST url`, the JSON run payload and
 *   X-Agent-Vault-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(runner_signing_secret, t + "." + raw body)>
 * (shared/runs/signature.ts and shared/runs/webhook.ts; docs/api.md, "Runners"). The runner answers
 * `{output?, session?, error?}`, 2xx JSON, within the agent's `timeout_ms`. An agent with
 * `credential_delivery: "proxy"` gets no credential, only a run grant (`grant`, `proxy_url`) to
 * call `POST /v1/proxy` with while the run runs (docs/api.md, "Run grants").
 *
 * Web Crypto only (no `node:` import at run time), so this works in Node ≥ 20, Deno, Bun and
 * edge runtimes alike.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type CallOptions, VaultClient } from './client.ts';
import { VaultConnectionError, VaultError } from './errors.ts';
import type { RequestBody, ResponseBody } from './types.ts';

export const SIGNATURE_HEADER = 'x-agent-vault-signature';
/** How far a signature's timestamp may be from now (the vault's own verifier uses the same). */
export const DEFAULT_TOLERANCE_SECONDS = 300;
/** The largest run payload the handler reads (the vault's request bodies are at most 256 KiB; a saved session adds to it). */
export const MAX_PAYLOAD_BYTES = 4 * 1024 * 1024;

/** A run grant's proxy request: the request only (`method`, `url`, `headers?`, `query?`, `body?`). */
export type GrantProxyRequest = Exclude<RequestBody<'proxyRequest'>, { auth_token: unknown }>;
export type ProxyResponse = ResponseBody<'proxyRequest'>;

const encoder = new TextEncoder();

function bytesOf(body: string | Uint8Array): Uint8Array {
  return typeof body === 'string' ? encoder.encode(body) : body;
}

async function hmac(secret: string, unixSeconds: number, body: Uint8Array): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const prefix = encoder.encode(`${unixSeconds}.`);
  const data = new Uint8Array(prefix.length + body.length);
  data.set(prefix, 0);
  data.set(body, prefix.length);
  return new Uint8Array(await crypto.subtle.sign('HMAC', key, data));
}

const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Compares two 32-byte MACs in constant time: every byte is visited whatever differs. */
function equalMacs(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

/** The header value the vault would send for `rawBody` at `unixSeconds` (for a runner's own tests). */
export async function signWebhook(
  secret: string,
  rawBody: string | Uint8Array,
  unixSeconds = Math.floor(Date.now() / 1000),
): Promise<string> {
  return `t=${unixSeconds},v1=${toHex(await hmac(secret, unixSeconds, bytesOf(rawBody)))}`;
}

export interface VerifyOptions {
  /** Default 300 s: a timestamp further from now (past or future) is refused (replay). */
  readonly toleranceSeconds?: number;
  /** Now, in unix seconds (tests). */
  readonly nowSeconds?: number;
}

/**
 * Whether `header` is a valid signature of `rawBody` — the exact bytes received, before any JSON
 * parsing — by one of `secrets` (pass the old and the new secret while rotating the agent's
 * signing secret) within the timestamp tolerance. Malformed headers are simply invalid.
 */
export async function verifyWebhookSignature(
  secrets: string | readonly string[],
  rawBody: string | Uint8Array,
  header: string | null | undefined,
  options: VerifyOptions = {},
): Promise<boolean> {
  if (!header) return false;
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  let t: number | undefined;
  const candidates: Uint8Array[] = [];
  for (const part of header.split(',')) {
    const [k, v] = part.trim().split('=', 2);
    if (k === 't' && v && /^\d{1,12}$/.test(v)) t = Number(v);
    if (k === 'v1' && v && /^[0-9a-f]{64}$/.test(v)) candidates.push(fromHex(v));
  }
  if (t === undefined || candidates.length === 0 || Math.abs(now - t) > tolerance) return false;
  const body = bytesOf(rawBody);
  let ok = false;
  for (const secret of typeof secrets === 'string' ? [secrets] : secrets) {
    if (!secret) continue;
    const expected = await hmac(secret, t, body);
    for (const c of candidates) ok = equalMacs(c, expected) || ok;
  }
  return ok;
}

/** The JSON the vault POSTs to a webhook runner (docs/api.md, "Runners" and "Run grants"). */
export interface RunPayload {
  readonly session_id: string;
  readonly agent_id: string;
  /** The caller's parameters, merged with the profile's values unless the agent's delivery is "proxy". */
  readonly parameters: Record<string, unknown>;
  /** The session the runner saved last time (`should_save_session`), or null. */
  readonly session: unknown;
  /** credential_delivery "proxy": the run grant (avg_…), its deadline and the vault's POST /v1/proxy. */
  readonly grant?: string;
  readonly grant_expires_at?: string;
  readonly proxy_url?: string;
}

/** What the runner answers: the run's output, the session to save, or why the run failed. */
export interface RunAnswer {
  readonly output?: unknown;
  readonly session?: unknown;
  readonly error?: string;
}

export interface RunContext {
  readonly run: RunPayload;
  /** Aborts at the grant's deadline (proxy delivery), after which the vault has given up on the run anyway. */
  readonly signal: AbortSignal;
  /**
   * Sends a request through the vault with the run grant: the vault injects the profile's
   * credentials, the runner never holds them. Throws VaultError on a refusal (e.g. 403
   * host_not_allowed), or a plain Error when the run carries no grant (delivery "parameters").
   */
  proxy(request: GrantProxyRequest, options?: CallOptions): Promise<ProxyResponse>;
}

/** Throw it from a handler to fail the run with this message as its `error_message` (never put a secret in it). */
export class RunFailure extends Error {
  override readonly name = 'RunFailure';
}

export interface RunnerHandlerOptions {
  /** The agent's runner_signing_secret (avs_…); during a rotation, both the old and the new. */
  readonly signingSecret: string | readonly string[];
  readonly handle: (ctx: RunContext) => RunAnswer | Promise<RunAnswer>;
  readonly toleranceSeconds?: number;
  /** For the grant's proxy calls (default: the global fetch). */
  readonly fetch?: typeof fetch;
  /** Told about an exception the handler threw (the vault only hears "runner handler failed"). */
  readonly onError?: (error: unknown) => void;
}

export interface RunnerCall {
  readonly method: string;
  readonly signature: string | null | undefined;
  readonly rawBody: string;
}

export interface RunnerReply {
  readonly status: number;
  readonly body: RunAnswer | { readonly error: string };
}

/**
 * Verify → handle → answer, for any server: 401 for a missing or invalid signature (the handler
 * is not called), 400 for a payload that is not a run, 200 with the handler's answer. A thrown
 * RunFailure, or an unhandled refusal of the proxy, fails the run with a message (200
 * `{error}`); any other exception answers 500 `runner handler failed`, which carries nothing of
 * the exception (it could hold a value).
 */
export async function answerRunnerCall(options: RunnerHandlerOptions, call: RunnerCall): Promise<RunnerReply> {
  if (call.method.toUpperCase() !== 'POST') return { status: 405, body: { error: 'the vault calls runners with POST' } };
  if (
    !(await verifyWebhookSignature(options.signingSecret, call.rawBody, call.signature, { toleranceSeconds: options.toleranceSeconds }))
  ) {
    return { status: 401, body: { error: 'invalid or missing X-Agent-Vault-Signature' } };
  }
  let run: RunPayload;
  try {
    run = JSON.parse(call.rawBody) as RunPayload;
  } catch {
    return { status: 400, body: { error: 'the run payload is not JSON' } };
  }
  if (typeof run !== 'object' || run === null || typeof run.session_id !== 'string' || typeof run.agent_id !== 'string') {
    return { status: 400, body: { error: 'the run payload has no session_id and agent_id' } };
  }
  const deadline = run.grant_expires_at ? Date.parse(run.grant_expires_at) - Date.now() : Number.NaN;
  const controller = new AbortController();
  const timer = Number.isFinite(deadline)
    ? setTimeout(() => controller.abort(new Error('the run grant expired')), Math.max(0, deadline))
    : undefined;
  const ctx: RunContext = {
    run,
    signal: controller.signal,
    async proxy(request, callOptions = {}) {
      if (!run.grant || !run.proxy_url) {
        throw new Error('this run carries no grant: the agent delivers credentials in parameters (credential_delivery "parameters")');
      }
      const url = new URL(run.proxy_url);
      const client = new VaultClient({ baseUrl: url.origin, apiKey: run.grant, fetch: options.fetch });
      const signal = callOptions.signal ? AbortSignal.any([callOptions.signal, controller.signal]) : controller.signal;
      return (await client.send('proxyRequest', 'POST', url, request, { ...callOptions, signal })) as ProxyResponse;
    },
  };
  try {
    const answer = await options.handle(ctx);
    return {
      status: 200,
      body: { output: answer.output, session: answer.session, ...(answer.error !== undefined ? { error: answer.error } : {}) },
    };
  } catch (err) {
    if (err instanceof RunFailure) return { status: 200, body: { error: err.message } };
    if (err instanceof VaultError)
      return { status: 200, body: { error: `the vault refused the proxied call: ${err.code} (HTTP ${err.status})` } };
    if (err instanceof VaultConnectionError) return { status: 200, body: { error: `the vault proxy could not be reached (${err.kind})` } };
    options.onError?.(err);
    return { status: 500, body: { error: 'runner handler failed' } };
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/** A fetch-style handler (`(Request) => Promise<Response>`): Deno, Bun, Cloudflare Workers, Hono, Next.js route handlers. */
export function createRunnerHandler(options: RunnerHandlerOptions): (request: Request) => Promise<Response> {
  return async (request) => {
    const length = Number(request.headers.get('content-length') ?? 0);
    if (length > MAX_PAYLOAD_BYTES) return Response.json({ error: 'payload too large' }, { status: 413 });
    const rawBody = await request.text();
    if (encoder.encode(rawBody).length > MAX_PAYLOAD_BYTES) return Response.json({ error: 'payload too large' }, { status: 413 });
    const reply = await answerRunnerCall(options, { method: request.method, signature: request.headers.get(SIGNATURE_HEADER), rawBody });
    return Response.json(reply.body, { status: reply.status });
  };
}

/** A `node:http` request listener: `http.createServer(nodeRunnerListener({signingSecret, handle}))`. */
export function nodeRunnerListener(options: RunnerHandlerOptions): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const reply = (status: number, body: unknown) => {
      if (res.headersSent) return;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const chunks: Uint8Array[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Uint8Array) => {
      size += chunk.length;
      if (size > MAX_PAYLOAD_BYTES) {
        tooLarge = true;
        reply(413, { error: 'payload too large' });
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (tooLarge) return;
      const raw = new Uint8Array(size);
      let at = 0;
      for (const c of chunks) {
        raw.set(c, at);
        at += c.length;
      }
      const signature = req.headers[SIGNATURE_HEADER];
      answerRunnerCall(options, {
        method: req.method ?? 'GET',
        signature: Array.isArray(signature) ? signature[0] : signature,
        rawBody: new TextDecoder().decode(raw),
      }).then(
        (r) => reply(r.status, r.body),
        () => reply(500, { error: 'runner handler failed' }),
      );
    });
  };
}
