import { type AuditHead, AuditRecord } from '../audit/record.ts';
import { PROFILE_NAME_INDEX_PK, PROFILE_NAME_INDEX_SK, itemAt, keys } from '../keys.ts';
import { profileRefOf } from './profile-ref.ts';
import { type DailyUses, type ProfileItem, type RunItem, type UseKind, dailyUseAttribute } from '../schemas/items.ts';
import type { RunState } from '../schemas/runs.ts';
import { encodeCursor } from './cursor.ts';
import { parseOrThrow } from '../schemas/zod.ts';
import type { AuditQuery, AuditView, Page, ProfileRef, ProfileRecord, SealedToken, SettingsChanges } from './types.ts';

/**
 * What both store implementations must agree on beyond the interfaces: the stored shape of a
 * profile item, the post-state of each partial write (what its MAC covers: shared/store/signer.ts),
 * which partitions an audit record is written to, and how a page of audit records is filled from
 * Queries. Pure: no client, no I/O.
 */

// --- post-states of partial writes ------------------------------------------------------------
// A partial write (UpdateItem) MACs the item as it will be afterwards. It is computed from the
// item read, so each such write is conditioned on what guards the covered attributes it does not
// set (the versions), and the write sets exactly what these functions change.

/** A run after a transition to `to` with `set`. */
export function runAfter(read: RunItem, to: RunState, set: { result?: Uint8Array; started_at?: string; finished_at?: string }): RunItem {
  const post: RunItem = { ...read, status: to };
  for (const [k, v] of Object.entries(set)) if (v !== undefined) (post as Record<string, unknown>)[k] = v;
  return post;
}

/** A profile after a settings patch (null or undefined: removed), settings_version bumped. */
export function profileAfterPatch(read: ProfileItem, changes: SettingsChanges, updatedAt: string): ProfileItem {
  const post: Record<string, unknown> = { ...read, settings_version: read.settings_version + 1, updated_at: updatedAt };
  for (const [field, value] of Object.entries(changes)) {
    if (value === undefined || value === null) delete post[field];
    else post[field] = value;
  }
  return post as ProfileItem;
}

/** A profile after a rename to `to`: the name, settings_version bumped, the rename's mark gone. */
export function profileAfterRename(read: ProfileItem, to: string, updatedAt: string): ProfileItem {
  const { rename_to: _to, rename_at: _at, ...rest } = read;
  return { ...rest, name: to, settings_version: read.settings_version + 1, updated_at: updatedAt };
}

/** The attributes an in-place rewrite sets; REWRITE_OPTIONAL are set when present and removed when not. */
export const REWRITE_SET = [
  'fields',
  'verifier',
  'commitment',
  'server_key_id',
  'record_version',
  'updated_at',
  'should_save_session',
  'runner_origin',
  'runner_approval',
] as const;
export const REWRITE_OPTIONAL = [
  'auth_config',
  'allowed_hosts',
  'allowed_path_prefixes',
  'allowed_methods',
  'runner_delivery',
  'end_user_id',
] as const;

/** A profile after an in-place rewrite with `r` (a new expiry replaces the old; without one it stays). */
export function profileAfterRewrite(read: ProfileItem, r: ProfileRecord): ProfileItem {
  const post: Record<string, unknown> = { ...read };
  for (const attr of REWRITE_SET) post[attr] = r[attr];
  if (r.token_expires_at !== undefined) post.token_expires_at = r.token_expires_at;
  for (const attr of REWRITE_OPTIONAL) {
    if (r[attr] === undefined) delete post[attr];
    else post[attr] = r[attr];
  }
  return post as ProfileItem;
}

/** The covered state of an OAuth2 token item that holds only a lease (outside the MAC): what takeLease creates. */
export function oauthLeaseOnly(ref: ProfileRef) {
  return { ...keys.oauthToken(ref), entity: 'oauth_token' as const, version: 0 };
}

