import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { BlockedRunnerError, resolveRunnerAddress } from './address-policy.ts';
import type { Redactor } from './redact.ts';
import { SIGNATURE_HEADER, signPayload } from './signature.ts';
import { MAX_JSON_DEPTH, jsonDepth } from '../http/middleware.ts';

export const MAX_RUNNER_RESPONSE_BYTES = 1024 * 1024;
export const DEFAULT_RUNNER_TIMEOUT_MS = 30_000;

export interface RunnerCall {
  readonly url: string;
  readonly signingSecret: string;
  /** The JSON body to send; it is signed exactly as serialised. */
  readonly payload: unknown;
  readonly timeoutMs: number;
  readonly allowPrivate: boolean;
  readonly nowSeconds: number;
  /**
   * The run's leak guard: applied to the raw response text before it is parsed and to the
   * parsed `output` and `error`. The `session` is taken from the unredacted text: it is sealed
   * under the profile's keys, never shown, and may legitimately hold credentials (cookies).
   */
  readonly redactor?: Redactor;
}

/** What the runner answered, or why the call failed (a message safe to store and return). */
export type RunnerResult =
  | { readonly ok: true; readonly output?: unknown; readonly session?: unknown; readonly error?: string }
  | { readonly ok: false; readonly error: string };

/**
 * POSTs the signed payload to a webhook runner. The host is resolved and checked once and the
 * connection goes to that very address (no DNS rebinding); redirects are not followed; the
 * answer must be a 2xx JSON object of at most 1 MiB within the timeout.
 */
export async function callWebhookRunner(call: RunnerCall): Promise<RunnerResult> {
  let url: URL;
  try {
    url = new URL(call.url);
  } catch {
    return { ok: false, error: 'runner url is invalid' };
  }
  let pinned: { address: string; family: 4 | 6 };
  try {
    pinned = await resolveRunnerAddress(url.hostname, call.allowPrivate);
  } catch (err) {
    return { ok: false, error: err instanceof BlockedRunnerError ? err.message : `runner host ${url.hostname} could not be resolved` };
  }
  const body = JSON.stringify(call.payload);
  const lookup: LookupFunction = (_host, options, cb) => {
    if ((options as { all?: boolean }).all) {
      (cb as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [pinned]);
    } else {
      cb(null, pinned.address, pinned.family);
    }
  };
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<RunnerResult>((resolve) => {
    let settled = false;
    const finish = (r: RunnerResult) => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        resolve(r);
      }
    };
    const req = send(
      url,
      {
        method: 'POST',
        lookup,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          'user-agent': 'agent-vault',
          [SIGNATURE_HEADER]: signPayload(call.signingSecret, body, call.nowSeconds),
        },
      },
      (res) => {
        const status = res.statusCode ?? 0;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_RUNNER_RESPONSE_BYTES) {
            finish({ ok: false, error: `runner response exceeded ${MAX_RUNNER_RESPONSE_BYTES} bytes (1 MiB)` });
            req.destroy();
            return;
          }
          chunks.push(c);
        });
        res.on('error', () => finish({ ok: false, error: 'runner connection failed while reading the response' }));
        res.on('end', () => {
          if (status < 200 || status > 299) {
            const redirect = status >= 300 && status < 400 ? ' (redirects are not followed)' : '';
            finish({ ok: false, error: `runner answered HTTP ${status}${redirect}` });
            return;
          }
          const text = Buffer.concat(chunks).toString('utf8');
          if (jsonDepth(text) > MAX_JSON_DEPTH * 2) {
            finish({ ok: false, error: `runner answered with JSON nested more than ${MAX_JSON_DEPTH * 2} levels deep` });
            return;
          }
          let parsed: unknown;
          try {
            parsed = JSON.parse(text);
          } catch {
            finish({ ok: false, error: 'runner answered with a body that is not JSON' });
            return;
          }
          if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
            finish({ ok: false, error: 'runner answered with JSON that is not an object {output?, session?, error?}' });
            return;
          }
          const r = parsed as { output?: unknown; session?: unknown; error?: unknown };
          if (r.error !== undefined && r.error !== null && typeof r.error !== 'string') {
            finish({ ok: false, error: 'runner answered with a non-string "error"' });
            return;
          }
          const shown = redactResponse(call.redactor, text, r);
          finish({ ok: true, output: shown.output, session: r.session, error: (shown.error as string | null) ?? undefined });
        });
      },
    );
    const timer = setTimeout(() => {
      finish({ ok: false, error: `runner did not answer within ${call.timeoutMs} ms` });
      req.destroy();
    }, call.timeoutMs);
    req.on('error', () => finish({ ok: false, error: 'runner could not be reached' }));
    req.end(body);
  });
}

/**
 * The `output` and `error` of a runner response with every credential form redacted. The raw
 * text is redacted first (a long digit string is caught before JSON.parse rounds it, an escaped
 * form before it is unescaped), then the parsed values (forms that only appear after unescaping).
 * If redacting the text broke its JSON (a match cut through an escape sequence), the parsed
 * values are redacted alone; they also match numbers that lost precision.
 */
function redactResponse(redactor: Redactor | undefined, text: string, raw: { output?: unknown; error?: unknown }) {
  if (!redactor || redactor.empty) return raw;
  const cleanedText = redactor.json(text);
  let cleaned = raw;
  if (cleanedText !== text) {
    try {
      cleaned = JSON.parse(cleanedText) as typeof raw;
    } catch {
      cleaned = raw;
    }
  }
  return { output: redactor.value(cleaned.output), error: typeof cleaned.error === 'string' ? redactor.text(cleaned.error) : cleaned.error };
}
