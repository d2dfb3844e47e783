import 'aws-sdk-client-mock-vitest/extend';
import { randomBytes } from 'node:crypto';
import { DecryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { handler as failureHandler, failureMessage, parseFailureRecord } from '#functions/run-failure';
import { handler as workerHandler } from '#functions/run-worker';
import { InvalidRunPayloadError, sealRunJob } from '#shared/aws/run-dispatcher';
import type { Db } from '#shared/clients';
import { loadConfig } from '#shared/config';
import { type Deps, resetDeps, setDeps } from '#shared/context';
import type { ServerKeyRing } from '#shared/crypto/server-key';
import { createLogger } from '#shared/log';
import type { RunJob } from '#shared/runs/dispatch';
import { executeRunJob, markRunFailed } from '#shared/services/runs';

vi.mock('#shared/services/runs', () => ({ executeRunJob: vi.fn(), markRunFailed: vi.fn() }));

const KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/run-payload';
const SESSION = '3f1c1d7e-5a0b-4c47-9a53-2b2a8f6e9d10';
const job: RunJob = { tenant: 'acme', agentId: 'crm-bot', sessionId: SESSION, authToken: `avt_${'B'.repeat(70)}`, parameters: { q: 'x' } };

const kms = mockClient(KMSClient);
let logLines: string[];
let deps: Deps;

beforeEach(() => {
  kms.reset();
  const key = randomBytes(32);
  kms.on(GenerateDataKeyCommand).callsFake(() => ({ Plaintext: Buffer.from(key), CiphertextBlob: Buffer.from('wrapped-key') }));
  kms.on(DecryptCommand).callsFake(() => ({ Plaintext: Buffer.from(key) }));
  logLines = [];
  deps = {
    config: loadConfig({ VAULT_MODE: 'aws', VAULT_TABLE_NAME: 'vault', AWS_REGION: 'eu-west-1', VAULT_RUN_PAYLOAD_KEY_ID: KEY_ARN }),
    db: {} as Db,
    serverKeys: {} as ServerKeyRing,
    dispatcher: { dispatch: vi.fn() },
    log: createLogger((line) => logLines.push(line)),
    now: () => new Date('2025-01-01T00:00:00Z'),
  };
  setDeps(deps);
  vi.mocked(executeRunJob).mockReset().mockResolvedValue();
  vi.mocked(markRunFailed).mockReset().mockResolvedValue(true);
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
  it('opens the envelope with the configured key and executes the job', async () => {
    const envelope = await sealRunJob(job, KEY_ARN, new KMSClient({}));

    await workerHandler(envelope);

    expect(kms).toHaveReceivedCommandWith(DecryptCommand, {
      KeyId: KEY_ARN,
      EncryptionContext: { session_id: SESSION, agent_id: 'crm-bot' },
    });
    expect(executeRunJob).toHaveBeenCalledWith(deps, job);
  });

  it('throws on a malformed event so that the on-failure destination receives it', async () => {
    await expect(workerHandler({ v: 1, session_id: SESSION })).rejects.toBeInstanceOf(InvalidRunPayloadError);
    expect(executeRunJob).not.toHaveBeenCalled();
  });

  it('never logs the auth token', async () => {
    const envelope = await sealRunJob(job, KEY_ARN, new KMSClient({}));

    await workerHandler(envelope);

    expect(logLines.join('\n')).not.toContain('avt_');
  });
});

describe('run-failure handler', () => {
  it('marks the run of a failed async invocation as failed', async () => {
    const result = await failureHandler(sqsEvent(failureRecord('RetriesExhausted', { v: 1, session_id: SESSION, agent_id: 'crm-bot' })));

    expect(markRunFailed).toHaveBeenCalledWith(deps, SESSION, failureMessage('RetriesExhausted'));
    expect(result.batchItemFailures).toEqual([]);
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
