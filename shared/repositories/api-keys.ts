import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Db } from '../clients.ts';
import { conditional } from './conditional.ts';
import { keys } from '../keys.ts';
import { ApiKeyItem } from '../schemas/items.ts';

/** API keys are stored only as their SHA-256 (hex); the key itself is never written. */
export function apiKeyRepository(db: Db) {
  return {
    /** The tenant owning the key with this hash, or undefined. */
    async findTenant(keyHashHex: string): Promise<string | undefined> {
      const { Item } = await db.doc.send(new GetCommand({ TableName: db.tableName, Key: keys.apiKey(keyHashHex) }));
      return Item ? ApiKeyItem.parse(Item).tenant : undefined;
    },

    /**
     * Stores a key hash for a tenant; false if that hash already exists. Also marks the tenant as
     * having a key (the first mark wins; a lost mark only means the local server offers a dev key
     * again at its next start).
     */
    async put(keyHashHex: string, tenant: string, createdAt: string, label?: string): Promise<boolean> {
      const stored = await conditional(() =>
        db.doc.send(
          new PutCommand({
            TableName: db.tableName,
            Item: { ...keys.apiKey(keyHashHex), tenant, label, created_at: createdAt },
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
  };
}
