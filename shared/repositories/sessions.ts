import { DeleteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Db } from '../clients.ts';
import { keys, itemAt } from '../keys.ts';
import type { ItemSigner } from '../store/signer.ts';
import type { ProfileRef, SessionRecord, SessionStore } from '../store/types.ts';
import { conditional } from './conditional.ts';

/** Saved sessions: one item beside the profile, sealed under the profile's token-derived keys. */
export function sessionRepository(db: Db, signer: ItemSigner): SessionStore {
  const TableName = db.tableName;
  return {
    /**
     * Stores a session if the stored item is still exactly the one read (`read`: its version and
     * generation), whether or not it could be opened. With nothing read, it stores over no item
     * or over one that belongs to an older profile generation — ordered by (profile_created_at,
     * generation), so a late run of a replaced or deleted profile never overwrites the session of
     * the current one. False if the condition failed (a concurrent run saved first).
     */
    async save(ref: ProfileRef, r: SessionRecord, read: { version: number; generation: number } | undefined): Promise<boolean> {
      return conditional(() =>
        db.doc.send(
          new PutCommand({
            TableName,
            Item: signer.seal('session', itemAt(keys.session(ref), 'session', r)),
            ...(read === undefined && r.profile_created_at === undefined
              ? { ConditionExpression: 'attribute_not_exists(pk)' }
              : read === undefined
                ? {
                    ConditionExpression: 'attribute_not_exists(pk) OR attribute_not_exists(#pc) OR #pc < :pc OR (#pc = :pc AND #g < :g)',
                    ExpressionAttributeNames: { '#pc': 'profile_created_at', '#g': 'generation' },
                    ExpressionAttributeValues: { ':pc': r.profile_created_at, ':g': r.generation },
                  }
                : {
                    ConditionExpression: '#v = :v AND #g = :g',
                    ExpressionAttributeNames: { '#v': 'version', '#g': 'generation' },
                    ExpressionAttributeValues: { ':v': read.version, ':g': read.generation },
                  }),
          }),
        ),
      );
    },

    /**
     * Deletes the session unless it belongs to the profile generation `keep` (a run of the
     * current generation may have saved it a moment ago). Used after a replace.
     */
    async deleteOlderThan(ref: ProfileRef, keep: { generation: number; profile_created_at: string }): Promise<boolean> {
      return conditional(() =>
        db.doc.send(
          new DeleteCommand({
            TableName,
            Key: keys.session(ref),
            ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(#pc) OR #pc <> :pc OR #g <> :g)',
            ExpressionAttributeNames: { '#pc': 'profile_created_at', '#g': 'generation' },
            ExpressionAttributeValues: { ':pc': keep.profile_created_at, ':g': keep.generation },
          }),
        ),
      );
    },

    /** Deletes the session only if it is still exactly the one written (`version`, generation, profile stamp). */
    async deleteIfWritten(ref: ProfileRef, written: { version: number; generation: number; profile_created_at: string }): Promise<boolean> {
      return conditional(() =>
        db.doc.send(
          new DeleteCommand({
            TableName,
            Key: keys.session(ref),
            ConditionExpression: '#v = :v AND #g = :g AND #pc = :pc',
            ExpressionAttributeNames: { '#v': 'version', '#g': 'generation', '#pc': 'profile_created_at' },
            ExpressionAttributeValues: { ':v': written.version, ':g': written.generation, ':pc': written.profile_created_at },
          }),
        ),
      );
    },

    async delete(ref: ProfileRef): Promise<void> {
      await db.doc.send(new DeleteCommand({ TableName, Key: keys.session(ref) }));
    },
  };
}
