import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Db } from '../clients.ts';
import { keys, itemAt } from '../keys.ts';
import type { RunItem } from '../schemas/items.ts';
import { runAfter } from '../store/items.ts';
import type { ItemSigner } from '../store/signer.ts';
import type { RunState } from '../schemas/runs.ts';
import type { RunRecord, RunStore } from '../store/types.ts';
import { MAC_SET, conditional, macValues } from './conditional.ts';

/** Run records (store/types.ts RunStore) on DynamoDB: one item per run, with a TTL. */
export function runRepository(db: Db, signer: ItemSigner): RunStore {
  const TableName = db.tableName;
  return {
    async create(r: RunRecord): Promise<boolean> {
      return conditional(() =>
        db.doc.send(
          new PutCommand({
            TableName,
            Item: signer.seal('run', itemAt(keys.run(r.session_id), 'run', r)),
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        ),
      );
    },

    /** The run, or undefined if absent or expired (TTL deletion is lazy, so expiry is checked here). */
    async get(sessionId: string, nowEpochSeconds: number): Promise<RunItem | undefined> {
      const { Item } = await db.doc.send(new GetCommand({ TableName, Key: keys.run(sessionId), ConsistentRead: true }));
      if (!Item) return undefined;
      const run = signer.open<RunItem>('run', Item);
      return run.expires_at > nowEpochSeconds ? run : undefined;
    },

    /**
     * Moves the run read to `to` if it is still in one of `from` (a finished run is never
     * overwritten): an UpdateItem that MACs the run's post-state, conditioned on the status read
     * (each status is entered once, so an unchanged status means unchanged started_at, result and
     * finished_at; the rest never changes after create). If another transition landed first and
     * the run is still in one of `from`, it is read again and moved from there.
     */
    async transition(
      read: RunItem,
      from: readonly RunState[],
      to: RunState,
      set: { result?: Uint8Array; started_at?: string; finished_at?: string },
    ): Promise<RunItem | undefined> {
      let current: RunItem | undefined = read;
      for (let attempt = 0; attempt < 3 && current && from.includes(current.status); attempt++) {
        const post = runAfter(current, to, set);
        const names: Record<string, string> = { '#status': 'status' };
        const values: Record<string, unknown> = {
          ':to': to,
          ':read': current.status,
          ':ca': current.created_at,
          ...macValues(signer.macFor('run', post)),
        };
        const sets = ['#status = :to', ...MAC_SET];
        for (const [k, v] of Object.entries(set)) {
          if (v === undefined) continue;
          names[`#${k}`] = k;
          values[`:${k}`] = v;
          sets.push(`#${k} = :${k}`);
        }
        const done = await conditional(() =>
          db.doc.send(
            new UpdateCommand({
              TableName,
              Key: keys.run(read.session_id),
              UpdateExpression: `SET ${sets.join(', ')}`,
              ConditionExpression: '#status = :read AND created_at = :ca',
              ExpressionAttributeNames: names,
              ExpressionAttributeValues: values,
            }),
          ),
        );
        if (done) return post;
        const { Item } = await db.doc.send(new GetCommand({ TableName, Key: keys.run(read.session_id), ConsistentRead: true }));
        current = Item ? signer.open<RunItem>('run', Item) : undefined;
      }
      return undefined;
    },
  };
}
