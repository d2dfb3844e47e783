import { CredentialDelivery, InputArg, Runner } from './agents.ts';
import { AuthType } from './policy.ts';
import * as z from './zod.ts';

/**
 * Stored item shapes. Repositories parse what they read with these, so a malformed or foreign
 * item fails loudly instead of flowing into the domain. Binary attributes arrive as Uint8Array.
 */
const Bytes = z.custom<Uint8Array>((v) => v instanceof Uint8Array, 'expected binary');

/*
 * Every item below is stored with an integrity MAC (mac, mac_key_id, mac_format) that the signed
 * store checks on read and adds on write (shared/store/signer.ts); the schemas leave it out, so
 * domain code never sees a MAC.
 */

export const ApiKeyItem = z.object({
  pk: z.string(),
  sk: z.literal('APIKEY'),
  tenant: z.string(),
  label: z.optional(z.string()),
  created_at: z.string(),
  /** The key as a principal of its tenant; a key stored before principals has none and is an admin. */
  key_id: z.optional(z.string()),
  name: z.optional(z.string()),
  role: z.optional(z.enum(['admin', 'member'])),
});

/**
 * A tenant's index entry for one API key (keys.tenantApiKey): what GET /v1/api-keys lists. It
 * is a listing aid, never trusted for authentication or role: those come from the key's own item.
 */
export const ApiKeyIndexItem = z.object({
  pk: z.string(),
  sk: z.string(),
  key_id: z.string(),
  /** SHA-256 of the key (what the key's own item is keyed by); not a secret, never shown. */
  key_hash: z.string(),
  name: z.string(),
  role: z.enum(['admin', 'member']),
  created_at: z.string(),
});
export type ApiKeyIndexItem = z.infer<typeof ApiKeyIndexItem>;

export const AgentItem = z.object({
  pk: z.string(),
  sk: z.string(),
  entity: z.literal('agent'),
  tenant: z.string(),
  agent_id: z.string(),
  name: z.string(),
  description: z.optional(z.string()),
  input_args: z.array(InputArg),
  runner: Runner,
  /**
   * Absent (items written before credential delivery existed) = parameters. Not defaulted here:
   * the agent's integrity MAC covers the fields as stored.
   */
  credential_delivery: z.optional(CredentialDelivery),
  /** runner_signing_secret sealed under the server key. */
  signing_secret: Bytes,
  /**
   * Random per registration: profiles record it, and a profile whose agent was deleted and
   * registered again under the same id never opens (a create racing a forced delete).
   */
  incarnation: z.string(),
  /**
   * The key_id of the API key that registered the agent: with an admin, the only key that may
   * change, rotate or delete it (shared/http/permissions.ts). Absent on agents registered before
   * owners: admins only.
   */
  owner: z.optional(z.string()),
  version: z.int(),
  created_at: z.string(),
  updated_at: z.string(),
});

/** Top-level attribute counting one kind of use on one UTC day: `uses_<yyyymmdd>_<kind>`. */
export const DAILY_USE_ATTRIBUTE = /^uses_(\d{8})_(run|proxy|test)$/;
export const USE_KINDS = ['run', 'proxy', 'test'] as const;
export type UseKind = (typeof USE_KINDS)[number];
export type DailyUses = Record<string, Partial<Record<UseKind, number>>>;
/** The attribute counting `kind` uses on a UTC day (yyyymmdd): see DAILY_USE_ATTRIBUTE. */
export const dailyUseAttribute = (day: string, kind: UseKind) => `uses_${day}_${kind}`;

/**
 * Gathers the per-day use counters (top-level attributes, so a use can ADD to one without the
 * map-must-exist problem of nested paths, on items of any age) into `daily_uses`.
 */
