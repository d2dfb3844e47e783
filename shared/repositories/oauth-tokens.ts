import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Db } from '../clients.ts';
import { keys } from '../keys.ts';
import type { OAuthTokenItem } from '../schemas/items.ts';
import { oauthLeaseOnly, oauthTokenAfterStore } from '../store/items.ts';
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
      return conditional(() =>
        db.doc.send(
          new UpdateCommand({
            TableName,
            Key: keys.oauthToken(ref),
            UpdateExpression:
              `SET #blob = :blob, token_expires_at = :exp, refresh_at = :refresh, expires_at = :ttl, generation = :g, record_version = :rv, profile_created_at = :pca, ${MAC_SET.join(', ')} ADD version :one REMOVE lease_id, lease_until, error_message, error_until`,
            ConditionExpression: 'lease_id = :id',
            ExpressionAttributeNames: { '#blob': 'blob' },
            ExpressionAttributeValues: {
              ':blob': token.blob,
              ':exp': token.token_expires_at,
              ':refresh': token.refresh_at,
              ':ttl': token.expires_at,
              ':g': token.generation,
              ':rv': token.record_version,
              ':pca': token.profile_created_at,
              ':one': 1,
              ':id': leaseId,
              ...macValues(signer.macFor('oauth-token', oauthTokenAfterStore(ref, token))),
            },
          }),
        ),
      );
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
