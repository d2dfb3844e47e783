import { canonicalJsonOf, itemMacV2Json, verifyItemMac } from '../crypto/item-mac.ts';
import { constantTimeEqual } from '../crypto/server-seal.ts';
import type { ServerKey, ServerKeyRing } from '../crypto/server-key.ts';
import { IntegrityError } from '../errors.ts';
import { type ItemKey, keys } from '../keys.ts';
import type { Logger, LogFields } from '../log.ts';
import {
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
  WebhookDeliveryItem,
  WebhookItem,
} from '../schemas/items.ts';
import { INVALID, type Parser, parserOf } from '../schemas/item-codec.ts';
import type * as z from '../schemas/zod.ts';
import { parseOrThrow } from '../schemas/zod.ts';

/**
 * The signed store's barrier: every item a store implementation writes is sealed here (its
 * covered attributes MACed with its key, shared/crypto/item-mac.ts v2) and every item it reads is
 * opened here (parsed with its schema, MAC verified) before the domain sees it — the shape of
 * HashiCorp Vault's barrier (every Put sealed, every Get opened), so no call site can forget.
 * Domain code never sees a MAC: the schemas carry none, and a tampered item surfaces only as an
 * IntegrityError (500 integrity_check_failed) or, in a listing, as an item left out.
 *
 * What is covered is everything the schema parses, minus a deny-list (UNSIGNED_ATTRIBUTES):
 * counters and observations that are written without reading the item (a use, a test, a failed
 * token fetch, the OAuth2 refresh lease). A field added to a schema later is covered by default.
 * The MAC is computed over the parsed item (defaults applied), so an item verifies the same
 * whether a defaulted attribute is stored or not, and a partial write can MAC its post-state
 * from the item it read.
 */

/** What the store signs: one kind per item schema. */
export type SignedKind =
  | 'agent'
  | 'api-key'
  | 'api-key-index'
  | 'profile'
  | 'profile-name'
  | 'session'
  | 'run'
  | 'run-job'
  | 'grant'
  | 'oauth-token'
  | 'oauth-link'
  | 'webhook'
  | 'webhook-delivery';

const SCHEMAS: Record<SignedKind, z.ZodMiniType> = {
  agent: AgentItem,
  'api-key': ApiKeyItem,
  'api-key-index': ApiKeyIndexItem,
  profile: ProfileItem,
  'profile-name': ProfileNameItem,
  session: SessionItem,
  run: RunItem,
  'run-job': RunJobItem,
  grant: GrantItem,
  'oauth-token': OAuthTokenItem,
  webhook: WebhookItem,
  'webhook-delivery': WebhookDeliveryItem,
  'oauth-link': OAuthLinkItem,
};

/** The attributes an item stores about its MAC; never part of what the MAC covers. */
export const MAC_ATTRIBUTES = ['mac', 'mac_key_id', 'mac_format'] as const;

/** The current format of item MACs (the "item-mac/v2" input of shared/crypto/item-mac.ts). */
export const MAC_FORMAT = 2;

/**
 * Attributes outside the MAC, per kind. Everything else an item's schema parses is covered.
 * - profile: usage counters (use_count, the `uses_<day>_<kind>` day counters gathered into
 *   daily_uses, last_used_at, last_real_use_at, in_flight_until) and observations (last test, last token error):
 *   written by conditional UpdateItems that read nothing, so a concurrent PATCH is never lost.
 *   Editing them changes a statistic or delays a delete (in_flight_until), never where a
 *   credential goes or who may use it. Also a rename's fence (rename_to, rename_at): editing it
 *   can only make a rename fail with 409, never change a name (docs/architecture.md, "Renaming a profile").
 * - oauth-token: the refresh lease (lease_id, lease_until), the write counter `version` its take
 *   is conditioned on, and the last failed fetch (error_message, error_until, and the profile
 *   state it failed for: error_generation, error_record_version, error_profile_created_at). The lease is taken
 *   with a conditional UpdateItem on an item that may not exist yet and without reading the
 *   cached token, so it cannot MAC a post-state; editing these can only delay or deny a refresh.
 *   The cached token, its times and the profile state it was fetched for are covered.
 */
