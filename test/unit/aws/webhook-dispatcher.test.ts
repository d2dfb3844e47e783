import 'aws-sdk-client-mock-vitest/extend';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { handler as failureHandler } from '#functions/webhook-failure';
import { createLambdaWebhookDispatcher, InvalidWebhookEventError, parseWebhookDeliveryEvent } from '#shared/aws/webhook-dispatcher';
import { deliverFromEvent, WebhookRetryError } from '#shared/aws/webhook-worker';
import type { Db } from '#shared/clients';
import { type Config, loadConfig } from '#shared/config';
import { type Deps, resetDeps, setDeps } from '#shared/context';
import { generateServerKeyRingJson, parseServerKeyRing } from '#shared/crypto/server-key';
import { ServiceUnavailableError } from '#shared/errors';
import { createLogger } from '#shared/log';
import { createWebhook, listDeliveries } from '#shared/services/webhooks';
import { dynamoStore } from '#shared/store/dynamodb';
import type { DeliveryRef } from '#shared/webhooks/dispatch';
import { publishEvent, webhookEnqueueFailures } from '#shared/webhooks/publish';
import { testSigner } from '#test/support/dynamo';
import { memoryStore } from '#test/support/memory-store';

const WORKER = 'AgentVault-prod-WebhookWorker';
const config: Config = {
  ...loadConfig({ VAULT_MODE: 'aws', VAULT_TABLE_NAME: 'vault', AWS_REGION: 'eu-west-1', VAULT_WEBHOOK_WORKER_FUNCTION: WORKER }),
  // The receivers of these tests are on loopback (a closed port): allowed as in local development.
  allowPrivateWebhooks: true,
};
const ref: DeliveryRef = { tenant: 'acme', webhookId: 'wh_AAAAAAAAAAAAAAAA', deliveryId: 'dlv_0193a1b2c3d4e5f60718293a' };
const noWait = { sleep: async () => {}, random: () => 0 };
const lambda = mockClient(LambdaClient);
const ADMIN = { tenant: 'acme', apiKeyId: '00000000000000aa', role: 'admin' as const };

function awsError(name: string, httpStatusCode: number): Error {
  return Object.assign(new Error(`${name} from the service`), { name, $metadata: { httpStatusCode } });
}

let logLines: string[];
function memoryDeps(overrides: Partial<Deps> = {}): Deps {
  const serverKeys = parseServerKeyRing(generateServerKeyRingJson());
  return {
    config: { ...config, mode: 'local' },
    store: memoryStore({ serverKeys }),
    serverKeys,
    dispatcher: { dispatch: async () => {} },
    log: createLogger((line) => logLines.push(line)),
    now: () => new Date('2030-01-01T00:00:00Z'),
    ...overrides,
  };
}

beforeEach(() => {
  lambda.reset();
  lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
  logLines = [];
});
afterEach(() => resetDeps());

