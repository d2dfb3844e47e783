import { BatchWriteCommand, DeleteCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Db } from '../clients.ts';
import { DELIVERY_PREFIX, WEBHOOK_PREFIX, keys, itemAt } from '../keys.ts';
import type { WebhookDeliveryItem, WebhookItem } from '../schemas/items.ts';
import type { ItemSigner } from '../store/signer.ts';
import { type DeliveryRecord, MAX_BATCH_WRITE, type Page, type WebhookRecord, type WebhookStore } from '../store/types.ts';
import { sleep } from '../sleep.ts';
import { conditional } from './conditional.ts';
import { queryPage } from './pagination.ts';

/** How often a delivery batch's unprocessed items are sent again (backing off 20 … 160 ms) before they are given up. */
const DELIVERY_BATCH_RETRIES = 4;

/**
 * Tenant webhooks and their deliveries (store/types.ts WebhookStore) on DynamoDB. Webhooks live
 * in the tenant partition (`WEBHOOK#<id>`); each webhook's deliveries in its own partition
 * (`DELIVERY#<time-ordered id>`), read newest first. Every write is a whole signed item.
 */
export function webhookRepository(db: Db, signer: ItemSigner): WebhookStore {
  const TableName = db.tableName;
  const webhookItem = (r: WebhookRecord) => signer.seal('webhook', itemAt(keys.webhook(r.tenant, r.webhook_id), 'webhook', r));
  const deliveryItem = (r: DeliveryRecord) =>
    signer.seal('webhook-delivery', itemAt(keys.webhookDelivery(r.tenant, r.webhook_id, r.delivery_id), 'webhook_delivery', r));
  return {
    async create(r) {
      return conditional(() =>
        db.doc.send(new PutCommand({ TableName, Item: webhookItem(r), ConditionExpression: 'attribute_not_exists(pk)' })),
      );
    },

    async get(tenant, webhookId) {
      const { Item } = await db.doc.send(new GetCommand({ TableName, Key: keys.webhook(tenant, webhookId), ConsistentRead: true }));
      return Item ? signer.open<WebhookItem>('webhook', Item) : undefined;
    },

    async replace(r, expectedVersion) {
      return conditional(() =>
        db.doc.send(
          new PutCommand({
            TableName,
            Item: webhookItem(r),
            ConditionExpression: 'attribute_exists(pk) AND version = :v',
            ExpressionAttributeValues: { ':v': expectedVersion },
          }),
        ),
      );
    },

    async delete(tenant, webhookId) {
      return conditional(() =>
        db.doc.send(new DeleteCommand({ TableName, Key: keys.webhook(tenant, webhookId), ConditionExpression: 'attribute_exists(pk)' })),
      );
    },

    async list(tenant, limit, cursor) {
      return queryPage(db, keys.tenantAgents(tenant), WEBHOOK_PREFIX, limit, cursor, (items) =>
        signer.openAll<WebhookItem>('webhook', items),
      );
    },

    async createDelivery(r) {
      return conditional(() =>
        db.doc.send(new PutCommand({ TableName, Item: deliveryItem(r), ConditionExpression: 'attribute_not_exists(pk)' })),
      );
    },

    async createDeliveries(rs) {
      if (rs.length > MAX_BATCH_WRITE) throw new RangeError(`at most ${MAX_BATCH_WRITE} deliveries per batch`);
      let pending = rs.map((r) => ({ PutRequest: { Item: deliveryItem(r) } }));
      for (let attempt = 0; pending.length > 0 && attempt <= DELIVERY_BATCH_RETRIES; attempt++) {
        if (attempt > 0) await sleep(Math.min(200, 10 * 2 ** attempt));
        const out = await db.doc.send(new BatchWriteCommand({ RequestItems: { [TableName]: pending } }));
        pending = (out.UnprocessedItems?.[TableName] ?? []) as typeof pending;
      }
      const left = new Set(pending.map((p) => p.PutRequest.Item.sk));
      return rs.filter((r) => left.has(keys.webhookDelivery(r.tenant, r.webhook_id, r.delivery_id).sk));
    },

    async getDelivery(tenant, webhookId, deliveryId, nowEpochSeconds) {
      const { Item } = await db.doc.send(
        new GetCommand({ TableName, Key: keys.webhookDelivery(tenant, webhookId, deliveryId), ConsistentRead: true }),
      );
      if (!Item) return undefined;
      const d = signer.open<WebhookDeliveryItem>('webhook-delivery', Item);
      return d.expires_at > nowEpochSeconds ? d : undefined;
    },

    async replaceDelivery(r, expectedVersion) {
      return conditional(() =>
        db.doc.send(
          new PutCommand({
            TableName,
            Item: deliveryItem(r),
            ConditionExpression: 'attribute_exists(pk) AND version = :v',
            ExpressionAttributeValues: { ':v': expectedVersion },
          }),
        ),
      );
    },

    async listDeliveries(tenant, webhookId, limit, cursor, nowEpochSeconds): Promise<Page<WebhookDeliveryItem>> {
      const page = await queryPage(
        db,
        keys.webhookPartition(tenant, webhookId),
        DELIVERY_PREFIX,
        limit,
        cursor,
        (items) => signer.openAll<WebhookDeliveryItem>('webhook-delivery', items),
        { newestFirst: true },
      );
      return { items: page.items.filter((d) => d.expires_at > nowEpochSeconds), next: page.next };
    },
  };
}
