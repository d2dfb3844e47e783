import 'aws-sdk-client-mock-vitest/extend';
import { randomBytes } from 'node:crypto';
import {
  DecryptCommand,
  type DecryptCommandInput,
  GenerateDataKeyCommand,
  type GenerateDataKeyCommandInput,
  KMSClient,
} from '@aws-sdk/client-kms';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createLambdaRunDispatcher, InvalidRunPayloadError, type RunEnvelope, sealRunJob, unwrapRunJob } from '#shared/aws/run-dispatcher';
import { type Config, loadConfig } from '#shared/config';
import { PayloadTooLargeError, ServiceUnavailableError } from '#shared/errors';
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
});
const job: RunJob = {
  tenant: 'acme',
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

/** The envelope the dispatcher sent to the worker, parsed. */
function sentEnvelope(): RunEnvelope {
  const payload = lambda.commandCalls(InvokeCommand)[0]?.args[0].input.Payload;
  return JSON.parse(Buffer.from(payload as Uint8Array).toString('utf8')) as RunEnvelope;
}

beforeEach(() => {
  kms.reset();
  lambda.reset();
  fakeKms();
  lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
});

describe('createLambdaRunDispatcher', () => {
  it('generates a data key under the run payload key with the session and agent as encryption context', async () => {
    await createLambdaRunDispatcher(config).dispatch(job);

    expect(kms).toHaveReceivedCommandExactlyOnceWith(GenerateDataKeyCommand, {
      KeyId: KEY_ARN,
      KeySpec: 'AES_256',
      EncryptionContext: { session_id: job.sessionId, agent_id: job.agentId },
    });
  });

  it('invokes the worker asynchronously with the envelope only', async () => {
    await createLambdaRunDispatcher(config).dispatch(job);

    expect(lambda).toHaveReceivedCommandWith(InvokeCommand, { FunctionName: WORKER, InvocationType: 'Event' });
    const envelope = sentEnvelope();
    expect(Object.keys(envelope).sort()).toEqual(['agent_id', 'ciphertext', 'encrypted_key', 'session_id', 'tenant', 'v']);
    expect(envelope).toMatchObject({ v: 1, session_id: job.sessionId, agent_id: job.agentId, tenant: job.tenant });
  });

  it('puts neither the auth token nor any parameter value in clear in the invocation', async () => {
    await createLambdaRunDispatcher(config).dispatch(job);

    const raw = Buffer.from(lambda.commandCalls(InvokeCommand)[0]?.args[0].input.Payload as Uint8Array).toString('utf8');
    expect(raw).not.toContain(TOKEN);
    expect(raw).not.toContain('avt_');
    expect(raw).not.toContain('swordfish-in-clear');
    expect(raw).not.toContain('quarterly numbers');
  });

  it('uses the clients it is given', async () => {
    const kmsClient = new KMSClient({ region: 'eu-west-1' });
    const lambdaClient = new LambdaClient({ region: 'eu-west-1' });

    await createLambdaRunDispatcher(config, { kms: kmsClient, lambda: lambdaClient }).dispatch(job);

    expect(kms.send.firstCall.thisValue).toBe(kmsClient);
    expect(lambda.send.firstCall.thisValue).toBe(lambdaClient);
  });

  it('refuses to dispatch without the worker settings and calls nothing', async () => {
    const bare = loadConfig({ VAULT_MODE: 'aws', VAULT_TABLE_NAME: 'vault' });

    await expect(createLambdaRunDispatcher(bare).dispatch(job)).rejects.toThrow(/VAULT_RUN_PAYLOAD_KEY_ID/);
    expect(kms).not.toHaveReceivedAnyCommand();
    expect(lambda).not.toHaveReceivedAnyCommand();
  });

  it('retries a throttled KMS call and then dispatches', async () => {
    kms
      .on(GenerateDataKeyCommand)
      .rejectsOnce(awsError('ThrottlingException', 400))
      .callsFake(() => ({ Plaintext: randomBytes(32), CiphertextBlob: randomBytes(48) }));

    await createLambdaRunDispatcher(config, {}, noWait).dispatch(job);

    expect(kms).toHaveReceivedCommandTimes(GenerateDataKeyCommand, 2);
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 1);
  });

  it('answers 503 and invokes nothing when KMS stays throttled', async () => {
    kms.on(GenerateDataKeyCommand).rejects(awsError('ThrottlingException', 400));

    const err = await createLambdaRunDispatcher(config, {}, noWait)
      .dispatch(job)
      .catch((e: unknown) => e);

    expect(err).toBeInstanceOf(ServiceUnavailableError);
    expect(kms).toHaveReceivedCommandTimes(GenerateDataKeyCommand, 4);
    expect(lambda).not.toHaveReceivedAnyCommand();
  });

  it('retries a throttled invoke and answers 503 when Lambda stays throttled', async () => {
    lambda.on(InvokeCommand).rejects(awsError('TooManyRequestsException', 429));

    await expect(createLambdaRunDispatcher(config, {}, noWait).dispatch(job)).rejects.toBeInstanceOf(ServiceUnavailableError);
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 4);
  });

  it('answers 413 when the envelope is over the async payload limit', async () => {
    lambda.on(InvokeCommand).rejects(awsError('RequestEntityTooLargeException', 413));

    await expect(createLambdaRunDispatcher(config, {}, noWait).dispatch(job)).rejects.toBeInstanceOf(PayloadTooLargeError);
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 1);
  });

  it('fails when the worker does not accept the event', async () => {
    lambda.on(InvokeCommand).resolves({ StatusCode: 200 });

    await expect(createLambdaRunDispatcher(config).dispatch(job)).rejects.toThrow(/did not accept/);
  });
});

