import type { Child } from './dom.ts';
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
  readonly pairs?: { readonly name: string; readonly value: string };
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

const registry: AuthType[] = [custom, bearer, basic, apiKey, oauth2];

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
