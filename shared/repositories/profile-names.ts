import { DeleteCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Db } from '../clients.ts';
import { keys } from '../keys.ts';
import type { ProfileNameItem } from '../schemas/items.ts';
import type { ItemSigner } from '../store/signer.ts';
import type { ProfileNameRecord, ProfileNameStore } from '../store/types.ts';
import { conditional } from './conditional.ts';

/**
 * Profile name claims (docs/architecture.md, "Renaming a profile"): one signed item per name in
 * the agent's partition. Written whole (a Put over nothing, or over exactly the claim read),
 * deleted only while it still points where the deleter thinks.
 */
export function profileNameRepository(db: Db, signer: ItemSigner): ProfileNameStore {
  const TableName = db.tableName;
  return {
    async get(tenant, agentId, nameSlot) {
      const { Item } = await db.doc.send(
        new GetCommand({ TableName, Key: keys.profileName(tenant, agentId, nameSlot), ConsistentRead: true }),
      );
      return Item ? signer.open<ProfileNameItem>('profile-name', Item) : undefined;
    },

    async put(nameSlot: string, claim: ProfileNameRecord, read: ProfileNameItem | undefined) {
      const Item = signer.seal('profile-name', {
        ...keys.profileName(claim.tenant, claim.agent_id, nameSlot),
        entity: 'profile_name' as const,
        ...claim,
      });
      return conditional(() =>
        db.doc.send(
          new PutCommand({
            TableName,
            Item,
            ...(read
              ? { ConditionExpression: 'nonce = :read', ExpressionAttributeValues: { ':read': read.nonce } }
              : { ConditionExpression: 'attribute_not_exists(pk)' }),
          }),
        ),
      );
    },

    async release(tenant, agentId, nameSlot, slot, nonce) {
      return conditional(() =>
        db.doc.send(
          new DeleteCommand({
            TableName,
            Key: keys.profileName(tenant, agentId, nameSlot),
            ConditionExpression: nonce === undefined ? 'slot = :slot' : 'slot = :slot AND nonce = :nonce',
            ExpressionAttributeValues: nonce === undefined ? { ':slot': slot } : { ':slot': slot, ':nonce': nonce },
          }),
        ),
      );
    },
  };
}