function gatherDailyUses(raw: unknown): unknown {
  if (typeof raw !== 'object' || raw === null) return raw;
  const daily: DailyUses = {};
  // The attributes copied one by one rather than spread: V8 reads a spread copy of a wide item
  // far more slowly, and the schema then reads every one of its fields. `__proto__` is left out:
  // assigned, it would set the copy's prototype (the schema never reads it).
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(raw)) {
    const value = (raw as Record<string, unknown>)[name];
    if (name !== '__proto__') out[name] = value;
    if (!name.startsWith('uses_')) continue; // what DAILY_USE_ATTRIBUTE needs first, without running it on every attribute
    const m = DAILY_USE_ATTRIBUTE.exec(name);
    if (!m || typeof value !== 'number') continue;
    const day = daily[m[1] as string] ?? {};
    day[m[2] as UseKind] = value;
    daily[m[1] as string] = day;
  }
  out.daily_uses = daily;
  return out;
}

/** A grant on a profile: a key (by key_id) or every member ("role:member") may read or read·write it. */
export const ProfileGrant = z.object({
  principal: z.string(),
  permission: z.enum(['read', 'read_write']),
});
export type ProfileGrant = z.infer<typeof ProfileGrant>;

const ProfileItemShape = z.object({
  pk: z.string(),
  sk: z.string(),
  entity: z.literal('profile'),
  tenant: z.string(),
  agent_id: z.string(),
  name: z.string(),
  slot: z.string(),
  /** The `incarnation` of the agent the profile was created under. */
  agent_incarnation: z.string(),
  generation: z.int(),
  record_version: z.int(),
  server_key_id: z.string(),
  verifier: Bytes,
  commitment: Bytes,
  /** auth_data field name → sealed blob. */
  fields: z.record(z.string(), Bytes),
  /** Items written before typed profiles have none: they are custom. */
  auth_type: z._default(AuthType, 'custom'),
  /** Non-secret settings of a typed profile (validated by its type), in clear. */
  auth_config: z.optional(z.record(z.string(), z.unknown())),
  /** Outbound policy for the proxy (canonical host patterns, path prefixes, methods), in clear. */
  allowed_hosts: z.optional(z.array(z.string())),
  allowed_path_prefixes: z.optional(z.array(z.string())),
  allowed_methods: z.optional(z.array(z.string())),
  last_tested_at: z.optional(z.string()),
  last_test_ok: z.optional(z.boolean()),
  /** OAuth2: why the last token fetch failed (the endpoint's status, never its body); removed by the next success. */
  last_error: z.optional(z.string()),
  last_error_at: z.optional(z.string()),
  should_save_session: z.boolean(),
  /**
   * oauth2_authorization_code (docs/architecture.md, "Delegated OAuth 2.0"): the platform's
   * opaque id of the end user whose account the profile connects; covered by the MAC.
   */
  end_user_id: z.optional(z.string()),
  /**
   * oauth2_authorization_code: the connection as last observed (outside the MAC, like last_error:
   * written by conditional updates that read nothing; the sealed tokens on the OAuth item are the
   * truth, this is what lists and metadata show).
   */
  connection_state: z.optional(z.enum(['pending', 'connected', 'needs_reauth', 'disconnected'])),
  connected_at: z.optional(z.string()),
  scopes_granted: z.optional(z.array(z.string())),
  last_refreshed_at: z.optional(z.string()),
  /**
   * The runner origin (scheme://host[:port]) the token holder approved when the profile was
   * last created, replaced or updated; runs refuse to send the credentials anywhere else.
   */
  runner_origin: z.optional(z.string()),
  /** Token-derived tag over runner_origin (ProfileKeys.runnerApproval): only a token holder can approve. */
  runner_approval: z.optional(Bytes),
  /**
   * The credential delivery (parameters | proxy) the token holder approved with runner_origin,
   * covered by the same tag; a run of an agent switched from proxy to parameters since answers
   * 409 delivery_changed until the token holder approves again. Absent on profiles approved
   * before delivery was bound: not checked.
   */
  runner_delivery: z.optional(CredentialDelivery),
  created_at: z.string(),
  updated_at: z.string(),
  last_used_at: z.optional(z.string()),
  use_count: z._default(z.int(), 0),
  /** Uses per UTC day (yyyymmdd) and kind, kept for the last 7 days (see DAILY_USE_ATTRIBUTE). */
  daily_uses: z._default(z.record(z.string(), z.partialRecord(z.enum(USE_KINDS), z.int())), {}),
  /** The last use that makes the profile "in use" for a delete: a run or a proxied call, not a test. */
  last_real_use_at: z.optional(z.string()),
  /** A use whose run may still be going until this time (a delete meanwhile needs ?force=true); removed when the run ends. */
  in_flight_until: z.optional(z.string()),
  // Policy and settings, in clear (docs/architecture.md, "Typed profiles, injection and grants"): refusals and metadata need no token.
  /** When the current token stops working (401 token_expired); absent: no expiry. */
  token_expires_at: z.optional(z.string()),
  /** An inactive profile refuses every use (403 profile_inactive) and keeps everything else. */
  active: z._default(z.boolean(), true),
  description: z.optional(z.string()),
  /** Caller IPs / CIDRs allowed to use the profile (normalised); empty: any. */
  allowed_source_ips: z._default(z.array(z.string()), []),
  /**
   * Who may see and use the profile (shared/credentials/access.ts), in clear (docs/architecture.md, "Typed profiles, injection and grants"): the
   * key_id of the API key that created it (absent on profiles from before principals: admins
   * only), `private` (owner and admins) or `shared` (also the grants), and the grants.
   */
  owner: z.optional(z.string()),
  visibility: z.optional(z.enum(['private', 'shared'])),
  grants: z.optional(z.array(ProfileGrant)),
  /**
   * Incremented by every settings or access change (PATCH, share, unshare); whole-item writes
   * (replace, rotate) and a member's delete are conditioned on it, so no change is lost and no
   * permission check goes stale.
   */
  settings_version: z._default(z.int(), 0),
  /**
   * A rename in progress (docs/architecture.md, "Renaming a profile"): the name being claimed and
   * when this rename started. A fence, not a setting: the rename's last write is conditioned on
   * it, and anyone who finds the new name's claim stale removes it first. Outside the MAC.
   */
  rename_to: z.optional(z.string()),
  rename_at: z.optional(z.string()),
});

