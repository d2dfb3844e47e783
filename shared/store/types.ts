import type { AuditHead, AuditRecord } from '../audit/record.ts';
import type {
  AgentItem,
  ApiKeyIndexItem,
  ApiKeyItem,
  GrantItem,
  OAuthLinkItem,
  OAuthTokenItem,
  ProfileItem,
  ProfileNameItem,
  RunItem,
  RunJobItem,
  SessionItem,
  UseKind,
  WebhookDeliveryItem,
  WebhookItem,
} from '../schemas/items.ts';
import type { RunState } from '../schemas/runs.ts';
import type { AgentRef, ProfileRef } from './profile-ref.ts';

export type { AgentRef, ProfileRef } from './profile-ref.ts';

/**
 * The store interfaces: what the domain needs from persistence, in domain types. One
 * implementation in production code: store/dynamodb.ts (over shared/repositories/, the only code
 * that imports @aws-sdk/lib-dynamodb); its in-memory twin for unit tests and the bench is
 * test/support/memory-store.ts. One contract test (test/integration/store-contract.test.ts)
 * runs against both.
 *
 * The store is signed (store/signer.ts): every item is MACed on write and verified on read, so
 * every read below answers only items that verify and throws IntegrityError (500
 * integrity_check_failed, logged) for one that does not; listings leave such an item out.
 * Partial writes MAC the item's post-state, computed from the item read that they take.
 *
 * Every conditional write returns `false` (or undefined, for writes that return the item) when
 * its condition failed — someone else wrote first — and throws for anything else. Reads are
 * strongly consistent. Items past their TTL (`expires_at`, epoch seconds) read as absent where
 * the read is given the time.
 */

// ---------------------------------------------------------------------------------------------
// Records: what is written (the store adds keys and entity)

/** An agent as the domain builds it (the store adds its keys, entity and integrity MAC). */
export type NewAgentItem = Omit<AgentItem, 'pk' | 'sk' | 'entity'>;

/** A key's role in its tenant. */
export type ApiKeyRole = 'admin' | 'member';

/** What an API key item holds besides its key hash (the store adds its integrity MAC). */
export interface ApiKeyRecord {
  readonly tenant: string;
  readonly label?: string;
  readonly created_at: string;
  readonly key_id: string;
  readonly name: string;
  readonly role: ApiKeyRole;
}

/** A profile as written: always with the runner origin its token holder approved. */
export type ProfileRecord = Omit<ProfileItem, 'pk' | 'sk' | 'entity' | 'runner_origin' | 'runner_approval'> & {
  runner_origin: string;
  runner_approval: Uint8Array;
};

/** The non-secret settings a PATCH edits (stored in clear; docs/architecture.md, "Typed profiles, injection and grants"). */
export type ProfileSettings = Pick<
  ProfileItem,
  'active' | 'description' | 'allowed_source_ips' | 'allowed_hosts' | 'allowed_path_prefixes' | 'allowed_methods'
>;

/**
 * Who may use the profile besides its owner and the admins (share, unshare): written through the
 * same conditional settings write as a PATCH, so both bump the one settings_version.
 */
export type ProfileAccessSettings = Pick<ProfileItem, 'visibility' | 'grants'>;

/** What one conditional settings write may change (null or undefined: removed): PATCH's settings and share's grants. */
export type SettingsChanges = {
  readonly [K in keyof (ProfileSettings & ProfileAccessSettings)]?: (ProfileSettings & ProfileAccessSettings)[K] | null;
};

/** One use to count (see ProfileStore.recordUse). */
export interface UseToRecord {
  readonly kind: UseKind;
  readonly at: string;
  /** UTC day (yyyymmdd) of `at`. */
  readonly day: string;
  /** Day counters older than the 7-day window, to drop in the same write. */
  readonly staleDays: readonly { day: string; kind: UseKind }[];
  /**
   * Set when the use counts towards "in use" (a run or a proxied call, not a test): stored as
   * last_real_use_at (shared/credentials/usage.ts, isInUse).
   */
  readonly realUseAt?: string;
  /**
   * Set when the use is a run that may still be going until then: stored as in_flight_until unless
   * a later mark (a concurrent run's) is already there, which is kept.
   */
  readonly inFlightUntil?: string;
}

