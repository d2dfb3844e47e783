import { session } from './session.ts';

/** An error answer of the vault: its status and `{"error":{"code","message"}}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Called when the vault answers 401 (key revoked or wrong): the app signs out. */
let onUnauthorized: (message: string) => void = () => {};
export const setUnauthorizedHandler = (fn: (message: string) => void) => {
  onUnauthorized = fn;
};

/** Builds a path with every `${…}` value percent-encoded as one path segment. */
export function path(strings: TemplateStringsArray, ...values: string[]): string {
  return strings.reduce((out, s, i) => out + s + (i < values.length ? encodeURIComponent(values[i] as string) : ''), '');
}

/**
 * One call to the vault's API on the same origin (no CORS), authenticated with the session's API
 * key in the Authorization header. Resolves with the JSON body (undefined for 204), rejects with
 * an ApiError carrying the vault's own code and message.
 */
export async function api<T>(method: string, url: string, body?: unknown, apiKey = session.apiKey()): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (apiKey) headers.authorization = `Bearer ${apiKey}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'omit', cache: 'no-store', referrerPolicy: 'no-referrer' });
  } catch {
    throw new ApiError(0, 'network_error', 'The vault did not answer: is it running?');
  }
  const text = await res.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const code = typeof json?.error?.code === 'string' ? json.error.code : 'http_error';
    const message = typeof json?.error?.message === 'string' ? json.error.message : `The vault answered ${res.status}`;
    const err = new ApiError(res.status, code, message);
    if (res.status === 401 && apiKey === session.apiKey()) onUnauthorized(message);
    throw err;
  }
  return json as T;
}
