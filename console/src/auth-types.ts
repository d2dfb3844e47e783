import { connectionBadge } from './badges.ts';
import { type Child, h, time } from './dom.ts';
import type { Agent, Profile } from './types.ts';

/** One input of the New Profile form. */
export interface FieldSpec {
  readonly name: string;
  readonly label: string;
  /** Rendered as a password input, never echoed back or shown after submit. */
  readonly secret: boolean;
  readonly required: boolean;
  readonly hint?: string;
  readonly kind?: 'text' | 'textarea' | 'select';
  readonly options?: readonly string[];
  /** Hidden, and left out of the body, while the input named [0] has the value [1] (a client secret with client_auth `none`). */
  readonly unless?: readonly [string, string];
}

/**
 * An auth type of the New Profile form and of the profile page. The form lists the registered
 * types (a type picker appears once there is more than one); adding a type is one object here.
 */
export interface AuthType {
  readonly id: string;
  readonly label: string;
  readonly description: string;
  /** The form's inputs for this agent. */
  fields(agent: Agent): readonly FieldSpec[];
  /** Name/value rows with "+ Add another" (API Key: one row per key): the labels of the two inputs. */
  readonly pairs?: { readonly name: string; readonly value: string; readonly secret?: false; readonly placeholder?: string };
  /**
   * The body fields for POST /api/create_agent_auth_profile besides `name` and `agent_id`
   * (`auth_data`, and for typed profiles `auth_type`/`auth_config`). Blank inputs are not given;
   * `pairs` are the filled name/value rows.
   */
  body(values: Readonly<Record<string, string>>, agent: Agent, pairs: Readonly<Record<string, string>>): Record<string, unknown>;
  /** Extra, non-secret details the profile page shows for a profile of this type. */
  details?(profile: Profile): readonly (readonly [string, Child])[];
}

/**
 * `custom` (the default): one input per input argument the agent declares; the values
 * become `auth_data` as typed. Secret arguments get password inputs.
 */
const custom: AuthType = {
  id: 'custom',
  label: 'Custom (the agent\'s input arguments)',
  description: "Credentials as key/value pairs; keys are the agent's input arguments.",
  fields: (agent) =>
    agent.input_args.map((a) => ({
      name: a.name,
      label: a.name,
      secret: a.secret,
      required: false,
      hint: [a.description, a.required ? 'required at run time: give it here or as a run parameter' : undefined].filter(Boolean).join(' · ') || undefined,
    })),
  body: (values) => ({ auth_data: Object.fromEntries(Object.entries(values).filter(([, v]) => v !== '')) }),
};

const text = (name: string, label: string, hint?: string, required = true): FieldSpec => ({ name, label, secret: false, required, ...(hint ? { hint } : {}) });
const secret = (name: string, label: string, hint?: string): FieldSpec => ({ name, label, secret: true, required: true, ...(hint ? { hint } : {}) });
const select = (name: string, label: string, options: readonly string[], hint?: string): FieldSpec => ({ name, label, secret: false, required: true, kind: 'select', options, ...(hint ? { hint } : {}) });
/** Non-empty values of `keys` only. */
const pick = (values: Readonly<Record<string, string>>, keys: readonly string[]) => Object.fromEntries(keys.filter((k) => values[k]).map((k) => [k, values[k] as string]));

/** bearer: auth_data {token}, sent as `Authorization: Bearer <token>`. */
const bearer: AuthType = {
  id: 'bearer',
  label: 'Bearer Token',
  description: 'One token, sent as Authorization: Bearer <token>.',
  fields: () => [secret('token', 'Token')],
  body: (v) => ({ auth_type: 'bearer', auth_data: pick(v, ['token']) }),
};

/** basic: auth_data {username, password}. */
const basic: AuthType = {
  id: 'basic',
  label: 'Basic Auth',
  description: 'HTTP Basic authentication.',
  fields: () => [text('username', 'Username'), secret('password', 'Password')],
  body: (v) => ({ auth_type: 'basic', auth_data: pick(v, ['username', 'password']) }),
};

/** api_key: named keys (one or more), sent in headers, the query or the body (auth_config.api_key_method). */
const apiKey: AuthType = {
  id: 'api_key',
  label: 'API Key',
  description: 'Named API keys (e.g. X-Api-Key, and X-App-Id beside it), sent in headers, the query string or the body.',
  fields: () => [select('api_key_method', 'Sent in', ['header', 'query', 'body'])],
  pairs: { name: 'Key name', value: 'Key value' },
  body: (v, _agent, pairs) => ({ auth_type: 'api_key', auth_config: { api_key_method: v.api_key_method || 'header' }, auth_data: pairs }),
  details: (p) => [['Sent in', String(p.auth_config?.api_key_method ?? 'header')]],
};

