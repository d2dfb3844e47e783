import { DeleteCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Db } from '../clients.ts';
import { keys, itemAt } from '../keys.ts';
import type { RunJobItem } from '../schemas/items.ts';
import type { ItemSigner } from '../store/signer.ts';
import type { RunJobRecord, RunJobStore } from '../store/types.ts';
import { conditional } from './conditional.ts';

/**
 * Sealed async-run jobs (AWS mode): one item per accepted run, beside the run record. Only
 * ciphertext and ids are stored; the item lives until the worker has finished with it, or its
 * TTL (a few minutes past the run's deadline) when the worker never could.
 */
export function runJobRepository(db: Db, signer: ItemSigner): RunJobStore {
  const TableName = db.tableName;
  return {
    /** Stores a job; false if a job for this session exists already (session ids are random UUIDs). */
    async create(r: RunJobRecord): Promise<boolean> {
      return conditional(() =>
        db.doc.send(
          new PutCommand({
            TableName,
            Item: signer.seal('run-job', itemAt(keys.runJob(r.session_id), 'run-job', r)),
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        ),
      );
    },

    /** The job, or undefined if absent or past its TTL (DynamoDB deletes expired items lazily). */
    async get(sessionId: string, nowEpochSeconds: number): Promise<RunJobItem | undefined> {
      const { Item } = await db.doc.send(new GetCommand({ TableName, Key: keys.runJob(sessionId), ConsistentRead: true }));
      if (!Item) return undefined;
      const job = signer.open<RunJobItem>('run-job', Item);
      return job.expires_at > nowEpochSeconds ? job : undefined;
    },

    /** Deletes the job (idempotent: deleting a job that is gone is not an error). */
    async delete(sessionId: string): Promise<void> {
      await db.doc.send(new DeleteCommand({ TableName, Key: keys.runJob(sessionId) }));
    },
  };
}
