import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Db } from '../clients.ts';
import type { ItemMac } from '../crypto/item-mac.ts';
import { conditional } from './conditional.ts';
import { keys } from '../keys.ts';
import { ApiKeyItem } from '../schemas/items.ts';

/** What an API key item holds besides its key: the only form the repository writes. */
export interface ApiKeyRecord extends ItemMac {
  readonly tenant: string;
  readonly label?: string;
  readonly created_at: string;
}

/** API keys are stored only as their SHA-256 (hex); the key itself is never written. */
export function apiKeyRepository(db: Db) {
  return {
    /** The item of the key with this hash (its MAC not yet checked), or undefined. */
    async get(keyHashHex: string): Promise<ApiKeyItem | undefined> {
      const { Item } = await db.doc.send(new GetCommand({ TableName: db.tableName, Key: keys.apiKey(keyHashHex) }));
      return Item ? ApiKeyItem.parse(Item) : undefined;
    },

    /**
     * Stores a key hash for a tenant; false if that hash already exists. Also marks the tenant as
     * having a key (the first mark wins; a lost mark only means the local server offers a dev key
     * again at its next start).
     */
    async put(keyHashHex: string, record: ApiKeyRecord): Promise<boolean> {
      const { tenant, created_at: createdAt } = record;
      const stored = await conditional(() =>
        db.doc.send(
          new PutCommand({
            TableName: db.tableName,
            Item: { ...keys.apiKey(keyHashHex), ...record },
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        ),
      );
      if (stored) {
        await conditional(() =>
          db.doc.send(
            new PutCommand({
              TableName: db.tableName,
              Item: { ...keys.tenantKeyMarker(tenant), tenant, first_key_at: createdAt },
              ConditionExpression: 'attribute_not_exists(pk)',
            }),
          ),
        );
      }
      return stored;
    },

    /** Whether any API key was ever issued to this tenant (by the marker `put` writes). */
    async tenantHasKey(tenant: string): Promise<boolean> {
      const { Item } = await db.doc.send(new GetCommand({ TableName: db.tableName, Key: keys.tenantKeyMarker(tenant), ConsistentRead: true }));
      return Item !== undefined;
    },

    /**
     * Overwrites the item of a key hash, but only while it still carries the MAC read (or none):
     * how the bootstrap key replaces an item that failed its integrity check.
     */
    async replaceUnverified(keyHashHex: string, record: ApiKeyRecord, readMac: Uint8Array | undefined): Promise<boolean> {
      return conditional(() =>
        db.doc.send(
          new PutCommand({
            TableName: db.tableName,
            Item: { ...keys.apiKey(keyHashHex), ...record },
            ConditionExpression: readMac ? 'mac = :read' : 'attribute_exists(pk) AND attribute_not_exists(mac)',
            ExpressionAttributeValues: readMac ? { ':read': readMac } : undefined,
          }),
        ),
      );
    },
  };
}
