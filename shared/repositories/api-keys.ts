import { DeleteCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Db } from '../clients.ts';
import { conditional } from './conditional.ts';
import { API_KEY_INDEX_PREFIX, keys } from '../keys.ts';
import type { ApiKeyIndexItem, ApiKeyItem } from '../schemas/items.ts';
import type { ItemSigner } from '../store/signer.ts';
import type { ApiKeyRecord, ApiKeyStore, Page } from '../store/types.ts';
import { queryPage } from './pagination.ts';

/**
 * API keys are stored only as their SHA-256 (hex); the key itself is never written. Each key has
 * its own item (found by hash, for authentication) and an index entry in its tenant's partition
 * (found by key id, for listing and revocation).
 */
export function apiKeyRepository(db: Db, signer: ItemSigner): ApiKeyStore {
  const TableName = db.tableName;
  return {
    /**
     * The item of the key with this hash (verified), or undefined. Strongly consistent: a
     * revoked key must not authenticate.
     */
    async get(keyHashHex: string): Promise<ApiKeyItem | undefined> {
      const { Item } = await db.doc.send(new GetCommand({ TableName, Key: keys.apiKey(keyHashHex), ConsistentRead: true }));
      return Item ? signer.open<ApiKeyItem>('api-key', Item) : undefined;
    },

    /**
     * Stores a key: its index entry first, then its own item (false if that hash already exists).
     * In that order a failure in between leaves an entry that lists a key that does not work —
     * which DELETE removes — never a working key that no listing shows. Also marks the tenant as
     * having a key (the first mark wins; a lost mark only means the local server offers a dev
     * key again at its next start).
     */
    async put(keyHashHex: string, record: ApiKeyRecord): Promise<boolean> {
      await this.putIndex(keyHashHex, record);
      const stored = await conditional(() =>
        db.doc.send(
          new PutCommand({
            TableName,
            Item: signer.seal('api-key', { ...keys.apiKey(keyHashHex), ...record }),
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        ),
      );
      if (stored) {
        await conditional(() =>
          db.doc.send(
            new PutCommand({
              TableName,
              Item: { ...keys.tenantKeyMarker(record.tenant), tenant: record.tenant, first_key_at: record.created_at },
              ConditionExpression: 'attribute_not_exists(pk)',
            }),
          ),
        );
      }
      return stored;
    },

    /**
     * Writes the tenant's index entry of a key unless one exists (the first wins): at creation,
     * and for a key stored before principals, the first time it authenticates.
     */
    async putIndex(keyHashHex: string, record: Pick<ApiKeyRecord, 'tenant' | 'key_id' | 'name' | 'role' | 'created_at'>): Promise<boolean> {
      return conditional(() =>
        db.doc.send(
          new PutCommand({
            TableName,
            Item: signer.seal('api-key-index', {
              ...keys.tenantApiKey(record.tenant, record.key_id),
              key_id: record.key_id,
              key_hash: keyHashHex,
              name: record.name,
              role: record.role,
              created_at: record.created_at,
            }),
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        ),
      );
    },

    /** The tenant's index entry of a key id, or undefined. */
    async getIndex(tenant: string, keyId: string): Promise<ApiKeyIndexItem | undefined> {
      const { Item } = await db.doc.send(new GetCommand({ TableName, Key: keys.tenantApiKey(tenant, keyId), ConsistentRead: true }));
      return Item ? signer.open<ApiKeyIndexItem>('api-key-index', Item) : undefined;
    },

    /** One page of a tenant's keys (index entries), in key-id order. */
    async list(tenant: string, limit: number, cursor?: string): Promise<Page<ApiKeyIndexItem>> {
      return queryPage(db, keys.tenantKeyMarker(tenant).pk, API_KEY_INDEX_PREFIX, limit, cursor, (items) => signer.openAll<ApiKeyIndexItem>('api-key-index', items));
    },

    /**
     * Revokes a key: its own item first (only while it belongs to `tenant`), so it stops
     * authenticating before it leaves the listing; then the index entry. False if the key's
     * item was already gone (the index entry is removed all the same).
     */
    async delete(tenant: string, keyId: string, keyHashHex: string): Promise<boolean> {
      const removed = await conditional(() =>
        db.doc.send(
          new DeleteCommand({
            TableName,
            Key: keys.apiKey(keyHashHex),
            ConditionExpression: 'tenant = :t',
            ExpressionAttributeValues: { ':t': tenant },
          }),
        ),
      );
      await db.doc.send(new DeleteCommand({ TableName, Key: keys.tenantApiKey(tenant, keyId) }));
      return removed;
    },

    /** Whether any API key was ever issued to this tenant (by the marker `put` writes). */
    async tenantHasKey(tenant: string): Promise<boolean> {
      const { Item } = await db.doc.send(new GetCommand({ TableName, Key: keys.tenantKeyMarker(tenant), ConsistentRead: true }));
      return Item !== undefined;
    },

    /**
     * Overwrites the item of a key hash if it fails its integrity check, but only while it still
     * carries the MAC read (or none): how the bootstrap key replaces an item that failed its
     * integrity check. False if the item is intact or gone, or changed meanwhile.
     */
    async replaceUnverified(keyHashHex: string, record: ApiKeyRecord): Promise<boolean> {
      const { Item } = await db.doc.send(new GetCommand({ TableName, Key: keys.apiKey(keyHashHex), ConsistentRead: true }));
      if (!Item || signer.intact('api-key', Item)) return false;
      const readMac = Item.mac instanceof Uint8Array ? Item.mac : undefined;
      return conditional(() =>
        db.doc.send(
          new PutCommand({
            TableName,
            Item: signer.seal('api-key', { ...keys.apiKey(keyHashHex), ...record }),
            ConditionExpression: readMac ? 'mac = :read' : 'attribute_exists(pk) AND attribute_not_exists(mac)',
            ExpressionAttributeValues: readMac ? { ':read': readMac } : undefined,
          }),
        ),
      );
    },
  };
}