export const UNSIGNED_ATTRIBUTES: Readonly<Record<SignedKind, readonly string[]>> = {
  agent: [],
  'api-key': [],
  'api-key-index': [],
  profile: [
    'use_count',
    'daily_uses',
    'last_used_at',
    'last_real_use_at',
    'in_flight_until',
    'last_tested_at',
    'last_test_ok',
    'last_error',
    'last_error_at',
    'connection_state',
    'connected_at',
    'scopes_granted',
    'last_refreshed_at',
    'rename_to',
    'rename_at',
  ],
  'profile-name': [],
  session: [],
  run: [],
  'run-job': [],
  grant: [],
  webhook: [],
  'webhook-delivery': [],
  'oauth-link': [],
  'oauth-token': [
    'version',
    'lease_id',
    'lease_until',
    'error_message',
    'error_until',
    'error_generation',
    'error_record_version',
    'error_profile_created_at',
  ],
};

/** The attributes a write adds to an item: its MAC, the key that made it, the format. */
export interface MacAttributes {
  readonly mac: Buffer;
  readonly mac_key_id: string;
  readonly mac_format: number;
}

type Raw = Record<string, unknown>;

export interface ItemSigner {
  /** `item` (a whole item, keys included, as it will be stored) with its MAC attributes, any it carried replaced. */
  seal<T extends ItemKey>(kind: SignedKind, item: T): Omit<T, (typeof MAC_ATTRIBUTES)[number]> & MacAttributes;
  /** The MAC attributes of an item's post-state (its covered attributes after a partial write), keys included. */
  macFor(kind: SignedKind, post: ItemKey & Raw): MacAttributes;
  /** A stored item, parsed with its schema once its MAC verifies; IntegrityError (logged) if it does not. */
  open<T>(kind: SignedKind, raw: Raw): T;
  /** Stored items that verify, parsed; a tampered or unsigned one is logged and left out. */
  openAll<T>(kind: SignedKind, raws: readonly Raw[]): T[];
  /** Whether a stored item verifies (no log, no throw): the admin CLI's sign-items and the bootstrap key. */
  intact(kind: SignedKind, raw: Raw): boolean;
}

/** Per kind, whether an attribute of a parsed item is left out of its MAC: its key, its MAC attributes, UNSIGNED_ATTRIBUTES. */
const NOT_COVERED = Object.fromEntries(
  Object.entries(UNSIGNED_ATTRIBUTES).map(([kind, unsigned]) => {
    const out = new Set(['pk', 'sk', ...MAC_ATTRIBUTES, ...unsigned]);
    return [kind, (k: string) => out.has(k)];
  }),
) as Record<SignedKind, (k: string) => boolean>;

/** The v2 MAC of a parsed item's covered attributes (their canonical JSON written in one pass). */
function macV2(key: ServerKey, kind: SignedKind, pk: string, sk: string, parsed: Raw): Buffer {
  return itemMacV2Json(key, kind, pk, sk, canonicalJsonOf(parsed, NOT_COVERED[kind]));
}

/** An item's schema as a lean parser (shared/schemas/item-codec.ts: accepts exactly what the schema does). */
const parserFor = (kind: SignedKind): Parser<Raw> => parserOf(SCHEMAS[kind]) as Parser<Raw>;