describe('unwrapRunJob', () => {
  it('opens what the dispatcher sealed, with the same encryption context and key', async () => {
    await createLambdaRunDispatcher(config).dispatch(job);

    const opened = await unwrapRunJob(sentEnvelope(), undefined, { keyId: KEY_ARN });

    expect(opened).toEqual(job);
    expect(kms).toHaveReceivedCommandWith(DecryptCommand, {
      KeyId: KEY_ARN,
      EncryptionContext: { session_id: job.sessionId, agent_id: job.agentId },
    });
  });

  it('opens a job larger than the 4 KB KMS Encrypt limit', async () => {
    const big: RunJob = { ...job, parameters: { notes: 'x'.repeat(64 * 1024) } };
    const envelope = await sealRunJob(big, KEY_ARN, new KMSClient({}));

    await expect(unwrapRunJob(envelope)).resolves.toEqual(big);
  });

  it('opens a job without an auth token', async () => {
    const { authToken: _omitted, ...anonymous } = job;
    const envelope = await sealRunJob(anonymous, KEY_ARN, new KMSClient({}));

    await expect(unwrapRunJob(envelope)).resolves.toEqual(anonymous);
  });

  it('rejects an envelope whose session id was changed (KMS context mismatch)', async () => {
    const envelope = await sealRunJob(job, KEY_ARN, new KMSClient({}));

    await expect(unwrapRunJob({ ...envelope, session_id: '00000000-0000-4000-8000-000000000000' })).rejects.toBeInstanceOf(
      InvalidRunPayloadError,
    );
  });

  it('rejects an envelope whose tenant was changed (AAD mismatch)', async () => {
    const envelope = await sealRunJob(job, KEY_ARN, new KMSClient({}));

    await expect(unwrapRunJob({ ...envelope, tenant: 'other-tenant' })).rejects.toBeInstanceOf(InvalidRunPayloadError);
  });

  it('rejects a tampered ciphertext', async () => {
    const envelope = await sealRunJob(job, KEY_ARN, new KMSClient({}));
    const bytes = Buffer.from(envelope.ciphertext, 'base64');
    bytes[20] = (bytes[20] ?? 0) ^ 1;

    await expect(unwrapRunJob({ ...envelope, ciphertext: bytes.toString('base64') })).rejects.toBeInstanceOf(InvalidRunPayloadError);
  });

  it('rejects a data key made under another KMS key', async () => {
    const envelope = await sealRunJob(job, 'arn:aws:kms:eu-west-1:123456789012:key/other', new KMSClient({}));

    await expect(unwrapRunJob(envelope, undefined, { keyId: KEY_ARN })).rejects.toBeInstanceOf(InvalidRunPayloadError);
  });

  it.each([
    ['null', null],
    ['an array', []],
    ['another version', { v: 2, session_id: 's', agent_id: 'a', tenant: 't', encrypted_key: 'AA==', ciphertext: 'AA==' }],
    ['a missing session id', { v: 1, agent_id: 'a', tenant: 't', encrypted_key: 'AA==', ciphertext: 'AA==' }],
    ['an empty agent id', { v: 1, session_id: 's', agent_id: '', tenant: 't', encrypted_key: 'AA==', ciphertext: 'AA==' }],
    [
      'a ciphertext that is not base64',
      { v: 1, session_id: 's', agent_id: 'a', tenant: 't', encrypted_key: 'AA==', ciphertext: 'not base64!' },
    ],
    [
      'a ciphertext too short to hold nonce and tag',
      { v: 1, session_id: 's', agent_id: 'a', tenant: 't', encrypted_key: 'AA==', ciphertext: 'AAAA' },
    ],
  ])('rejects %s without calling KMS', async (_name, payload) => {
    await expect(unwrapRunJob(payload)).rejects.toBeInstanceOf(InvalidRunPayloadError);
    expect(kms).not.toHaveReceivedCommand(DecryptCommand);
  });

  it('retries a throttled Decrypt and then opens the job', async () => {
    const key = randomBytes(32);
    // Copies each time: the sealer and the opener wipe the key buffers they are handed.
    kms.on(GenerateDataKeyCommand).callsFake(() => ({ Plaintext: Buffer.from(key), CiphertextBlob: randomBytes(48) }));
    kms
      .on(DecryptCommand)
      .rejectsOnce(awsError('KMSInternalException', 500))
      .callsFake(() => ({ Plaintext: Buffer.from(key) }));
    const envelope = await sealRunJob(job, KEY_ARN, new KMSClient({}));

    await expect(unwrapRunJob(envelope, undefined, { retry: noWait })).resolves.toEqual(job);
    expect(kms).toHaveReceivedCommandTimes(DecryptCommand, 2);
  });

  it('answers ServiceUnavailableError when Decrypt stays throttled', async () => {
    const envelope = await sealRunJob(job, KEY_ARN, new KMSClient({}));
    kms.on(DecryptCommand).rejects(awsError('ThrottlingException', 400));

    await expect(unwrapRunJob(envelope, undefined, { retry: noWait })).rejects.toBeInstanceOf(ServiceUnavailableError);
    expect(kms).toHaveReceivedCommandTimes(DecryptCommand, 4);
  });
});
