import 'aws-sdk-client-mock-vitest/extend';
import { randomBytes, randomUUID } from 'node:crypto';
import {
  DecryptCommand,
  type DecryptCommandInput,
  GenerateDataKeyCommand,
  type GenerateDataKeyCommandInput,
  KMSClient,
} from '@aws-sdk/client-kms';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import {
  createLambdaRunDispatcher,
  InvalidRunPayloadError,
  loadSealedRunJob,
  parseRunEvent,
  type RunEvent,
  sealRunJob,
  unwrapRunJob,
} from '#shared/aws/run-dispatcher';
import { type MemoryStore, memoryStore } from '#test/support/memory-store';
import { type Config, loadConfig } from '#shared/config';
import { keys } from '#shared/keys';
import { ServiceUnavailableError } from '#shared/errors';
import type { RunJob } from '#shared/runs/dispatch';

const KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const WORKER = 'AgentVault-prod-RunWorker';
const TOKEN = `avt_${'A'.repeat(70)}`;
const config: Config = loadConfig({
  VAULT_MODE: 'aws',
  VAULT_TABLE_NAME: 'vault',
  AWS_REGION: 'eu-west-1',
  VAULT_RUN_PAYLOAD_KEY_ID: KEY_ARN,
  VAULT_RUN_WORKER_FUNCTION: WORKER,
  VAULT_RUN_JOB_TTL_SECONDS: '5400',
});
const NOW = new Date('2030-01-01T00:00:00Z');
const NOW_S = NOW.getTime() / 1000;
const baseJob: RunJob = {
  tenant: 'acme',
  apiKeyId: '0123456789abcdef',
  agentId: 'crm-bot',
  sessionId: '3f1c1d7e-5a0b-4c47-9a53-2b2a8f6e9d10',
  authToken: TOKEN,
  parameters: { query: 'quarterly numbers', password_hint: 'swordfish-in-clear' },
};
const noWait = { sleep: async () => {}, random: () => 0 };

function awsError(name: string, httpStatusCode: number): Error {
  return Object.assign(new Error(`${name} from the service`), { name, $metadata: { httpStatusCode } });
}

const kms = mockClient(KMSClient);
const lambda = mockClient(LambdaClient);

/**
 * A stand-in for KMS: data keys are random, the "encrypted" key is an opaque handle, and Decrypt
 * succeeds only with the key and encryption context the data key was generated under.
 */
function fakeKms(): void {
  const issued = new Map<string, { key: Uint8Array; keyId: string; context: Record<string, string> }>();
  kms.on(GenerateDataKeyCommand).callsFake((input: GenerateDataKeyCommandInput) => {
    const key = randomBytes(32);
    const handle = randomBytes(48);
    issued.set(handle.toString('hex'), { key: Buffer.from(key), keyId: input.KeyId ?? '', context: { ...input.EncryptionContext } });
    return { Plaintext: key, CiphertextBlob: handle, KeyId: input.KeyId };
  });
  kms.on(DecryptCommand).callsFake((input: DecryptCommandInput) => {
    const entry = issued.get(Buffer.from(input.CiphertextBlob ?? []).toString('hex'));
    const sameContext =
      entry &&
      JSON.stringify(Object.entries(entry.context).sort()) === JSON.stringify(Object.entries(input.EncryptionContext ?? {}).sort());
    if (!entry || !sameContext || (input.KeyId && input.KeyId !== entry.keyId)) throw awsError('InvalidCiphertextException', 400);
    return { Plaintext: Buffer.from(entry.key), KeyId: entry.keyId };
  });
}

/** The event the dispatcher sent to the worker, as text and parsed. */
function sentEventText(): string {
  return Buffer.from(lambda.commandCalls(InvokeCommand)[0]?.args[0].input.Payload as Uint8Array).toString('utf8');
}
const sentEvent = () => JSON.parse(sentEventText()) as RunEvent;

/** Where sealed jobs are stored: the in-memory store (its DynamoDB side is tested on dynalite in integration/). */
let store: MemoryStore;

const dispatcher = (options: Parameters<typeof createLambdaRunDispatcher>[2] = {}) =>
  createLambdaRunDispatcher(config, store, { now: () => NOW, ...options });
/** A fresh store and session per test. */
let job: RunJob;

