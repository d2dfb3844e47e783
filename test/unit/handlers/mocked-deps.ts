import { afterAll, beforeAll, beforeEach } from 'vitest';
import { resetDeps, setDeps } from '#shared/context';
import { randomBytes, randomUUID } from 'node:crypto';
import {
  ConditionalCheckFailedException,
  InternalServerError,
  ProvisionedThroughputExceededException,
  ThrottlingException,
} from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { type AwsStub, mockClient } from 'aws-sdk-client-mock';
import { createDb } from '#shared/clients';
import { namedProfileRef } from '#shared/credentials/profile-keys';
import { matchRoute, routeKey } from '#shared/http/routes';
import { keys } from '#shared/keys';
import { generateServerKeyRingJson, parseServerKeyRing } from '#shared/crypto/server-key';
import { dynamoStore } from '#shared/store/dynamodb';
import { itemSigner } from '#shared/store/signer';
import { silentLogger } from '#shared/log';
import type { NewAgentItem } from '#shared/store/types';
import { hashApiKey } from '#shared/services/api-keys';
import { makeTestDeps, type TestDeps } from '#test/support/dynamo';
import { newApiKey } from '#test/support/vault';

/**
 * Unit-test plumbing: local-mode Deps whose DynamoDB document client is an aws-sdk-client-mock
 * stub, so fault paths (conditional failures, throttling, 5xx) can be staged command by command.
 * The endpoint points at a closed loopback port: a command the stub does not intercept fails
 * instead of reaching anything.
 */
export type DocStub = AwsStub<any, any, any>;

export const TENANT = 'acme';
export const AGENT_ID = 'crm-bot';

/**
 * The server key ring of every mocked vault in this process, fixed at load so that staged agent
 * and API-key items can carry valid MACs even when a test builds them before the vault exists.
 */
const ring = parseServerKeyRing(generateServerKeyRingJson());
/** Signs staged items as the vault's signed store does (shared/store/signer.ts): a staged item edited by a test is sealed again with it. */
export const signer = itemSigner(ring, silentLogger);

export interface MockedVault {
  readonly deps: TestDeps;
  readonly ddb: DocStub;
  readonly apiKey: string;
  readonly tableName: string;
}

/** Deps over a mocked document client; the API key of tenant `acme` and agent `crm-bot` resolve. */
export async function mockedVault(): Promise<MockedVault> {
  const tableName = 'vault-unit';
  const db = createDb({ dynamoEndpoint: 'http://127.0.0.1:9', region: 'local', tableName });
  const ddb = mockClient(db.doc) as unknown as DocStub;
  const base = await makeTestDeps(db);
  const deps = Object.assign(base, { serverKeys: ring, store: dynamoStore(db, itemSigner(ring, base.log)) });
  const apiKey = newApiKey();
  stageDefaults(ddb, apiKey);
  return { deps, ddb, apiKey, tableName };
}

/**
 * Installs a mocked vault for a test file: built and installed as the handlers' deps before all
 * tests, restaged (and its captured logs cleared) before each, removed after all. The returned
 * object is filled in by the first hook.
 */
export function useMockedVault(): MockedVault {
  const v = {} as { -readonly [K in keyof MockedVault]: MockedVault[K] };
  beforeAll(async () => {
    Object.assign(v, await mockedVault());
    setDeps(v.deps);
  });
  afterAll(() => {
    resetDeps();
    v.ddb?.restore();
  });
  beforeEach(() => {
    stageDefaults(v.ddb, v.apiKey);
    v.deps.logs.length = 0;
  });
  return v;
}

/** Resets the stub to: API key → acme, agent crm-bot exists, every other read finds nothing, writes succeed. */
export function stageDefaults(ddb: DocStub, apiKey: string): void {
  ddb.reset();
  ddb.onAnyCommand().resolves({});
  ddb.on(GetCommand).resolves({});
  stageApiKey(ddb, apiKey);
  ddb.on(GetCommand, { Key: keys.agent(TENANT, AGENT_ID) }).resolves({ Item: agentItem() });
  // A BatchGetItem answers as the staged GetItems would, key by key (a staged rejection rejects it).
  ddb.on(BatchGetCommand).callsFake(async (input: { RequestItems: Record<string, { Keys: Record<string, unknown>[] }> }) => {
    const [table, request] = Object.entries(input.RequestItems)[0] ?? [];
    const items: unknown[] = [];
    for (const Key of request?.Keys ?? []) {
      const out = (await ddb.send(new GetCommand({ TableName: table, Key, ConsistentRead: true }))) as { Item?: unknown } | undefined;
      if (out?.Item) items.push(out.Item);
    }
    return { Responses: { [table as string]: items }, UnprocessedKeys: {} };
  });
}

/**
 * Makes `apiKey` resolve to `tenant`. Authenticated keys are cached per process, so a test that
 * must observe the lookup itself stages a fresh key.
 */
