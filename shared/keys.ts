import type { ProfileRef } from './store/profile-ref.ts';

/**
 * Key builders for the one table (docs/architecture.md, "The table"). Every pk/sk string in the code base is built here.
 */
export interface ItemKey {
  readonly pk: string;
  readonly sk: string;
}

const agentPartition = (tenant: string, agentId: string) => `TENANT#${tenant}#AGENT#${agentId}`;

export const PROFILE_PREFIX = 'PROFILE#';
/** Sort-key prefix of profile name claims (docs/architecture.md, "Renaming a profile"). */
export const NAME_PREFIX = 'NAME#';
export const SESSION_PREFIX = 'SESSION#';
export const AGENT_PREFIX = 'AGENT#';
export const OAUTH_TOKEN_PREFIX = 'OAUTH#';
export const AUDIT_PREFIX = 'AUDIT#';
/** Sort-key prefix of a tenant's API-key index items (in the tenant partition, beside its agents). */
export const API_KEY_INDEX_PREFIX = 'APIKEY#';
/** Sort-key prefix of a tenant's webhooks (in the tenant partition). */
export const WEBHOOK_PREFIX = 'WEBHOOK#';
/** Sort-key prefix of a webhook's deliveries (in the webhook's own partition). */
export const DELIVERY_PREFIX = 'DELIVERY#';

/**
 * The table's one global secondary index: profiles by name across a tenant's agents
 * (GET /v1/auth-profiles; docs/architecture.md, "The table"). Its keys are attributes of the
 * profile item, written by every write that puts or edits one (shared/store/items.ts profileToItem).
 */
export const PROFILE_NAME_INDEX = 'profiles-by-name';
export const PROFILE_NAME_INDEX_PK = 'name_pk';
export const PROFILE_NAME_INDEX_SK = 'name_sk';
/** Between name and agent id in the index's sort key: below every character a name may hold (names refuse control characters). */
const NAME_INDEX_SEPARATOR = '\u0001';