/** The ids an integrity failure is logged with (from the item's key; never its content, never a whole hash). */
export function idsOf(kind: SignedKind, k: ItemKey): LogFields {
  const agentPart = /^TENANT#([^#]+)#AGENT#([^#]+)$/.exec(k.pk);
  const suffix = (s: string) => s.slice(s.indexOf('#') + 1);
  switch (kind) {
    case 'agent':
      return { kind, tenant: suffix(k.pk), agent_id: suffix(k.sk) };
    case 'profile':
    case 'profile-name':
    case 'session':
    case 'oauth-token':
      return { kind, tenant: agentPart?.[1], agent_id: agentPart?.[2], slot: suffix(k.sk) };
    case 'api-key':
      return { kind, key_hash_prefix: suffix(k.pk).slice(0, 12) };
    case 'api-key-index':
      return { kind, tenant: suffix(k.pk), key_id: suffix(k.sk) };
    case 'run':
    case 'run-job':
      return { kind, session_id: suffix(k.pk) };
    case 'grant':
      return { kind, grant_id_prefix: suffix(k.pk).slice(0, 8) };
    case 'webhook':
      return { kind, tenant: suffix(k.pk), webhook_id: suffix(k.sk) };
    case 'webhook-delivery': {
      const m = /^TENANT#([^#]+)#WEBHOOK#([^#]+)$/.exec(k.pk);
      return { kind, tenant: m?.[1], webhook_id: m?.[2], delivery_id: suffix(k.sk) };
    }
    case 'oauth-link':
      return { kind, link_id_prefix: suffix(k.pk).slice(0, 8) };
  }
}

/** The command that signs the items written before the signed store (infra/local/admin.ts). */
export const SIGN_ITEMS_COMMAND = 'npm run admin -- sign-items';

/** 500 integrity_check_failed: what to do, never why. */
export function integrityFailed(kind: SignedKind, ids: LogFields, unsigned: boolean): IntegrityError {
  if (unsigned) {
    return new IntegrityError(
      `A stored item (${kind}) was written before this vault version signed its items and was not used; the vault's operator signs such items once with "${SIGN_ITEMS_COMMAND}" (local mode), then retry`,
    );
  }
  switch (kind) {
    case 'agent':
      return new IntegrityError(
        `Agent "${ids.agent_id}" failed the vault's integrity check and was not used; delete it (DELETE /v1/agents/${ids.agent_id}?force=true), register it again, and tell the vault's operator`,
      );
    case 'profile':
      return new IntegrityError(
        `A profile of agent "${ids.agent_id}" failed the vault's integrity check and was not used; delete the profile, create it again with its credentials, and tell the vault's operator`,
      );
    default:
      return new IntegrityError(
        `A stored item (${kind}) failed the vault's integrity check and was not used; tell the vault's operator, and start the operation again once they have looked at it`,
      );
  }
}