/**
 * A profile name's claim (docs/architecture.md, "Renaming a profile"): the one item that makes a
 * name unique within its agent, keyed by the name's slot (slotFor), pointing at the slot where
 * the profile lives. Valid only while that profile's stored (MACed) name is this name.
 */
export const ProfileNameItem = z.object({
  pk: z.string(),
  sk: z.string(),
  entity: z.literal('profile_name'),
  tenant: z.string(),
  agent_id: z.string(),
  name: z.string(),
  /** Where the profile of this name lives (its token's slot). */
  slot: z.string(),
  /** Random per write: a takeover of a stale claim is conditioned on the one read. */
  nonce: z.string(),
  claimed_at: z.string(),
});
export type ProfileNameItem = z.infer<typeof ProfileNameItem>;

export const ProfileItem = z.pipe(z.transform(gatherDailyUses), ProfileItemShape);

export const SessionItem = z.object({
  pk: z.string(),
  sk: z.string(),
  entity: z.literal('session'),
  /** The profile generation the session belongs to; a replaced profile ignores older sessions. */
  generation: z.int(),
  /**
   * The `created_at` of that profile generation: a profile deleted and created again restarts
   * at generation 1, so (profile_created_at, generation) is what orders sessions. Absent on
   * sessions saved before it existed.
   */
  profile_created_at: z.optional(z.string()),
  /** Record version of the sealed blob (bound into its AAD). */
  version: z.int(),
  blob: Bytes,
  updated_at: z.string(),
});

/**
 * An OAuth2 client-credentials profile's cached access token (sealed under the profile's keys,
 * `expires_at` in the AAD) and the lease that makes its refresh single-flight across processes.
 * Every write bumps `version`; lease takes are conditioned on the version read.
 */
