import { createHmac, timingSafeEqual } from 'node:crypto';
import { lengthPrefixedText } from '../crypto/item-mac.ts';
import { publicRandom } from '../crypto/random.ts';
import { INVALID, parserOf } from '../schemas/item-codec.ts';
import * as z from '../schemas/zod.ts';
import { parseOrThrow } from '../schemas/zod.ts';
import type { ServerKey, ServerKeyRing } from '../crypto/server-key.ts';
import type { Caller } from '../deps.ts';

/**
 * The audit log: one record for every change to a profile and every use of one (including the
 * refusals). A record names who (tenant, API key id, source IP, request id), what (action,
 * agent, profile, generation, session) and how it ended (HTTP status and result code). It never
 * holds a secret, a token or an auth_data value: every field below is an id, a name, a code or
 * a time, and free text is not accepted.
 *
 * Integrity: each record carries `mac = HMAC-SHA256(audit_mac_key, canonical(record))`, where
 * `audit_mac_key` is the server key's `audit-mac` subkey (HKDF, see SUBKEY_ROLES), and the id of that
 * server key. `npm run admin -- verify-audit` recomputes it: an edited field, a record moved to
 * another tenant, profile or time, or a forged record without the server key all fail.
 *
 * Deletions: each record is a link in its writer's chain (`writer`, `seq`, `prev_mac`,
 * `prev_expires_at`, covered by the MAC), and every write also writes its writer's head item
 * (AuditHead: the chain's last sequence number and MAC, MAC'd too). A writer is one process's
 * chain for one tenant (shared/audit/log.ts), so no key is shared by every process: see
 * verifyAuditLog there for what is checked and what stays undetectable.
 */

/** Changes to a profile, including who may use it (share, unshare). */
export const CHANGE_ACTIONS = ['create', 'replace', 'update', 'rotate', 'patch', 'rename', 'delete', 'share', 'unshare', 'connect', 'disconnect'] as const;
/** Changes to the tenant's principals: no agent, no profile (their records live in the tenant view only). */
export const API_KEY_ACTIONS = ['api_key_create', 'api_key_revoke'] as const;
/** Changes to an agent (its runner, its signing secret, its existence): no profile (tenant and agent views). */
export const AGENT_ACTIONS = ['agent_create', 'agent_update', 'agent_delete', 'agent_rotate_signing_secret'] as const;
/** Changes to the tenant's webhooks (and test sends): no agent, no profile; `principal` is the webhook id. */
export const WEBHOOK_ACTIONS = ['webhook_create', 'webhook_update', 'webhook_delete', 'webhook_rotate_secret', 'webhook_test'] as const;
/** Uses of a profile's credentials: the gate's purposes. */
export const USE_ACTIONS = ['run', 'proxy', 'test'] as const;
export const AUDIT_ACTIONS = [...CHANGE_ACTIONS, ...API_KEY_ACTIONS, ...AGENT_ACTIONS, ...WEBHOOK_ACTIONS, ...USE_ACTIONS] as const;

export const AuditAction = z.enum(AUDIT_ACTIONS);
export type AuditAction = z.infer<typeof AuditAction>;
export type UseAction = (typeof USE_ACTIONS)[number];

export function isUseAction(action: string): action is UseAction {
  return (USE_ACTIONS as readonly string[]).includes(action);
}

/** What a caller writes; the log adds id, time, expiry and MAC. */
export const AuditEventInput = z.object({
  tenant: z.string(),
  /** Non-secret id of the API key that made the request (`Caller.apiKeyId`); `system` for the vault's own work. */
  key_id: z.string(),
  action: AuditAction,
  /** The agent acted on; absent for API-key events (api_key_create, api_key_revoke). */
  agent_id: z.optional(z.string()),
  /** Profile name (absent only when the profile could not be identified); a rename's: the name before. */
  profile: z.optional(z.string()),
  /** rename: the name after. */
  new_name: z.optional(z.string()),
  /** Slot of the profile (hex): the key of its per-profile view. */
  slot: z.optional(z.string()),
  /** The profile generation acted on (after the change, for create/replace/rotate). */
  generation: z.optional(z.int()),
  /** HTTP status of the answer: 200/201/204 for success, the refusal's status otherwise. */
  status: z.int(),
  /** `ok`, or the error code of the refusal (`token_expired`, `profile_inactive`, `source_ip_not_allowed`…). */
  result: z.string(),
  source_ip: z.optional(z.string()),
  request_id: z.optional(z.string()),
  /** The run this use belongs to, if any. */
  session_id: z.optional(z.string()),
  /**
   * Whom a change is about: the grantee of a share/unshare (a key_id or "role:member"), the key_id
   * of the API key created or revoked, the webhook changed. An id, never a key.
   */
  principal: z.optional(z.string()),
  /** share: the permission granted (read | read_write). */
  permission: z.optional(z.enum(['read', 'read_write'])),
  /** api_key_create: the new key's role (admin | member). */
  role: z.optional(z.enum(['admin', 'member'])),
});
export type AuditEventInput = z.infer<typeof AuditEventInput>;