beforeEach(() => {
  store = memoryStore();
  job = { ...baseJob, sessionId: randomUUID() };
  kms.reset();
  lambda.reset();
  fakeKms();
  lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
});

describe('createLambdaRunDispatcher', () => {
  it('generates a data key under the run payload key with the session and agent as encryption context', async () => {
    await dispatcher().dispatch(job);

    expect(kms).toHaveReceivedCommandExactlyOnceWith(GenerateDataKeyCommand, {
      KeyId: KEY_ARN,
      KeySpec: 'AES_256',
      EncryptionContext: { session_id: job.sessionId, agent_id: job.agentId },
    });
  });

  it('invokes the worker asynchronously with the session id and tenant only', async () => {
    await dispatcher().dispatch(job);

    expect(lambda).toHaveReceivedCommandWith(InvokeCommand, { FunctionName: WORKER, InvocationType: 'Event' });
    expect(sentEvent()).toEqual({ v: 2, session_id: job.sessionId, tenant: job.tenant });
  });

  it('stores the sealed job in its own item with a TTL of VAULT_RUN_JOB_TTL_SECONDS', async () => {
    await dispatcher().dispatch(job);

    const item = await store.runJobs.get(job.sessionId, NOW_S);
    expect(keys.runJob(job.sessionId)).toEqual({ pk: `RUN#${job.sessionId}`, sk: 'JOB' });
    expect(item).toMatchObject({ entity: 'run-job', tenant: job.tenant, agent_id: job.agentId, session_id: job.sessionId });
    expect(item?.expires_at).toBe(NOW_S + 5400);
    const stored = JSON.stringify(item, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : v));
    expect(stored).not.toContain(TOKEN);
    expect(stored).not.toContain('swordfish-in-clear');
  });

  it('puts neither the auth token nor any parameter nor any ciphertext in the invocation', async () => {
    await dispatcher().dispatch(job);

    const raw = sentEventText();
    expect(raw).not.toContain('avt_');
    expect(raw).not.toContain('swordfish-in-clear');
    expect(raw).not.toContain('quarterly numbers');
    expect(Object.keys(JSON.parse(raw)).sort()).toEqual(['session_id', 'tenant', 'v']);
  });

  it('uses the clients it is given', async () => {
    const kmsClient = new KMSClient({ region: 'eu-west-1' });
    const lambdaClient = new LambdaClient({ region: 'eu-west-1' });

    await dispatcher({ kms: kmsClient, lambda: lambdaClient }).dispatch(job);

    expect(kms.send.firstCall.thisValue).toBe(kmsClient);
    expect(lambda.send.firstCall.thisValue).toBe(lambdaClient);
  });

  it('refuses to dispatch without the worker settings and calls nothing', async () => {
    const bare = loadConfig({ VAULT_MODE: 'aws', VAULT_TABLE_NAME: 'vault' });

    await expect(createLambdaRunDispatcher(bare, store).dispatch(job)).rejects.toThrow(/VAULT_RUN_PAYLOAD_KEY_ID/);
    expect(kms).not.toHaveReceivedAnyCommand();
    expect(lambda).not.toHaveReceivedAnyCommand();
  });

  it('retries a throttled KMS call and then dispatches', async () => {
    kms
      .on(GenerateDataKeyCommand)
      .rejectsOnce(awsError('ThrottlingException', 400))
      .callsFake(() => ({ Plaintext: randomBytes(32), CiphertextBlob: randomBytes(48) }));

    await dispatcher({ retry: noWait }).dispatch(job);

    expect(kms).toHaveReceivedCommandTimes(GenerateDataKeyCommand, 2);
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 1);
  });

  it('answers 503, stores nothing and invokes nothing when KMS stays throttled', async () => {
    kms.on(GenerateDataKeyCommand).rejects(awsError('ThrottlingException', 400));

    const err = await dispatcher({ retry: noWait })
      .dispatch(job)
      .catch((e: unknown) => e);

    expect(err).toBeInstanceOf(ServiceUnavailableError);
    expect(kms).toHaveReceivedCommandTimes(GenerateDataKeyCommand, 4);
    expect(lambda).not.toHaveReceivedAnyCommand();
    await expect(store.runJobs.get(job.sessionId, NOW_S)).resolves.toBeUndefined();
  });

  it('invokes nothing when the sealed job cannot be stored', async () => {
    const failing = { runJobs: { ...memoryStore().runJobs, create: vi.fn().mockRejectedValue(awsError('ProvisionedThroughputExceededException', 400)) } };

    await expect(createLambdaRunDispatcher(config, failing, { now: () => NOW }).dispatch(job)).rejects.toMatchObject({
      name: 'ProvisionedThroughputExceededException',
    });
    expect(lambda).not.toHaveReceivedAnyCommand();
  });

  it('retries a throttled invoke, answers 503 when Lambda stays throttled, and deletes the stored job', async () => {
    lambda.on(InvokeCommand).rejects(awsError('TooManyRequestsException', 429));

    await expect(dispatcher({ retry: noWait }).dispatch(job)).rejects.toBeInstanceOf(ServiceUnavailableError);
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 4);
    await expect(store.runJobs.get(job.sessionId, NOW_S)).resolves.toBeUndefined();
  });

  it('fails and deletes the stored job when the worker does not accept the event', async () => {
    lambda.on(InvokeCommand).resolves({ StatusCode: 200 });

    await expect(dispatcher().dispatch(job)).rejects.toThrow(/did not accept/);
    await expect(store.runJobs.get(job.sessionId, NOW_S)).resolves.toBeUndefined();
  });

  it('dispatches a job larger than Lambda accepts in an async event (256 KB): only ids travel', async () => {
    const big: RunJob = { ...job, parameters: { notes: 'x'.repeat(300 * 1024) } };

    await dispatcher().dispatch(big);

    expect(sentEventText().length).toBeLessThan(200);
    const sealed = await store.runJobs.get(job.sessionId, NOW_S);
    await expect(unwrapRunJob(sealed as NonNullable<typeof sealed>)).resolves.toEqual(big);
  });
});

