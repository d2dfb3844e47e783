import 'aws-sdk-client-mock-vitest/extend';
import { testSigner } from '#test/support/dynamo';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Db } from '#shared/clients';
import { dynamoStore } from '#shared/store/dynamodb';
import { loadConfig } from '#shared/config';
import { TooManyRequestsError } from '#shared/errors';
import { keys } from '#shared/keys';
import { createLogger } from '#shared/log';
import { enforceTenantRateLimit } from '#shared/limits/tenant-rate-limit';

const ddb = mockClient(DynamoDBDocumentClient);
const NOW = new Date('2030-01-01T00:00:00.250Z');
const WINDOW = Math.floor(NOW.getTime() / 1000);
let logLines: string[];

function awsError(name: string, httpStatusCode: number): Error {
  return Object.assign(new Error(`${name} from the service`), { name, $metadata: { httpStatusCode } });
}

function depsWith(env: Record<string, string> = {}) {
  return {
    config: loadConfig({ VAULT_MODE: 'aws', VAULT_TABLE_NAME: 'vault', AWS_REGION: 'eu-west-1', ...env }),
    store: dynamoStore({ doc: DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' })), tableName: 'vault' } as unknown as Db, testSigner()),
    log: createLogger((line) => logLines.push(line)),
    now: () => NOW,
  };
}

beforeEach(() => {
  ddb.reset();
  ddb.on(UpdateCommand).resolves({});
  logLines = [];
});

describe('enforceTenantRateLimit', () => {
  it('is on by default in aws mode (25 per second) and off by default locally', () => {
    expect(depsWith().config.tenantRateLimit).toBe(25);
    expect(loadConfig({ VAULT_MODE: 'local' }).tenantRateLimit).toBe(0);
    expect(loadConfig({ VAULT_MODE: 'local', VAULT_TENANT_RATE_LIMIT: '7' }).tenantRateLimit).toBe(7);
    expect(() => loadConfig({ VAULT_MODE: 'aws', VAULT_TABLE_NAME: 'v', VAULT_TENANT_RATE_LIMIT: 'many' })).toThrow(/VAULT_TENANT_RATE_LIMIT/);
  });

  it("counts the request with one conditional ADD on the tenant's counter for this second", async () => {
    await enforceTenantRateLimit(depsWith({ VAULT_TENANT_RATE_LIMIT: '10' }), 'acme');

    expect(ddb).toHaveReceivedCommandExactlyOnceWith(UpdateCommand, {
      TableName: 'vault',
      Key: keys.tenantRate('acme', WINDOW),
      ConditionExpression: 'attribute_not_exists(#n) OR #n < :limit',
      ExpressionAttributeValues: { ':one': 1, ':limit': 10, ':entity': 'rate', ':x': WINDOW + 60 },
    });
    expect(ddb.commandCalls(UpdateCommand)[0]?.args[0].input.UpdateExpression).toMatch(/^ADD #n :one/);
  });

  it('answers 429 with Retry-After when the window is full', async () => {
    ddb.on(UpdateCommand).rejects(awsError('ConditionalCheckFailedException', 400));

    const err = await enforceTenantRateLimit(depsWith({ VAULT_TENANT_RATE_LIMIT: '10' }), 'acme').catch((e: unknown) => e);

    expect(err).toBeInstanceOf(TooManyRequestsError);
    expect(err).toMatchObject({ status: 429, headers: { 'retry-after': '1' } });
    expect((err as Error).message).toMatch(/10 requests per second/);
  });

  it('admits the request and logs a warning when the counter is throttled', async () => {
    ddb.on(UpdateCommand).rejects(awsError('ProvisionedThroughputExceededException', 400));

    await expect(enforceTenantRateLimit(depsWith(), 'acme')).resolves.toBeUndefined();
    expect(logLines.join('\n')).toMatch(/tenant rate limit counter unavailable/);
    expect(logLines.join('\n')).toMatch(/ProvisionedThroughputExceededException/);
  });

  it('admits the request when DynamoDB answers a 5xx', async () => {
    ddb.on(UpdateCommand).rejects(awsError('InternalServerError', 500));

    await expect(enforceTenantRateLimit(depsWith(), 'acme')).resolves.toBeUndefined();
  });

  it('propagates a fault that is not transient (a missing permission is our bug, not load)', async () => {
    ddb.on(UpdateCommand).rejects(awsError('AccessDeniedException', 400));

    await expect(enforceTenantRateLimit(depsWith(), 'acme')).rejects.toMatchObject({ name: 'AccessDeniedException' });
  });

  it('touches nothing when the limit is 0', async () => {
    await enforceTenantRateLimit(depsWith({ VAULT_TENANT_RATE_LIMIT: '0' }), 'acme');

    expect(ddb).not.toHaveReceivedAnyCommand();
  });
});
