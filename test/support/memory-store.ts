import { type ServerKeyRing, generateServerKeyRingJson, parseServerKeyRing } from '#shared/crypto/server-key';
import {
  AGENT_PREFIX,
  API_KEY_INDEX_PREFIX,
  AUDIT_PREFIX,
  DELIVERY_PREFIX,
  type ItemKey,
  PROFILE_NAME_INDEX_PK,
  PROFILE_NAME_INDEX_SK,
  PROFILE_PREFIX,
  SESSION_PREFIX,
  WEBHOOK_PREFIX,
  itemAt,
  keys,
} from '#shared/keys';
import { type Logger, silentLogger } from '#shared/log';
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
  WebhookDeliveryItem,
  WebhookItem,
} from '#shared/schemas/items';
import { dailyUseAttribute } from '#shared/schemas/items';
import { decodeCursor, decodeIndexCursor, encodeCursor, encodeIndexCursor } from '#shared/store/cursor';
import {
  OAUTH_TOKEN_COVERED,
  REWRITE_OPTIONAL,
  REWRITE_SET,
  auditItems,
  auditViewPk,
  fillAuditPage,
  fillProfilePage,
  oauthLeaseOnly,
  oauthTokenAfterStore,
  profileAfterPatch,
  profileAfterRename,
  profileAfterRewrite,
  profileToItem,
  runAfter,
} from '#shared/store/items';
import { type ItemSigner, type MacAttributes, type SignedKind, itemSigner } from '#shared/store/signer';
import { profileRefOf } from '#shared/store/profile-ref';
import { MAX_BATCH_WRITE, type Page, type ProfileRef, type SealedToken, type Store } from '#shared/store/types';

type Item = Record<string, unknown> & ItemKey;

/**
 * Copy of a stored value, as marshalling would make one: objects, arrays and sets are copied,
 * attributes holding undefined are dropped (removeUndefinedValues), and bytes come back as plain
 * Uint8Array *views* of the same bytes (the DynamoDB client returns Uint8Array, never Buffer; the
 * vault never writes into bytes it stored or read, so sharing them is safe and keeps the store
 * cheap — structuredClone would copy a Buffer's whole 8 KiB pool).
 */
function copy<T>(v: T): T {
  if (v === null || typeof v !== 'object') return v;
  if (v instanceof Uint8Array) return (v.constructor === Uint8Array ? v : new Uint8Array(v.buffer, v.byteOffset, v.byteLength)) as T;
  if (Array.isArray(v)) return v.map(copy) as T;
  if (v instanceof Set) return new Set([...v].map(copy)) as T;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) {
    const inner = (v as Record<string, unknown>)[k];
    if (inner !== undefined) out[k] = copy(inner);
  }
  return out as T;
}

const sameBytes = (a: unknown, b: Uint8Array): boolean =>
  a instanceof Uint8Array && a.byteLength === b.byteLength && a.every((x, i) => x === b[i]);

/**
 * DynamoDB round trips, counted as the DynamoDB implementation would make them: each store call
 * costs the commands its DynamoDB counterpart sends (a BatchGetItem is one command, an API key's
 * put two sequential PutItems). A command issued while none is in flight opens a new sequential
 * round trip ("wave"); commands issued together (Promise.all) share one.
 */
export interface RoundTripMeter {
  /** Commands by DynamoDB command name (GetCommand, BatchGetCommand, …) since the last reset. */
  readonly counts: Readonly<Record<string, number>>;
  readonly totalCommands: number;
  /** Sequential round trips since the last reset. */
  readonly waves: number;
  /** Most commands in flight at once since the last reset. */
  readonly maxInFlight: number;
  /** Time spent inside the store (its own cost, not the schema parse the repositories do too), in µs, since the last reset. */
  readonly selfTimeUs: number;
  reset(): void;
}

export interface MemoryStoreOptions {
  /** Names the data set (process-wide caches key on it); distinct per store by default. */
  readonly name?: string;
  /**
   * `microtask` (default): answer on the next microtask (no I/O at all); `immediate`: answer
   * after setImmediate, so calls issued together overlap like real I/O and round trips count.
   */
  readonly latency?: 'microtask' | 'immediate';
  /**
   * The ring the store signs and verifies items with (shared/store/signer.ts, as the DynamoDB
   * implementation does); a fresh one per store by default. Pass the vault's to read items
   * seeded from a table it wrote.
   */
  readonly serverKeys?: ServerKeyRing;
  /** Where integrity failures are logged (silent by default). */
  readonly log?: Logger;
}

export type MemoryStore = Store & {
  readonly meter: RoundTripMeter;
  /** How many items are stored. */
  readonly itemCount: number;
  /** Copies items in as DynamoDB holds them (keys and attributes, e.g. from a scan of a table): tests start from a table's state. */
  seed(items: readonly Record<string, unknown>[]): void;
  /** A stored item as DynamoDB holds it (a copy), or undefined: what a table writer sees. */
  raw(k: ItemKey): Record<string, unknown> | undefined;
  /** Edits a stored item in place, as a table writer without the server key would (tests). */
  tamper(k: ItemKey, edit: (item: Record<string, unknown>) => void): void;
};

let instances = 0;

