import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Db } from '../clients.ts';
import { keys } from '../keys.ts';
import type { RateLimitStore } from '../store/types.ts';
import { conditional } from './conditional.ts';

/**
 * Per-tenant request counters, one item per tenant and fixed window. A single conditional
 * `ADD` both checks and counts, so concurrent requests (any number of Lambda instances) can
 * never admit more than the limit between them, and a refused request changes nothing.
 */
export function rateLimitRepository(db: Db): RateLimitStore {
  const TableName = db.tableName;
  return {
    /**
     * Counts one request in the window if fewer than `limit` were counted; false if the window
     * is full. The item expires (TTL) at `expiresAt`, a while after its window ended.
     */
    async take(tenant: string, windowStart: number, limit: number, expiresAt: number): Promise<boolean> {
      return conditional(() =>
        db.doc.send(
          new UpdateCommand({
            TableName,
            Key: keys.tenantRate(tenant, windowStart),
            UpdateExpression: 'ADD #n :one SET #e = :entity, #x = :x',
            ConditionExpression: 'attribute_not_exists(#n) OR #n < :limit',
            ExpressionAttributeNames: { '#n': 'count', '#e': 'entity', '#x': 'expires_at' },
            ExpressionAttributeValues: { ':one': 1, ':limit': limit, ':entity': 'rate', ':x': expiresAt },
          }),
        ),
      );
    },
  };
}
