import { randomBytes } from 'node:crypto';
import { DecryptCommand, type DecryptCommandInput, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { handler as failureHandler } from '#functions/run-failure';
import { createLambdaRunDispatcher } from '#shared/aws/run-dispatcher';
import { runQueuedJob } from '#shared/aws/run-worker';
import type { Config } from '#shared/config';
import { type Deps, resetDeps, setDeps } from '#shared/context';
import { CreateAgentBody } from '#shared/schemas/agents';
import { RunAgentBody } from '#shared/schemas/runs';


import { startRun } from '#shared/services/runs';
import { findLeaks, scanAll } from '#test/reliability/helpers';
import { makeTestDeps, startTestDb, type TestDb } from '#test/support/dynamo';
import { testCaller } from '#test/support/credentials';
import { startTestRunner } from '#test/support/runner';
import { createAgent, getRun, upsertProfile } from '#test/support/services';

/**
 * Issue 8, item 6: on AWS an async run's token must not rest in Lambda's async queue, the
 * on-failure SQS queue or its poison queue — not in clear and not sealed. The runs function's
 * real dispatch path runs here against a real store (dynalite), with KMS and Lambda stubbed;
 * what it hands to Lambda, and the on-failure record Lambda would build from it, are searched
 * for the token, its secret bytes, the credential values and the sealed job's bytes, in raw,
 * hex and base64 forms.
 */

const TENANT = 'acme';
const KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/run-payload';
const PASSWORD = `canary-password-${randomBytes(6).toString('hex')}`;
const PARAMETER = `canary-parameter-${randomBytes(6).toString('hex')}`;

const kms = mockClient(KMSClient);
const lambda = mockClient(LambdaClient);

let store: TestDb;
let deps: Deps;
let runner: Awaited<ReturnType<typeof startTestRunner>>;
let agentId: string;
let token: string;

/** KMS stand-in: random data keys, opaque wrapped keys that open only under their own context. */
function fakeKms(): void {
  const issued = new Map<string, { key: Buffer; context: string }>();
  kms.on(GenerateDataKeyCommand).callsFake((input: { EncryptionContext?: Record<string, string> }) => {
    const key = randomBytes(32);
    const handle = randomBytes(64);
    issued.set(handle.toString('hex'), { key: Buffer.from(key), context: JSON.stringify(input.EncryptionContext) });
    return { Plaintext: key, CiphertextBlob: handle };
  });
  kms.on(DecryptCommand).callsFake((input: DecryptCommandInput) => {
    const entry = issued.get(Buffer.from(input.CiphertextBlob ?? []).toString('hex'));
    if (!entry || entry.context !== JSON.stringify(input.EncryptionContext)) {
      throw Object.assign(new Error('bad'), { name: 'InvalidCiphertextException' });
    }
    return { Plaintext: Buffer.from(entry.key) };
  });
}

/** The worker events the runs function sent, as the text Lambda received. */
const invokedPayloads = () =>
  lambda.commandCalls(InvokeCommand).map((c) => Buffer.from(c.args[0].input.Payload as Uint8Array).toString('utf8'));

/** The record Lambda puts on the on-failure destination (SQS) for a failed async invocation. */
function onFailureRecord(requestPayloadText: string): string {
  return JSON.stringify({
    version: '1.0',
    timestamp: new Date().toISOString(),
    requestContext: { requestId: 'r', functionArn: 'arn:aws:lambda:eu-west-1:1:function:w', condition: 'RetriesExhausted', approximateInvokeCount: 1 },
    requestPayload: JSON.parse(requestPayloadText),
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    responsePayload: { errorType: 'Error', errorMessage: 'worker crashed' },
  });
}

/** The token's 32 secret bytes (avt_ + base64url(slot 16 ‖ secret 32 ‖ crc 4)). */
const tokenSecret = (t: string) => Buffer.from(t.slice(4), 'base64url').subarray(16, 48);

async function startAsyncRun(): Promise<string> {
  const started = await startRun(
    deps,
    testCaller(TENANT),
    RunAgentBody.parse({ agent_id: agentId, auth_token: token, parameters: { query: PARAMETER } }),
    'http://vault.test',
  );
  return started.session_id;
}

beforeAll(async () => {
  store = await startTestDb();
  const base = await makeTestDeps(store.db);
  const config: Config = { ...base.config, runPayloadKeyId: KEY_ARN, runWorkerFunctionName: 'AgentVault-RunWorker' };
  deps = {
    ...base,
    config,
    dispatcher: createLambdaRunDispatcher(config, base.store, { kms: new KMSClient({ region: 'eu-west-1' }), lambda: new LambdaClient({ region: 'eu-west-1' }) }),
  };
  runner = await startTestRunner(() => ({ body: { output: 'done' } }));
  agentId = `agent-${randomBytes(4).toString('hex')}`;
  await createAgent(
    deps,
    TENANT,
    CreateAgentBody.parse({
      agent_id: agentId,
      name: 'Envelope agent',
      input_args: [{ name: 'password', required: true }, { name: 'query' }],
      runner: { type: 'webhook', url: runner.url },
    }),
  );
  ({ auth_token: token } = await upsertProfile(deps, TENANT, { agent_id: agentId, name: 'main', auth_data: { password: PASSWORD } }));
});

afterAll(async () => {
  resetDeps();
  await runner?.close();
  await store?.close();
});

beforeEach(() => {
  kms.reset();
  lambda.reset();
  fakeKms();
  lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
});

describe('async run envelopes on AWS', () => {
  it('hand the worker ids only: no token, secret, credential, parameter or sealed bytes in the event', async () => {
    const sessionId = await startAsyncRun();
    const sealed = await deps.store.runJobs.get(sessionId, Math.floor(Date.now() / 1000));
    const [event] = invokedPayloads();

    expect(sealed).toBeDefined();
    expect(JSON.parse(event as string)).toEqual({ v: 2, session_id: sessionId, tenant: TENANT });
    expect(
      findLeaks(event as string, {
        token,
        'token secret': tokenSecret(token),
        password: PASSWORD,
        parameter: PARAMETER,
        'wrapped data key': Buffer.from(sealed?.encrypted_key as Uint8Array),
        'sealed job': Buffer.from(sealed?.ciphertext as Uint8Array),
      }),
    ).toEqual([]);
  });

  it('leave nothing of the token for the on-failure and poison queues', async () => {
    const sessionId = await startAsyncRun();
    const sealed = await deps.store.runJobs.get(sessionId, Math.floor(Date.now() / 1000));
    const record = onFailureRecord(invokedPayloads()[0] as string);

    expect(
      findLeaks(record, {
        token,
        'token secret': tokenSecret(token),
        password: PASSWORD,
        parameter: PARAMETER,
        'sealed job': Buffer.from(sealed?.ciphertext as Uint8Array),
      }),
    ).toEqual([]);
    // Nothing base64 long enough to be a sealed blob either.
    expect(record).not.toMatch(/[A-Za-z0-9+/_-]{40,}/);
  });

  it('keep the sealed job in the table only until the worker has run it', async () => {
    const sessionId = await startAsyncRun();

    const result = await runQueuedJob(deps, JSON.parse(invokedPayloads()[0] as string));

    expect(result).toBe('executed');
    expect((await getRun(deps, TENANT, sessionId)).status).toBe('succeeded');
    expect(runner.calls.at(-1)?.body?.parameters).toMatchObject({ password: PASSWORD, query: PARAMETER });
    await expect(deps.store.runJobs.get(sessionId, 0)).resolves.toBeUndefined();
  });

  it('let the failure handler fail the run and delete its sealed job from ids alone', async () => {
    const sessionId = await startAsyncRun();
    setDeps(deps);
    const event: SQSEvent = { Records: [{ messageId: 'm1', body: onFailureRecord(invokedPayloads()[0] as string) } as SQSRecord] };

    const out = await failureHandler(event);

    expect(out.batchItemFailures).toEqual([]);
    expect((await getRun(deps, TENANT, sessionId)).status).toBe('failed');
    await expect(deps.store.runJobs.get(sessionId, 0)).resolves.toBeUndefined();
    expect(kms.commandCalls(DecryptCommand)).toHaveLength(0);
  });

  it('store the job sealed: no item in the table holds the token or a credential', async () => {
    await startAsyncRun();

    const hits = findLeaks(JSON.stringify(await scanAll(store.db), (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : v)), {
      token,
      'token secret': tokenSecret(token),
      password: PASSWORD,
      parameter: PARAMETER,
    });

    expect(hits).toEqual([]);
  });
});
