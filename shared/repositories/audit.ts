import { BatchWriteCommand, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { AuditHead, AuditRecord } from '../audit/record.ts';
import type { Db } from '../clients.ts';
import { AUDIT_PREFIX } from '../keys.ts';
import { sleep } from '../sleep.ts';
import { decodeCursor } from '../store/cursor.ts';
import { auditItems, auditViewPk, fillAuditPage } from '../store/items.ts';
import type { AuditQuery, AuditStore } from '../store/types.ts';

/**
 * The audit log's table access. A record is written as up to three items (tenant, agent and
 * profile views) and its writer's head in one BatchWriteItem: one round trip, and each item is a
 * plain Put of the same content, so a retry after a lost answer rewrites the same thing. The head
 * is its writer's own item (one process, one tenant), never a key every process writes.
 */
export function auditRepository(db: Db): AuditStore {
  const TableName = db.tableName;
  return {
    /** Writes every view of a record and its writer's head; throws if DynamoDB does not take all of them. */
    async write(record: AuditRecord, head?: AuditHead): Promise<void> {
      let requests = auditItems(record, head).map((Item) => ({ PutRequest: { Item } }));
      for (let attempt = 0; requests.length > 0; attempt++) {
        if (attempt > 0) await sleep(Math.min(200, 10 * 2 ** attempt));
        if (attempt > 4) throw new Error('DynamoDB kept returning unprocessed audit items');
        const out = await db.doc.send(new BatchWriteCommand({ RequestItems: { [TableName]: requests } }));
        requests = (out.UnprocessedItems?.[TableName] ?? []) as typeof requests;
      }
    },

    /**
     * One page of a view, newest first. With an action filter DynamoDB may return pages the
     * filter emptied; up to MAX_QUERY_CALLS Queries fill the page, and `next` resumes where the
     * last one stopped.
     */
    async query(q: AuditQuery): Promise<{ records: AuditRecord[]; next?: string }> {
      const pk = auditViewPk(q);
      const filters: string[] = ['expires_at > :now'];
      const names: Record<string, string> = {};
      const values: Record<string, unknown> = { ':pk': pk, ':now': q.nowSeconds };
      if (q.actions && q.actions.length > 0) {
        names['#action'] = 'action';
        filters.push(`#action IN (${q.actions.map((_a, i) => `:a${i}`).join(', ')})`);
        q.actions.forEach((a, i) => {
          values[`:a${i}`] = a;
        });
      }
      let keyCondition = 'pk = :pk';
      if (q.since !== undefined) {
        keyCondition += ' AND sk >= :since';
        values[':since'] = q.since;
      }
      return fillAuditPage(q, pk, decodeCursor(q.cursor, pk, ''), async (limit, start) => {
        const out = await db.doc.send(
          new QueryCommand({
            TableName,
            KeyConditionExpression: keyCondition,
            FilterExpression: filters.join(' AND '),
            ExpressionAttributeNames: Object.keys(names).length > 0 ? names : undefined,
            ExpressionAttributeValues: values,
            ScanIndexForward: false,
            Limit: limit,
            ExclusiveStartKey: start,
          }),
        );
        return { items: out.Items ?? [], last: out.LastEvaluatedKey as Record<string, string> | undefined };
      });
    },

    /**
     * Every stored audit item (views and heads), raw (verify-audit). An operator tool: it scans the table, which
     * no request path ever does.
     */
    async *scanAll(tenant?: string): AsyncGenerator<Record<string, unknown>> {
      let start: Record<string, unknown> | undefined;
      do {
        const out = await db.doc.send(
          new ScanCommand({
            TableName,
            FilterExpression: tenant === undefined ? 'begins_with(pk, :prefix)' : 'begins_with(pk, :prefix) AND tenant = :t',
            ExpressionAttributeValues: tenant === undefined ? { ':prefix': AUDIT_PREFIX } : { ':prefix': AUDIT_PREFIX, ':t': tenant },
            ExclusiveStartKey: start,
          }),
        );
        for (const item of out.Items ?? []) yield item;
        start = out.LastEvaluatedKey;
      } while (start);
    },
  };
}
