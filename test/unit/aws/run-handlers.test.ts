import 'aws-sdk-client-mock-vitest/extend';
import { testSigner } from '#test/support/dynamo';
import { randomBytes } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DecryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { handler as failureHandler, failureMessage, parseFailureRecord } from '#functions/run-failure';
import { handler as workerHandler } from '#functions/run-worker';
import { InvalidRunPayloadError, sealRunJob } from '#shared/aws/run-dispatcher';
import { JOB_EXPIRED_MESSAGE } from '#shared/aws/run-worker';
import type { Db } from '#shared/clients';
import { dynamoStore } from '#shared/store/dynamodb';
import { loadConfig } from '#shared/config';
import { type Deps, resetDeps, setDeps } from '#shared/context';
import type { ServerKeyRing } from '#shared/crypto/server-key';
import { keys } from '#shared/keys';
import { createLogger } from '#shared/log';
import type { RunJob } from '#shared/runs/dispatch';
import { discardRunJob, executeRunJob, markRunFailed } from '#shared/services/runs';

vi.mock('#shared/services/runs', () => ({ executeRunJob: vi.fn(), markRunFailed: vi.fn(), discardRunJob: vi.fn() }));

const KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/run-payload';
const SESSION = '3f1c1d7e-5a0b-4c47-9a53-2b2a8f6e9d10';
const NOW = new Date('2025-01-01T00:00:00Z');
const job: RunJob = { tenant: 'acme', agentId: 'crm-bot', sessionId: SESSION, authToken: `avt_${'B'.repeat(70)}`, parameters: { q: 'x' } };
const runEvent = { v: 2, session_id: SESSION, tenant: 'acme' };

const kms = mockClient(KMSClient);
const ddb = mockClient(DynamoDBDocumentClient);
let logLines: string[];
let deps: Deps;
/** The signer of the store under test: staged items are sealed with it, as the store would have written them. */
const signer = testSigner();

/** Stores the job as the runs function would: sealed, in its own item with a TTL. */
async function storeSealedJob(expiresAt = NOW.getTime() / 1000 + 600): Promise<void> {
  const sealed = await sealRunJob(job, KEY_ARN, new KMSClient({}));
  const item = { ...keys.runJob(SESSION), entity: 'run-job', v: 1, ...sealed, expires_at: expiresAt };
  ddb.on(GetCommand, { Key: keys.runJob(SESSION) }).resolves({ Item: signer.seal('run-job', item) });
}

beforeEach(() => {
  kms.reset();
  ddb.reset();
  ddb.on(GetCommand).resolves({});
  const key = randomBytes(32);
  kms.on(GenerateDataKeyCommand).callsFake(() => ({ Plaintext: Buffer.from(key), CiphertextBlob: Buffer.from('wrapped-key') }));
  kms.on(DecryptCommand).callsFake(() => ({ Plaintext: Buffer.from(key) }));
  logLines = [];
  const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
  deps = {
    config: loadConfig({ VAULT_MODE: 'aws', VAULT_TABLE_NAME: 'vault', AWS_REGION: 'eu-west-1', VAULT_RUN_PAYLOAD_KEY_ID: KEY_ARN }),
    store: dynamoStore({ doc, tableName: 'vault' } as unknown as Db, signer),
    serverKeys: {} as ServerKeyRing,
    dispatcher: { dispatch: vi.fn() },
    log: createLogger((line) => logLines.push(line)),
    now: () => NOW,
  };
  setDeps(deps);
  vi.mocked(executeRunJob).mockReset().mockResolvedValue(true);
  vi.mocked(markRunFailed).mockReset().mockResolvedValue(true);
  vi.mocked(discardRunJob).mockReset().mockResolvedValue();
});
afterEach(() => resetDeps());

function sqsEvent(...bodies: string[]): SQSEvent {
  return { Records: bodies.map((body, i) => ({ messageId: `m${i}`, body }) as SQSRecord) };
}

/** A Lambda async on-failure destination record, as SQS delivers it. */
function failureRecord(condition: string, requestPayload: unknown): string {
  return JSON.stringify({
    version: '1.0',
    timestamp: '2025-01-01T00:00:00.000Z',
    requestContext: {
      requestId: 'r1',
      functionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:worker:$LATEST',
      condition,
      approximateInvokeCount: 1,
    },
    requestPayload,
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    responsePayload: { errorType: 'Error', errorMessage: 'internal detail that must not reach the caller' },
  });
}