/** The covered state of an OAuth2 token item after storeToken: every covered attribute is set (or removed) by it. */
export function oauthTokenAfterStore(ref: ProfileRef, token: SealedToken) {
  return {
    ...oauthLeaseOnly(ref),
    blob: token.blob,
    token_expires_at: token.token_expires_at,
    refresh_at: token.refresh_at,
    ...(token.expires_at !== undefined ? { expires_at: token.expires_at } : {}),
    ...(token.refresh_blob !== undefined ? { refresh_blob: token.refresh_blob } : {}),
    generation: token.generation,
    record_version: token.record_version,
    profile_created_at: token.profile_created_at,
  };
}

/** The covered attributes an OAuth2 token item holds besides its keys and entity (what clearConnection removes). */
export const OAUTH_TOKEN_COVERED = [
  'blob',
  'refresh_blob',
  'token_expires_at',
  'refresh_at',
  'expires_at',
  'generation',
  'record_version',
  'profile_created_at',
] as const;

/** A profile record as a stored item: day counters as top-level attributes (see DAILY_USE_ATTRIBUTE). */
export function profileToItem(r: ProfileRecord) {
  // Built attribute by attribute, in the order spreads would give (keys, name index, entity, the
  // record without daily_uses, the day counters): V8 builds and reads a copy spread after other
  // members far more slowly, and this item is sealed and written on every create.
  // The keys as a literal, not a spread: V8 (Node 20) adds the properties that follow a spread
  // copy one new hidden class at a time, ~30× slower for an item this wide (docs/architecture.md, "Performance").
  const key = keys.profile(profileRefOf(r));
  const index = keys.profileNameIndex(r.tenant, r.agent_id, r.name);
  const item: Record<string, unknown> = {
    pk: key.pk,
    sk: key.sk,
    [PROFILE_NAME_INDEX_PK]: index[PROFILE_NAME_INDEX_PK],
    [PROFILE_NAME_INDEX_SK]: index[PROFILE_NAME_INDEX_SK],
    entity: 'profile',
  };
  for (const k of Object.keys(r)) if (k !== 'daily_uses' && k !== '__proto__') item[k] = r[k as keyof ProfileRecord];
  for (const [day, kinds] of Object.entries(r.daily_uses as DailyUses)) {
    for (const [kind, n] of Object.entries(kinds)) if (n) item[dailyUseAttribute(day, kind as UseKind)] = n;
  }
  return item as ReturnType<typeof keys.profile> &
    ReturnType<typeof keys.profileNameIndex> & { entity: 'profile' } & Omit<ProfileRecord, 'daily_uses'> &
    Record<string, unknown>;
}

// --- profile listings ---------------------------------------------------------------------------

/** Items read per store call when a listing filters, and how many calls one page may make. */
const PROFILE_FILTERED_READ = 100;
const PROFILE_MAX_READS = 5;

/** One read of a profile listing: at most `limit` items after `start` (an opaque cursor), verified and parsed. */
export type ProfileRead = (limit: number, start: string | undefined) => Promise<{ items: ProfileItem[]; next?: string }>;

/**
 * Fills one page of a profile listing from reads (docs/api.md, "Search and filter"): items
 * `keep` refuses (filters, access) are dropped after each read, as a FilterExpression would,
 * so up to PROFILE_MAX_READS reads fill the page; a page may still come back short (even empty)
 * with `next` going on. When the page fills inside a read, `next` resumes right after the last
 * item kept (`cursorAfter`), so nothing is skipped or shown twice.
 */
