import { BatchWriteCommand, DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Db } from '../clients.ts';
import { PROFILE_NAME_INDEX, PROFILE_NAME_INDEX_PK, PROFILE_NAME_INDEX_SK, PROFILE_PREFIX, SESSION_PREFIX, keys } from '../keys.ts';
import { type ProfileItem, dailyUseAttribute } from '../schemas/items.ts';
import { isConditionalCheckFailed } from '../errors.ts';
import {
  REWRITE_OPTIONAL,
  REWRITE_SET,
  fillProfilePage,
  profileAfterPatch,
  profileAfterRename,
  profileAfterRewrite,
  profileToItem,
} from '../store/items.ts';
import { decodeIndexCursor, encodeCursor, encodeIndexCursor } from '../store/cursor.ts';
import type { ItemSigner } from '../store/signer.ts';
import { profileRefOf } from '../store/profile-ref.ts';
import {
  type ConnectionChanges,
  MAX_BATCH_WRITE,
  type ProfileRecord,
  type ProfileRef,
  type ProfileStore,
  type SettingsChanges,
  type UseToRecord,
} from '../store/types.ts';
import { drainBatch } from './batch.ts';
import { MAC_SET, conditional, macValues } from './conditional.ts';
import { queryPage } from './pagination.ts';

/** Condition: the item is still at the settings version read (0 also matches items never patched). */
function settingsUnchanged(read: number): string {
  return read === 0 ? '(attribute_not_exists(settings_version) OR settings_version = :sv)' : 'settings_version = :sv';
}

/**
 * Condition of a partial write: the item is still the one read. generation (replace, rotate),
 * record_version (rewrite), settings_version (patch, share) and created_at (a delete and create
 * again restarts the versions) move with every write of a covered attribute, so together they
 * guard the covered attributes the write does not set, and the MAC of its post-state is right.
 */
function unchangedSinceRead(read: ProfileItem): string {
  return `generation = :g AND record_version = :rv AND ${settingsUnchanged(read.settings_version)} AND created_at = :ca`;
}

function readValues(read: ProfileItem): Record<string, unknown> {
  return { ':g': read.generation, ':rv': read.record_version, ':sv': read.settings_version, ':ca': read.created_at };
}

/** The value placeholder of each attribute a rewrite sets. */
const REWRITE_VALUE_NAMES: Record<(typeof REWRITE_SET)[number], string> = {
  fields: ':fields',
  verifier: ':verifier',
  commitment: ':commitment',
  server_key_id: ':kid',
  record_version: ':next',
  updated_at: ':updated',
  should_save_session: ':save',
  runner_origin: ':origin',
  runner_approval: ':approval',
};

/** The key of the profile read, checked against the one named. */
function sameProfile(read: ProfileItem, ref: ProfileRef) {
  if (read.tenant !== ref.tenant || read.agent_id !== ref.agentId || read.slot !== ref.slot)
    throw new Error('a profile write names another profile than the one read');
  return keys.profile(ref);
}

/**
 * One item per profile, keyed by the slot its token carries (docs/architecture.md, "The table"). Every write is
 * conditional: create on absence, replace on the generation read, update on the record version
 * read. A `false` return means the condition failed — someone else wrote first.
 */
