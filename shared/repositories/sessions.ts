import { DeleteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Db } from '../clients.ts';
import { keys } from '../keys.ts';
import type { SessionItem } from '../schemas/items.ts';
import { conditional } from './conditional.ts';

export type SessionRecord = Omit<SessionItem, 'pk' | 'sk' | 'entity'>;

/** Saved sessions: one item beside the profile, sealed under the profile's token-derived keys. */
export function sessionRepository(db: Db) {
  const TableName = db.tableName;
  return {
    /**
     * Stores a session if the stored item is still exactly the one read (`read`: its version and
     * generation; undefined = there was none), whether or not it could be opened; false if a
     * concurrent run saved first.
     */
    async save(
      tenant: string,
      agentId: string,
      slotHex: string,
      r: SessionRecord,
      read: { version: number; generation: number } | undefined,
    ): Promise<boolean> {
      return conditional(() =>
        db.doc.send(
          new PutCommand({
            TableName,
            Item: { ...keys.session(tenant, agentId, slotHex), entity: 'session', ...r },
            ...(read === undefined
              ? { ConditionExpression: 'attribute_not_exists(pk)' }
              : {
                  ConditionExpression: '#v = :v AND #g = :g',
                  ExpressionAttributeNames: { '#v': 'version', '#g': 'generation' },
                  ExpressionAttributeValues: { ':v': read.version, ':g': read.generation },
                }),
          }),
        ),
      );
    },

    async delete(tenant: string, agentId: string, slotHex: string): Promise<void> {
      await db.doc.send(new DeleteCommand({ TableName, Key: keys.session(tenant, agentId, slotHex) }));
    },
  };
}
