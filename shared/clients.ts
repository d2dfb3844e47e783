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
  /** The embedded store in this process (infra/local/embedded-dynamo.ts: messages to its thread): no socket, no HTTP. */
  readonly storeHandler?: StoreRequestHandler;
}

/** The part of the SDK's request handler the embedded store's in-process transport provides. */
export interface StoreRequestHandler {
  handle(request: {
    method: string;
    path: string;
    query?: Record<string, unknown>;
    headers: Record<string, string>;
    body?: unknown;
  }): Promise<{ response: { statusCode: number; headers: Record<string, string>; body: Uint8Array } }>;
}

/** Signs nothing: the header the embedded store requires, with no signature work (see createDb). */
const embeddedStoreSigner = {
  async sign<R extends { headers: Record<string, string> }>(request: R): Promise<R> {
    request.headers.authorization =
      'AWS4-HMAC-SHA256 Credential=local/19700101/local/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=0';
    request.headers['x-amz-date'] = '19700101T000000Z';
    return request;
  },
};

/** Header-building middleware the embedded store's in-process handler has no use for (see createDb). */
export const EMBEDDED_UNUSED_MIDDLEWARE = [
  'getUserAgentMiddleware',
  'hostHeaderMiddleware',
  'contentLengthMiddleware',
  'recursionDetectionMiddleware',
] as const;

/**
 * Retry and signing middleware the in-process embedded store has no use for (see createDb): it is
 * never throttled and has no network between the client and the store, so a failed call would
 * fail again (a store that is closing refuses everything after "close"; a store thread that
 * ended refuses every call); and it accepts any signature. Their per-call work (an invocation id,
 * a retry token, the auth scheme's signer) is replaced by one middleware setting the fixed header.
 */
export const EMBEDDED_IN_PROCESS_UNUSED_MIDDLEWARE = ['retryMiddleware', 'httpSigningMiddleware'] as const;

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
  const endpoint = config.storeSocket || config.storeHandler ? 'http://embedded-store.invalid' : config.dynamoEndpoint;
  // The embedded store accepts any SigV4 signature (infra/local/embedded-dynamo.ts: its socket is
  // the boundary), so computing one per call is work for nothing: a fixed, well-formed header.
  const signer = config.storeSocket || config.storeHandler ? { signer: embeddedStoreSigner } : {};
  const client = new DynamoDBClient({
    region: config.region,
    maxAttempts: 3,
    // A call that never answers is abandoned and retried well within API Gateway's 30 s: a
    // DynamoDB request takes milliseconds, so 3 s is a generous bound.
    requestHandler: config.storeHandler ?? {
      connectionTimeout: 1_000,
      requestTimeout: 3_000,
      throwOnRequestTimeout: true,
      ...(socketAgent ? { httpAgent: socketAgent } : {}),
    },
    ...(endpoint ? { endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
    ...signer,
  });
  // The SDK's logger middleware filters every command's input and output for a log line that the
  // vault never gives it a logger to print (the default is a no-op logger): walking each item and
  // each answer for nothing. Removed; errors still reach the repositories as thrown errors.
  client.middlewareStack.remove('loggerMiddleware');
  // The embedded store's in-process handler (a message to its thread, infra/local/embedded-dynamo.ts)
  // carries no HTTP: the user agent, Host, Content-Length and Lambda trace headers these build
  // per command are read by nobody there (dynalite reads the body it is handed).
  if (config.storeHandler) {
    for (const name of [...EMBEDDED_UNUSED_MIDDLEWARE, ...EMBEDDED_IN_PROCESS_UNUSED_MIDDLEWARE]) client.middlewareStack.remove(name);
    client.middlewareStack.add(
      (next) => async (args) => {
        await embeddedStoreSigner.sign((args as { request: { headers: Record<string, string> } }).request);
        return next(args);
      },
      { step: 'finalizeRequest', name: 'embeddedStoreHeaderMiddleware' },
    );
  }
  const doc = DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertEmptyValues: false },
  });
  return { client, doc, tableName: config.tableName };
}
