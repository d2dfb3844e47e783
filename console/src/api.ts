import { session } from './session.ts';

/** An error answer of the vault: its status and `{"error":{"code","message"}}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The error object's other fields (e.g. `usage` of a 409 profile_in_use). */
    readonly details: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
  }
}

/**
 * What the console says instead of the vault's message where that message tells an API caller
 * which request to send (PATCH, ?force=true, an upsert): the button that does it here.
 */
const ADVICE: Readonly<Record<string, string>> = {
  profile_inactive: 'This profile is inactive: every use is refused until it is switched on with Activate on its page.',
  proxy_not_configured: 'This profile has no allowed hosts, so its credentials can be sent nowhere: list them under Settings (Allowed hosts) on its page and Save settings.',
  agent_has_profiles: 'This agent still has auth profiles: delete them on their pages first.',
  reauthorization_required: "The end user's account is no longer connected: Reconnect on the profile page makes a new connect link for them.",
  token_expired: 'This auth token has expired: Rotate the profile with a new expiry (or No expiry) to get a working one.',
};
const SETTINGS_HINT: Readonly<Record<string, string>> = {
  host_not_allowed: 'Add the host under Settings (Allowed hosts) on the profile page if it should be allowed.',
  path_not_allowed: 'Add the path under Settings (Allowed path prefixes) on the profile page if it should be allowed.',
  method_not_allowed_by_profile: 'Tick the method under Settings (Allowed methods) on the profile page if it should be allowed.',
};

/** Whether `err` is the vault's 409 for a write that lost a race with another change. */
export const isRace = (err: unknown): boolean => err instanceof ApiError && err.status === 409 && err.code === 'conflict';

/** An error as the console shows it: advice in its own words where it has some, the vault's code kept. */
export function errorText(err: unknown): string {
  if (!(err instanceof ApiError)) return err instanceof Error ? err.message : String(err);
  if (isRace(err)) return `Changed by someone else since this page was loaded: reload it to see the current state, then try again. (${err.message})`;
  const text = ADVICE[err.code] ?? [err.message, SETTINGS_HINT[err.code]].filter(Boolean).join(' ');
  return err.status ? `${text} (${err.status} ${err.code})` : text;
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
    const { code: _c, message: _m, ...details } = typeof json?.error === 'object' && json.error ? json.error : {};
    const err = new ApiError(res.status, code, message, details);
    if (res.status === 401 && apiKey === session.apiKey()) onUnauthorized(message);
    throw err;
  }
  return json as T;
}
