import { DeleteCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Db } from '../clients.ts';
import { keys, itemAt } from '../keys.ts';
import type { GrantItem } from '../schemas/items.ts';
import type { ItemSigner } from '../store/signer.ts';
import type { GrantRecord, GrantStore } from '../store/types.ts';
import { conditional } from './conditional.ts';

/** Run grants: one item per grant, written when a run starts, deleted when it ends (TTL as a backstop). */
export function grantRepository(db: Db, signer: ItemSigner): GrantStore {
  const TableName = db.tableName;
  return {
    /** Writes a new grant item; false if the id is taken (128 random bits: never in practice). */
    async create(r: GrantRecord): Promise<boolean> {
      const { id_hex, ...rest } = r;
      return conditional(() =>
        db.doc.send(
          new PutCommand({
            TableName,
            Item: signer.seal('grant', itemAt(keys.grant(id_hex), 'grant', rest)),
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        ),
      );
    },

    async get(idHex: string): Promise<GrantItem | undefined> {
      const { Item } = await db.doc.send(new GetCommand({ TableName, Key: keys.grant(idHex), ConsistentRead: true }));
      return Item ? signer.open<GrantItem>('grant', Item) : undefined;
    },

    async delete(idHex: string): Promise<void> {
      await db.doc.send(new DeleteCommand({ TableName, Key: keys.grant(idHex) }));
    },
  };
}