/** oauth2_client_credentials: the client secret is sealed; token URL and scope are config, in clear. */
const oauth2: AuthType = {
  id: 'oauth2_client_credentials',
  label: 'OAuth 2.0 Client Credentials',
  description: 'The vault fetches and caches access tokens from the token URL.',
  fields: () => [
    text('token_url', 'Token URL', 'https://…'),
    text('scope', 'Scope', 'optional', false),
    select('client_auth', 'Client authentication', ['basic', 'post']),
    text('client_id', 'Client id'),
    secret('client_secret', 'Client secret'),
  ],
  body: (v) => ({
    auth_type: 'oauth2_client_credentials',
    auth_config: { token_url: v.token_url, ...(v.scope ? { scope: v.scope } : {}), client_auth: v.client_auth || 'basic' },
    auth_data: pick(v, ['client_id', 'client_secret']),
  }),
  details: (p) => [
    ['Token URL', String(p.auth_config?.token_url ?? '—')],
    ['Scope', p.auth_config?.scope === undefined ? undefined : String(p.auth_config.scope)],
  ],
};

const list = (v: unknown) => (Array.isArray(v) && v.length ? v.join(' ') : undefined);

/**
 * oauth2_authorization_code (delegated OAuth, docs/api.md "Delegated OAuth"): the end user connects
 * their account through a connect link; the client secret (none for a public client) is sealed,
 * the endpoints, scopes, extra authorize parameters and return URL are config, in clear.
 */
const authCode: AuthType = {
  id: 'oauth2_authorization_code',
  label: "OAuth 2.0 Authorization Code (connect a user's account)",
  description: "An end user connects their account at the provider through a connect link (shown after Create); the vault keeps the refresh token sealed and refreshes the access token.",
  fields: () => [
    text('authorize_url', 'Authorize URL', "The provider's authorization endpoint: https://…"),
    text('token_url', 'Token URL', 'https://…'),
    text('revocation_url', 'Revocation URL', 'Optional (RFC 7009): set, Disconnect and Delete revoke the grant at the provider.', false),
    text('scopes', 'Scopes', 'Optional: separated by spaces.', false),
    select('client_auth', 'Client authentication', ['basic', 'post', 'none'], 'none: a public client, PKCE only, no client secret.'),
    text('return_url', 'Return URL', 'Where the end user goes back to, with status=connected or status=error&error=…'),
    text('end_user_id', 'End user id', 'Optional: your opaque id of the user whose account this is (shown in lists).', false),
    text('client_id', 'Client id'),
    { ...secret('client_secret', 'Client secret'), unless: ['client_auth', 'none'] },
  ],
  pairs: { name: 'Authorize parameter', value: 'Value', secret: false, placeholder: 'access_type' },
  body: (v, _agent, pairs) => ({
    auth_type: 'oauth2_authorization_code',
    auth_config: {
      ...pick(v, ['authorize_url', 'token_url', 'revocation_url', 'return_url']),
      ...(v.scopes?.trim() ? { scopes: v.scopes.trim().split(/\s+/) } : {}),
      ...(Object.keys(pairs).length ? { authorize_params: pairs } : {}),
      client_auth: v.client_auth || 'basic',
    },
    auth_data: pick(v, v.client_auth === 'none' ? ['client_id'] : ['client_id', 'client_secret']),
    ...pick(v, ['end_user_id']),
  }),
  details: (p) => [
    ['Connection', h('span', { 'data-testid': 'connection-state' }, connectionBadge(p))],
    ['Connected', time(p.connected_at, 'never')],
    ['Scopes granted', p.scopes_granted?.join(' ') || '—'],
    ['Last refreshed', time(p.last_refreshed_at, 'never')],
    ['Last error', p.last_error ? h('span', { 'data-testid': 'last-error' }, p.last_error, ' ', time(p.last_error_at)) : undefined],
    ['End user', p.end_user_id ?? '—'],
    ['Authorize URL', String(p.auth_config?.authorize_url ?? '—')],
    ['Token URL', String(p.auth_config?.token_url ?? '—')],
    ['Revocation URL', String(p.auth_config?.revocation_url ?? 'none: the grant stays at the provider on Disconnect')],
    ['Scopes requested', list(p.auth_config?.scopes) ?? '—'],
    ['Authorize parameters', list(Object.entries((p.auth_config?.authorize_params ?? {}) as Record<string, string>).map(([k, x]) => `${k}=${x}`)) ?? '—'],
    ['Client authentication', String(p.auth_config?.client_auth ?? 'basic')],
    ['Return URL', String(p.auth_config?.return_url ?? '—')],
  ],
};

const registry: AuthType[] = [custom, bearer, basic, apiKey, oauth2, authCode];

/** Adds an auth type (e.g. `bearer` once the typed-profile API exists); the first one is the default. */
export function registerAuthType(type: AuthType): void {
  if (registry.some((t) => t.id === type.id)) throw new Error(`auth type ${type.id} is registered twice`);
  registry.push(type);
}

export const authTypes = (): readonly AuthType[] => registry;

/** The type of a stored profile (`custom` when the API does not say). */
export const authTypeOf = (p: Profile): AuthType | undefined => registry.find((t) => t.id === (p.auth_type ?? 'custom'));

/** A type's name for lists: "Bearer Token", "Custom" (the label without its explanation). */
export const authLabel = (id: string | undefined): string => (registry.find((t) => t.id === (id ?? 'custom'))?.label ?? id ?? 'custom').replace(/ \(.*\)$/, '');