/** The signer of a store over the server key ring; integrity failures are logged to `log`. */
export function itemSigner(ring: ServerKeyRing, log: Logger): ItemSigner {
  /** The parsed item; a shape the schema refuses throws zod's own error. */
  const parse = (kind: SignedKind, raw: Raw): Raw => {
    const parsed = parserFor(kind)(raw);
    return parsed === INVALID ? (parseOrThrow(SCHEMAS[kind], raw) as Raw) : parsed;
  };

  const macFor = (kind: SignedKind, post: ItemKey & Raw): MacAttributes => ({
    mac: macV2(ring.current, kind, post.pk, post.sk, parse(kind, post)),
    mac_key_id: ring.current.idHex,
    mac_format: MAC_FORMAT,
  });

  /** Verifies `raw` (parsed as `parsed`): v2, or v1 for agents and API keys written before. */
  function verifies(kind: SignedKind, raw: Raw, parsed: Raw): boolean {
    const mac = raw.mac;
    const keyId = raw.mac_key_id;
    if (!(mac instanceof Uint8Array) || typeof keyId !== 'string') return false;
    const pk = raw.pk as string;
    const sk = raw.sk as string;
    if (raw.mac_format === MAC_FORMAT) {
      const key = ring.byId(keyId);
      return key !== undefined && constantTimeEqual(macV2(key, kind, pk, sk, parsed), mac);
    }
    if (raw.mac_format !== undefined) return false;
    // v1: agents and API keys MACed by the services before the signed store existed.
    const { pk: _pk, sk: _sk, entity: _e, mac: _m, mac_key_id: _k, ...fields } = parsed;
    if (kind === 'agent') {
      const k = keys.agent(String(parsed.tenant), String(parsed.agent_id));
      return k.pk === pk && k.sk === sk && verifyItemMac(ring, 'agent', fields, { mac, mac_key_id: keyId });
    }
    if (kind === 'api-key') {
      return verifyItemMac(ring, 'api-key', { ...fields, hash: pk.slice('APIKEY#'.length) }, { mac, mac_key_id: keyId });
    }
    return false;
  }

  /** The parsed item if it verifies, else the reason it does not (parse failures count as tampering: a foreign shape). */
  function check(kind: SignedKind, raw: Raw): { ok: true; parsed: Raw } | { ok: false; unsigned: boolean } {
    const parsed = parserFor(kind)(raw);
    if (parsed === INVALID) return { ok: false, unsigned: false };
    if (verifies(kind, raw, parsed)) return { ok: true, parsed };
    return { ok: false, unsigned: raw.mac === undefined };
  }

  function refuse(kind: SignedKind, raw: Raw, unsigned: boolean): IntegrityError {
    const ids = idsOf(kind, { pk: String(raw.pk), sk: String(raw.sk) });
    log.log('error', 'item integrity check failed', ids);
    return integrityFailed(kind, ids, unsigned);
  }

  return {
    seal<T extends ItemKey>(kind: SignedKind, item: T) {
      type Sealed = Omit<T, (typeof MAC_ATTRIBUTES)[number]> & MacAttributes;
      const mac = macFor(kind, item as T & Raw);
      // A new item carries no MAC attributes: one copy, the MAC attributes first (V8 adds properties
      // after a spread one hidden class at a time: shared/store/items.ts profileToItem). One read back
      // (a rewrite) has its old ones dropped first.
      if (!('mac' in item || 'mac_key_id' in item || 'mac_format' in item)) {
        return { mac: mac.mac, mac_key_id: mac.mac_key_id, mac_format: mac.mac_format, ...item } as Sealed;
      }
      const { mac: _m, mac_key_id: _k, mac_format: _f, ...rest } = item as T & Partial<MacAttributes>;
      return { ...rest, ...mac } as Sealed;
    },
    macFor,
    open<T>(kind: SignedKind, raw: Raw): T {
      const r = check(kind, raw);
      if (!r.ok) throw refuse(kind, raw, r.unsigned);
      return r.parsed as T;
    },
    openAll<T>(kind: SignedKind, raws: readonly Raw[]): T[] {
      const out: T[] = [];
      for (const raw of raws) {
        const r = check(kind, raw);
        if (r.ok) out.push(r.parsed as T);
        else refuse(kind, raw, r.unsigned);
      }
      return out;
    },
    intact: (kind, raw) => check(kind, raw).ok,
  };
}

/** The kind of a stored item by its key, or undefined for items the store does not sign (rate counters, audit records with their own MAC, the tenant's key marker). */
export function kindOf(k: ItemKey): SignedKind | undefined {
  if (k.sk === 'APIKEY') return 'api-key';
  if (k.sk === 'RUN') return 'run';
  if (k.sk === 'JOB') return 'run-job';
  if (k.sk === 'GRANT') return 'grant';
  if (k.pk.startsWith('OAUTHLINK#')) return 'oauth-link';
  if (k.pk.startsWith('TENANT#')) {
    if (k.sk.startsWith('AGENT#')) return 'agent';
    if (k.sk.startsWith('APIKEY#')) return 'api-key-index';
    if (k.sk.startsWith('PROFILE#')) return 'profile';
    if (k.sk.startsWith('NAME#')) return 'profile-name';
    if (k.sk.startsWith('SESSION#')) return 'session';
    if (k.sk.startsWith('OAUTH#')) return 'oauth-token';
    if (k.sk.startsWith('WEBHOOK#')) return 'webhook';
    if (k.sk.startsWith('DELIVERY#')) return 'webhook-delivery';
  }
  return undefined;
}
