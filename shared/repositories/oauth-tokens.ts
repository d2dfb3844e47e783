import { DeleteCommand, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Db } from '../clients.ts';
import { keys } from '../keys.ts';
import type { OAuthTokenItem } from '../schemas/items.ts';
import { OAUTH_TOKEN_COVERED, oauthLeaseOnly, oauthTokenAfterStore } from '../store/items.ts';
import type { ItemSigner } from '../store/signer.ts';
import type { ProfileRef, OAuthTokenStore, SealedToken, TokenOwner } from '../store/types.ts';
import { MAC_SET, conditional, macValues } from './conditional.ts';

/**
 * The OAuth2 access-token cache: one item per profile (keys.oauthToken), holding the sealed
 * token and a refresh lease. No transactions (dynalite has none): every write is a conditional
 * UpdateItem, and every write bumps `version`, so "take the lease" can be conditioned on nothing
 * having changed since the read — a use that read a miss cannot start a second fetch after
 * another process stored a token.
 *
 * Signed (shared/store/signer.ts): the lease, the write counter and the last failure stay outside
 * the MAC, so taking the lease and recording a failure change no covered attribute; storing a
 * token sets every covered attribute, so its MAC needs nothing read. An item created by taking
 * the lease gets the MAC of a lease-only item (if_not_exists: an existing item keeps its own).
 */
export function oauthTokenRepository(db: Db, signer: ItemSigner): OAuthTokenStore {
  const TableName = db.tableName;
  return {
    async get(ref: ProfileRef): Promise<OAuthTokenItem | undefined> {
      const { Item } = await db.doc.send(new GetCommand({ TableName, Key: keys.oauthToken(ref), ConsistentRead: true }));
      return Item ? signer.open<OAuthTokenItem>('oauth-token', Item) : undefined;
    },

    /**
     * Takes the refresh lease if the item is still at `readVersion` (absent: `undefined`) and no
     * live lease is held (one that ended before `nowMs` may be taken over). False: someone else
     * wrote or holds it.
     */
    async takeLease(ref: ProfileRef, readVersion: number | undefined, leaseId: string, nowMs: number, leaseUntil: number): Promise<boolean> {
      const versionCond = readVersion === undefined ? 'attribute_not_exists(pk)' : 'version = :rv';
      const m = signer.macFor('oauth-token', oauthLeaseOnly(ref));
      return conditional(() =>
        db.doc.send(
          new UpdateCommand({
            TableName,
            Key: keys.oauthToken(ref),
            UpdateExpression:
              'SET entity = :e, lease_id = :id, lease_until = :until, mac = if_not_exists(mac, :mac), mac_key_id = if_not_exists(mac_key_id, :mac_key_id), mac_format = if_not_exists(mac_format, :mac_format) ADD version :one',
            ConditionExpression: `${versionCond} AND (attribute_not_exists(lease_until) OR lease_until < :now)`,
            ExpressionAttributeValues: {
              ':e': 'oauth_token',
              ':id': leaseId,
              ':until': leaseUntil,
              ':one': 1,
              ':now': nowMs,
              ...macValues(m),
              ...(readVersion === undefined ? {} : { ':rv': readVersion }),
            },
          }),
        ),
      );
    },

    /** Stores a fetched token and releases the lease, if `leaseId` still holds it. */
    async storeToken(ref: ProfileRef, leaseId: string, token: SealedToken): Promise<boolean> {
      const w = tokenWrite(signer, ref, token);
      return conditional(() =>
        db.doc.send(
          new UpdateCommand({
            TableName,
            Key: keys.oauthToken(ref),
            UpdateExpression: `${w.set} ADD version :one REMOVE ${['lease_id', 'lease_until', 'error_message', 'error_until', ...w.remove].join(', ')}`,
            ConditionExpression: 'lease_id = :id',
            ExpressionAttributeNames: w.names,
            ExpressionAttributeValues: { ...w.values, ':one': 1, ':id': leaseId },
          }),
        ),
      );
    },

    /** A new connection's tokens, whoever holds the lease (released: a refresh of the old connection cannot store over them). */
    async storeConnection(ref: ProfileRef, token: SealedToken): Promise<void> {
      const w = tokenWrite(signer, ref, token);
      await db.doc.send(
        new UpdateCommand({
          TableName,
          Key: keys.oauthToken(ref),
          UpdateExpression: `${w.set}, entity = :e ADD version :one REMOVE ${['lease_id', 'lease_until', 'error_message', 'error_until', ...w.remove].join(', ')}`,
          ExpressionAttributeNames: w.names,
          ExpressionAttributeValues: { ...w.values, ':one': 1, ':e': 'oauth_token' },
        }),
      );
    },

    /** Removes the sealed tokens and releases the lease (with `leaseId`: only while it holds it); the item keeps a lease-only MAC. */
    async clearConnection(ref: ProfileRef, leaseId?: string): Promise<boolean> {
      const m = signer.macFor('oauth-token', oauthLeaseOnly(ref));
      return conditional(() =>
        db.doc.send(
          new UpdateCommand({
            TableName,
            Key: keys.oauthToken(ref),
            UpdateExpression: `SET entity = :e, ${MAC_SET.join(', ')} ADD version :one REMOVE ${['lease_id', 'lease_until', ...OAUTH_TOKEN_COVERED.map((a) => `#${a}`)].join(', ')}`,
            ConditionExpression: leaseId === undefined ? 'attribute_exists(pk)' : 'lease_id = :id',
            ExpressionAttributeNames: Object.fromEntries(OAUTH_TOKEN_COVERED.map((a) => [`#${a}`, a])),
            ExpressionAttributeValues: { ':e': 'oauth_token', ':one': 1, ...macValues(m), ...(leaseId === undefined ? {} : { ':id': leaseId }) },
          }),
        ),
      );
    },

    async delete(ref: ProfileRef): Promise<void> {
      await db.doc.send(new DeleteCommand({ TableName, Key: keys.oauthToken(ref) }));
    },

    /**
     * Records a failed fetch (for the profile state `owner`) and releases the lease (if `leaseId` still holds it), so the uses
     * waiting on this refresh, and those arriving before `errorUntil` (epoch ms), answer the same
     * error instead of hammering the endpoint. The first use after that tries again. False if the
     * lease was lost (taken over).
     */
    async storeFailure(ref: ProfileRef, leaseId: string, message: string, errorUntil: number, owner: TokenOwner): Promise<boolean> {
      return conditional(() =>
        db.doc.send(
          new UpdateCommand({
            TableName,
            Key: keys.oauthToken(ref),
            UpdateExpression:
              'SET error_message = :m, error_until = :eu, error_generation = :g, error_record_version = :rv, error_profile_created_at = :pca ADD version :one REMOVE lease_id, lease_until',
            ConditionExpression: 'lease_id = :id',
            ExpressionAttributeValues: {
              ':m': message,
              ':eu': errorUntil,
              ':g': owner.generation,
              ':rv': owner.record_version,
              ':pca': owner.profile_created_at,
              ':one': 1,
              ':id': leaseId,
            },
          }),
        ),
      );
    },
  };
}

