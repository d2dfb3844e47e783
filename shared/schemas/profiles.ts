import { AgentId, ApiKeyField, AuthData, ProfileName, Timestamp, refuseFormatCharacters, withFieldsElsewhere } from './common.ts';
import { AllowedHosts, AllowedMethods, AllowedPathPrefixes, OutboundPolicyFields } from './policy.ts';
import { AuthType } from './policy.ts';
import { ExpiresInHours, ProfileLifecycleMetadata } from './lifecycle.ts';
import * as z from './zod.ts';
import { describe } from './zod.ts';

export const AuthToken = describe(z.string(), 'avt_… token returned by create/replace; never stored by the vault');

/** oauth2_authorization_code: the platform's opaque id of the end user whose account the profile connects. */
export const EndUserId = describe(
  z.string().check(z.minLength(1), z.maxLength(256), z.superRefine(refuseFormatCharacters)),
  "oauth2_authorization_code only: the platform's opaque id of the end user whose account this profile connects (stored in clear, shown in metadata and lists)",
);

export const ConnectionState = describe(
  z.enum(['pending', 'connected', 'needs_reauth', 'disconnected']),
  'oauth2_authorization_code: pending (created, never connected), connected, needs_reauth (the provider refused the refresh token: open a new connect link), disconnected',
);

export const AuthConfig = describe(
  z.record(z.string(), z.unknown()),
  'Non-secret settings of a typed profile, stored in clear. bearer, basic, custom: none. ' +
    'api_key: {api_key_method: header|query|body}. oauth2_client_credentials: {token_url, scope?, client_auth?: basic (default)|post}. ' +
    'oauth2_authorization_code: {authorize_url, token_url, revocation_url?, scopes?, authorize_params?, client_auth?: basic|post|none, return_url, issuer?}. ' +
    'Checked against auth_type (shared/credentials/types/*.ts): an unknown field is a 400 unknown_field.',
);

/**
 * The typed-profile fields every create/upsert body accepts (all optional: without them a
 * profile is `custom`, today's behaviour). Secret values always go in auth_data:
 * bearer {token}; basic {username, password}; api_key {<name>: <value>, …};
 * oauth2_client_credentials {client_id, client_secret}.
 */
const TypedFields = {
  auth_type: describe(z.optional(AuthType), "Kind of profile; default custom (auth_data keys are the agent's input arguments)"),
  auth_config: z.optional(AuthConfig),
  ...OutboundPolicyFields,
  end_user_id: z.optional(EndUserId),
};

/** Settings a create or upsert does not take: PATCH sets them (shared/schemas/lifecycle.ts PatchProfileBody). */
const SET_BY_PATCH = 'set it with PATCH /v1/agents/{agent_id}/auth-profiles/{name} once the profile exists';
const PATCH_ONLY = { allowed_source_ips: SET_BY_PATCH, active: SET_BY_PATCH, description: SET_BY_PATCH };

export const CreateProfileBody = withFieldsElsewhere(
  z.strictObject({
    name: ProfileName,
    agent_id: AgentId,
    api_key: ApiKeyField,
    auth_data: AuthData,
    ...TypedFields,
    expires_in_hours: z.optional(ExpiresInHours),
  }),
  PATCH_ONLY,
);

export const UpsertProfileBody = withFieldsElsewhere(
  z.strictObject({
    agent_id: AgentId,
    api_key: ApiKeyField,
    auth_data: AuthData,
    ...TypedFields,
    name: describe(z.optional(ProfileName), 'Required without auth_token'),
    should_save_session: describe(z.optional(z.boolean()), 'Store the session the runner returns, encrypted'),
    auth_token: describe(z.optional(AuthToken), 'Given: update this profile in place, the token stays valid'),
    expires_in_hours: describe(
      z.optional(ExpiresInHours),
      'Expiry of the token returned (create/replace) or kept (update); omit for no expiry',
    ),
  }),
  PATCH_ONLY,
);

/**
 * Present only when the profile lacks an input argument the agent requires. Not an error: the
 * caller may pass it in `parameters` at run time (the compatible API allows that), but a run
 * without it is refused, so the creator hears about it now.
 */
export const ProfileWarnings = describe(
  z.optional(z.array(z.string())),
  'Present when the profile lacks a required input argument of the agent: pass it in parameters at run time, or add it to the profile',
);

export const CreateProfileResponse = z.object({ auth_token: AuthToken, warnings: ProfileWarnings });

/** POST /v1/agents/{agent_id}/auth-profiles. */
export const NativeCreateProfileBody = withFieldsElsewhere(
  z.strictObject({
    api_key: ApiKeyField,
    name: ProfileName,
    auth_data: AuthData,
    should_save_session: z.optional(z.boolean()),
    ...TypedFields,
    expires_in_hours: z.optional(ExpiresInHours),
  }),
  PATCH_ONLY,
);

