import * as z from '../../schemas/zod.ts';
import { ValidationError } from '../../errors.ts';
import { type AuthTypeModule, type OutboundRequest, injectHeaders, injected } from './types.ts';

/** api_key: `auth_config {api_key_method}` (shared/schemas/auth-config.ts); auth_data holds one or more name → value pairs. */
export { ApiKeyConfig, ApiKeyMethod } from '../../schemas/auth-config.ts';
import { ApiKeyConfig } from '../../schemas/auth-config.ts';
type ApiKeyConfigValue = z.infer<typeof ApiKeyConfig>;

/** RFC 9110 token characters: what a header name may be made of. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/;
/** Query parameter / body field names: printable, nothing that would change the structure. */
const PARAM_NAME = /^[A-Za-z0-9_.\-[\]:]{1,64}$/;
/** What HTTP/1.1 can carry in a header value: tab, visible ASCII, Latin-1. */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/** Headers the HTTP client owns; a profile cannot set them. */
const RESERVED_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'te', 'trailer', 'upgrade', 'expect', 'proxy-connection']);

/** The secret's schema depends on the method: which names are valid differs. */
function schemaFor(config: ApiKeyConfigValue) {
  const nameOk = (n: string) =>
    config.api_key_method === 'header' ? HEADER_NAME.test(n) && !RESERVED_HEADERS.has(n.toLowerCase()) : PARAM_NAME.test(n);
  const hint =
    config.api_key_method === 'header'
      ? "header names are 1-64 token characters (letters, digits, -_.!#$%&'*+^`|~) and not one the HTTP client sets (host, content-length, connection, …)"
      : `${config.api_key_method} names are 1-64 characters: letters, digits, "_", ".", "-", ":", "[", "]"`;
  return z.record(z.string(), z.string()).check(
    z.refine((r) => Object.keys(r).length > 0, 'must hold at least one key/value pair (name → secret value) for auth_type api_key'),
    z.superRefine((r, ctx) => {
      const bad = Object.keys(r).filter((n) => !nameOk(n));
      if (bad.length > 0) ctx.addIssue({ code: 'custom', message: `invalid key name${bad.length > 1 ? 's' : ''} ${bad.map((b) => JSON.stringify(b)).join(', ')}: ${hint}` });
      if (config.api_key_method === 'header') {
        const unsendable = Object.entries(r).filter(([, v]) => !HEADER_VALUE.test(v)).map(([k]) => JSON.stringify(k));
        if (unsendable.length > 0) {
          ctx.addIssue({ code: 'custom', message: `value${unsendable.length > 1 ? 's' : ''} of ${unsendable.join(', ')} cannot be sent in a header: no control characters (CR, LF, NUL, …) and no characters above U+00FF` });
        }
        const lower = Object.keys(r).map((n) => n.toLowerCase());
        if (new Set(lower).size !== lower.length) ctx.addIssue({ code: 'custom', message: 'header names must differ in more than letter case' });
      }
    }),
  );
}

const notInjectable = () =>
  new ValidationError(
    'this profile (auth_type api_key, api_key_method body) injects its keys as body fields: send body as a JSON object, or as a string with content-type application/x-www-form-urlencoded',
    'body_not_injectable',
  );

/** Sets the pairs as fields of a JSON object body or a form body (a new body; the caller's copies lose). */
function injectBody(request: OutboundRequest, pairs: Readonly<Record<string, string>>): OutboundRequest {
  const contentType = (request.headers['content-type'] ?? '').toLowerCase();
  if (contentType.startsWith('application/x-www-form-urlencoded')) {
    const form = new URLSearchParams(request.body ?? '');
    for (const [k, v] of Object.entries(pairs)) form.set(k, v);
    return { ...request, body: form.toString() };
  }
  if (request.body === undefined || request.body === '') {
    return { ...request, headers: { ...request.headers, 'content-type': 'application/json' }, body: JSON.stringify(pairs) };
  }
  if (contentType !== '' && !/^application\/([\w.+-]+\+)?json\b/.test(contentType)) throw notInjectable();
  let parsed: unknown;
  try {
    parsed = JSON.parse(request.body);
  } catch {
    throw notInjectable();
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw notInjectable();
  const out: Record<string, unknown> = {};
  // defineProperty: a "__proto__" field stays a plain field, never a prototype.
  const put = (k: string, v: unknown) => Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) put(k, v);
  for (const [k, v] of Object.entries(pairs)) put(k, v);
  return { ...request, headers: { ...request.headers, 'content-type': contentType || 'application/json' }, body: JSON.stringify(out) };
}

export const apiKey: AuthTypeModule<ApiKeyConfigValue> = {
  name: 'api_key',
  config: ApiKeyConfig,
  schemaFor,
  injection: 'direct',
  runParameters: (secret) => ({ ...secret }),
  inject(request, secret, config) {
    switch (config.api_key_method) {
      case 'header':
        return injected(injectHeaders(request, secret));
      case 'query': {
        const url = new URL(request.url);
        for (const [k, v] of Object.entries(secret)) url.searchParams.set(k, v); // set: the caller's copies go
        return injected({ ...injectHeaders(request, {}), url });
      }
      case 'body':
        return injected(injectBody(injectHeaders(request, {}), secret));
    }
  },
  // The values; their URL/JSON/base64 encodings are the redactor's job.
  secretValues: (secret) => Object.values(secret),
};
