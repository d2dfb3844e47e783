import {
  type AttributeValue,
  BatchWriteItemCommand,
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  type GlobalSecondaryIndex,
  ResourceNotFoundException,
  ScanCommand,
  type TableDescription,
  UpdateTableCommand,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { PROFILE_NAME_INDEX, PROFILE_NAME_INDEX_PK, PROFILE_NAME_INDEX_SK } from '#shared/keys';
import { sleep } from '#shared/sleep';

/** The name index (docs/architecture.md, "The table"), as infra/cdk/constructs/vault-data.ts declares it. */
const NAME_INDEX: GlobalSecondaryIndex = {
  IndexName: PROFILE_NAME_INDEX,
  KeySchema: [
    { AttributeName: PROFILE_NAME_INDEX_PK, KeyType: 'HASH' },
    { AttributeName: PROFILE_NAME_INDEX_SK, KeyType: 'RANGE' },
  ],
  Projection: { ProjectionType: 'ALL' },
};
const NAME_INDEX_ATTRIBUTES = [
  { AttributeName: PROFILE_NAME_INDEX_PK, AttributeType: 'S' as const },
  { AttributeName: PROFILE_NAME_INDEX_SK, AttributeType: 'S' as const },
];

/** Attribute that makes items expire (DynamoDB TTL; also checked on read). */
export const TTL_ATTRIBUTE = 'expires_at';

/**
 * Creates the vault table with its name index if it does not exist (local mode and tests; on AWS
 * the CDK stack owns the table) and waits until it is ACTIVE. A table made by an earlier version
 * (a data folder from before the index) gets the index: added online where the engine can
 * (DynamoDB Local), else by copying the table (dynalite; see rebuildWithIndex).
 */
export async function ensureTable(client: DynamoDBClient, tableName: string): Promise<'created' | 'exists'> {
  const copy = `${tableName}${REBUILD_SUFFIX}`;
  // A rebuild that stopped half-way is finished first (it never lost an item: see rebuildWithIndex).
  if (await describe(client, copy)) {
    await rebuildWithIndex(client, tableName);
    return 'exists';
  }
  const table = await describe(client, tableName);
  if (table) {
    if (!hasNameIndex(table)) await addNameIndex(client, tableName);
    return 'exists';
  }
  await createWithIndex(client, tableName);
  return 'created';
}

/** Suffix of the copy a rebuild goes through. */
const REBUILD_SUFFIX = '-with-name-index';

const hasNameIndex = (table: TableDescription) => (table.GlobalSecondaryIndexes ?? []).some((i) => i.IndexName === PROFILE_NAME_INDEX);

async function describe(client: DynamoDBClient, tableName: string): Promise<TableDescription | undefined> {
  try {
    return (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table;
  } catch (err) {
    if (err instanceof ResourceNotFoundException || (err as Error).name === 'ResourceNotFoundException') return undefined;
    throw err;
  }
}

async function createWithIndex(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
          ...NAME_INDEX_ATTRIBUTES,
        ],
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: [NAME_INDEX],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
  } catch (err) {
    if ((err as Error).name !== 'ResourceInUseException') throw err; // created concurrently
  }
  await untilActive(client, tableName);
}

/** Every item of `from` written to `to` (idempotent: the same items again). */
async function copyItems(client: DynamoDBClient, from: string, to: string): Promise<void> {
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: from, ConsistentRead: true, ExclusiveStartKey: start }));
    const items = page.Items ?? [];
    for (let i = 0; i < items.length; i += 25) {
      let pending: WriteRequest[] = items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } }));
      for (let round = 0; pending.length > 0; round++) {
        if (round === 50) throw new Error(`copying ${from} to ${to}: writes left unprocessed`);
        const out = await client.send(new BatchWriteItemCommand({ RequestItems: { [to]: pending } }));
        pending = out.UnprocessedItems?.[to] ?? [];
      }
    }
    start = page.LastEvaluatedKey;
  } while (start);
}

async function deleteTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(new DeleteTableCommand({ TableName: tableName }));
  } catch (err) {
    if ((err as Error).name !== 'ResourceNotFoundException') throw err;
  }
  for (let i = 0; i < 200 && (await describe(client, tableName)); i++) await sleep(50);
}

/**
 * Gives a table the name index on an engine that cannot add one online (dynalite), by way of a
 * copy: create the copy with the index, copy every item, delete the table, create it again
 * with the index, copy every item back, delete the copy. Every item is in a complete table at
 * every step (the table is deleted only once the copy holds everything, the copy only once the
 * table holds everything again), and each step can run again, so a start after a crash at any
 * point resumes from where it stopped (ensureTable sees the copy first). Local mode only, at start.
 */
async function rebuildWithIndex(client: DynamoDBClient, tableName: string): Promise<void> {
  const copy = `${tableName}${REBUILD_SUFFIX}`;
  const table = await describe(client, tableName);
  if (!table || !hasNameIndex(table)) {
    await createWithIndex(client, copy);
    if (table) {
      await copyItems(client, tableName, copy);
      await deleteTable(client, tableName);
    }
    await createWithIndex(client, tableName);
  }
  await copyItems(client, copy, tableName);
  await deleteTable(client, copy);
}

/** Waits until the table and its indexes are ACTIVE. */
async function untilActive(client: DynamoDBClient, tableName: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (
      Table?.TableStatus === 'ACTIVE' &&
      (Table.GlobalSecondaryIndexes ?? []).every((g) => g.IndexStatus === undefined || g.IndexStatus === 'ACTIVE')
    )
      return;
    await sleep(50);
  }
  throw new Error(`table ${tableName} did not become ACTIVE`);
}

/**
 * Adds the name index to a table from before it. Profiles written earlier carry no index keys:
 * `npm run admin -- index-profiles` adds them (docs/deploy.md, "Upgrading").
 */
async function addNameIndex(client: DynamoDBClient, tableName: string): Promise<void> {
  const create = (throughput: boolean) =>
    client.send(
      new UpdateTableCommand({
        TableName: tableName,
        AttributeDefinitions: NAME_INDEX_ATTRIBUTES,
        // dynalite predates on-demand index updates and asks for a throughput (which it ignores);
        // DynamoDB and DynamoDB Local refuse one on an on-demand table.
        GlobalSecondaryIndexUpdates: [
          { Create: throughput ? { ...NAME_INDEX, ProvisionedThroughput: { ReadCapacityUnits: 1, WriteCapacityUnits: 1 } } : NAME_INDEX },
        ],
      }),
    );
  try {
    await create(false).catch((err: Error) => {
      if (/provisionedThroughput/i.test(err.message)) return create(true);
      throw err;
    });
  } catch (err) {
    // Added concurrently by another process starting on the same data folder.
    if ((err as Error).name !== 'ResourceInUseException' && !/already exists/i.test((err as Error).message)) throw err;
  }
  await untilActive(client, tableName);
  // dynalite answers the update and ignores it: the index comes by a rebuild.
  const table = await describe(client, tableName);
  if (!table || !hasNameIndex(table)) await rebuildWithIndex(client, tableName);
}
