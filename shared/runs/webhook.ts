import type { HostResolver } from '../outbound/address-policy.ts';
import { sendOutbound } from '../outbound/http-client.ts';
import { lazy } from '../outbound/lazy.ts';
import type { Redactor } from '../outbound/redact.ts';
import { SIGNATURE_HEADER, signPayload } from './signature.ts';
import { MAX_JSON_DEPTH, jsonDepth } from '../schemas/json-depth.ts';

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
   * A function is called once the request is on the wire, so the redactor's construction
   * overlaps the runner's work; it is not called if no answer comes.
   */
  readonly redactor?: Redactor | (() => Redactor);
  /** The DNS resolver (tests inject a slow one); the system resolver by default. */
  readonly resolveHost?: HostResolver;
  /** Who may share a kept-alive connection to the runner (shared/outbound/http-client.ts): the agent's tenant and id. */
  readonly connectionScope?: string;
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
  const body = JSON.stringify(call.payload);
  const given = call.redactor;
  const redactor = typeof given === 'function' ? lazy(given) : undefined;
  const res = await sendOutbound({
    url,
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      'user-agent': 'agent-vault',
      [SIGNATURE_HEADER]: signPayload(call.signingSecret, body, call.nowSeconds),
    },
    body,
    timeoutMs: call.timeoutMs,
    maxResponseBytes: MAX_RUNNER_RESPONSE_BYTES,
    allowPrivate: call.allowPrivate,
    resolveHost: call.resolveHost,
    connectionScope: call.connectionScope,
    onSent: redactor?.prepare,
  });
  if (!res.ok) {
    switch (res.reason) {
      case 'blocked':
        return { ok: false, error: res.message };
      case 'unresolvable':
        return { ok: false, error: `runner host ${url.hostname} could not be resolved` };
      case 'too_large':
        return { ok: false, error: `runner response exceeded ${MAX_RUNNER_RESPONSE_BYTES} bytes (1 MiB)` };
      case 'read_failed':
        return { ok: false, error: 'runner connection failed while reading the response' };
      case 'timeout':
        return { ok: false, error: `runner did not answer within ${call.timeoutMs} ms` };
      case 'dns_timeout':
        return { ok: false, error: `runner did not answer within ${call.timeoutMs} ms (resolving its host ${url.hostname} took too long)` };
      case 'unreachable':
        return { ok: false, error: `runner could not be reached${res.message ? `: ${res.message}` : ''}` };
    }
  }
  const status = res.status;
  if (status < 200 || status > 299) {
    const redirect = status >= 300 && status < 400 ? ' (redirects are not followed)' : '';
    // 401/403 from a runner that verifies signatures almost always means it holds an old secret.
    const hint =
      status === 401 || status === 403
        ? ": was the signing secret rotated? The runner must verify with the agent's current runner_signing_secret"
        : '';
    return { ok: false, error: `runner answered HTTP ${status}${redirect}${hint}` };
  }
  const text = res.body.toString('utf8');
  if (jsonDepth(text) > MAX_JSON_DEPTH * 2) {
    return { ok: false, error: `runner answered with JSON nested more than ${MAX_JSON_DEPTH * 2} levels deep` };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { ok: false, error: 'runner answered with a body that is not JSON' };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { ok: false, error: 'runner answered with JSON that is not an object {output?, session?, error?}' };
  }
  const r = parsed as { output?: unknown; session?: unknown; error?: unknown };
  if (r.error !== undefined && r.error !== null && typeof r.error !== 'string') {
    return { ok: false, error: 'runner answered with a non-string "error"' };
  }
  const shown = redactResponse(redactor ? redactor.get() : (given as Redactor | undefined), text, r);
  return { ok: true, output: shown.output, session: r.session, error: (shown.error as string | null) ?? undefined };
}

/**
 * The `output` and `error` of a runner response with every credential form redacted. The raw
 * text is redacted first (a long digit string is caught before JSON.parse rounds it, an escaped
 * form before it is unescaped), then the parsed values (forms that only appear after unescaping).
 * If redacting the text broke its JSON (a match cut through an escape sequence), the parsed
 * values are redacted alone; they also match numbers that lost precision. The second pass is
 * skipped when the first is settled (Redactor.jsonSettled: no escape sequence and no numeric
 * value, so every parsed string is a redacted token's text, and none would change again); the
 * strings it changed are then replaced in the parsed answer rather than the text parsed again.
 */
function redactResponse(redactor: Redactor | undefined, text: string, raw: { output?: unknown; error?: unknown }) {
  // An answer that holds no form of any value (most do) is not walked token by token.
  if (!redactor || redactor.empty || redactor.clean(text)) return raw;
  const { text: cleanedText, settled, changed } = redactor.jsonSettled(text);
  if (settled) {
    // The changed strings replaced in the parsed answer: what parsing the redacted text gives.
    const replaced = redactor.replaceChanged(raw, changed);
    if (replaced) return { output: replaced.output, error: replaced.error };
  }
  let cleaned = raw;
  let again = !settled;
  if (cleanedText !== text) {
    try {
      cleaned = JSON.parse(cleanedText) as typeof raw;
    } catch {
      cleaned = raw;
      again = true;
    }
  }
  if (!again) return { output: cleaned.output, error: cleaned.error };
  return {
    output: redactor.value(cleaned.output),
    error: typeof cleaned.error === 'string' ? redactor.text(cleaned.error) : cleaned.error,
  };
}