/** PUT /v1/agents/{agent_id}/auth-profiles/{name}: the upsert, by the name in the path. */
export const NativePutProfileBody = withFieldsElsewhere(
  z.strictObject({
    api_key: ApiKeyField,
    auth_data: AuthData,
    should_save_session: z.optional(z.boolean()),
    auth_token: describe(
      z.optional(AuthToken),
      'Given: update this profile in place, the token stays valid; omitted: create or replace (new token)',
    ),
    ...TypedFields,
    expires_in_hours: describe(
      z.optional(ExpiresInHours),
      'Expiry of the token returned (create/replace) or kept (update); omit for no expiry',
    ),
  }),
  PATCH_ONLY,
);

export const UpsertType = z.enum(['create', 'replace', 'update']);
export const UpsertProfileResponse = z.object({ auth_token: AuthToken, name: ProfileName, type: UpsertType, warnings: ProfileWarnings });

export const ProfileMetadata = z.object({
  agent_id: AgentId,
  name: ProfileName,
  fields: describe(z.array(z.string()), 'auth_data keys; values are never returned'),
  auth_type: AuthType,
  auth_config: z.optional(AuthConfig),
  allowed_hosts: z.optional(AllowedHosts),
  allowed_path_prefixes: z.optional(AllowedPathPrefixes),
  allowed_methods: z.optional(AllowedMethods),
  last_tested_at: z.optional(Timestamp),
  last_test_ok: z.optional(z.boolean()),
  last_error: describe(
    z.optional(z.string()),
    'OAuth2: why the last access-token fetch failed (e.g. "token endpoint auth.example.com answered 401"); never body content; removed by the next successful fetch',
  ),
  last_error_at: z.optional(Timestamp),
  generation: describe(z.int(), 'Incremented by every replace'),
  record_version: describe(z.int(), 'Incremented by every write'),
  should_save_session: z.boolean(),
  created_at: Timestamp,
  updated_at: Timestamp,
  last_used_at: z.optional(Timestamp),
  use_count: z.int(),
  ...ProfileLifecycleMetadata.shape,
  owner: describe(z.optional(z.string()), 'key_id of the API key that created it; absent on profiles from before principals (admins only)'),
  visibility: describe(z.enum(['private', 'shared']), 'private: owner and admins; shared: also the grants'),
  grants: z.array(z.object({ principal: z.string(), permission: z.enum(['read', 'read_write']) })),
  end_user_id: z.optional(EndUserId),
  connection_state: z.optional(ConnectionState),
  connected_at: z.optional(Timestamp),
  scopes_granted: describe(
    z.optional(z.array(z.string())),
    'oauth2_authorization_code: the scopes the provider granted (its token answer, else those requested)',
  ),
  last_refreshed_at: describe(
    z.optional(Timestamp),
    'oauth2_authorization_code: when the access token was last obtained (code exchange or refresh)',
  ),
});

/** A single-use connect link (oauth2_authorization_code): for the end user's browser, valid 15 minutes. */
export const ConnectLinkFields = {
  connect_url: describe(
    z.string(),
    "Open in the end user's browser (no API key): sends them to the provider to connect their account; single use, valid 15 minutes",
  ),
  connect_expires_at: Timestamp,
};
export const ConnectResponse = z.object(ConnectLinkFields);

export const ConnectBody = z.strictObject({
  api_key: ApiKeyField,
  auth_token: describe(AuthToken, "The profile's auth token: only its holder can connect it"),
});
export const DisconnectBody = z.strictObject({
  api_key: ApiKeyField,
  auth_token: describe(AuthToken, "The profile's auth token: only its holder can read the refresh token to revoke it"),
});

export const Revocation = describe(
  z.enum(['confirmed', 'failed', 'not_configured', 'not_connected']),
  'confirmed: the provider answered 200 to the RFC 7009 revocation; failed: it did not (revocation_error says why); not_configured: the profile has no revocation_url; not_connected: there was no refresh token to revoke',
);
export const DisconnectResponse = z.object({
  connection_state: z.literal('disconnected'),
  revocation: Revocation,
  revocation_error: describe(
    z.optional(z.string()),
    "Why the revocation was not confirmed: the endpoint and its status, in the vault's words",
  ),
});

/** GET /v1/oauth/connect: the link's secret (in the query string, which access logs leave out). */
export const ConnectQuery = z.strictObject({ link: z.optional(z.string().check(z.maxLength(128))) });

/**
 * GET /v1/oauth/callback: what the provider appends (RFC 6749 §4.1.2, RFC 9207 iss). Not strict:
 * the provider, not the caller, chooses the parameters (OpenID servers add session_state, scope…);
 * only these are read.
 */
export const CallbackQuery = z.looseObject({
  state: z.optional(z.string().check(z.maxLength(256))),
  code: z.optional(z.string().check(z.maxLength(4096))),
  iss: z.optional(z.string().check(z.maxLength(2048))),
  error: z.optional(z.string().check(z.maxLength(256))),
});

/** DELETE …/auth-profiles/{name}: with the auth token, an oauth2_authorization_code profile's refresh token is revoked at the provider first. */
export const DeleteProfileBody = z.strictObject({
  api_key: ApiKeyField,
  auth_token: describe(
    z.optional(AuthToken),
    "oauth2_authorization_code: revoke the refresh token at the provider (RFC 7009) before deleting; the answer's X-Revocation header says whether it was confirmed",
  ),
});