/**
 * The SET and REMOVE parts of a write that stores a sealed token: every covered attribute is set
 * (the optional ones removed when absent), so the MAC of the post-state needs nothing read.
 */
function tokenWrite(signer: ItemSigner, ref: ProfileRef, token: SealedToken) {
  const post = oauthTokenAfterStore(ref, token);
  const names: Record<string, string> = { '#blob': 'blob' };
  const values: Record<string, unknown> = {
    ':blob': token.blob,
    ':exp': token.token_expires_at,
    ':refresh': token.refresh_at,
    ':g': token.generation,
    ':rv': token.record_version,
    ':pca': token.profile_created_at,
  };
  const set = ['#blob = :blob', 'token_expires_at = :exp', 'refresh_at = :refresh', 'generation = :g', 'record_version = :rv', 'profile_created_at = :pca'];
  const remove: string[] = [];
  if (token.expires_at !== undefined) {
    set.push('expires_at = :ttl');
    values[':ttl'] = token.expires_at;
  } else remove.push('expires_at');
  if (token.refresh_blob !== undefined) {
    set.push('refresh_blob = :rblob');
    values[':rblob'] = token.refresh_blob;
  } else remove.push('refresh_blob');
  return { set: `SET ${[...set, ...MAC_SET].join(', ')}`, remove, names, values: { ...values, ...macValues(signer.macFor('oauth-token', post)) } };
}
