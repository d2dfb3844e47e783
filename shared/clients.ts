import { Agent } from 'node:http';
import { connect } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Config } from './config.ts';

/** The table and the client every repository uses. */
export interface Db {
  readonly client: DynamoDBClient;
  readonly doc: DynamoDBDocumentClient;
  readonly tableName: string;
}

/** Where the store is: AWS (neither), an endpoint URL, or the embedded store's Unix socket. */
export interface DbTarget extends Pick<Config, 'dynamoEndpoint' | 'region' | 'tableName'> {
  /** The local server's embedded store (infra/local/embedded-dynamo.ts): no TCP port involved. */
  readonly storeSocket?: string;
}

/**
 * A DynamoDB document client for the configured endpoint. Local endpoints (dynalite, DynamoDB
 * Local) get placeholder credentials; on AWS the Lambda role's credentials are used. The SDK's
 * standard retry strategy (3 attempts, exponential backoff with jitter) handles throttling.
 */
export function createDb(config: DbTarget): Db {
  // Every connection to the embedded store goes to its socket file; the URL's host is ignored.
  const socketAgent = config.storeSocket ? new Agent({ keepAlive: true, maxSockets: 64 }) : undefined;
  if (socketAgent && config.storeSocket) {
    const path = config.storeSocket;
    socketAgent.createConnection = () => connect(path);
  }
  const endpoint = config.storeSocket ? 'http://embedded-store.invalid' : config.dynamoEndpoint;
  const client = new DynamoDBClient({
    region: config.region,
    maxAttempts: 3,
    // A call that never answers is abandoned and retried well within API Gateway's 30 s: a
    // DynamoDB request takes milliseconds, so 3 s is a generous bound.
    requestHandler: {
      connectionTimeout: 1_000,
      requestTimeout: 3_000,
      throwOnRequestTimeout: true,
      ...(socketAgent ? { httpAgent: socketAgent } : {}),
    },
    ...(endpoint ? { endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
  });
  const doc = DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertEmptyValues: false },
  });
  return { client, doc, tableName: config.tableName };
}