/** A grant's principal: an API key's key_id, or every member key of the tenant. */
export const GrantPrincipal = z
  .string()
  .check(
    z.superRefine(refuseFormatCharacters),
    z.regex(
      /^([0-9a-f]{16}|role:member)$/,
      'principal must be an API key id (16 hex digits, as GET /v1/api-keys lists it) or "role:member"',
    ),
  );

export const ShareProfileBody = z.strictObject({
  api_key: ApiKeyField,
  principal: GrantPrincipal,
  permission: describe(
    z.enum(['read', 'read_write'], { error: 'permission must be "read" or "read_write"' }),
    'read: see the metadata and use the profile; read_write: also replace/update, rotate, PATCH, share, delete',
  ),
});
export type ShareProfileBody = z.infer<typeof ShareProfileBody>;

export const NativeProfileResponse = z.object({
  auth_token: AuthToken,
  type: UpsertType,
  profile: ProfileMetadata,
  connect_url: describe(
    z.optional(ConnectLinkFields.connect_url),
    'oauth2_authorization_code, created or replaced: a connect link for the end user (single use, 15 minutes)',
  ),
  connect_expires_at: z.optional(Timestamp),
});

export const ProfileList = z.object({
  profiles: z.array(ProfileMetadata),
  next_cursor: describe(z.optional(z.string()), 'Pass as ?cursor= for the next page'),
});

const LIMIT_MESSAGE = { error: 'limit must be an integer 1–100' };

export const ListQuery = z.strictObject({
  limit: z._default(
    z.coerce.number(LIMIT_MESSAGE).check(z.int(LIMIT_MESSAGE), z.minimum(1, LIMIT_MESSAGE), z.maximum(100, LIMIT_MESSAGE)),
    50,
  ),
  cursor: z.optional(z.string().check(z.maxLength(2048))),
});

/** The values a profile's connection (OAuth 2.0 authorization code, docs/architecture.md) can be in; stored in clear as `connection_state`. */
export const CONNECTION_STATES = ['pending', 'connected', 'needs_reauth', 'disconnected'] as const;

/** `must be one of: a, b, c` for a query parameter limited to `values`. */
const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: `must be one of: ${values.join(', ')}` });

/**
 * Filters of a profile listing (docs/api.md, "Search and filter"): every one given must match.
 * Applied after the access check, so a member only ever filters what it may read.
 */
const ProfileFilterFields = {
  q: describe(
    z.optional(z.string().check(z.minLength(1, 'q must not be empty'), z.maxLength(128, 'q must be at most 128 characters'))),
    'Name contains this text (case-insensitive)',
  ),
  auth_type: describe(
    z.optional(z.enum(AuthType._zod.def.entries, { error: `must be one of: ${AuthType.options.join(', ')}` })),
    `One of: ${AuthType.options.join(', ')}`,
  ),
  visibility: z.optional(oneOf(['private', 'shared'])),
  token_state: describe(z.optional(oneOf(['valid', 'expiring_soon', 'expired'])), 'valid, expiring_soon (less than 24 h left) or expired'),
  connection_state: describe(
    z.optional(oneOf(CONNECTION_STATES)),
    'OAuth 2.0 authorization-code profiles: pending, connected, needs_reauth or disconnected',
  ),
  active: describe(
    z.pipe(
      z.optional(oneOf(['true', 'false'])),
      z.transform((v: 'true' | 'false' | undefined) => (v === undefined ? undefined : v === 'true')),
    ),
    'true or false',
  ),
  end_user_id: describe(
    z.optional(
      z.string().check(z.minLength(1, 'end_user_id must not be empty'), z.maxLength(256, 'end_user_id must be at most 256 characters')),
    ),
    "The platform's end-user id of an OAuth 2.0 authorization-code profile (exact match)",
  ),
};

/** GET /v1/agents/{agent_id}/auth-profiles: paging and filters. */
export const ProfileListQuery = z.extend(ListQuery, ProfileFilterFields);

/** GET /v1/auth-profiles: the same, across the tenant's agents (or one, with agent_id). */
export const TenantProfileListQuery = z.extend(ListQuery, {
  ...ProfileFilterFields,
  agent_id: describe(z.optional(AgentId), 'Only this agent'),
});

export type ProfileFilter = Partial<Omit<z.infer<typeof TenantProfileListQuery>, 'limit' | 'cursor'>>;

export type CreateProfileBody = z.infer<typeof CreateProfileBody>;
export type UpsertProfileBody = z.infer<typeof UpsertProfileBody>;
export type UpsertType = z.infer<typeof UpsertType>;
export type ProfileMetadata = z.infer<typeof ProfileMetadata>;
export type NativeCreateProfileBody = z.infer<typeof NativeCreateProfileBody>;
export type NativePutProfileBody = z.infer<typeof NativePutProfileBody>;