export function stageApiKey(ddb: DocStub, apiKey: string, tenant = TENANT): void {
  const hash = hashApiKey(apiKey);
  ddb.on(GetCommand, { Key: keys.apiKey(hash) }).resolves({
    Item: signer.seal('api-key', { ...keys.apiKey(hash), tenant, created_at: '2026-01-01T00:00:00.000Z', key_id: hash.slice(0, 16), name: 'unit key', role: 'admin' }),
  });
}

/** The stored agent `crm-bot`, with a valid MAC over it (and over `overrides`). */
export function agentItem(inputArgs: readonly string[] = ['username', 'password', 'otp_seed'], overrides: Partial<Pick<NewAgentItem, 'version' | 'runner' | 'signing_secret'>> = {}) {
  return signer.seal('agent', {
    ...keys.agent(TENANT, AGENT_ID),
    entity: 'agent',
    tenant: TENANT,
    agent_id: AGENT_ID,
    name: 'CRM bot',
    input_args: inputArgs.map((name) => ({ name, required: false, secret: true })),
    runner: { type: 'webhook', url: 'http://127.0.0.1:9/run' },
    signing_secret: new Uint8Array(randomBytes(60)),
    incarnation: '5eed5eed5eed5eed',
    version: 1,
    created_at: '2026-01-01T00:00:00.000Z',
    updated_at: '2026-01-01T00:00:00.000Z',
    ...overrides,
  });
}

export const profileKey = (name: string) => keys.profile(namedProfileRef(TENANT, AGENT_ID, name));

/** The item the last PutCommand wrote (as the document client received it). */
export function lastPutItem(ddb: DocStub): Record<string, unknown> {
  const calls = ddb.commandCalls(PutCommand);
  const item = calls.at(-1)?.args[0].input.Item as Record<string, unknown> | undefined;
  if (!item) throw new Error('no PutCommand was sent');
  return item;
}

/** Names of the commands sent to the stub, in order (e.g. ['GetCommand', 'PutCommand']). */
export function commandNames(ddb: DocStub): string[] {
  return ddb.calls().map((c) => (c.args[0] as { constructor: { name: string } }).constructor.name);
}

export const dynamoErrors = {
  conditionalCheckFailed: () =>
    new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: { httpStatusCode: 400 } }),
  provisionedThroughputExceeded: (detail = 'Rate of requests exceeds the allowed throughput') =>
    new ProvisionedThroughputExceededException({ message: detail, $metadata: { httpStatusCode: 400 } }),
  throttling: (detail = 'Rate exceeded') => new ThrottlingException({ message: detail, $metadata: { httpStatusCode: 400 } }),
  internalServerError: (detail = 'Internal server error') =>
    new InternalServerError({ message: detail, $metadata: { httpStatusCode: 500 } }),
  /** A bare 503 as the SDK surfaces an unmodeled server fault. */
  http503: (detail = 'Service Unavailable') =>
    Object.assign(new Error(detail), { name: 'UnknownError', $fault: 'server', $metadata: { httpStatusCode: 503 } }),
};

/** An API Gateway HTTP API (payload v2) event for a route of the table. */
export function apiEvent(
  method: string,
  path: string,
  opts: { body?: unknown; rawBody?: string; headers?: Record<string, string>; apiKey?: string; query?: Record<string, string> } = {},
): APIGatewayProxyEventV2 {
  const [rawPath = path, rawQuery = ''] = path.split('?');
  const match = matchRoute(method, rawPath);
  const matched = match && 'route' in match ? match : undefined;
  const key = matched ? routeKey(matched.route) : '$default';
  const body = opts.rawBody ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
  const headers: Record<string, string> = {
    host: 'vault.example.test',
    ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    ...(opts.apiKey ? { authorization: `Bearer ${opts.apiKey}` } : {}),
    ...(opts.headers ?? {}),
  };
  const query = opts.query ?? Object.fromEntries(new URLSearchParams(rawQuery));
  const requestId = randomUUID();
  return {
    version: '2.0',
    routeKey: key,
    rawPath,
    rawQueryString: rawQuery,
    headers,
    ...(Object.keys(query).length ? { queryStringParameters: query } : {}),
    ...(matched && Object.keys(matched.pathParameters).length ? { pathParameters: matched.pathParameters } : {}),
    ...(body !== undefined ? { body } : {}),
    isBase64Encoded: false,
    requestContext: {
      accountId: '000000000000',
      apiId: 'unit',
      domainName: 'vault.example.test',
      domainPrefix: 'vault',
      http: { method, path: rawPath, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'vitest' },
      requestId,
      routeKey: key,
      stage: '$default',
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
  };
}

export const lambdaContext = { awsRequestId: 'unit', getRemainingTimeInMillis: () => 30_000 } as unknown as Context;

export interface Answer {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly text: string;
  readonly json: any;
}

/** Invokes a Lambda handler export and decodes its answer. */
export async function invoke(
  handler: (event: APIGatewayProxyEventV2, context: Context) => Promise<unknown>,
  event: APIGatewayProxyEventV2,
): Promise<Answer> {
  const res = (await handler(event, lambdaContext)) as APIGatewayProxyStructuredResultV2;
  const text = res.body ?? '';
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { statusCode: res.statusCode ?? 200, headers: (res.headers ?? {}) as Record<string, string>, text, json };
}