export const keys = {
  /** The name index's partition of a tenant's profiles. */
  profileNameIndexPk: (tenant: string) => `PROFILES#${tenant}`,
  /** A profile's index keys: name order, then agent id (shared/schemas/common.ts ProfileName refuses control characters). */
  profileNameIndex: (tenant: string, agentId: string, name: string) => ({
    [PROFILE_NAME_INDEX_PK]: `PROFILES#${tenant}`,
    [PROFILE_NAME_INDEX_SK]: `${name}${NAME_INDEX_SEPARATOR}${agentId}`,
  }),
  apiKey: (keyHashHex: string): ItemKey => ({ pk: `APIKEY#${keyHashHex}`, sk: 'APIKEY' }),
  /** Marker that a tenant has been issued an API key (keys are found by hash, not by tenant). */
  tenantKeyMarker: (tenant: string): ItemKey => ({ pk: `TENANT#${tenant}`, sk: 'APIKEYS' }),
  /**
   * A tenant's index entry for one of its API keys, by key id, so GET /v1/api-keys is one Query
   * of the tenant partition (no scan) and DELETE /v1/api-keys/{key_id} finds the key's hash.
   */
  tenantApiKey: (tenant: string, keyId: string): ItemKey => ({ pk: `TENANT#${tenant}`, sk: `${API_KEY_INDEX_PREFIX}${keyId}` }),
  tenantAgents: (tenant: string) => `TENANT#${tenant}`,
  agent: (tenant: string, agentId: string): ItemKey => ({ pk: `TENANT#${tenant}`, sk: `${AGENT_PREFIX}${agentId}` }),
  /** Partition holding an agent's profiles and sessions. */
  agentPartition,
  profile: (ref: ProfileRef): ItemKey => ({ pk: agentPartition(ref.tenant, ref.agentId), sk: `${PROFILE_PREFIX}${ref.slot}` }),
  /**
   * The claim of a profile name (keyed by the name's slot, slotFor: the name's hash), in the
   * agent's partition, pointing at where the profile of that name lives.
   */
  profileName: (tenant: string, agentId: string, nameSlotHex: string): ItemKey => ({
    pk: agentPartition(tenant, agentId),
    sk: `${NAME_PREFIX}${nameSlotHex}`,
  }),
  /** A profile's saved session: beside the profile, under the same slot. */
  session: (ref: ProfileRef): ItemKey => ({ pk: agentPartition(ref.tenant, ref.agentId), sk: `${SESSION_PREFIX}${ref.slot}` }),
  /** An OAuth2 profile's cached access token and refresh lease: next to the profile, so deleting the agent's partition removes it. */
  oauthToken: (ref: ProfileRef): ItemKey => ({ pk: agentPartition(ref.tenant, ref.agentId), sk: `${OAUTH_TOKEN_PREFIX}${ref.slot}` }),
  run: (sessionId: string): ItemKey => ({ pk: `RUN#${sessionId}`, sk: 'RUN' }),
  /**
   * Audit record views (no scans): every record is written to its tenant's partition, its
   * agent's and its profile's (by slot), each sorted by `<at>#<id>`, so each filter of
   * GET /v1/audit is one Query, newest first. Tenant ids and agent ids contain no "#".
   */
  auditTenant: (tenant: string) => `${AUDIT_PREFIX}${tenant}`,
  auditAgent: (tenant: string, agentId: string) => `${AUDIT_PREFIX}${tenant}#AGENT#${agentId}`,
  auditProfile: (tenant: string, agentId: string, slotHex: string) => `${AUDIT_PREFIX}${tenant}#AGENT#${agentId}#PROFILE#${slotHex}`,
  auditSort: (at: string, id: string) => `${at}#${id}`,
  /** An audit writer's head (one per process and tenant: shared/audit/record.ts AuditHead); writer ids are hex. */
  auditHead: (tenant: string, writer: string): ItemKey => ({ pk: `${AUDIT_PREFIX}${tenant}#WRITER#${writer}`, sk: 'HEAD' }),
  /**
   * AWS mode: the KMS-sealed job of an accepted async run, beside its run record. The worker's
   * event names only the session, so the sealed token never rests in Lambda's queue or in SQS.
   */
  runJob: (sessionId: string): ItemKey => ({ pk: `RUN#${sessionId}`, sk: 'JOB' }),
  /** A tenant's request counter for one fixed rate-limit window (epoch seconds of its start). */
  tenantRate: (tenant: string, windowStart: number): ItemKey => ({ pk: `RATE#${tenant}#${windowStart}`, sk: 'RATE' }),
  /** A tenant webhook: in the tenant partition, so listing them is one Query (no scan). */
  webhook: (tenant: string, webhookId: string): ItemKey => ({ pk: `TENANT#${tenant}`, sk: `${WEBHOOK_PREFIX}${webhookId}` }),
  /** A webhook's own partition: its deliveries, sorted by time-ordered id. */
  webhookPartition: (tenant: string, webhookId: string) => `TENANT#${tenant}#WEBHOOK#${webhookId}`,
  webhookDelivery: (tenant: string, webhookId: string, deliveryId: string): ItemKey => ({
    pk: `TENANT#${tenant}#WEBHOOK#${webhookId}`,
    sk: `${DELIVERY_PREFIX}${deliveryId}`,
  }),
  /** A run grant's sealed key material, keyed by the grant's id (the grant itself is never stored). */
  grant: (grantIdHex: string): ItemKey => ({ pk: `GRANT#${grantIdHex}`, sk: 'GRANT' }),
  /** A connect link (CONNECT) or an authorization request's state (STATE), keyed by its id (the secret is never stored). */
  oauthLink: (purpose: 'CONNECT' | 'STATE', idHex: string): ItemKey => ({ pk: `OAUTHLINK#${idHex}`, sk: purpose }),
} as const;

/**
 * An item: its key, its entity, then the record's attributes — what `{ ...key, entity, ...record }`
 * builds, written as one literal and one spread: V8 (Node 20) adds the members that follow a
 * spread one hidden class at a time, 30–100× slower for a record of 15–30 attributes
 * (docs/architecture.md, "Performance").
 */
export function itemAt<E extends string, R extends object>(key: ItemKey, entity: E, record: R): { pk: string; sk: string; entity: E } & R {
  return { pk: key.pk, sk: key.sk, entity, ...record };
}