/**
 * An in-memory store with DynamoDB's semantics as the vault relies on them: items under the
 * (pk, sk) of keys.ts in the shape the DynamoDB implementation writes, parsed on the way out with
 * the same schemas; conditional writes that fail (false) exactly when DynamoDB's condition
 * would; partitions read in sort-key order, with Limit and LastEvaluatedKey as DynamoDB pages
 * them; TTL'd items absent where the read is given the time. Signed like the DynamoDB
 * implementation, with the same signer (shared/store/signer.ts): every write sealed, every read
 * opened, partial writes MACing the post-state that shared/store/items.ts computes from the item
 * read — so unit tests exercise the same MAC path. For unit tests and the bench; never deployed
 * (test/unit/store/boundaries.test.ts keeps production code from importing it).
 * test/integration/store-contract.test.ts runs the same tests against it and dynalite.
 */
export function memoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  const name = options.name ?? `memory-${++instances}`;
  const immediate = options.latency === 'immediate';
  const partitions = new Map<string, Map<string, Item>>();
  const signer: ItemSigner = itemSigner(options.serverKeys ?? parseServerKeyRing(generateServerKeyRingJson()), options.log ?? silentLogger);

  // --- round trips -------------------------------------------------------------------------
  let counts: Record<string, number> = {};
  let waves = 0;
  let maxInFlight = 0;
  let inFlight = 0;
  let selfTimeUs = 0;
  /** µs spent parsing items with the schemas: the repositories do that too, so it is not the store's own time. */
  let parseUs = 0;
  const meter: RoundTripMeter = {
    get counts() {
      return counts;
    },
    get totalCommands() {
      return Object.values(counts).reduce((a, b) => a + b, 0);
    },
    get waves() {
      return waves;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    get selfTimeUs() {
      return selfTimeUs;
    },
    reset() {
      counts = {};
      waves = 0;
      maxInFlight = 0;
      selfTimeUs = 0;
    },
  };

  /** One DynamoDB command: counted, answered (after setImmediate with `immediate`), timed. */
  async function send<T>(command: string, body: () => T): Promise<T> {
    counts[command] = (counts[command] ?? 0) + 1;
    if (inFlight === 0) waves++;
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    try {
      if (immediate) await new Promise((r) => setImmediate(r));
      const t0 = performance.now();
      const parsedBefore = parseUs;
      try {
        return body();
      } finally {
        selfTimeUs += (performance.now() - t0) * 1000 - (parseUs - parsedBefore);
      }
    } finally {
      inFlight--;
    }
  }

  // --- items -------------------------------------------------------------------------------
  const read = (k: ItemKey): Item | undefined => partitions.get(k.pk)?.get(k.sk);
  const write = (item: Item): void => {
    let p = partitions.get(item.pk);
    if (!p) {
      p = new Map();
      partitions.set(item.pk, p);
    }
    p.set(item.sk, copy(item));
  };
  /** A Put conditioned on attribute_not_exists(pk): false when the key is taken. */
  const putNew = (item: Item): boolean => {
    if (read(item)) return false;
    write(item);
    return true;
  };
  const remove = (k: ItemKey): void => {
    const p = partitions.get(k.pk);
    p?.delete(k.sk);
    if (p?.size === 0) partitions.delete(k.pk);
  };
  /** A conditional delete (`attribute_exists(pk)`): true if the item was there. */
  const removeIfPresent = (k: ItemKey): boolean => {
    if (!read(k)) return false;
    remove(k);
    return true;
  };
  /** A stored item as a read returns it (a copy), opened by the signer (parsed, MAC verified) as the repository does. */
  const out = <T>(kind: SignedKind, item: Item | undefined): T | undefined =>
    item ? parsed(() => signer.open<T>(kind, copy(item))) : undefined;
  /** Times the signer's parse and MAC check: the DynamoDB implementation does the same, so it is not the stand-in's own time. */
  function parsed<T>(open: () => T): T {
    const t0 = performance.now();
    try {
      return open();
    } finally {
      parseUs += (performance.now() - t0) * 1000;
    }
  }
  /** An item about to be written whole, with its MAC (timed like `parsed`). */
  const sealed = (kind: SignedKind, item: Item): Item => parsed(() => signer.seal(kind, item) as unknown as Item);
  /** The MAC attributes of a partial write's post-state (timed like `parsed`). */
  const macOf = (kind: SignedKind, post: ItemKey & Record<string, unknown>): MacAttributes => parsed(() => signer.macFor(kind, post));
  /** A sealed token's write, as the DynamoDB one sets (and removes) every covered attribute (shared/store/items.ts). */
  const storeSealedToken = (ref: ProfileRef, token: SealedToken) => {
    const mac = macOf('oauth-token', oauthTokenAfterStore(ref, token));
    return (item: Item) => {
      const { pk: _pk, sk: _sk, version: _v, ...covered } = oauthTokenAfterStore(ref, token);
      for (const attr of ['lease_id', 'lease_until', 'error_message', 'error_until', ...OAUTH_TOKEN_COVERED]) delete item[attr];
      Object.assign(item, covered, mac);
      add(item, 'version', 1);
    };
  };
  /** A conditional update: `change` edits a copy of the item (or a new one) when `allowed` holds. */
  const update = (k: ItemKey, allowed: (cur: Item | undefined) => boolean, change: (next: Item) => void): Item | undefined => {
    const cur = read(k);
    if (!allowed(cur)) return undefined;
    const next: Item = cur ? { ...cur } : { ...k };
    change(next);
    write(next);
    return next;
  };
  const add = (item: Item, attr: string, n: number) => {
    item[attr] = ((item[attr] as number | undefined) ?? 0) + n;
  };

  /** Items of a partition in sort-key order (descending with `backwards`), as a Query evaluates them. */
  function sortedItems(pk: string, backwards = false): Item[] {
    const items = [...(partitions.get(pk)?.values() ?? [])].sort((a, b) => (a.sk < b.sk ? -1 : a.sk > b.sk ? 1 : 0));
    return backwards ? items.reverse() : items;
  }

  /**
   * A Query: the items matching `key` after `start`, at most `limit` evaluated, then `filter`;
   * LastEvaluatedKey whenever the limit was reached (even when nothing follows, as DynamoDB does).
   */
  function query(
    pk: string,
    o: {
      key?: (sk: string) => boolean;
      start?: Record<string, string>;
      limit?: number;
      backwards?: boolean;
      filter?: (i: Item) => boolean;
    },
  ): { items: Item[]; last?: Record<string, string> } {
    const after = o.start?.sk;
    const evaluated = sortedItems(pk, o.backwards)
      .filter((i) => (o.key ? o.key(i.sk) : true))
      .filter((i) => after === undefined || (o.backwards ? i.sk < after : i.sk > after))
      .slice(0, o.limit ?? Number.POSITIVE_INFINITY);
    const lastItem = evaluated.at(-1);
    const last = o.limit !== undefined && evaluated.length >= o.limit && lastItem ? { pk, sk: lastItem.sk } : undefined;
    return { items: evaluated.filter((i) => (o.filter ? o.filter(i) : true)).map((i) => copy(i)), last };
  }

  function page<T>(kind: SignedKind, pk: string, skPrefix: string, limit: number, cursor: string | undefined, backwards = false): Page<T> {
    const start = decodeCursor(cursor, pk, skPrefix);
    const r = query(pk, { key: (sk) => sk.startsWith(skPrefix), start, limit, backwards });
    return { items: parsed(() => signer.openAll<T>(kind, r.items)), next: encodeCursor(r.last) };
  }

  const store: MemoryStore = {
    name,
    meter,
    get itemCount() {
      let n = 0;
      for (const p of partitions.values()) n += p.size;
      return n;
    },
    seed(items) {
      for (const item of items) {
        if (typeof item.pk !== 'string' || typeof item.sk !== 'string') throw new Error('a seeded item needs string pk and sk');
        write(item as Item);
      }
    },
    raw: (k) => {
      const item = read(k);
      return item ? copy(item) : undefined;
    },
    tamper(k, edit) {
      const item = read(k);
      if (!item) throw new Error(`no item at ${k.pk} ${k.sk}`);
      const next = copy(item);
      edit(next);
      write(next);
    },

    agents: {
      get: (tenant, agentId) => send('GetCommand', () => out<AgentItem>('agent', read(keys.agent(tenant, agentId)))),
      exists: (tenant, agentId) => send('GetCommand', () => read(keys.agent(tenant, agentId)) !== undefined),
      create: (item) => send('PutCommand', () => putNew(sealed('agent', itemAt(keys.agent(item.tenant, item.agent_id), 'agent', item)))),
      replace: (item, expectedVersion) =>
        send('PutCommand', () => {
          const k = keys.agent(item.tenant, item.agent_id);
          if (read(k)?.version !== expectedVersion) return false;
          write(sealed('agent', itemAt(k, 'agent', item)));
          return true;
        }),
      list: (tenant, limit, cursor) =>
        send('QueryCommand', () => page<AgentItem>('agent', keys.tenantAgents(tenant), AGENT_PREFIX, limit, cursor)),
      delete: (tenant, agentId) => send('DeleteCommand', () => removeIfPresent(keys.agent(tenant, agentId))),
    },

    apiKeys: {
      get: (hash) => send('GetCommand', () => out<ApiKeyItem>('api-key', read(keys.apiKey(hash)))),
      async put(hash, record) {
        // Index entry first, then the key's item, then the tenant's marker: three trips, as on DynamoDB.
        await store.apiKeys.putIndex(hash, record);
        const stored = await send('PutCommand', () => putNew(sealed('api-key', { ...keys.apiKey(hash), ...record })));
        if (stored) {
          await send('PutCommand', () => {
            const k = keys.tenantKeyMarker(record.tenant);
            if (!read(k)) write({ ...k, tenant: record.tenant, first_key_at: record.created_at });
          });
        }
        return stored;
      },
      putIndex: (hash, record) =>
        send('PutCommand', () =>
          putNew(
            sealed('api-key-index', {
              ...keys.tenantApiKey(record.tenant, record.key_id),
              key_id: record.key_id,
              key_hash: hash,
              name: record.name,
              role: record.role,
              created_at: record.created_at,
            }),
          ),
        ),
      getIndex: (tenant, keyId) => send('GetCommand', () => out<ApiKeyIndexItem>('api-key-index', read(keys.tenantApiKey(tenant, keyId)))),
      list: (tenant, limit, cursor) =>
        send('QueryCommand', () =>
          page<ApiKeyIndexItem>('api-key-index', keys.tenantKeyMarker(tenant).pk, API_KEY_INDEX_PREFIX, limit, cursor),
        ),
      async delete(tenant, keyId, hash) {
        const removed = await send('DeleteCommand', () => {
          const k = keys.apiKey(hash);
          if (read(k)?.tenant !== tenant) return false;
          remove(k);
          return true;
        });
        await send('DeleteCommand', () => remove(keys.tenantApiKey(tenant, keyId)));
        return removed;
      },
      tenantHasKey: (tenant) => send('GetCommand', () => read(keys.tenantKeyMarker(tenant)) !== undefined),
      async replaceUnverified(hash, record) {
        // A read, then a Put conditioned on the MAC read (or none), as on DynamoDB.
        const k = keys.apiKey(hash);
        const before = await send('GetCommand', () => store.raw(k));
        if (!before || signer.intact('api-key', before)) return false;
        const readMac = before.mac instanceof Uint8Array ? before.mac : undefined;
        return send('PutCommand', () => {
          const cur = read(k);
          if (readMac ? !sameBytes(cur?.mac, readMac) : !cur || cur.mac !== undefined) return false;
          write(sealed('api-key', { ...k, ...record }));
          return true;
        });
      },
    },

    profiles: {
      get: (ref) => send('GetCommand', () => out<ProfileItem>('profile', read(keys.profile(ref)))),
      create: (r) => send('PutCommand', () => putNew(sealed('profile', profileToItem(r)))),
      replace: (r, at) =>
        send('PutCommand', () => {
          const item = sealed('profile', profileToItem(r));
          const cur = read(item);
          if (!cur || cur.generation !== at.generation || cur.record_version !== at.record_version || !settingsAt(cur, at.settings_version))
            return false;
          write(item);
          return true;
        }),
      patchSettings: (ref, changes, at, updatedAt) =>
        send('UpdateCommand', () => {
          const k = sameProfile(at, ref);
          // The post-state's MAC, from the item read (as the DynamoDB implementation computes it).
          const mac = macOf('profile', profileAfterPatch(at, changes, updatedAt));
          const next = update(
            k,
            (cur) => unchangedSinceRead(cur, at),
            (item) => {
              item.settings_version = at.settings_version + 1;
              item.updated_at = updatedAt;
              for (const [field, value] of Object.entries(changes)) {
                if (value === undefined || value === null) delete item[field];
                else item[field] = copy(value);
              }
              Object.assign(item, mac);
            },
          );
          return out<ProfileItem>('profile', next);
        }),
      markRename: (ref, from, to, at) =>
        send(
          'UpdateCommand',
          () =>
            update(
              keys.profile(ref),
              (cur) => cur !== undefined && cur.name === from,
              (item) => {
                item.rename_to = to;
                item.rename_at = at;
              },
            ) !== undefined,
        ),
      cancelRename: (ref, to, at) =>
        send(
          'UpdateCommand',
          () =>
            update(
              keys.profile(ref),
              (cur) => cur !== undefined && cur.rename_to === to && cur.rename_at === at,
              (item) => {
                delete item.rename_to;
                delete item.rename_at;
              },
            ) !== undefined,
        ),
      rename: (ref, at, to, markedAt, updatedAt) =>
        send('UpdateCommand', () => {
          const k = sameProfile(at, ref);
          const mac = macOf('profile', profileAfterRename(at, to, updatedAt));
          const next = update(
            k,
            (cur) => unchangedSinceRead(cur, at) && cur?.rename_to === to && cur?.rename_at === markedAt,
            (item) => {
              item.name = to;
              Object.assign(item, keys.profileNameIndex(at.tenant, at.agent_id, to));
              item.settings_version = at.settings_version + 1;
              item.updated_at = updatedAt;
              delete item.rename_to;
              delete item.rename_at;
              Object.assign(item, mac);
            },
          );
          return out<ProfileItem>('profile', next);
        }),
      rewrite: (r, at) =>
        send('UpdateCommand', () => {
          const k = sameProfile(at, profileRefOf(r));
          const mac = macOf('profile', profileAfterRewrite(at, r));
          return (
            update(
              k,
              (cur) => unchangedSinceRead(cur, at),
              (item) => {
                for (const attr of REWRITE_SET) item[attr] = r[attr];
                // A new expiry is set; without one the token keeps its own.
                if (r.token_expires_at !== undefined) item.token_expires_at = r.token_expires_at;
                for (const attr of REWRITE_OPTIONAL) {
                  if (r[attr] === undefined) delete item[attr];
                  else item[attr] = r[attr];
                }
                Object.assign(item, mac);
              },
            ) !== undefined
          );
        }),
      recordUse: async (ref, generation, use) => {
        const { inFlightUntil } = use;
        // As the DynamoDB write: the mark only moves later; a write whose mark lost is sent again without it.
        const write = (withMark: boolean) =>
          send(
            'UpdateCommand',
            () =>
              update(
                keys.profile(ref),
                (cur) =>
                  cur?.generation === generation &&
                  (!withMark ||
                    inFlightUntil === undefined ||
                    cur.in_flight_until === undefined ||
                    (cur.in_flight_until as string) < inFlightUntil),
                (item) => {
                  item.last_used_at = use.at;
                  if (use.realUseAt !== undefined) item.last_real_use_at = use.realUseAt;
                  if (withMark && inFlightUntil !== undefined) item.in_flight_until = inFlightUntil;
                  add(item, 'use_count', 1);
                  add(item, dailyUseAttribute(use.day, use.kind), 1);
                  for (const stale of use.staleDays) delete item[dailyUseAttribute(stale.day, stale.kind)];
                },
              ) !== undefined,
          );
        return (await write(true)) || (inFlightUntil !== undefined && (await write(false)));
      },
      endInFlight: (ref, until) =>
        send(
          'UpdateCommand',
          () =>
            update(
              keys.profile(ref),
              (cur) => cur !== undefined && cur.in_flight_until === until,
              (item) => {
                delete item.in_flight_until;
              },
            ) !== undefined,
        ),
      recordTest: (ref, generation, at, ok) =>
        send(
          'UpdateCommand',
          () =>
            update(
              keys.profile(ref),
              (cur) => cur?.generation === generation,
              (item) => {
                item.last_tested_at = at;
                item.last_test_ok = ok;
              },
            ) !== undefined,
        ),
      recordConnection: (ref, owner, changes) =>
        send(
          'UpdateCommand',
          () =>
            update(
              keys.profile(ref),
              (cur) => cur?.generation === owner.generation && cur.created_at === owner.created_at,
              (item) => {
                for (const [attr, value] of Object.entries(changes)) {
                  if (value === null) delete item[attr];
                  else if (value !== undefined) item[attr] = copy(value);
                }
              },
            ) !== undefined,
        ),
      recordTokenError: (ref, generation, message, at) =>
        send(
          'UpdateCommand',
          () =>
            update(
              keys.profile(ref),
              (cur) => cur?.generation === generation,
              (item) => {
                if (message === undefined) {
                  delete item.last_error;
                  delete item.last_error_at;
                } else {
                  item.last_error = message;
                  item.last_error_at = at;
                }
              },
            ) !== undefined,
        ),
      delete: (ref, at) =>
        send('DeleteCommand', () => {
          const k = keys.profile(ref);
          const cur = read(k);
          // With `at`: only the version whose permission was checked (as the DynamoDB condition).
          if (!cur || (at && (cur.generation !== at.generation || !settingsAt(cur, at.settings_version)))) return false;
          remove(k);
          return true;
        }),
      list: (tenant, agentId, limit, cursor) =>
        send('QueryCommand', () => page<ProfileItem>('profile', keys.agentPartition(tenant, agentId), PROFILE_PREFIX, limit, cursor)),
      listMatching(scope, limit, cursor, keep) {
        const open = (raws: Item[]) => parsed(() => signer.openAll<ProfileItem>('profile', raws));
        if (scope.agentId !== undefined) {
          const pk = keys.agentPartition(scope.tenant, scope.agentId);
          const read = (n: number, start: string | undefined) =>
            send('QueryCommand', () => {
              const r = query(pk, { key: (sk) => sk.startsWith(PROFILE_PREFIX), start: decodeCursor(start, pk, PROFILE_PREFIX), limit: n });
              return { items: open(r.items), next: encodeCursor(r.last) };
            });
          return fillProfilePage(limit, cursor, keep, read, (item) => encodeCursor(item) as string);
        }
        // The name index (a GSI): every profile item carrying the tenant's index key, by index sort key.
        const indexPk = keys.profileNameIndexPk(scope.tenant);
        const read = (n: number, start: string | undefined) =>
          send('QueryCommand', () => {
            const from = decodeIndexCursor(start, indexPk, keys.agentPartition(scope.tenant, ''));
            const entries: Item[] = [];
            for (const partition of partitions.values())
              for (const item of partition.values()) if (item[PROFILE_NAME_INDEX_PK] === indexPk) entries.push(item);
            const order = (i: Record<string, unknown>) => `${String(i[PROFILE_NAME_INDEX_SK])}\u0000${String(i.pk)}\u0000${String(i.sk)}`;
            entries.sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));
            const after = from ? order(from) : undefined;
            const evaluated = entries.filter((i) => after === undefined || order(i) > after).slice(0, n);
            const lastItem = evaluated.at(-1);
            const last = evaluated.length >= n && lastItem ? lastItem : undefined;
            return { items: open(evaluated.map((i) => copy(i))), next: encodeIndexCursor(last) };
          });
        const after = (item: ProfileItem) =>
          encodeIndexCursor({ pk: item.pk, sk: item.sk, ...keys.profileNameIndex(item.tenant, item.agent_id, item.name) }) as string;
        return fillProfilePage(limit, cursor, keep, read, after);
      },
      hasAny: (tenant, agentId) =>
        send(
          'QueryCommand',
          () => query(keys.agentPartition(tenant, agentId), { key: (sk) => sk.startsWith(PROFILE_PREFIX), limit: 1 }).items.length > 0,
        ),
      async deleteAllOfAgent(tenant, agentId, onProfileDeleted) {
        const pk = keys.agentPartition(tenant, agentId);
        const counts = { profiles: 0, sessions: 0, other: 0 };
        const itemKeys = await send('QueryCommand', () => query(pk, {}).items.map((i) => ({ pk: i.pk, sk: i.sk })));
        const profileKeys = itemKeys.filter((k) => k.sk.startsWith(PROFILE_PREFIX));
        // As the DynamoDB implementation: each profile by a DeleteItem that returns the item it
        // removed, MAX_BATCH_WRITE at once; then the rest, MAX_BATCH_WRITE per BatchWriteItem.
        for (let i = 0; i < profileKeys.length; i += MAX_BATCH_WRITE) {
          const outcomes = await Promise.allSettled(
            profileKeys.slice(i, i + MAX_BATCH_WRITE).map(async (k) => {
              const old = await send('DeleteCommand', () => {
                const item = read(k);
                if (item) remove(k);
                return item && copy(item);
              });
              if (!old) return;
              counts.profiles++;
              const [item] = parsed(() => signer.openAll<ProfileItem>('profile', [old]));
              if (item) onProfileDeleted?.(item);
            }),
          );
          const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
          if (failed) throw failed.reason;
        }
        const rest = itemKeys.filter((k) => !k.sk.startsWith(PROFILE_PREFIX));
        for (let i = 0; i < rest.length; i += MAX_BATCH_WRITE) {
          await send('BatchWriteCommand', () => {
            for (const k of rest.slice(i, i + MAX_BATCH_WRITE)) {
              remove(k);
              if (k.sk.startsWith(SESSION_PREFIX)) counts.sessions++;
              else counts.other++;
            }
          });
        }
        return counts;
      },
    },

    profileNames: {
      get: (tenant, agentId, nameSlot) =>
        send('GetCommand', () => out<ProfileNameItem>('profile-name', read(keys.profileName(tenant, agentId, nameSlot)))),
      put: (nameSlot, claim, at) =>
        send('PutCommand', () => {
          const item = sealed('profile-name', {
            ...keys.profileName(claim.tenant, claim.agent_id, nameSlot),
            entity: 'profile_name',
            ...claim,
          });
          const cur = read(item);
          if (at ? cur?.nonce !== at.nonce : cur !== undefined) return false;
          write(item);
          return true;
        }),
      release: (tenant, agentId, nameSlot, slot, nonce) =>
        send('DeleteCommand', () => {
          const k = keys.profileName(tenant, agentId, nameSlot);
          const cur = read(k);
          if (!cur || cur.slot !== slot || (nonce !== undefined && cur.nonce !== nonce)) return false;
          remove(k);
          return true;
        }),
    },

    profileContext: {
      load: (at, { withSession = false, withOAuthToken = false, withNameClaim = false } = {}) =>
        send('BatchGetCommand', () => {
          const ref = 'slot' in at ? at : undefined;
          return {
            agent: out<AgentItem>('agent', read(keys.agent(at.tenant, at.agentId))),
            profile: ref ? out<ProfileItem>('profile', read(keys.profile(ref))) : undefined,
            session: ref && withSession ? out<SessionItem>('session', read(keys.session(ref))) : undefined,
            oauthToken: ref && withOAuthToken ? out<OAuthTokenItem>('oauth-token', read(keys.oauthToken(ref))) : undefined,
            nameClaim:
              ref && withNameClaim
                ? out<ProfileNameItem>('profile-name', read(keys.profileName(ref.tenant, ref.agentId, ref.slot)))
                : undefined,
          };
        }),
    },

    sessions: {
      save: (ref, r, before) =>
        send('PutCommand', () => {
          const k = keys.session(ref);
          const cur = read(k);
          let allowed: boolean;
          if (before === undefined && r.profile_created_at === undefined) allowed = !cur;
          else if (before === undefined) {
            const pc = cur?.profile_created_at as string | undefined;
            const g = cur?.generation as number | undefined;
            allowed =
              !cur ||
              pc === undefined ||
              pc < (r.profile_created_at as string) ||
              (pc === r.profile_created_at && g !== undefined && g < r.generation);
          } else allowed = cur !== undefined && cur.version === before.version && cur.generation === before.generation;
          if (!allowed) return false;
          write(sealed('session', itemAt(k, 'session', r)));
          return true;
        }),
      deleteOlderThan: (ref, keep) =>
        send('DeleteCommand', () => {
          const k = keys.session(ref);
          const cur = read(k);
          // A comparison with a missing attribute is false in DynamoDB, `<>` included.
          const older =
            cur !== undefined &&
            (cur.profile_created_at === undefined ||
              cur.profile_created_at !== keep.profile_created_at ||
              (cur.generation !== undefined && cur.generation !== keep.generation));
          if (older) remove(k);
          return older;
        }),
      deleteIfWritten: (ref, written) =>
        send('DeleteCommand', () => {
          const k = keys.session(ref);
          const cur = read(k);
          const same =
            cur !== undefined &&
            cur.version === written.version &&
            cur.generation === written.generation &&
            cur.profile_created_at === written.profile_created_at;
          if (same) remove(k);
          return same;
        }),
      delete: (ref) => send('DeleteCommand', () => remove(keys.session(ref))),
    },

    runs: {
      create: (r) => send('PutCommand', () => putNew(sealed('run', itemAt(keys.run(r.session_id), 'run', r)))),
      get: (sessionId, now) =>
        send('GetCommand', () => {
          const run = out<RunItem>('run', read(keys.run(sessionId)));
          return run && run.expires_at > now ? run : undefined;
        }),
      async transition(runRead, from, to, set) {
        // As on DynamoDB: conditioned on the status read, MACing the post-state computed from the
        // run read; when another transition landed first, read again and retry from there.
        let current: RunItem | undefined = runRead;
        for (let attempt = 0; attempt < 3 && current && from.includes(current.status); attempt++) {
          const read0: RunItem = current;
          const post = runAfter(read0, to, set);
          const mac = macOf('run', post);
          const done = await send('UpdateCommand', () =>
            update(
              keys.run(read0.session_id),
              (cur) => cur !== undefined && cur.status === read0.status && cur.created_at === read0.created_at,
              (item) => {
                item.status = to;
                for (const [k, v] of Object.entries(set)) if (v !== undefined) item[k] = v;
                Object.assign(item, mac);
              },
            ),
          );
          if (done) return post;
          current = await send('GetCommand', () => out<RunItem>('run', read(keys.run(read0.session_id))));
        }
        return undefined;
      },
    },

    runJobs: {
      create: (r) => send('PutCommand', () => putNew(sealed('run-job', itemAt(keys.runJob(r.session_id), 'run-job', r)))),
      get: (sessionId, now) =>
        send('GetCommand', () => {
          const job = out<RunJobItem>('run-job', read(keys.runJob(sessionId)));
          return job && job.expires_at > now ? job : undefined;
        }),
      delete: (sessionId) => send('DeleteCommand', () => remove(keys.runJob(sessionId))),
    },

    grants: {
      create: ({ id_hex, ...rest }) => send('PutCommand', () => putNew(sealed('grant', itemAt(keys.grant(id_hex), 'grant', rest)))),
      get: (idHex) => send('GetCommand', () => out<GrantItem>('grant', read(keys.grant(idHex)))),
      delete: (idHex) => send('DeleteCommand', () => remove(keys.grant(idHex))),
    },

    oauthTokens: {
      get: (ref) => send('GetCommand', () => out<OAuthTokenItem>('oauth-token', read(keys.oauthToken(ref)))),
      takeLease: (ref, readVersion, leaseId, nowMs, leaseUntil) =>
        send('UpdateCommand', () => {
          // A lease-only item's MAC, kept by an item that has one (if_not_exists on DynamoDB).
          const mac = macOf('oauth-token', oauthLeaseOnly(ref));
          return (
            update(
              keys.oauthToken(ref),
              (cur) =>
                (readVersion === undefined ? cur === undefined : cur?.version === readVersion) &&
                (cur?.lease_until === undefined || (cur.lease_until as number) < nowMs),
              (item) => {
                Object.assign(item, { entity: 'oauth_token', lease_id: leaseId, lease_until: leaseUntil });
                for (const [k, v] of Object.entries(mac)) if (item[k] === undefined) item[k] = v;
                add(item, 'version', 1);
              },
            ) !== undefined
          );
        }),
      storeToken: (ref, leaseId, token) =>
        send(
          'UpdateCommand',
          () => update(keys.oauthToken(ref), (cur) => cur?.lease_id === leaseId, storeSealedToken(ref, token)) !== undefined,
        ),
      storeConnection: (ref, token) =>
        send('UpdateCommand', () => {
          update(keys.oauthToken(ref), () => true, storeSealedToken(ref, token));
        }),
      clearConnection: (ref, leaseId) =>
        send('UpdateCommand', () => {
          const mac = macOf('oauth-token', oauthLeaseOnly(ref));
          return (
            update(
              keys.oauthToken(ref),
              (cur) => (leaseId === undefined ? cur !== undefined : cur?.lease_id === leaseId),
              (item) => {
                for (const attr of ['lease_id', 'lease_until', ...OAUTH_TOKEN_COVERED]) delete item[attr];
                Object.assign(item, { entity: 'oauth_token' }, mac);
                add(item, 'version', 1);
              },
            ) !== undefined
          );
        }),
      delete: (ref) => send('DeleteCommand', () => remove(keys.oauthToken(ref))),
      storeFailure: (ref, leaseId, message, errorUntil, owner) =>
        send(
          'UpdateCommand',
          () =>
            update(
              keys.oauthToken(ref),
              (cur) => cur?.lease_id === leaseId,
              (item) => {
                Object.assign(item, {
                  error_message: message,
                  error_until: errorUntil,
                  error_generation: owner.generation,
                  error_record_version: owner.record_version,
                  error_profile_created_at: owner.profile_created_at,
                });
                add(item, 'version', 1);
                delete item.lease_id;
                delete item.lease_until;
              },
            ) !== undefined,
        ),
    },

    webhooks: {
      create: (r) => send('PutCommand', () => putNew(sealed('webhook', itemAt(keys.webhook(r.tenant, r.webhook_id), 'webhook', r)))),
      get: (tenant, webhookId) => send('GetCommand', () => out<WebhookItem>('webhook', read(keys.webhook(tenant, webhookId)))),
      replace: (r, expectedVersion) =>
        send('PutCommand', () => {
          const k = keys.webhook(r.tenant, r.webhook_id);
          if (read(k)?.version !== expectedVersion) return false;
          write(sealed('webhook', itemAt(k, 'webhook', r)));
          return true;
        }),
      delete: (tenant, webhookId) => send('DeleteCommand', () => removeIfPresent(keys.webhook(tenant, webhookId))),
      list: (tenant, limit, cursor) =>
        send('QueryCommand', () => page<WebhookItem>('webhook', keys.tenantAgents(tenant), WEBHOOK_PREFIX, limit, cursor)),
      createDelivery: (r) =>
        send('PutCommand', () =>
          putNew(sealed('webhook-delivery', itemAt(keys.webhookDelivery(r.tenant, r.webhook_id, r.delivery_id), 'webhook_delivery', r))),
        ),
      createDeliveries: (rs) =>
        send('BatchWriteCommand', () => {
          if (rs.length > MAX_BATCH_WRITE) throw new RangeError(`at most ${MAX_BATCH_WRITE} deliveries per batch`);
          for (const r of rs)
            write(
              sealed('webhook-delivery', {
                ...keys.webhookDelivery(r.tenant, r.webhook_id, r.delivery_id),
                entity: 'webhook_delivery',
                ...r,
              }),
            );
          return [];
        }),
      getDelivery: (tenant, webhookId, deliveryId, now) =>
        send('GetCommand', () => {
          const d = out<WebhookDeliveryItem>('webhook-delivery', read(keys.webhookDelivery(tenant, webhookId, deliveryId)));
          return d && d.expires_at > now ? d : undefined;
        }),
      replaceDelivery: (r, expectedVersion) =>
        send('PutCommand', () => {
          const k = keys.webhookDelivery(r.tenant, r.webhook_id, r.delivery_id);
          if (read(k)?.version !== expectedVersion) return false;
          write(sealed('webhook-delivery', itemAt(k, 'webhook_delivery', r)));
          return true;
        }),
      listDeliveries: (tenant, webhookId, limit, cursor, now) =>
        send('QueryCommand', () => {
          const p = page<WebhookDeliveryItem>(
            'webhook-delivery',
            keys.webhookPartition(tenant, webhookId),
            DELIVERY_PREFIX,
            limit,
            cursor,
            true,
          );
          return { items: p.items.filter((d) => d.expires_at > now), next: p.next };
        }),
    },

    oauthLinks: {
      create: ({ id_hex, purpose, ...rest }) =>
        send('PutCommand', () => putNew(sealed('oauth-link', itemAt(keys.oauthLink(purpose, id_hex), 'oauth_link', rest)))),
      get: (purpose, idHex) => send('GetCommand', () => out<OAuthLinkItem>('oauth-link', read(keys.oauthLink(purpose, idHex)))),
      consume: (purpose, idHex) => send('DeleteCommand', () => removeIfPresent(keys.oauthLink(purpose, idHex))),
    },

    audit: {
      write: (record, head) =>
        send('BatchWriteCommand', () => {
          for (const item of auditItems(record, head)) write(item as Item);
        }),
      async query(q) {
        const pk = auditViewPk(q);
        const actions = q.actions && q.actions.length > 0 ? new Set(q.actions) : undefined;
        return fillAuditPage(q, pk, decodeCursor(q.cursor, pk, ''), (limit, start) =>
          send('QueryCommand', () =>
            query(pk, {
              key: (sk) => q.since === undefined || sk >= q.since,
              start,
              limit,
              backwards: true,
              filter: (i) => (i.expires_at as number) > q.nowSeconds && (!actions || actions.has(i.action as string)),
            }),
          ),
        );
      },
      async *scanAll(tenant) {
        const items = await send('ScanCommand', () =>
          [...partitions.entries()]
            .filter(([pk]) => pk.startsWith(AUDIT_PREFIX))
            .flatMap(([, p]) => [...p.values()])
            .filter((i) => tenant === undefined || i.tenant === tenant)
            .map((i) => copy(i) as Record<string, unknown>),
        );
        yield* items;
      },
    },

    rateLimits: {
      take: (tenant, windowStart, limit, expiresAt) =>
        send(
          'UpdateCommand',
          () =>
            update(
              keys.tenantRate(tenant, windowStart),
              (cur) => cur?.count === undefined || (cur.count as number) < limit,
              (item) => {
                add(item, 'count', 1);
                item.entity = 'rate';
                item.expires_at = expiresAt;
              },
            ) !== undefined,
        ),
    },
  };
  return store;
}

/** Condition: the item is still at the settings version read (0 also matches items never patched). */
function settingsAt(cur: Item, read: number): boolean {
  return read === 0 ? cur.settings_version === undefined || cur.settings_version === 0 : cur.settings_version === read;
}

/** A partial write's condition (shared/repositories/profiles.ts unchangedSinceRead): the item is still the one read. */
function unchangedSinceRead(cur: Item | undefined, read: ProfileItem): boolean {
  return (
    cur !== undefined &&
    cur.generation === read.generation &&
    cur.record_version === read.record_version &&
    settingsAt(cur, read.settings_version) &&
    cur.created_at === read.created_at
  );
}

/** The key of the profile read, checked against the one named. */
function sameProfile(read: ProfileItem, ref: ProfileRef): ItemKey {
  if (read.tenant !== ref.tenant || read.agent_id !== ref.agentId || read.slot !== ref.slot)
    throw new Error('a profile write names another profile than the one read');
  return keys.profile(ref);
}