/**
 * The event of `action` by `caller`: who (tenant, key id, source IP, request id) and how it
 * ended (`status`, `result`), with what it is `about` (agent, profile, principal…).
 */
export function eventBy(
  caller: Caller,
  action: AuditAction,
  status: number,
  about: Omit<Partial<AuditEventInput>, 'tenant' | 'key_id' | 'action' | 'status'> = {},
): AuditEventInput {
  return {
    tenant: caller.tenant,
    key_id: caller.apiKeyId || 'system',
    action,
    status,
    result: 'ok',
    source_ip: caller.sourceIp,
    request_id: caller.requestId,
    ...about,
  };
}

/** A record's place in its writer's chain (absent on records written before chains). */
export const AuditChainLink = z.object({
  /** Random id of the writer (one process, one tenant): the chain the record belongs to. */
  writer: z.string(),
  /** 1, 2, 3… within the writer's chain. */
  seq: z.int(),
  /** The `mac` of the writer's previous record (absent at seq 1). */
  prev_mac: z.optional(z.string()),
  /** The `expires_at` of the writer's previous record: a gap before this record whose predecessor is past it was TTL, not a deletion. */
  prev_expires_at: z.optional(z.int()),
});
export type AuditChainLink = z.infer<typeof AuditChainLink>;

export const AuditRecord = z.extend(AuditEventInput, {
  /** Time-ordered id: the record's place in every view (`<at>#<id>`). */
  id: z.string(),
  at: z.string(),
  /** Epoch seconds: DynamoDB TTL removes the record after VAULT_AUDIT_RETENTION_DAYS. */
  expires_at: z.int(),
  ...z.partial(AuditChainLink).shape,
  /** Id (hex) of the server key whose audit subkey made `mac`. */
  mac_key_id: z.string(),
  mac: z.string(),
});
export type AuditRecord = z.infer<typeof AuditRecord>;

/** The MAC-covered fields, in a fixed order (absent → empty string, numbers as decimal text). */
const MAC_FIELDS = [
  'id',
  'at',
  'expires_at',
  'tenant',
  'key_id',
  'action',
  'agent_id',
  'profile',
  'slot',
  'generation',
  'status',
  'result',
  'source_ip',
  'request_id',
  'session_id',
] as const satisfies readonly (keyof AuditRecord)[];

const MAC_LABEL = 'agent-vault/audit/v1';

/**
 * Fields added after v1 (principals and sharing). A record carrying any of them is MAC'd under
 * v2 over MAC_FIELDS followed by these; one carrying none keeps the v1 input exactly, so records
 * written before them still verify. Stripping them from a v2 record changes the input (and the
 * label), so that edit is detected too.
 */
const MAC_FIELDS_V2 = ['principal', 'permission', 'role'] as const satisfies readonly (keyof AuditRecord)[];
const MAC_LABEL_V2 = 'agent-vault/audit/v2';

/**
 * Chained records (any record with a `writer`) are MAC'd under v3 over the v1 and v2 fields and
 * the chain link; stripping the link from a v3 record changes the input and the label.
 */
const MAC_FIELDS_V3 = ['writer', 'seq', 'prev_mac', 'prev_expires_at'] as const satisfies readonly (keyof AuditRecord)[];
const MAC_LABEL_V3 = 'agent-vault/audit/v3';

/** The fields each MAC version covers, in order. */
const FIELDS_V1: readonly (keyof AuditRecord)[] = MAC_FIELDS;
const FIELDS_V2: readonly (keyof AuditRecord)[] = [...MAC_FIELDS, ...MAC_FIELDS_V2];
const FIELDS_V3: readonly (keyof AuditRecord)[] = [...MAC_FIELDS, ...MAC_FIELDS_V2, ...MAC_FIELDS_V3];

/** The MAC of a record (its `mac`, `mac_key_id` aside) under a server key. */
export function computeAuditMac(serverKey: ServerKey, record: Omit<AuditRecord, 'mac' | 'mac_key_id'>): string {
  const v3 = MAC_FIELDS_V3.some((f) => record[f] !== undefined);
  const v2 = v3 || MAC_FIELDS_V2.some((f) => record[f] !== undefined);
  const fields = v3 ? FIELDS_V3 : v2 ? FIELDS_V2 : FIELDS_V1;
  const parts: string[] = [v3 ? MAC_LABEL_V3 : v2 ? MAC_LABEL_V2 : MAC_LABEL];
  for (const f of fields) {
    const v = record[f as keyof typeof record];
    parts.push(v === undefined ? '' : String(v));
  }
  return createHmac('sha256', serverKey.auditMacKey).update(lengthPrefixedText(parts)).digest('hex');
}

/**
 * A time-ordered record id: 12 hex digits of milliseconds, 4 of a per-process sequence within
 * that millisecond (so one process's records keep their order), then 12 random hex digits (so
 * records from different processes never collide).
 */
export function newAuditId(at: Date): string {
  const ms = at.getTime();
  sequence = ms === lastMs ? sequence + 1 : 0;
  lastMs = ms;
  return ms.toString(16).padStart(12, '0') + (sequence & 0xffff).toString(16).padStart(4, '0') + publicRandom(6).toString('hex');
}
let lastMs = -1;
let sequence = 0;

