import { BatchWriteCommand, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { AuditRecord } from '../audit/record.ts';
import type { Db } from '../clients.ts';
import { AUDIT_PREFIX, keys } from '../keys.ts';
import { decodeCursor, encodeCursor } from './pagination.ts';

/** Which of a record's copies an item is (see keys.audit*). */
export type AuditView = 'tenant' | 'agent' | 'profile';

export interface AuditQuery {
  readonly tenant: string;
  readonly agentId?: string;
  /** Requires agentId: the profile's view. */
  readonly slot?: string;
  /** Only these actions (a filter on the view's Query, not a scan). */
  readonly actions?: readonly string[];
  /** ISO time: records at or after it. */
  readonly since?: string;
  readonly limit: number;
  readonly cursor?: string;
  /** Records past their TTL are treated as gone at once (DynamoDB deletes them lazily, dynalite never). */
  readonly nowSeconds: number;
}

/** Page size asked of DynamoDB when a filter may drop items, and how many pages one request may read. */
const FILTERED_PAGE = 100;
const MAX_QUERY_CALLS = 5;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The attributes an audit item may hold: anything else on a stored item means it was edited. */
export const AUDIT_ITEM_ATTRIBUTES: ReadonlySet<string> = new Set(['pk', 'sk', 'entity', 'view', ...Object.keys(AuditRecord.shape)]);

/** The partition a query reads. */
function viewPk(q: Pick<AuditQuery, 'tenant' | 'agentId' | 'slot'>): string {
  if (q.slot !== undefined) return keys.auditProfile(q.tenant, q.agentId as string, q.slot);
  if (q.agentId !== undefined) return keys.auditAgent(q.tenant, q.agentId);
  return keys.auditTenant(q.tenant);
}

/**
 * The audit log's table access. A record is written as up to three items (tenant, agent and
 * profile views) in one BatchWriteItem: one round trip, and each item is a plain Put of the same
 * content, so a retry after a lost answer rewrites the same thing.
 */
export function auditRepository(db: Db) {
  const TableName = db.tableName;
  return {
    /** Writes every view of a record; throws if DynamoDB does not take all of them. */
    async write(record: AuditRecord): Promise<void> {
      const sk = keys.auditSort(record.at, record.id);
      const views: [AuditView, string][] = [['tenant', keys.auditTenant(record.tenant)]];
      if (record.agent_id) views.push(['agent', keys.auditAgent(record.tenant, record.agent_id)]);
      if (record.agent_id && record.slot) views.push(['profile', keys.auditProfile(record.tenant, record.agent_id, record.slot)]);
      let requests = views.map(([view, pk]) => ({ PutRequest: { Item: { pk, sk, entity: 'audit', view, ...record } } }));
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
      const pk = viewPk(q);
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
      const records: AuditRecord[] = [];
      let start = decodeCursor(q.cursor, pk, '');
      for (let call = 0; call < MAX_QUERY_CALLS && records.length < q.limit; call++) {
        const out = await db.doc.send(
          new QueryCommand({
            TableName,
            KeyConditionExpression: keyCondition,
            FilterExpression: filters.join(' AND '),
            ExpressionAttributeNames: Object.keys(names).length > 0 ? names : undefined,
            ExpressionAttributeValues: values,
            ScanIndexForward: false,
            // Without an action filter only expired records are dropped: ask for what the page needs.
            Limit: q.actions?.length ? Math.max(q.limit - records.length, FILTERED_PAGE) : q.limit - records.length,
            ExclusiveStartKey: start,
          }),
        );
        for (const item of out.Items ?? []) {
          if (records.length === q.limit) {
            // The page is full inside this batch: resume right after the last record returned.
            const last = records[records.length - 1] as AuditRecord;
            return { records, next: encodeCursor({ pk, sk: keys.auditSort(last.at, last.id) }) };
          }
          records.push(AuditRecord.parse(item));
        }
        start = out.LastEvaluatedKey as Record<string, string> | undefined;
        if (!start) break;
      }
      return { records, next: encodeCursor(start) };
    },

    /**
     * Every stored audit item, raw (verify-audit). An operator tool: it scans the table, which
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