export const OAuthTokenItem = z.object({
  pk: z.string(),
  sk: z.string(),
  entity: z.literal('oauth_token'),
  version: z.int(),
  /** The profile generation, record version and created_at the token was fetched for: any change makes it stale. */
  generation: z.optional(z.int()),
  record_version: z.optional(z.int()),
  profile_created_at: z.optional(z.string()),
  /** The access token, sealed under the profile's keys. */
  blob: z.optional(Bytes),
  /**
   * oauth2_authorization_code: the refresh token, sealed under the profile's keys (its AAD names
   * no record version, so an update in place keeps it); stored in the same write as the access
   * token it came with, so a rotated refresh token is never lost.
   */
  refresh_blob: z.optional(Bytes),
  /** Epoch milliseconds: when the token expires (bound into its AAD), and when a use starts refreshing it. */
  token_expires_at: z.optional(z.int()),
  refresh_at: z.optional(z.int()),
  /** The refresh lease: who holds it and until when (epoch milliseconds). */
  lease_id: z.optional(z.string()),
  lease_until: z.optional(z.int()),
  /** The last failed refresh, for waiters (no body content: a status and our own words). */
  error_message: z.optional(z.string()),
  /** Epoch milliseconds: until then uses answer error_message without fetching again. */
  error_until: z.optional(z.int()),
  /** The profile generation, record version and created_at the error was recorded for: it answers for that state only. */
  error_generation: z.optional(z.int()),
  error_record_version: z.optional(z.int()),
  error_profile_created_at: z.optional(z.string()),
  /** Epoch seconds: the table's TTL attribute (a day after the token expires; reads check token_expires_at). */
  expires_at: z.optional(z.int()),
});
export type OAuthTokenItem = z.infer<typeof OAuthTokenItem>;

/**
 * A run grant (docs/architecture.md, "Typed profiles, injection and grants"): the profile's key material (its token secret), sealed under a key
 * derived from the grant's secret and the server key, bound to tenant, agent, profile (slot,
 * generation, created_at) and run. The grant string is never stored; this item dies with the run.
 */
export const GrantItem = z.object({
  pk: z.string(),
  sk: z.literal('GRANT'),
  entity: z.literal('grant'),
  tenant: z.string(),
  agent_id: z.string(),
  slot: z.string(),
  generation: z.int(),
  profile_created_at: z.string(),
  session_id: z.string(),
  /** Epoch milliseconds: the run's deadline; the grant is refused from then on. */
  deadline_ms: z.int(),
  server_key_id: z.string(),
  sealed: Bytes,
  /** Epoch seconds: the table's TTL attribute (the deadline, rounded up). */
  expires_at: z.int(),
});
export type GrantItem = z.infer<typeof GrantItem>;

/**
 * A connect link or an authorization request's state (docs/architecture.md, "Delegated OAuth
 * 2.0"): the profile's key material (and, for a state, the PKCE verifier) sealed under a key
 * derived from the link's or state's secret and the server key, like a run grant. Neither secret
 * is stored; the item is consumed by its first use and dies at its deadline (TTL + checked on read).
 */
export const OAuthLinkItem = z.object({
  pk: z.string(),
  sk: z.enum(['CONNECT', 'STATE']),
  entity: z.literal('oauth_link'),
  tenant: z.string(),
  agent_id: z.string(),
  slot: z.string(),
  generation: z.int(),
  profile_created_at: z.string(),
  /** Epoch milliseconds: refused from then on. */
  deadline_ms: z.int(),
  /** STATE: the exact redirect_uri sent with the authorization request (the token request repeats it). */
  redirect_uri: z.optional(z.string()),
  server_key_id: z.string(),
  sealed: Bytes,
  /** Epoch seconds: the table's TTL attribute. */
  expires_at: z.int(),
});
export type OAuthLinkItem = z.infer<typeof OAuthLinkItem>;

export type ApiKeyItem = z.infer<typeof ApiKeyItem>;
export type AgentItem = z.infer<typeof AgentItem>;
export type ProfileItem = z.infer<typeof ProfileItem>;
export type SessionItem = z.infer<typeof SessionItem>;

