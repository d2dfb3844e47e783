import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Db } from '../clients.ts';
import { keys } from '../keys.ts';
import { RunItem } from '../schemas/items.ts';
import type { RunState } from '../schemas/runs.ts';
import type { RunRecord, RunStore } from '../store/types.ts';
import { conditional } from './conditional.ts';

/** Run records (store/types.ts RunStore) on DynamoDB: one item per run, with a TTL. */
export function runRepository(db: Db): RunStore {
  const TableName = db.tableName;
  return {
    async create(r: RunRecord): Promise<boolean> {
      return conditional(() =>
        db.doc.send(
          new PutCommand({
            TableName,
            Item: { ...keys.run(r.session_id), entity: 'run', ...r },
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        ),
      );
    },

    /** The run, or undefined if absent or expired (TTL deletion is lazy, so expiry is checked here). */
    async get(sessionId: string, nowEpochSeconds: number): Promise<RunItem | undefined> {
      const { Item } = await db.doc.send(new GetCommand({ TableName, Key: keys.run(sessionId), ConsistentRead: true }));
      if (!Item) return undefined;
      const run = RunItem.parse(Item);
      return run.expires_at > nowEpochSeconds ? run : undefined;
    },

    /**
     * Moves a run to `to` if it is still in one of `from` (a finished run is never overwritten);
     * false if the condition failed.
     */
    async transition(
      sessionId: string,
      from: readonly RunState[],
      to: RunState,
      set: { result?: Uint8Array; started_at?: string; finished_at?: string },
    ): Promise<boolean> {
      const names: Record<string, string> = { '#status': 'status' };
      const values: Record<string, unknown> = { ':to': to };
      const sets = ['#status = :to'];
      for (const [k, v] of Object.entries(set)) {
        if (v === undefined) continue;
        names[`#${k}`] = k;
        values[`:${k}`] = v;
        sets.push(`#${k} = :${k}`);
      }
      const fromKeys = from.map((s, i) => {
        values[`:from${i}`] = s;
        return `:from${i}`;
      });
      return conditional(() =>
        db.doc.send(
          new UpdateCommand({
            TableName,
            Key: keys.run(sessionId),
            UpdateExpression: `SET ${sets.join(', ')}`,
            ConditionExpression: `attribute_exists(pk) AND #status IN (${fromKeys.join(', ')})`,
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
          }),
        ),
      );
    },
  };
}
