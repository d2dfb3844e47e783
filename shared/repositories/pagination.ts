import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { Db } from '../clients.ts';
import { decodeCursor, encodeCursor } from '../store/cursor.ts';
import type { Page } from '../store/types.ts';

/**
 * One page of the items of a partition whose sort key starts with `skPrefix`, opened with
 * `open` (the signed store's openAll: verified and parsed, a tampered item left out); `next` is
 * the cursor of the following page, if any. `newestFirst` reads the partition backwards (sort
 * keys descending: time-ordered ids newest first).
 */
export async function queryPage<T>(
  db: Db,
  pk: string,
  skPrefix: string,
  limit: number,
  cursor: string | undefined,
  open: (items: Record<string, unknown>[]) => T[],
  options: { readonly newestFirst?: boolean } = {},
): Promise<Page<T>> {
  const out = await db.doc.send(
    new QueryCommand({
      TableName: db.tableName,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': pk, ':prefix': skPrefix },
      Limit: limit,
      ExclusiveStartKey: decodeCursor(cursor, pk, skPrefix),
      ...(options.newestFirst ? { ScanIndexForward: false } : {}),
    }),
  );
  return { items: open(out.Items ?? []), next: encodeCursor(out.LastEvaluatedKey) };
}