export async function fillProfilePage(
  limit: number,
  cursor: string | undefined,
  keep: (item: ProfileItem) => boolean,
  read: ProfileRead,
  cursorAfter: (item: ProfileItem) => string,
): Promise<Page<ProfileItem>> {
  const items: ProfileItem[] = [];
  let from = cursor;
  for (let call = 0; call < PROFILE_MAX_READS && items.length < limit; call++) {
    const out = await read(Math.max(limit - items.length, PROFILE_FILTERED_READ), from);
    for (const item of out.items) {
      if (!keep(item)) continue;
      if (items.length === limit) return { items, next: cursorAfter(items[items.length - 1] as ProfileItem) };
      items.push(item);
    }
    from = out.next;
    if (!from) break;
  }
  if (items.length === limit && from !== undefined) return { items, next: cursorAfter(items[items.length - 1] as ProfileItem) };
  return { items, next: from };
}

/** The attributes an audit item may hold: anything else on a stored item means it was edited. */
export const AUDIT_ITEM_ATTRIBUTES: ReadonlySet<string> = new Set(['pk', 'sk', 'entity', 'view', ...Object.keys(AuditRecord.shape)]);

/**
 * The stored items of one audit record: one per view (tenant; agent and profile when named), and
 * its writer's head when given (written in the same batch).
 */
export function auditItems(record: AuditRecord, head?: AuditHead): Record<string, unknown>[] {
  const sk = keys.auditSort(record.at, record.id);
  const views: [AuditView, string][] = [['tenant', keys.auditTenant(record.tenant)]];
  if (record.agent_id) views.push(['agent', keys.auditAgent(record.tenant, record.agent_id)]);
  if (record.agent_id && record.slot) views.push(['profile', keys.auditProfile(record.tenant, record.agent_id, record.slot)]);
  // One literal, then one spread: the fast way to build an item (docs/architecture.md, "Performance").
  const items: Record<string, unknown>[] = views.map(([view, pk]) => ({ pk, sk, entity: 'audit', view, ...record }));
  if (head) items.push(itemAt(keys.auditHead(head.tenant, head.writer), 'audit_head', head));
  return items;
}

/** The partition an audit query reads. */
export function auditViewPk(q: Pick<AuditQuery, 'tenant' | 'agentId' | 'slot'>): string {
  if (q.slot !== undefined) return keys.auditProfile(q.tenant, q.agentId as string, q.slot);
  if (q.agentId !== undefined) return keys.auditAgent(q.tenant, q.agentId);
  return keys.auditTenant(q.tenant);
}

/** Page size asked of the store when a filter may drop items, and how many reads one request may make. */
const FILTERED_PAGE = 100;
const MAX_QUERY_CALLS = 5;

/** One read of an audit view, newest first: at most `limit` items evaluated after `start`, filtered. */
export type AuditRead = (
  limit: number,
  start: Record<string, string> | undefined,
) => Promise<{ items: Record<string, unknown>[]; last?: Record<string, string> }>;

/**
 * Fills one page of audit records from reads of a view. A filter (actions, expiry) applies after
 * each read's limit, as DynamoDB's FilterExpression does, so a read may come back emptied; up to
 * MAX_QUERY_CALLS reads fill the page, and `next` resumes where the last one stopped.
 */
export async function fillAuditPage(
  q: AuditQuery,
  pk: string,
  start: Record<string, string> | undefined,
  read: AuditRead,
): Promise<{ records: AuditRecord[]; next?: string }> {
  const records: AuditRecord[] = [];
  let from = start;
  for (let call = 0; call < MAX_QUERY_CALLS && records.length < q.limit; call++) {
    // Without an action filter only expired records are dropped: ask for what the page needs.
    const limit = q.actions?.length ? Math.max(q.limit - records.length, FILTERED_PAGE) : q.limit - records.length;
    const out = await read(limit, from);
    for (const item of out.items) {
      if (records.length === q.limit) {
        // The page is full inside this batch: resume right after the last record returned.
        const last = records[records.length - 1] as AuditRecord;
        return { records, next: encodeCursor({ pk, sk: keys.auditSort(last.at, last.id) }) };
      }
      records.push(parseOrThrow(AuditRecord, item));
    }
    from = out.last;
    if (!from) break;
  }
  return { records, next: encodeCursor(from) };
}