describe('parseRunEvent', () => {
  it.each([
    ['null', null],
    ['an array', []],
    ['the old envelope version', { v: 1, session_id: 's', tenant: 't' }],
    ['a missing session id', { v: 2, tenant: 't' }],
    ['an empty tenant', { v: 2, session_id: 's', tenant: '' }],
    ['an over-long session id', { v: 2, session_id: 's'.repeat(513), tenant: 't' }],
  ])('rejects %s', (_name, payload) => {
    expect(() => parseRunEvent(payload)).toThrow(InvalidRunPayloadError);
  });

  it('keeps only the ids', () => {
    expect(parseRunEvent({ v: 2, session_id: 's', tenant: 't', extra: 'x' })).toEqual({ v: 2, session_id: 's', tenant: 't' });
  });
});

describe('loadSealedRunJob', () => {
  it('finds the stored job and refuses it for an event of another tenant', async () => {
    await dispatcher().dispatch(job);

    await expect(loadSealedRunJob(store, { v: 2, session_id: job.sessionId, tenant: job.tenant }, NOW_S)).resolves.toBeDefined();
    await expect(loadSealedRunJob(store, { v: 2, session_id: job.sessionId, tenant: 'other' }, NOW_S)).rejects.toBeInstanceOf(
      InvalidRunPayloadError,
    );
  });

  it('treats a job past its TTL as gone (DynamoDB deletes lazily)', async () => {
    await dispatcher().dispatch(job);

    await expect(loadSealedRunJob(store, { v: 2, session_id: job.sessionId, tenant: job.tenant }, NOW_S + 5400)).resolves.toBeUndefined();
  });
});