export function profileRepository(db: Db, signer: ItemSigner): ProfileStore {
  const TableName = db.tableName;
  const toItem = (r: ProfileRecord) => signer.seal('profile', profileToItem(r));
  return {
    async get(ref: ProfileRef): Promise<ProfileItem | undefined> {
      const { Item } = await db.doc.send(new GetCommand({ TableName, Key: keys.profile(ref), ConsistentRead: true }));
      return Item ? signer.open<ProfileItem>('profile', Item) : undefined;
    },

    /** Creates the profile; false if one with that slot (name) exists. */
    async create(r: ProfileRecord): Promise<boolean> {
      return conditional(() =>
        db.doc.send(new PutCommand({ TableName, Item: toItem(r), ConditionExpression: 'attribute_not_exists(pk)' })),
      );
    },

    /**
     * Replaces the whole profile (replace, rotate) if it is still at the generation, record
     * version and settings version read, so neither a concurrent write nor a PATCH is lost.
     */
    async replace(r: ProfileRecord, read: { generation: number; record_version: number; settings_version: number }): Promise<boolean> {
      return conditional(() =>
        db.doc.send(
          new PutCommand({
            TableName,
            Item: toItem(r),
            ConditionExpression: `generation = :g AND record_version = :rv AND ${settingsUnchanged(read.settings_version)}`,
            ExpressionAttributeValues: { ':g': read.generation, ':rv': read.record_version, ':sv': read.settings_version },
          }),
        ),
      );
    },

    /**
     * Writes the settings a PATCH (or the grants a share) changed, only those, bumps
     * settings_version and MACs the post-state, if the item is still the one read: at its
     * generation, record version, settings version and created_at, which together guard every
     * covered attribute this write does not set (a concurrent rewrite, replace or re-create makes
     * it fail rather than leave a stale MAC). Returns the item as written, or undefined if the
     * condition failed. record_version is left alone: it is bound into the sealed values' AAD and
     * the values did not change.
     */
    async patchSettings(ref: ProfileRef, changes: SettingsChanges, read: ProfileItem, updatedAt: string): Promise<ProfileItem | undefined> {
      const key = sameProfile(read, ref);
      const post = profileAfterPatch(read, changes, updatedAt);
      const sets = ['settings_version = :next', 'updated_at = :updated', ...MAC_SET];
      const removes: string[] = [];
      const names: Record<string, string> = {};
      const values: Record<string, unknown> = {
        ...readValues(read),
        ':next': post.settings_version,
        ':updated': updatedAt,
        ...macValues(signer.macFor('profile', post)),
      };
      for (const [field, value] of Object.entries(changes)) {
        names[`#${field}`] = field;
        if (value === undefined || value === null) removes.push(`#${field}`);
        else {
          sets.push(`#${field} = :${field}`);
          values[`:${field}`] = value;
        }
      }
      try {
        const out = await db.doc.send(
          new UpdateCommand({
            TableName,
            Key: key,
            UpdateExpression: `SET ${sets.join(', ')}${removes.length ? ` REMOVE ${removes.join(', ')}` : ''}`,
            ConditionExpression: unchangedSinceRead(read),
            ExpressionAttributeNames: Object.keys(names).length ? names : undefined,
            ExpressionAttributeValues: values,
            ReturnValues: 'ALL_NEW',
          }),
        );
        return signer.open<ProfileItem>('profile', out.Attributes as Record<string, unknown>);
      } catch (err) {
        if (isConditionalCheckFailed(err)) return undefined;
        throw err;
      }
    },

    /**
     * Rewrites the encrypted content of a profile in place (update: same token) and MACs the
     * post-state, if the item is still the one read (generation, record version, settings
     * version, created_at: see patchSettings). Usage counters are left alone (outside the MAC),
     * so a concurrent run's count is never lost.
     */
    async rewrite(r: ProfileRecord, read: ProfileItem): Promise<boolean> {
      const key = sameProfile(read, profileRefOf(r));
      const post = profileAfterRewrite(read, r);
      const names: Record<string, string> = {};
      const values: Record<string, unknown> = { ...readValues(read), ...macValues(signer.macFor('profile', post)) };
      const set: string[] = [...MAC_SET];
      const remove: string[] = [];
      for (const attr of REWRITE_SET) {
        const value = REWRITE_VALUE_NAMES[attr];
        names[`#${attr}`] = attr;
        values[value] = r[attr];
        set.push(`#${attr} = ${value}`);
      }
      // A new expiry (update with expires_in_hours) is set; without one the token keeps its own.
      if (r.token_expires_at !== undefined) {
        set.push('token_expires_at = :exp');
        values[':exp'] = r.token_expires_at;
      }
      // The type's config, the outbound policy and the approved delivery: set when present, removed when not.
      for (const attr of REWRITE_OPTIONAL) {
        names[`#${attr}`] = attr;
        if (r[attr] === undefined) remove.push(`#${attr}`);
        else {
          set.push(`#${attr} = :${attr}`);
          values[`:${attr}`] = r[attr];
        }
      }
      return conditional(() =>
        db.doc.send(
          new UpdateCommand({
            TableName,
            Key: key,
            UpdateExpression: `SET ${set.join(', ')}${remove.length ? ` REMOVE ${remove.join(', ')}` : ''}`,
            ConditionExpression: unchangedSinceRead(read),
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
          }),
        ),
      );
    },

    /**
     * Counts a use (last_used_at, use_count, the day's counter of its kind; counters older than
     * the 7-day window are dropped in the same write) unless the profile was replaced or deleted.
     */
    async recordUse(ref: ProfileRef, generation: number, use: UseToRecord): Promise<boolean> {
      const write = (withMark: boolean) => {
        const names: Record<string, string> = { '#today': dailyUseAttribute(use.day, use.kind) };
        const values: Record<string, unknown> = { ':at': use.at, ':one': 1, ':g': generation };
        const sets = ['last_used_at = :at'];
        let condition = 'generation = :g';
        if (use.realUseAt !== undefined) {
          sets.push('last_real_use_at = :real');
          values[':real'] = use.realUseAt;
        }
        if (withMark && use.inFlightUntil !== undefined) {
          // A mark is only ever moved later: a concurrent run's later one stays (ISO times of one format compare as strings).
          sets.push('in_flight_until = :until');
          values[':until'] = use.inFlightUntil;
          condition += ' AND (attribute_not_exists(in_flight_until) OR in_flight_until < :until)';
        }
        const removes = use.staleDays.map((stale, i) => {
          names[`#old${i}`] = dailyUseAttribute(stale.day, stale.kind);
          return `#old${i}`;
        });
        return conditional(() =>
          db.doc.send(
            new UpdateCommand({
              TableName,
              Key: keys.profile(ref),
              UpdateExpression: `SET ${sets.join(', ')} ADD use_count :one, #today :one${removes.length ? ` REMOVE ${removes.join(', ')}` : ''}`,
              ConditionExpression: condition,
              ExpressionAttributeNames: names,
              ExpressionAttributeValues: values,
            }),
          ),
        );
      };
      // The mark lost to a later one (or the profile changed): the use is still counted, without it.
      return (await write(true)) || (use.inFlightUntil !== undefined && (await write(false)));
    },

    async endInFlight(ref: ProfileRef, until: string): Promise<boolean> {
      return conditional(() =>
        db.doc.send(
          new UpdateCommand({
            TableName,
            Key: keys.profile(ref),
            UpdateExpression: 'REMOVE in_flight_until',
            ConditionExpression: 'in_flight_until = :until',
            ExpressionAttributeValues: { ':until': until },
          }),
        ),
      );
    },

    /** Stores the outcome of a profile test (last_tested_at, last_test_ok) unless the profile was replaced or deleted. */
    async recordTest(ref: ProfileRef, generation: number, at: string, ok: boolean): Promise<boolean> {
      return conditional(() =>
        db.doc.send(
          new UpdateCommand({
            TableName,
            Key: keys.profile(ref),
            UpdateExpression: 'SET last_tested_at = :at, last_test_ok = :ok',
            ConditionExpression: 'generation = :g',
            ExpressionAttributeValues: { ':at': at, ':ok': ok, ':g': generation },
          }),
        ),
      );
    },

    /**
     * OAuth2: records why the last token fetch failed (`message`: the endpoint's status in our
     * words, never body content), or removes the record after a success (`message` undefined).
     * A profile replaced or deleted meanwhile is left alone.
     */
    /** The observed connection of an oauth2_authorization_code profile (outside the MAC), unless replaced or deleted. */
    async recordConnection(ref: ProfileRef, owner: { generation: number; created_at: string }, changes: ConnectionChanges): Promise<boolean> {
      const { set, remove, names, values } = connectionUpdate(changes);
      if (set.length === 0 && remove.length === 0) return true;
      return conditional(() =>
        db.doc.send(
          new UpdateCommand({
            TableName,
            Key: keys.profile(ref),
            UpdateExpression: `${set.length ? `SET ${set.join(', ')}` : ''}${remove.length ? ` REMOVE ${remove.join(', ')}` : ''}`.trim(),
            ConditionExpression: 'generation = :g AND created_at = :ca',
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: { ...values, ':g': owner.generation, ':ca': owner.created_at },
          }),
        ),
      );
    },

    async recordTokenError(ref: ProfileRef, generation: number, message: string | undefined, at: string): Promise<boolean> {
      return conditional(() =>
        db.doc.send(
          new UpdateCommand({
            TableName,
            Key: keys.profile(ref),
            UpdateExpression: message === undefined ? 'REMOVE last_error, last_error_at' : 'SET last_error = :m, last_error_at = :at',
            ConditionExpression: 'generation = :g',
            ExpressionAttributeValues: { ':g': generation, ...(message === undefined ? {} : { ':m': message, ':at': at }) },
          }),
        ),
      );
    },

    /**
     * Deletes the profile (and with it the only thing its token could open); false if it was not
     * there or, when `read` is given, if it is no longer at the generation and settings version
     * read (the version whose permission was checked: a concurrent unshare or replace wins).
     */
    async delete(ref: ProfileRef, read?: { generation: number; settings_version: number }): Promise<boolean> {
      return conditional(() =>
        db.doc.send(
          new DeleteCommand({
            TableName,
            Key: keys.profile(ref),
            ...(read
              ? {
                  ConditionExpression: `generation = :g AND ${settingsUnchanged(read.settings_version)}`,
                  ExpressionAttributeValues: { ':g': read.generation, ':sv': read.settings_version },
                }
              : { ConditionExpression: 'attribute_exists(pk)' }),
          }),
        ),
      );
    },

    async markRename(ref: ProfileRef, from: string, to: string, at: string): Promise<boolean> {
      return conditional(() =>
        db.doc.send(
          new UpdateCommand({
            TableName,
            Key: keys.profile(ref),
            UpdateExpression: 'SET rename_to = :to, rename_at = :at',
            ConditionExpression: '#name = :from',
            ExpressionAttributeNames: { '#name': 'name' },
            ExpressionAttributeValues: { ':from': from, ':to': to, ':at': at },
          }),
        ),
      );
    },

    async cancelRename(ref: ProfileRef, to: string, at: string): Promise<boolean> {
      return conditional(() =>
        db.doc.send(
          new UpdateCommand({
            TableName,
            Key: keys.profile(ref),
            UpdateExpression: 'REMOVE rename_to, rename_at',
            ConditionExpression: 'rename_to = :to AND rename_at = :at',
            ExpressionAttributeValues: { ':to': to, ':at': at },
          }),
        ),
      );
    },

    /**
     * The rename's profile write: name and index keys set, the mark removed, settings_version
     * bumped, the post-state MACed, if the item is still the one read (versions, as patchSettings)
     * and still marked for this rename; the item as written, or undefined.
     */
    async rename(ref: ProfileRef, read: ProfileItem, to: string, at: string, updatedAt: string): Promise<ProfileItem | undefined> {
      const key = sameProfile(read, ref);
      const post = profileAfterRename(read, to, updatedAt);
      const index = keys.profileNameIndex(read.tenant, read.agent_id, to);
      try {
        const out = await db.doc.send(
          new UpdateCommand({
            TableName,
            Key: key,
            UpdateExpression: `SET #name = :to, #ipk = :ipk, #isk = :isk, settings_version = :next, updated_at = :updated, ${MAC_SET.join(', ')} REMOVE rename_to, rename_at`,
            ConditionExpression: `${unchangedSinceRead(read)} AND rename_to = :to AND rename_at = :at`,
            ExpressionAttributeNames: { '#name': 'name', '#ipk': PROFILE_NAME_INDEX_PK, '#isk': PROFILE_NAME_INDEX_SK },
            ExpressionAttributeValues: {
              ...readValues(read),
              ':to': to,
              ':at': at,
              ':ipk': index[PROFILE_NAME_INDEX_PK],
              ':isk': index[PROFILE_NAME_INDEX_SK],
              ':next': post.settings_version,
              ':updated': updatedAt,
              ...macValues(signer.macFor('profile', post)),
            },
            ReturnValues: 'ALL_NEW',
          }),
        );
        return signer.open<ProfileItem>('profile', out.Attributes as Record<string, unknown>);
      } catch (err) {
        if (isConditionalCheckFailed(err)) return undefined;
        throw err;
      }
    },

    async list(tenant: string, agentId: string, limit: number, cursor?: string): Promise<{ items: ProfileItem[]; next?: string }> {
      return queryPage(db, keys.agentPartition(tenant, agentId), PROFILE_PREFIX, limit, cursor, (items) =>
        signer.openAll<ProfileItem>('profile', items),
      );
    },

    async listMatching(scope, limit, cursor, keep) {
      const open = (items: Record<string, unknown>[] | undefined) => signer.openAll<ProfileItem>('profile', items ?? []);
      if (scope.agentId !== undefined) {
        const pk = keys.agentPartition(scope.tenant, scope.agentId);
        const read = async (n: number, start: string | undefined) => {
          const page = await queryPage(db, pk, PROFILE_PREFIX, n, start, open);
          return { items: page.items, next: page.next };
        };
        return fillProfilePage(limit, cursor, keep, read, (item) => encodeCursor(item) as string);
      }
      const indexPk = keys.profileNameIndexPk(scope.tenant);
      const tablePkPrefix = keys.agentPartition(scope.tenant, '');
      // The index is eventually consistent (a write shows a moment later); each item read is the
      // whole signed profile (the index projects every attribute) and is verified like any other.
      const read = async (n: number, start: string | undefined) => {
        const out = await db.doc.send(
          new QueryCommand({
            TableName,
            IndexName: PROFILE_NAME_INDEX,
            KeyConditionExpression: '#ipk = :ipk',
            ExpressionAttributeNames: { '#ipk': PROFILE_NAME_INDEX_PK },
            ExpressionAttributeValues: { ':ipk': indexPk },
            Limit: n,
            ExclusiveStartKey: decodeIndexCursor(start, indexPk, tablePkPrefix),
          }),
        );
        return { items: open(out.Items), next: encodeIndexCursor(out.LastEvaluatedKey) };
      };
      const after = (item: ProfileItem) =>
        encodeIndexCursor({ pk: item.pk, sk: item.sk, ...keys.profileNameIndex(item.tenant, item.agent_id, item.name) }) as string;
      return fillProfilePage(limit, cursor, keep, read, after);
    },

    async hasAny(tenant: string, agentId: string): Promise<boolean> {
      const out = await db.doc.send(
        new QueryCommand({
          TableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: { ':pk': keys.agentPartition(tenant, agentId), ':prefix': PROFILE_PREFIX },
          ProjectionExpression: 'pk',
          Limit: 1,
        }),
      );
      return (out.Items?.length ?? 0) > 0;
    },

    /**
     * Deletes every item of an agent's partition (profiles, saved sessions, anything else), 25 per
     * batch; returns how many of each kind went.
     */
    async deleteAllOfAgent(
      tenant: string,
      agentId: string,
      onProfileDeleted?: (item: ProfileItem) => void,
    ): Promise<{ profiles: number; sessions: number; other: number }> {
      const pk = keys.agentPartition(tenant, agentId);
      const counts = { profiles: 0, sessions: 0, other: 0 };
      /** One profile: deleted with the item it removed read back, which names what went (absent: gone already). */
      const deleteProfile = async (Key: { pk: string; sk: string }) => {
        const out = await db.doc.send(new DeleteCommand({ TableName, Key, ReturnValues: 'ALL_OLD' }));
        if (!out.Attributes) return;
        counts.profiles++;
        // An item that fails its check is gone all the same, but what it says is not the vault's (openAll logs it).
        const [item] = signer.openAll<ProfileItem>('profile', [out.Attributes]);
        if (item) onProfileDeleted?.(item);
      };
      const count = (sk: string) => {
        if (sk.startsWith(SESSION_PREFIX)) counts.sessions++;
        else counts.other++;
      };
      let start: Record<string, unknown> | undefined;
      do {
        const page = await db.doc.send(
          new QueryCommand({
            TableName,
            KeyConditionExpression: 'pk = :pk',
            ExpressionAttributeValues: { ':pk': pk },
            ProjectionExpression: 'pk, sk',
            ExclusiveStartKey: start,
          }),
        );
        const itemKeys = (page.Items ?? []).map((i) => ({ pk: i.pk as string, sk: i.sk as string }));
        const profileKeys = itemKeys.filter((k) => k.sk.startsWith(PROFILE_PREFIX));
        // Profiles first, MAX_BATCH_WRITE at a time; every delete of a round settles (and is
        // reported) before a failure of one of them ends the delete.
        for (let i = 0; i < profileKeys.length; i += MAX_BATCH_WRITE) {
          const outcomes = await Promise.allSettled(profileKeys.slice(i, i + MAX_BATCH_WRITE).map(deleteProfile));
          const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
          if (failed) throw failed.reason;
        }
        // Then the rest (sessions, token caches, name claims), MAX_BATCH_WRITE per BatchWriteItem.
        const rest = itemKeys.filter((k) => !k.sk.startsWith(PROFILE_PREFIX));
        for (let i = 0; i < rest.length; i += MAX_BATCH_WRITE) {
          const requests = rest.slice(i, i + MAX_BATCH_WRITE).map((Key) => ({ DeleteRequest: { Key } }));
          await drainBatch(
            requests,
            async (pending) => {
              const out = await db.doc.send(new BatchWriteCommand({ RequestItems: { [TableName]: pending } }));
              const left = (out.UnprocessedItems?.[TableName] ?? []) as typeof requests;
              const unprocessed = new Set(left.map((r) => r.DeleteRequest.Key.sk));
              for (const r of pending) if (!unprocessed.has(r.DeleteRequest.Key.sk)) count(r.DeleteRequest.Key.sk);
              return left;
            },
            'deletes',
            { baseDelayMs: 25, maxDelayMs: 1000, maxRounds: 8 },
          );
        }
        start = page.LastEvaluatedKey;
      } while (start);
      return counts;
    },
  };
}

/** The SET and REMOVE clauses of a connection observation (null removes; undefined leaves alone). */
function connectionUpdate(changes: ConnectionChanges) {
  const set: string[] = [];
  const remove: string[] = [];
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  for (const [attr, value] of Object.entries(changes)) {
    if (value === undefined) continue;
    names[`#${attr}`] = attr;
    if (value === null) remove.push(`#${attr}`);
    else {
      set.push(`#${attr} = :${attr}`);
      values[`:${attr}`] = value;
    }
  }
  return { set, remove, names, values };
}