/** `schema.parse` through its lean parser (shared/schemas/item-codec.ts); what it refuses throws zod's own error. */
function parseAs<S extends z.ZodMiniType>(schema: S, value: unknown): z.output<S> {
  const parsed = parserOf(schema)(value);
  return parsed === INVALID ? parseOrThrow(schema, value) : parsed;
}

/** Builds the full record for an event: id, time, expiry, its chain link (if given) and the MAC under the current server key. */
export function sealAuditRecord(
  serverKeys: ServerKeyRing,
  event: AuditEventInput,
  at: Date,
  retentionSeconds: number,
  link?: AuditChainLink,
): AuditRecord {
  // The parsed event is a fresh object (anything not in the schema dropped: no stray field
  // reaches the log); the record is built on it, field by field, in the order a spread would give.
  const record = parseAs(AuditEventInput, event) as Record<string, unknown>;
  record.id = newAuditId(at);
  record.at = at.toISOString();
  record.expires_at = Math.floor(at.getTime() / 1000) + retentionSeconds;
  if (link) {
    const parsed = parseAs(AuditChainLink, link) as Record<string, unknown>;
    for (const k of Object.keys(parsed)) record[k] = parsed[k];
  }
  const key = serverKeys.current;
  const mac = computeAuditMac(key, record as Omit<AuditRecord, 'mac' | 'mac_key_id'>);
  record.mac_key_id = key.idHex;
  record.mac = mac;
  return record as AuditRecord;
}

/**
 * Why a stored MAC (of a record or a head) fails verification, or undefined if it is intact:
 * an unknown key, a malformed MAC, or a MAC that `compute` does not reproduce (constant time).
 */
function macProblem(
  serverKeys: ServerKeyRing,
  stored: { mac: string; mac_key_id: string },
  compute: (key: ServerKey) => string,
  what: 'record' | 'head',
): string | undefined {
  const key = serverKeys.byId(stored.mac_key_id);
  if (!key) return `its MAC key ${stored.mac_key_id} is not in the server key ring`;
  if (!/^[0-9a-f]{64}$/.test(stored.mac)) return `its MAC is malformed (the ${what} was edited)`;
  return timingSafeEqual(Buffer.from(compute(key), 'hex'), Buffer.from(stored.mac, 'hex'))
    ? undefined
    : `its MAC does not match (the ${what} was edited)`;
}

/** Why a stored record fails verification, or undefined if it is intact. */
export function auditRecordProblem(serverKeys: ServerKeyRing, record: AuditRecord): string | undefined {
  const { mac: _mac, mac_key_id: _kid, ...body } = record;
  return macProblem(serverKeys, record, (key) => computeAuditMac(key, body), 'record');
}

/**
 * A writer's head: its chain's last sequence number and that record's id and MAC, written in the
 * same BatchWriteItem as the record (one item per writer, so no key every process writes). It
 * expires with that record. verify-audit compares it with the newest record it finds, so
 * deleting the newest records of a chain (or the head itself) shows.
 */
export const AuditHead = z.object({
  tenant: z.string(),
  writer: z.string(),
  seq: z.int(),
  last_id: z.string(),
  last_mac: z.string(),
  /** The last record's expiry (and the head's TTL). */
  expires_at: z.int(),
  mac_key_id: z.string(),
  mac: z.string(),
});
export type AuditHead = z.infer<typeof AuditHead>;

const HEAD_LABEL = 'agent-vault/audit-head/v1';

function computeHeadMac(serverKey: ServerKey, h: Omit<AuditHead, 'mac' | 'mac_key_id'>): string {
  return createHmac('sha256', serverKey.auditMacKey)
    .update(lengthPrefixedText([HEAD_LABEL, h.tenant, h.writer, String(h.seq), h.last_id, h.last_mac, String(h.expires_at)]))
    .digest('hex');
}

/** The head a chained record leaves its writer at, MAC'd under the key that MAC'd the record. */
export function sealAuditHead(serverKeys: ServerKeyRing, record: AuditRecord & AuditChainLink): AuditHead {
  const body = {
    tenant: record.tenant,
    writer: record.writer,
    seq: record.seq,
    last_id: record.id,
    last_mac: record.mac,
    expires_at: record.expires_at,
  };
  const key = serverKeys.current;
  const mac = computeHeadMac(key, body);
  // A literal, not `{ ...body, … }`: members after a spread are slow in V8 (docs/architecture.md, "Performance").
  return {
    tenant: body.tenant,
    writer: body.writer,
    seq: body.seq,
    last_id: body.last_id,
    last_mac: body.last_mac,
    expires_at: body.expires_at,
    mac_key_id: key.idHex,
    mac,
  };
}

/** Why a stored head fails verification, or undefined if it is intact. */
export function auditHeadProblem(serverKeys: ServerKeyRing, head: AuditHead): string | undefined {
  const { mac: _mac, mac_key_id: _kid, ...body } = head;
  return macProblem(serverKeys, head, (key) => computeHeadMac(key, body), 'head');
}
