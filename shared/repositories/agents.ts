import { DeleteCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Db } from '../clients.ts';
import { conditional } from './conditional.ts';
import { AGENT_PREFIX, keys, itemAt } from '../keys.ts';
import type { AgentItem } from '../schemas/items.ts';
import type { ItemSigner } from '../store/signer.ts';
import type { AgentStore, NewAgentItem } from '../store/types.ts';
import { queryPage } from './pagination.ts';

/** Agents (store/types.ts AgentStore) on DynamoDB: one item per agent in the tenant partition. */
export function agentRepository(db: Db, signer: ItemSigner): AgentStore {
  const TableName = db.tableName;
  return {
    async get(tenant: string, agentId: string): Promise<AgentItem | undefined> {
      const { Item } = await db.doc.send(new GetCommand({ TableName, Key: keys.agent(tenant, agentId), ConsistentRead: true }));
      return Item ? signer.open<AgentItem>('agent', Item) : undefined;
    },

    /** Whether the item exists (its key only: nothing it says is read, so it needs no integrity check). */
    async exists(tenant: string, agentId: string): Promise<boolean> {
      const { Item } = await db.doc.send(
        new GetCommand({ TableName, Key: keys.agent(tenant, agentId), ConsistentRead: true, ProjectionExpression: 'pk' }),
      );
      return Item !== undefined;
    },

    /** Creates the agent; false if the id is taken. */
    async create(item: NewAgentItem): Promise<boolean> {
      return conditional(() =>
        db.doc.send(
          new PutCommand({
            TableName,
            Item: signer.seal('agent', itemAt(keys.agent(item.tenant, item.agent_id), 'agent', item)),
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        ),
      );
    },

    /** Overwrites the agent if its stored version is still `expectedVersion`; false otherwise. */
    async replace(item: NewAgentItem, expectedVersion: number): Promise<boolean> {
      return conditional(() =>
        db.doc.send(
          new PutCommand({
            TableName,
            Item: signer.seal('agent', itemAt(keys.agent(item.tenant, item.agent_id), 'agent', item)),
            ConditionExpression: 'attribute_exists(pk) AND version = :v',
            ExpressionAttributeValues: { ':v': expectedVersion },
          }),
        ),
      );
    },

    async list(tenant: string, limit: number, cursor?: string): Promise<{ items: AgentItem[]; next?: string }> {
      return queryPage(db, keys.tenantAgents(tenant), AGENT_PREFIX, limit, cursor, (items) => signer.openAll<AgentItem>('agent', items));
    },

    /** Deletes the agent item; false if it did not exist. */
    async delete(tenant: string, agentId: string): Promise<boolean> {
      return conditional(() =>
        db.doc.send(new DeleteCommand({ TableName, Key: keys.agent(tenant, agentId), ConditionExpression: 'attribute_exists(pk)' })),
      );
    },
  };
}