export type SessionRecord = Omit<SessionItem, 'pk' | 'sk' | 'entity'>;
export type RunRecord = Omit<RunItem, 'pk' | 'sk' | 'entity'>;
export type RunJobRecord = Omit<RunJobItem, 'pk' | 'sk' | 'entity'>;
export type WebhookRecord = Omit<WebhookItem, 'pk' | 'sk' | 'entity'>;
export type DeliveryRecord = Omit<WebhookDeliveryItem, 'pk' | 'sk' | 'entity'>;
export type GrantRecord = Omit<GrantItem, 'pk' | 'sk' | 'entity'> & { readonly id_hex: string };
/** A connect link or an authorization state as written (the store adds keys and entity). */
export type OAuthLinkRecord = Omit<OAuthLinkItem, 'pk' | 'sk' | 'entity'> & { readonly id_hex: string; readonly purpose: OAuthLinkPurpose };
export type OAuthLinkPurpose = OAuthLinkItem['sk'];

/** The observed connection of an oauth2_authorization_code profile (outside the MAC); null removes last_error. */
export interface ConnectionChanges {
  readonly connection_state?: NonNullable<ProfileItem['connection_state']>;
  readonly connected_at?: string;
  readonly scopes_granted?: readonly string[];
  readonly last_refreshed_at?: string;
  readonly last_error?: string | null;
  readonly last_error_at?: string;
}

/** The profile state a cached token was fetched for; a token of any other state is stale. */
export interface TokenOwner {
  readonly generation: number;
  readonly record_version: number;
  readonly profile_created_at: string;
}

/** A freshly fetched token, sealed, with its times (epoch ms) and the item's TTL (epoch s; none for a connection, whose refresh token outlives it). */
export interface SealedToken extends TokenOwner {
  readonly blob: Uint8Array;
  readonly token_expires_at: number;
  readonly refresh_at: number;
  readonly expires_at?: number;
  /** oauth2_authorization_code: the refresh token, sealed (the rotated one when the server rotated it). */
  readonly refresh_blob?: Uint8Array;
}

/** Which of an audit record's copies an item is. */
export type AuditView = 'tenant' | 'agent' | 'profile';

export interface AuditQuery {
  readonly tenant: string;
  readonly agentId?: string;
  /** Requires agentId: the profile's view. */
  readonly slot?: string;
  /** Only these actions (a filter on the view's Query, not a scan). */
  readonly actions?: readonly string[];
  /** ISO time: records at or after it. */
  readonly since?: string;
  readonly limit: number;
  readonly cursor?: string;
  /** Records past their TTL are treated as gone at once (DynamoDB deletes them lazily, dynalite never). */
  readonly nowSeconds: number;
}

/** Whose profiles a listing reads: one agent's, or (no agentId) every agent's of the tenant. */
export interface ProfileListScope {
  readonly tenant: string;
  readonly agentId?: string;
}

/** One page of a listing; `next` is the opaque cursor of the following page. */
export interface Page<T> {
  readonly items: T[];
  readonly next?: string;
}

/** The agent with, when a slot is named, its profile (and for runs its saved session; for proxied uses the OAuth2 token cache). */
export interface ProfileContext {
  readonly agent?: AgentItem;
  readonly profile?: ProfileItem;
  readonly session?: SessionItem;
  /** The profile's cached OAuth2 access-token item, when asked for (`withOAuthToken`) and present. */
  readonly oauthToken?: OAuthTokenItem;
  /** The claim of the name whose slot is the ref's (`withNameClaim`), when present. */
  readonly nameClaim?: ProfileNameItem;
}