describe('createLambdaWebhookDispatcher', () => {
  it('invokes the delivery worker asynchronously with the delivery ids only', async () => {
    await createLambdaWebhookDispatcher(config, { lambda: new LambdaClient({}) }).dispatch(ref);

    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 1);
    const input = lambda.commandCalls(InvokeCommand)[0]?.args[0].input;
    expect(input).toMatchObject({ FunctionName: WORKER, InvocationType: 'Event' });
    expect(JSON.parse(Buffer.from(input?.Payload as Uint8Array).toString('utf8'))).toEqual({
      v: 1,
      tenant: 'acme',
      webhook_id: ref.webhookId,
      delivery_id: ref.deliveryId,
    });
  });

  it('refuses to dispatch without the worker setting and calls nothing', async () => {
    const bare = { ...config, webhookWorkerFunctionName: undefined };
    await expect(createLambdaWebhookDispatcher(bare, { lambda: new LambdaClient({}) }).dispatch(ref)).rejects.toThrow(
      /VAULT_WEBHOOK_WORKER_FUNCTION/,
    );
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 0);
  });

  it('retries a throttled invoke and then dispatches', async () => {
    lambda.on(InvokeCommand).rejectsOnce(awsError('TooManyRequestsException', 429)).resolves({ StatusCode: 202 });

    await createLambdaWebhookDispatcher(config, { lambda: new LambdaClient({}), retry: noWait }).dispatch(ref);

    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 2);
  });

  it('answers ServiceUnavailableError after bounded retries when Lambda stays throttled', async () => {
    lambda.on(InvokeCommand).rejects(awsError('TooManyRequestsException', 429));

    await expect(
      createLambdaWebhookDispatcher(config, { lambda: new LambdaClient({}), retry: { ...noWait, maxAttempts: 3 } }).dispatch(ref),
    ).rejects.toBeInstanceOf(ServiceUnavailableError);
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 3);
  });

  it('fails when the worker does not accept the event (not 202), without retrying it', async () => {
    lambda.on(InvokeCommand).resolves({ StatusCode: 200 });
    await expect(createLambdaWebhookDispatcher(config, { lambda: new LambdaClient({}), retry: noWait }).dispatch(ref)).rejects.toThrow(
      /did not accept/,
    );
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 1);
  });

  it('leaves a delivery Lambda refused as failed / not_queued, and publishEvent does not throw', async () => {
    lambda.on(InvokeCommand).rejects(awsError('ServiceException', 500));
    const deps = memoryDeps();
    const withLambda: Deps = {
      ...deps,
      webhooks: createLambdaWebhookDispatcher(config, { lambda: new LambdaClient({}), retry: { ...noWait, maxAttempts: 2 } }),
    };
    const w = await createWebhook(withLambda, ADMIN, { url: 'http://127.0.0.1:9/hook', events: ['profile.deleted'], active: true });
    const before = webhookEnqueueFailures();

    await expect(publishEvent(withLambda, 'acme', { type: 'profile.deleted', agent_id: 'a', profile: 'p' })).resolves.toBeUndefined();

    expect(webhookEnqueueFailures()).toBe(before + 1);
    expect((await listDeliveries(withLambda, ADMIN, w.webhook_id, 10)).deliveries[0]).toMatchObject({
      status: 'failed',
      outcome: 'not_queued',
    });
  });
});