export const RunItem = z.object({
  pk: z.string(),
  sk: z.literal('RUN'),
  entity: z.literal('run'),
  tenant: z.string(),
  agent_id: z.string(),
  session_id: z.string(),
  /** key_id of the API key that started the run: it may read the run (shared/services/runs.ts getRun). */
  started_by: z.optional(z.string()),
  /**
   * The profile incarnation the run used (slot + created_at): a key with read on that very
   * profile may read the run; a later profile of the same name is another incarnation.
   */
  profile_slot: z.optional(z.string()),
  profile_created_at: z.optional(z.string()),
  status: z.enum(['queued', 'running', 'succeeded', 'failed']),
  /** {agent_output?, error_message?} as JSON, sealed under the server key. */
  result: z.optional(Bytes),
  created_at: z.string(),
  started_at: z.optional(z.string()),
  finished_at: z.optional(z.string()),
  /** Epoch seconds; DynamoDB TTL deletes the item some time after, reads treat it as gone at once. */
  expires_at: z.int(),
});

export type RunItem = z.infer<typeof RunItem>;

/**
 * AWS mode: an accepted async run's job, sealed with KMS envelope encryption (see
 * shared/aws/run-dispatcher.ts). Written by the `runs` function, read and deleted by the worker;
 * its TTL is the run's latest possible start plus the worker's timeout and a margin.
 */
export const RunJobItem = z.object({
  pk: z.string(),
  sk: z.literal('JOB'),
  entity: z.literal('run-job'),
  v: z.int(),
  tenant: z.string(),
  agent_id: z.string(),
  session_id: z.string(),
  /** The KMS-encrypted data key. */
  encrypted_key: Bytes,
  /** nonce ‖ AES-256-GCM ciphertext ‖ tag of the job JSON. */
  ciphertext: Bytes,
  /** Epoch seconds; checked on read as well (TTL deletion is lazy). */
  expires_at: z.int(),
});

export type RunJobItem = z.infer<typeof RunJobItem>;

/**
 * A tenant webhook (shared/services/webhooks.ts): where events go, which ones, and its signing
 * secret sealed under the server key (never in clear). Signed like every item: a table writer
 * cannot redirect the deliveries or subscribe a webhook of its own.
 */
export const WebhookItem = z.object({
  pk: z.string(),
  sk: z.string(),
  entity: z.literal('webhook'),
  tenant: z.string(),
  webhook_id: z.string(),
  url: z.string(),
  events: z.array(z.string()),
  description: z.optional(z.string()),
  active: z.boolean(),
  /** The signing secret (avw_…), sealed under the server key (purpose and ids in the AAD). */
  signing_secret: Bytes,
  /** key_id of the API key that created it. */
  created_by: z.string(),
  /** Bumped by every write; updates and rotations are conditioned on the version read. */
  version: z.int(),
  created_at: z.string(),
  updated_at: z.string(),
});
export type WebhookItem = z.infer<typeof WebhookItem>;

/**
 * One delivery of one event to one webhook: the durable job (its exact body, attempts, lease)
 * and its delivery-log entry in one item, in the webhook's partition, sorted by a time-ordered
 * id (newest first is a backward Query). Whole-item writes conditioned on `version`.
 */
export const WebhookDeliveryItem = z.object({
  pk: z.string(),
  sk: z.string(),
  entity: z.literal('webhook_delivery'),
  tenant: z.string(),
  webhook_id: z.string(),
  delivery_id: z.string(),
  event_id: z.string(),
  event_type: z.string(),
  /** The JSON body sent on every attempt (an event carries ids and names, never a credential). */
  body: z.string(),
  status: z.enum(['pending', 'delivered', 'failed']),
  attempts: z.int(),
  max_attempts: z.int(),
  /** Epoch milliseconds: an attempt is running until then (a crashed one is taken over after it). */
  lease_until: z.optional(z.int()),
  last_status_code: z.optional(z.int()),
  outcome: z.optional(z.string()),
  created_at: z.string(),
  last_attempt_at: z.optional(z.string()),
  next_attempt_at: z.optional(z.string()),
  finished_at: z.optional(z.string()),
  version: z.int(),
  /** Epoch seconds: the table's TTL attribute, also checked on read. */
  expires_at: z.int(),
});
export type WebhookDeliveryItem = z.infer<typeof WebhookDeliveryItem>;