/** What else to read with the agent and profile, in the same round trip. */
export interface ProfileContextOptions {
  /** The saved session (runs). */
  readonly withSession?: boolean;
  /** The OAuth2 access-token cache item (uses that inject: proxy, test). */
  readonly withOAuthToken?: boolean;
  /** The name claim keyed by the ref's slot (a ref made from a name: its claim and its home slot, read together). */
  readonly withNameClaim?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Interfaces

export interface AgentStore {
  get(tenant: string, agentId: string): Promise<AgentItem | undefined>;
  /**
   * Whether the agent's item exists, verified or not: nothing it says is read, so an agent that
   * fails its integrity check can still be deleted (how it is cleared away).
   */
  exists(tenant: string, agentId: string): Promise<boolean>;
  /** Creates the agent; false if the id is taken. */
  create(item: NewAgentItem): Promise<boolean>;
  /** Overwrites the agent if its stored version is still `expectedVersion`. */
  replace(item: NewAgentItem, expectedVersion: number): Promise<boolean>;
  /** One page of a tenant's agents, in agent-id order. */
  list(tenant: string, limit: number, cursor?: string): Promise<Page<AgentItem>>;
  /** Deletes the agent item; false if it did not exist. */
  delete(tenant: string, agentId: string): Promise<boolean>;
}

/**
 * API keys are stored only as their SHA-256 (hex); the key itself is never written. Each key has
 * its own item (found by hash) and an index entry in its tenant's partition (found by key id).
 */
export interface ApiKeyStore {
  /** The item of the key with this hash, or undefined. Strongly consistent: a revoked key must not authenticate. */
  get(keyHashHex: string): Promise<ApiKeyItem | undefined>;
  /**
   * Stores a key: its index entry first, then its own item (false if that hash exists), so a
   * failure in between leaves a listed key that does not work, never a working key no listing
   * shows. Also marks the tenant as having a key (first mark wins).
   */
  put(keyHashHex: string, record: ApiKeyRecord): Promise<boolean>;
  /** Writes the tenant's index entry of a key unless one exists (the first wins). */
  putIndex(keyHashHex: string, record: Pick<ApiKeyRecord, 'tenant' | 'key_id' | 'name' | 'role' | 'created_at'>): Promise<boolean>;
  /** The tenant's index entry of a key id, or undefined. */
  getIndex(tenant: string, keyId: string): Promise<ApiKeyIndexItem | undefined>;
  /** One page of a tenant's keys (index entries), in key-id order. */
  list(tenant: string, limit: number, cursor?: string): Promise<Page<ApiKeyIndexItem>>;
  /**
   * Revokes a key: its own item first (only while it belongs to `tenant`), then the index entry.
   * False if the key's item was already gone (the index entry is removed all the same).
   */
  delete(tenant: string, keyId: string, keyHashHex: string): Promise<boolean>;
  /** Whether any API key was ever issued to this tenant. */
  tenantHasKey(tenant: string): Promise<boolean>;
  /**
   * Overwrites a key's item only if the stored one fails its integrity check (unsigned, or
   * written without the server key), conditioned on the stored item not changing meanwhile; false
   * if it is intact, absent or changed. How the bootstrap key takes back its own hash.
   */
  replaceUnverified(keyHashHex: string, record: ApiKeyRecord): Promise<boolean>;
}

/**
 * One item per profile, keyed by the slot its token carries (docs/architecture.md, "The table").
 * A profile is named by its ProfileRef (store/profile-ref.ts); the agent-wide methods (list,
 * hasAny, deleteAllOfAgent) by tenant and agent.
 */
export interface ProfileStore {
  get(ref: ProfileRef): Promise<ProfileItem | undefined>;
  /** Creates the profile; false if one with that slot (name) exists. */
  create(r: ProfileRecord): Promise<boolean>;
  /** Replaces the whole profile (replace, rotate) if it is still at the generation, record version and settings version read (a Put: no partial state to MAC). */
  replace(r: ProfileRecord, read: { generation: number; record_version: number; settings_version: number }): Promise<boolean>;
  /**
   * Writes the settings a PATCH (or the grants a share) changed and bumps settings_version, if
   * the item is still the one read (`read`: its generation, record version, settings version and
   * created_at, which guard every covered attribute); the item as written, or undefined. Throws
   * if `read` is not the profile `ref` names.
   */
  patchSettings(ref: ProfileRef, changes: SettingsChanges, read: ProfileItem, updatedAt: string): Promise<ProfileItem | undefined>;
  /**
   * Rewrites the sealed content in place (same token) if the item is still the one read (its
   * generation, record version, settings version and created_at); counters untouched.
   */
  rewrite(r: ProfileRecord, read: ProfileItem): Promise<boolean>;
  /**
   * Counts a use (last_used_at, use_count, the day's counter; stale day counters dropped; a real
   * use's last_real_use_at; a run's in_flight_until, never made earlier) unless replaced or deleted.
   */
  recordUse(ref: ProfileRef, generation: number, use: UseToRecord): Promise<boolean>;
  /**
   * A run that set `until` as in_flight_until has ended: removes the mark if it is still that one
   * (whatever the generation: a rotation keeps it). A later mark of a concurrent run is left alone;
   * false when nothing was removed.
   */
  endInFlight(ref: ProfileRef, until: string): Promise<boolean>;
  /** Stores a profile test's outcome unless the profile was replaced or deleted. */
  recordTest(ref: ProfileRef, generation: number, at: string, ok: boolean): Promise<boolean>;
  /**
   * oauth2_authorization_code: records the observed connection (state, times, scopes, last error)
   * unless the profile was replaced or deleted (its generation and created_at); outside the MAC.
   */
  recordConnection(ref: ProfileRef, owner: { generation: number; created_at: string }, changes: ConnectionChanges): Promise<boolean>;
  /** OAuth2: records why the last token fetch failed, or (message undefined) removes that record. */
  recordTokenError(ref: ProfileRef, generation: number, message: string | undefined, at: string): Promise<boolean>;
  /**
   * Deletes the profile; false if absent or, with `read`, no longer at the generation and
   * settings version read (the version whose permission was checked).
   */
  delete(ref: ProfileRef, read?: { generation: number; settings_version: number }): Promise<boolean>;
  /**
   * A rename's first write (docs/architecture.md, "Renaming a profile"): marks the profile as being
   * renamed to `to` since `at` (the fence), replacing any earlier mark; false if the profile is
   * gone or no longer named `from`. Changes no covered attribute.
   */
  markRename(ref: ProfileRef, from: string, to: string, at: string): Promise<boolean>;
  /** Removes the mark of the rename to `to` started at `at` if it is still there; false otherwise (that rename may have finished). */
  cancelRename(ref: ProfileRef, to: string, at: string): Promise<boolean>;
  /**
   * A rename's profile write: the name becomes `to` (index keys with it), the mark goes,
   * settings_version is bumped and the post-state MACed, if the item is still the one read and
   * still marked for this rename (`to` at `at`). The item as written, or undefined.
   */
  rename(ref: ProfileRef, read: ProfileItem, to: string, at: string, updatedAt: string): Promise<ProfileItem | undefined>;
  /** One page of an agent's profiles, in slot order. */
  list(tenant: string, agentId: string, limit: number, cursor?: string): Promise<Page<ProfileItem>>;
  /**
   * One page of the profiles `keep` accepts (filters, access: store/items.ts fillProfilePage): of
   * one agent (`agentId` given: a Query of its partition, in slot order) or of the whole tenant (a
   * Query of the name index, in name then agent-id order; never a scan). A page may be short, even
   * empty, while `next` goes on.
   */
  listMatching(
    scope: ProfileListScope,
    limit: number,
    cursor: string | undefined,
    keep: (item: ProfileItem) => boolean,
  ): Promise<Page<ProfileItem>>;
  hasAny(tenant: string, agentId: string): Promise<boolean>;
  /**
   * Deletes every item of an agent's partition; how many of each kind went. Each profile is
   * deleted on its own and its removed item read back (none: it was gone already, not counted);
   * `onProfileDeleted` hears of each, verified (an item that fails its MAC check is deleted but
   * not reported), as soon as it is gone, so a failure part-way loses no report of what went.
   */
  deleteAllOfAgent(
    tenant: string,
    agentId: string,
    onProfileDeleted?: (item: ProfileItem) => void,
  ): Promise<{ profiles: number; sessions: number; other: number }>;
}

/** A name claim as written (the store adds keys and entity and signs it). */
export type ProfileNameRecord = Omit<ProfileNameItem, 'pk' | 'sk' | 'entity'>;

/**
 * Profile name claims (docs/architecture.md, "Renaming a profile"): one item per name, keyed by
 * the name's slot (`nameSlot`: slotFor of the name, 32 hex digits), in the agent's partition.
 */
export interface ProfileNameStore {
  get(tenant: string, agentId: string, nameSlot: string): Promise<ProfileNameItem | undefined>;
  /** Writes a claim over no claim (`read` undefined) or over exactly the one read (its nonce); false if another write came first. */
  put(nameSlot: string, claim: ProfileNameRecord, read: ProfileNameItem | undefined): Promise<boolean>;
  /** Deletes the claim if it still points at `slot` (and, given, still carries `nonce`); false otherwise. */
  release(tenant: string, agentId: string, nameSlot: string, slot: string, nonce?: string): Promise<boolean>;
}

/** Saved sessions: one item beside the profile (the same ProfileRef), sealed under the profile's token-derived keys. */
export interface SessionStore {
  /**
   * Stores a session if the stored item is still exactly the one read (its version and
   * generation). With nothing read, over no item or over one of an older profile (ordered by
   * profile_created_at, generation). False if a concurrent run saved first.
   */
  save(ref: ProfileRef, r: SessionRecord, read: { version: number; generation: number } | undefined): Promise<boolean>;
  /** Deletes the session unless it belongs to the profile generation `keep`. */
  deleteOlderThan(ref: ProfileRef, keep: { generation: number; profile_created_at: string }): Promise<boolean>;
  /** Deletes the session only if it is still exactly the one written. */
  deleteIfWritten(ref: ProfileRef, written: { version: number; generation: number; profile_created_at: string }): Promise<boolean>;
  /** Deletes the session, if any (idempotent). */
  delete(ref: ProfileRef): Promise<void>;
}

export interface RunStore {
  /** Creates the run record; false if the session id is taken. */
  create(r: RunRecord): Promise<boolean>;
  /** The run, or undefined if absent or expired at `nowEpochSeconds`. */
  get(sessionId: string, nowEpochSeconds: number): Promise<RunItem | undefined>;
  /**
   * Moves the run read (`read`) to `to` if it is still in one of `from` (a finished run is never
   * overwritten); the run as written, or undefined. The write is conditioned on the status read
   * (each status is entered once, so it guards the rest); if another transition landed first and
   * the run is still in one of `from`, it is read again and moved from there.
   */
  transition(
    read: RunItem,
    from: readonly RunState[],
    to: RunState,
    set: { result?: Uint8Array; started_at?: string; finished_at?: string },
  ): Promise<RunItem | undefined>;
}

/** Sealed async-run jobs (AWS mode): one item per accepted run. */
export interface RunJobStore {
  /** Stores a job; false if one for this session exists. */
  create(r: RunJobRecord): Promise<boolean>;
  /** The job, or undefined if absent or expired at `nowEpochSeconds`. */
  get(sessionId: string, nowEpochSeconds: number): Promise<RunJobItem | undefined>;
  /** Deletes the job (idempotent). */
  delete(sessionId: string): Promise<void>;
}

/** Run grants: one item per grant, written when a run starts, deleted when it ends (TTL as a backstop). */
export interface GrantStore {
  /** Writes a new grant; false if the id is taken. */
  create(r: GrantRecord): Promise<boolean>;
  /** The grant as stored (the caller checks its expiry), or undefined. */
  get(idHex: string): Promise<GrantItem | undefined>;
  delete(idHex: string): Promise<void>;
}

/**
 * The OAuth2 access-token cache: one item per profile (beside it: the same ProfileRef), with a refresh lease. Every write bumps
 * `version`, so taking the lease can be conditioned on nothing having changed since the read.
 */
export interface OAuthTokenStore {
  get(ref: ProfileRef): Promise<OAuthTokenItem | undefined>;
  /** Takes the lease if the item is still at `readVersion` (absent: undefined) and no live lease is held (one ended before `nowMs` may be taken over). */
  takeLease(ref: ProfileRef, readVersion: number | undefined, leaseId: string, nowMs: number, leaseUntil: number): Promise<boolean>;
  /** Stores a fetched token and releases the lease, if `leaseId` still holds it. */
  storeToken(ref: ProfileRef, leaseId: string, token: SealedToken): Promise<boolean>;
  /** Records a failed fetch for the profile state `owner` until `errorUntil` and releases the lease, if `leaseId` still holds it. */
  storeFailure(ref: ProfileRef, leaseId: string, message: string, errorUntil: number, owner: TokenOwner): Promise<boolean>;
  /**
   * oauth2_authorization_code: stores the tokens of a new connection (the callback), whoever holds
   * the lease: the lease is released, so a refresh of an earlier connection cannot overwrite it.
   */
  storeConnection(ref: ProfileRef, token: SealedToken): Promise<void>;
  /**
   * Removes the sealed tokens (access and refresh) and releases the lease: the connection is gone
   * (refused by the provider, or disconnected). With `leaseId`, only while it holds the lease.
   */
  clearConnection(ref: ProfileRef, leaseId?: string): Promise<boolean>;
  /** Deletes the item (idempotent). */
  delete(ref: ProfileRef): Promise<void>;
}

/** Connect links and authorization states: one item each, consumed by their first use (TTL as a backstop). */
export interface OAuthLinkStore {
  /** Writes a new link; false if the id is taken. */
  create(r: OAuthLinkRecord): Promise<boolean>;
  /** The link as stored (the caller checks its deadline), or undefined. */
  get(purpose: OAuthLinkPurpose, idHex: string): Promise<OAuthLinkItem | undefined>;
  /** Deletes the link if it is still there: true for exactly one of any number of concurrent consumers. */
  consume(purpose: OAuthLinkPurpose, idHex: string): Promise<boolean>;
}

/**
 * Tenant webhooks (one item each in the tenant partition) and their deliveries (one item each in
 * the webhook's partition: the durable delivery job and its log entry). Every write is a whole
 * item conditioned on absence or on the version read.
 */
/** Requests per BatchWriteItem: DynamoDB's limit. */
export const MAX_BATCH_WRITE = 25;

export interface WebhookStore {
  /** Creates the webhook; false if the id is taken. */
  create(r: WebhookRecord): Promise<boolean>;
  get(tenant: string, webhookId: string): Promise<WebhookItem | undefined>;
  /** Overwrites the webhook if its stored version is still `expectedVersion`. */
  replace(r: WebhookRecord, expectedVersion: number): Promise<boolean>;
  /** Deletes the webhook; false if it did not exist. */
  delete(tenant: string, webhookId: string): Promise<boolean>;
  /** One page of a tenant's webhooks, in id order. */
  list(tenant: string, limit: number, cursor?: string): Promise<Page<WebhookItem>>;
  /** Creates a delivery; false if its id is taken. */
  createDelivery(r: DeliveryRecord): Promise<boolean>;
  /**
   * Writes up to MAX_BATCH_WRITE new deliveries in one BatchWriteItem (plain Puts of fresh,
   * time-ordered random ids, as the audit log writes its records), sending what DynamoDB leaves
   * unprocessed again a few times; the records it never took (none: all written). Throws if a
   * request fails, after which any of them may have been written.
   */
  createDeliveries(rs: readonly DeliveryRecord[]): Promise<DeliveryRecord[]>;
  /** The delivery, or undefined if absent or past its TTL. */
  getDelivery(tenant: string, webhookId: string, deliveryId: string, nowEpochSeconds: number): Promise<WebhookDeliveryItem | undefined>;
  /** Overwrites the delivery if its stored version is still `expectedVersion`. */
  replaceDelivery(r: DeliveryRecord, expectedVersion: number): Promise<boolean>;
  /** One page of a webhook's deliveries, newest first; expired ones left out. */
  listDeliveries(tenant: string, webhookId: string, limit: number, cursor: string | undefined, nowEpochSeconds: number): Promise<Page<WebhookDeliveryItem>>;
}

/** The audit log: each record written as up to three views (tenant, agent, profile). */
export interface AuditStore {
  /** Writes every view of a record and its writer's head (one round trip); throws if not all were taken. */
  write(record: AuditRecord, head?: AuditHead): Promise<void>;
  /** One page of a view, newest first. */
  query(q: AuditQuery): Promise<{ records: AuditRecord[]; next?: string }>;
  /** Every stored audit item (records' views and writers' heads), raw (verify-audit; an operator tool that scans). */
  scanAll(tenant?: string): AsyncGenerator<Record<string, unknown>>;
}

/** Per-tenant request counters, one per tenant and fixed window. */
export interface RateLimitStore {
  /** Counts one request in the window if fewer than `limit` were counted; false if full. */
  take(tenant: string, windowStart: number, limit: number, expiresAt: number): Promise<boolean>;
}

export interface ProfileContextStore {
  /**
   * The agent and, given a ProfileRef, its profile, and (withSession) its saved session and (withOAuthToken) its OAuth2
   * token cache item, in one round trip (a consistent BatchGetItem on DynamoDB).
   */
  load(at: ProfileRef | AgentRef, options?: ProfileContextOptions): Promise<ProfileContext>;
}

/** Everything the domain persists. */
export interface Store {
  /** Names the data set (the table); process-wide caches key on it. */
  readonly name: string;
  readonly agents: AgentStore;
  readonly apiKeys: ApiKeyStore;
  readonly profiles: ProfileStore;
  readonly profileNames: ProfileNameStore;
  readonly profileContext: ProfileContextStore;
  readonly sessions: SessionStore;
  readonly runs: RunStore;
  readonly runJobs: RunJobStore;
  readonly grants: GrantStore;
  readonly oauthTokens: OAuthTokenStore;
  readonly webhooks: WebhookStore;
  readonly oauthLinks: OAuthLinkStore;
  readonly audit: AuditStore;
  readonly rateLimits: RateLimitStore;
}