describe('unwrapRunJob', () => {
  it('opens what the dispatcher sealed, with the same encryption context and key', async () => {
    await dispatcher().dispatch(job);
    const sealed = await store.runJobs.get(job.sessionId, NOW_S);

    const opened = await unwrapRunJob(sealed as NonNullable<typeof sealed>, undefined, { keyId: KEY_ARN });

    expect(opened).toEqual(job);
    expect(kms).toHaveReceivedCommandWith(DecryptCommand, {
      KeyId: KEY_ARN,
      EncryptionContext: { session_id: job.sessionId, agent_id: job.agentId },
    });
  });

  it('opens a job larger than the 4 KB KMS Encrypt limit', async () => {
    const big: RunJob = { ...job, parameters: { notes: 'x'.repeat(64 * 1024) } };
    const sealed = await sealRunJob(big, KEY_ARN, new KMSClient({}));

    await expect(unwrapRunJob(sealed)).resolves.toEqual(big);
  });

  it('carries the proxy URL a grant-holding runner is given', async () => {
    const withProxy: RunJob = { ...job, proxyUrl: 'https://vault.example.com/v1/proxy' };
    const envelope = await sealRunJob(withProxy, KEY_ARN, new KMSClient({}));

    await expect(unwrapRunJob(envelope)).resolves.toEqual(withProxy);
  });

  it("carries the in-flight mark the worker removes when the run has ended", async () => {
    const marked: RunJob = { ...job, inFlightUntil: '2030-01-01T00:05:30.000Z' };
    const envelope = await sealRunJob(marked, KEY_ARN, new KMSClient({}));

    await expect(unwrapRunJob(envelope)).resolves.toEqual(marked);
  });

  it('opens a job without an auth token', async () => {
    const { authToken: _omitted, ...anonymous } = job;
    const sealed = await sealRunJob(anonymous, KEY_ARN, new KMSClient({}));

    await expect(unwrapRunJob(sealed)).resolves.toEqual(anonymous);
  });

  it('rejects a sealed job whose session id was changed (KMS context mismatch)', async () => {
    const sealed = await sealRunJob(job, KEY_ARN, new KMSClient({}));

    await expect(unwrapRunJob({ ...sealed, session_id: '00000000-0000-4000-8000-000000000000' })).rejects.toBeInstanceOf(
      InvalidRunPayloadError,
    );
  });

  it('rejects a sealed job whose tenant was changed (AAD mismatch)', async () => {
    const sealed = await sealRunJob(job, KEY_ARN, new KMSClient({}));

    await expect(unwrapRunJob({ ...sealed, tenant: 'other-tenant' })).rejects.toBeInstanceOf(InvalidRunPayloadError);
  });

  it('rejects a tampered ciphertext', async () => {
    const sealed = await sealRunJob(job, KEY_ARN, new KMSClient({}));
    const bytes = Buffer.from(sealed.ciphertext);
    bytes[20] = (bytes[20] ?? 0) ^ 1;

    await expect(unwrapRunJob({ ...sealed, ciphertext: bytes })).rejects.toBeInstanceOf(InvalidRunPayloadError);
  });

  it('rejects a ciphertext too short to hold nonce and tag without calling KMS', async () => {
    const sealed = await sealRunJob(job, KEY_ARN, new KMSClient({}));
    kms.resetHistory();

    await expect(unwrapRunJob({ ...sealed, ciphertext: new Uint8Array(10) })).rejects.toBeInstanceOf(InvalidRunPayloadError);
    expect(kms).not.toHaveReceivedCommand(DecryptCommand);
  });

  it('rejects a data key made under another KMS key', async () => {
    const sealed = await sealRunJob(job, 'arn:aws:kms:eu-west-1:123456789012:key/other', new KMSClient({}));

    await expect(unwrapRunJob(sealed, undefined, { keyId: KEY_ARN })).rejects.toBeInstanceOf(InvalidRunPayloadError);
  });

  it('retries a throttled Decrypt and then opens the job', async () => {
    const key = randomBytes(32);
    // Copies each time: the sealer and the opener wipe the key buffers they are handed.
    kms.on(GenerateDataKeyCommand).callsFake(() => ({ Plaintext: Buffer.from(key), CiphertextBlob: randomBytes(48) }));
    kms
      .on(DecryptCommand)
      .rejectsOnce(awsError('KMSInternalException', 500))
      .callsFake(() => ({ Plaintext: Buffer.from(key) }));
    const sealed = await sealRunJob(job, KEY_ARN, new KMSClient({}));

    await expect(unwrapRunJob(sealed, undefined, { retry: noWait })).resolves.toEqual(job);
    expect(kms).toHaveReceivedCommandTimes(DecryptCommand, 2);
  });

  it('answers ServiceUnavailableError when Decrypt stays throttled', async () => {
    const sealed = await sealRunJob(job, KEY_ARN, new KMSClient({}));
    kms.on(DecryptCommand).rejects(awsError('ThrottlingException', 400));

    await expect(unwrapRunJob(sealed, undefined, { retry: noWait })).rejects.toBeInstanceOf(ServiceUnavailableError);
    expect(kms).toHaveReceivedCommandTimes(DecryptCommand, 4);
  });
});
