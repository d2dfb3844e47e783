import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Config } from './config.ts';

/** The table and the client every repository uses. */
export interface Db {
  readonly client: DynamoDBClient;
  readonly doc: DynamoDBDocumentClient;
  readonly tableName: string;
}

/**
 * A DynamoDB document client for the configured endpoint. Local endpoints (dynalite, DynamoDB
 * Local) get placeholder credentials; on AWS the Lambda role's credentials are used. The SDK's
 * standard retry strategy (3 attempts, exponential backoff with jitter) handles throttling.
 */
export function createDb(config: Pick<Config, 'dynamoEndpoint' | 'region' | 'tableName'>): Db {
  const client = new DynamoDBClient({
    region: config.region,
    maxAttempts: 3,
    // A call that never answers is abandoned and retried well within API Gateway's 30 s: a
    // DynamoDB request takes milliseconds, so 3 s is a generous bound.
    requestHandler: { connectionTimeout: 1_000, requestTimeout: 3_000, throwOnRequestTimeout: true },
    ...(config.dynamoEndpoint
      ? { endpoint: config.dynamoEndpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }
      : {}),
  });
  const doc = DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertEmptyValues: false },
  });
  return { client, doc, tableName: config.tableName };
}