describe('run-worker handler', () => {
  it('reads the sealed job the event names, opens it with the configured key, executes it and deletes it', async () => {
    await storeSealedJob();

    await workerHandler(runEvent);

    expect(ddb).toHaveReceivedCommandWith(GetCommand, { TableName: 'vault', Key: keys.runJob(SESSION), ConsistentRead: true });
    expect(kms).toHaveReceivedCommandWith(DecryptCommand, {
      KeyId: KEY_ARN,
      EncryptionContext: { session_id: SESSION, agent_id: 'crm-bot' },
    });
    expect(executeRunJob).toHaveBeenCalledWith(deps, job);
    expect(discardRunJob).toHaveBeenCalledWith(deps, SESSION);
  });

  it('throws on a malformed event so that the on-failure destination receives it', async () => {
    await expect(workerHandler({ v: 2, session_id: SESSION })).rejects.toBeInstanceOf(InvalidRunPayloadError);
    expect(executeRunJob).not.toHaveBeenCalled();
  });

  it('refuses an event whose tenant is not the stored job tenant', async () => {
    await storeSealedJob();

    await expect(workerHandler({ ...runEvent, tenant: 'intruder' })).rejects.toBeInstanceOf(InvalidRunPayloadError);
    expect(kms).not.toHaveReceivedCommand(DecryptCommand);
    expect(executeRunJob).not.toHaveBeenCalled();
  });

  it('fails a still-queued run whose sealed job expired, without throwing', async () => {
    await storeSealedJob(NOW.getTime() / 1000 - 1);

    await workerHandler(runEvent);

    expect(markRunFailed).toHaveBeenCalledWith(deps, SESSION, JOB_EXPIRED_MESSAGE, ['queued']);
    expect(executeRunJob).not.toHaveBeenCalled();
    expect(logLines.join('\n')).toMatch(/"result":"expired"/);
  });

  it('leaves the sealed job to the delivery that is executing it (duplicate delivery)', async () => {
    await storeSealedJob();
    vi.mocked(executeRunJob).mockResolvedValue(false);

    await workerHandler(runEvent);

    expect(discardRunJob).not.toHaveBeenCalled();
  });

  it('keeps the sealed job for a retry when executing throws', async () => {
    await storeSealedJob();
    vi.mocked(executeRunJob).mockRejectedValue(new Error('table unavailable'));

    await expect(workerHandler(runEvent)).rejects.toThrow('table unavailable');
    expect(discardRunJob).not.toHaveBeenCalled();
  });

  it('never logs the auth token', async () => {
    await storeSealedJob();

    await workerHandler(runEvent);

    expect(logLines.join('\n')).not.toContain('avt_');
  });
});

describe('run-failure handler', () => {
  it('marks the run of a failed async invocation as failed', async () => {
    const result = await failureHandler(sqsEvent(failureRecord('RetriesExhausted', { v: 1, session_id: SESSION, agent_id: 'crm-bot' })));

    expect(markRunFailed).toHaveBeenCalledWith(deps, SESSION, failureMessage('RetriesExhausted'));
    expect(result.batchItemFailures).toEqual([]);
  });

  it('deletes the sealed job of the failed run: nothing will retry it', async () => {
    await failureHandler(sqsEvent(failureRecord('RetriesExhausted', runEvent)));

    expect(discardRunJob).toHaveBeenCalledWith(deps, SESSION);
  });

  it('says the run never started when the event expired in the queue', async () => {
    await failureHandler(sqsEvent(failureRecord('EventAgeExceeded', { v: 1, session_id: SESSION })));

    expect(vi.mocked(markRunFailed).mock.calls[0]?.[2]).toMatch(/not started in time/);
  });

  it('does not pass the worker error text on to the caller', async () => {
    await failureHandler(sqsEvent(failureRecord('RetriesExhausted', { v: 1, session_id: SESSION })));

    expect(vi.mocked(markRunFailed).mock.calls[0]?.[2]).not.toContain('internal detail');
  });

  it('reports a record back for redelivery when marking it fails', async () => {
    vi.mocked(markRunFailed).mockRejectedValueOnce(
      Object.assign(new Error('throttled'), { name: 'ProvisionedThroughputExceededException' }),
    );

    const result = await failureHandler(
      sqsEvent(failureRecord('RetriesExhausted', { session_id: SESSION }), failureRecord('RetriesExhausted', { session_id: 'other' })),
    );

    expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'm0' }]);
    expect(markRunFailed).toHaveBeenCalledTimes(2);
  });

  it('drops a record that carries no session id instead of redelivering it', async () => {
    const result = await failureHandler(sqsEvent('not json', failureRecord('RetriesExhausted', { v: 1 })));

    expect(result.batchItemFailures).toEqual([]);
    expect(markRunFailed).not.toHaveBeenCalled();
    expect(logLines.filter((l) => l.includes('unreadable async failure record'))).toHaveLength(2);
  });
});

describe('parseFailureRecord', () => {
  it('reads the session id, condition and error type', () => {
    expect(parseFailureRecord(failureRecord('RetriesExhausted', { session_id: SESSION }))).toEqual({
      sessionId: SESSION,
      condition: 'RetriesExhausted',
      errorType: 'Error',
    });
  });

  it.each([['{}'], ['[]'], ['null'], [JSON.stringify({ requestPayload: { session_id: 42 } })]])('returns undefined for %s', (body) => {
    expect(parseFailureRecord(body)).toBeUndefined();
  });
});