describe('publishEvent over DynamoDB faults', () => {
  const ddb = mockClient(DynamoDBDocumentClient);
  afterEach(() => ddb.reset());

  it('does not throw into the caller when writing the delivery is throttled: logged and counted', async () => {
    const signer = testSigner();
    const store = dynamoStore(
      { doc: DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' })), tableName: 'vault' } as unknown as Db,
      signer,
    );
    const webhookItem = signer.seal('webhook', {
      pk: 'TENANT#acme',
      sk: 'WEBHOOK#wh_AAAAAAAAAAAAAAAA',
      entity: 'webhook',
      tenant: 'acme',
      webhook_id: 'wh_AAAAAAAAAAAAAAAA',
      url: 'https://hooks.example.com/x',
      events: ['profile.deleted'],
      active: true,
      signing_secret: new Uint8Array([1]),
      created_by: 'k',
      version: 1,
      created_at: 'x',
      updated_at: 'x',
    });
    ddb.on(QueryCommand).resolves({ Items: [webhookItem] });
    ddb.on(PutCommand).rejects(awsError('ProvisionedThroughputExceededException', 400));
    const dispatched: DeliveryRef[] = [];
    const deps = { ...memoryDeps(), store, webhooks: { dispatch: async (r: DeliveryRef) => void dispatched.push(r) } };
    const before = webhookEnqueueFailures();

    await expect(publishEvent(deps, 'acme', { type: 'profile.deleted', agent_id: 'a', profile: 'p' })).resolves.toBeUndefined();

    expect(dispatched).toEqual([]);
    expect(webhookEnqueueFailures()).toBe(before + 1);
    const line = logLines.find((l) => l.includes('webhook event not enqueued'));
    expect(line).toContain('ProvisionedThroughputExceededException');
    expect(line).not.toContain('"body"');
  });
});

describe('parseWebhookDeliveryEvent', () => {
  it('reads ids only and refuses anything malformed', () => {
    expect(parseWebhookDeliveryEvent({ v: 1, tenant: 'acme', webhook_id: ref.webhookId, delivery_id: ref.deliveryId, extra: 'x' })).toEqual(
      ref,
    );
    for (const bad of [
      null,
      [],
      { v: 2, tenant: 'acme', webhook_id: 'w', delivery_id: 'd' },
      { v: 1, tenant: 'a#b', webhook_id: 'w', delivery_id: 'd' },
      { v: 1, tenant: 'acme', webhook_id: '', delivery_id: 'd' },
    ]) {
      expect(() => parseWebhookDeliveryEvent(bad)).toThrow(InvalidWebhookEventError);
    }
  });
});

describe('deliverFromEvent (the worker)', () => {
  async function pendingDelivery(deps: Deps): Promise<DeliveryRef> {
    const refs: DeliveryRef[] = [];
    const publishing = { ...deps, webhooks: { dispatch: async (r: DeliveryRef) => void refs.push(r) } };
    await createWebhook(publishing, ADMIN, { url: 'http://127.0.0.1:9/closed', events: ['profile.deleted'], active: true });
    await publishEvent(publishing, 'acme', { type: 'profile.deleted', agent_id: 'a', profile: 'p' });
    return refs[0] as DeliveryRef;
  }
  const eventOf = (r: DeliveryRef) => ({ v: 1, tenant: r.tenant, webhook_id: r.webhookId, delivery_id: r.deliveryId });

  it('throws WebhookRetryError after a failed attempt with attempts left, so that Lambda retries', async () => {
    const deps = memoryDeps({ config: { ...config, mode: 'local', webhookMaxAttempts: 3 } });
    const r = await pendingDelivery(deps);

    await expect(deliverFromEvent(deps, eventOf(r))).rejects.toBeInstanceOf(WebhookRetryError);
    await expect(deliverFromEvent(deps, eventOf(r))).rejects.toBeInstanceOf(WebhookRetryError);
    // The third (Lambda's last) try gives up itself: no throw, so nothing reaches the on-failure queue.
    await expect(deliverFromEvent(deps, eventOf(r))).resolves.toEqual({ result: 'failed', attempt: 3, outcome: 'unreachable' });
  });

  it('refuses a malformed event without reading anything', async () => {
    const deps = memoryDeps();
    await expect(deliverFromEvent(deps, { v: 1 })).rejects.toBeInstanceOf(InvalidWebhookEventError);
  });
});

describe('webhook-failure handler', () => {
  const sqsEvent = (...bodies: string[]): SQSEvent =>
    ({ Records: bodies.map((body, i) => ({ messageId: `m${i}`, body })) }) as unknown as SQSEvent;
  const failureRecord = (r: DeliveryRef) =>
    JSON.stringify({
      requestContext: { condition: 'RetriesExhausted' },
      requestPayload: { v: 1, tenant: r.tenant, webhook_id: r.webhookId, delivery_id: r.deliveryId },
    });

  it('marks a still-pending delivery failed / worker_failed and drops unreadable records', async () => {
    const deps = memoryDeps();
    const refs: DeliveryRef[] = [];
    const publishing = { ...deps, webhooks: { dispatch: async (r: DeliveryRef) => void refs.push(r) } };
    const w = await createWebhook(publishing, ADMIN, { url: 'http://127.0.0.1:9/x', events: ['profile.deleted'], active: true });
    await publishEvent(publishing, 'acme', { type: 'profile.deleted', agent_id: 'a', profile: 'p' });
    setDeps(deps);

    const out = await failureHandler(sqsEvent(failureRecord(refs[0] as DeliveryRef), 'not json'));

    expect(out.batchItemFailures).toEqual([]);
    expect((await listDeliveries(deps, ADMIN, w.webhook_id, 10)).deliveries[0]).toMatchObject({
      status: 'failed',
      outcome: 'worker_failed',
    });
    expect(logLines.some((l) => l.includes('unreadable webhook failure record dropped'))).toBe(true);
  });

  it('reports a record back for redelivery when the store fails', async () => {
    const deps = memoryDeps();
    setDeps({
      ...deps,
      store: {
        ...deps.store,
        webhooks: { ...deps.store.webhooks, getDelivery: () => Promise.reject(awsError('ThrottlingException', 400)) },
      },
    });

    const out = await failureHandler(sqsEvent(failureRecord(ref)));

    expect(out.batchItemFailures).toEqual([{ itemIdentifier: 'm0' }]);
  });
});
