import 'aws-sdk-client-mock-vitest/extend';
import { BatchWriteCommand, DeleteCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { systemCaller } from '#shared/credentials/access';
import type { Deps } from '#shared/deps';
import { keys } from '#shared/keys';
import { createWebhook } from '#shared/services/webhooks';
import type { DeliveryRef } from '#shared/webhooks/dispatch';
import { webhookEnqueueFailures } from '#shared/webhooks/publish';
import { createProfile, deleteAgent } from '#test/support/services';
import {
  AGENT_ID,
  type MockedVault,
  TENANT,
  dynamoErrors,
  lastPutItem,
  mockedVault,
  profileKey,
  stageDefaults,
} from '../handlers/mocked-deps.ts';

/**
 * Fault paths of the profile.deleted events of a forced agent delete (shared/services/agents.ts
 * deleteAgent; docs/architecture.md, "Webhooks"), on a stubbed document client: an event is
 * published for exactly the profiles the delete removed, after they went, and a failure to
 * enqueue it never undoes or fails the delete — the guarantees of a single profile delete.
 */
let v: MockedVault;
const NAMES = ['alpha', 'beta', 'gamma'];
/** The stored profiles (signed as the vault writes them) and the webhook subscribed to profile.deleted. */
let profiles: Record<string, unknown>[];
let webhook: Record<string, unknown>;
let refs: DeliveryRef[];
let deps: Deps;

beforeAll(async () => {
  v = await mockedVault();
  profiles = [];
  for (const name of NAMES) {
    await createProfile(v.deps, TENANT, { name, agent_id: AGENT_ID, auth_data: { password: `pw-${name}` } });
    profiles.push(lastPutItem(v.ddb));
    stageDefaults(v.ddb, v.apiKey);
  }
  await createWebhook(v.deps, systemCaller(TENANT), { url: 'http://127.0.0.1:9/hook', events: ['profile.deleted'], active: true });
  webhook = v.ddb
    .commandCalls(PutCommand)
    .map((c) => c.args[0].input.Item as Record<string, unknown>)
    .find((i) => i.entity === 'webhook') as Record<string, unknown>;
});

afterAll(() => v.ddb.restore());

beforeEach(() => {
  stageDefaults(v.ddb, v.apiKey);
  v.deps.logs.length = 0;
  refs = [];
  deps = { ...v.deps, webhooks: { dispatch: async (ref) => void refs.push(ref) } };
  const partition = keys.agentPartition(TENANT, AGENT_ID);
  // The agent's partition holds the three profiles; the tenant's, the webhook.
  v.ddb
    .on(QueryCommand)
    .callsFake(async (input: { ExpressionAttributeValues: Record<string, unknown> }) =>
      input.ExpressionAttributeValues[':pk'] === partition
        ? { Items: NAMES.map((n) => profileKey(n)) }
        : { Items: input.ExpressionAttributeValues[':prefix'] === 'WEBHOOK#' ? [webhook] : [] },
    );
  NAMES.forEach((name, i) => {
    v.ddb.on(DeleteCommand, { Key: profileKey(name) }).resolves({ Attributes: profiles[i] });
  });
});

/** The delivery items sent in BatchWriteItems (not the audit record's), batch by batch. */
const deliveryBatches = () =>
  v.ddb
    .commandCalls(BatchWriteCommand)
    .map((c) =>
      (c.args[0].input.RequestItems?.[v.tableName] ?? []).map(
        (r: { PutRequest?: { Item?: Record<string, unknown> } }) => r.PutRequest?.Item,
      ),
    )
    .filter((items) => items.some((i: Record<string, unknown> | undefined) => i?.entity === 'webhook_delivery')) as Record<
    string,
    unknown
  >[][];
const profilesIn = (items: Record<string, unknown>[]) => items.map((i) => JSON.parse(i.body as string).profile).sort();
const isDeliveryBatch = (input: { RequestItems: Record<string, { PutRequest?: { Item?: Record<string, unknown> } }[]> }) =>
  Object.values(input.RequestItems)[0]?.some((r) => r.PutRequest?.Item?.entity === 'webhook_delivery') ?? false;

describe('deleteAgent with force: profile.deleted events', () => {
  it('writes one delivery per deleted profile in one batch, after the deletes, and dispatches each', async () => {
    await deleteAgent(deps, TENANT, AGENT_ID, true);

    const [batch, ...more] = deliveryBatches();
    expect(more).toEqual([]);
    expect(profilesIn(batch ?? [])).toEqual([...NAMES].sort());
    expect(refs.map((r) => r.deliveryId).sort()).toEqual((batch ?? []).map((i) => i.delivery_id).sort());
    const order = v.ddb.calls().map((c) => c.args[0]);
    const lastProfileDelete = order.findLastIndex((c) => c instanceof DeleteCommand && String(c.input.Key?.sk).startsWith('PROFILE#'));
    const firstDeliveryWrite = order.findIndex((c) => c instanceof BatchWriteCommand && isDeliveryBatch(c.input as never));
    expect(firstDeliveryWrite).toBeGreaterThan(lastProfileDelete);
  });

  it('keeps the delete when the delivery write fails: answered, logged and counted, nothing dispatched', async () => {
    v.ddb.on(BatchWriteCommand).callsFake(async (input: Parameters<typeof isDeliveryBatch>[0]) => {
      if (isDeliveryBatch(input)) throw dynamoErrors.provisionedThroughputExceeded();
      return {};
    });
    const before = webhookEnqueueFailures();

    await expect(deleteAgent(deps, TENANT, AGENT_ID, true)).resolves.toBeUndefined();

    for (const name of NAMES) expect(v.ddb).toHaveReceivedCommandWith(DeleteCommand, { Key: profileKey(name) });
    expect(v.ddb).toHaveReceivedCommandWith(DeleteCommand, { Key: keys.agent(TENANT, AGENT_ID) });
    expect(refs).toEqual([]);
    expect(webhookEnqueueFailures()).toBe(before + NAMES.length);
    const failures = v.deps.logs.filter((l) => l.includes('webhook event not enqueued'));
    expect(failures).toHaveLength(NAMES.length);
    for (const l of failures) expect(l).toContain('ProvisionedThroughputExceededException');
    // The log names no profile (no payload).
    for (const name of NAMES) expect(failures.join('\n')).not.toContain(name);
  });

  it('publishes for the profiles deleted before a delete failed part-way, none for the one not deleted, and keeps the agent', async () => {
    v.ddb.on(DeleteCommand, { Key: profileKey('gamma') }).rejects(dynamoErrors.throttling());

    await expect(deleteAgent(deps, TENANT, AGENT_ID, true)).rejects.toMatchObject({ name: 'ThrottlingException' });

    expect(v.ddb).not.toHaveReceivedCommandWith(DeleteCommand, { Key: keys.agent(TENANT, AGENT_ID) });
    const [batch, ...more] = deliveryBatches();
    expect(more).toEqual([]);
    expect(profilesIn(batch ?? [])).toEqual(['alpha', 'beta']);
    expect(refs).toHaveLength(2);
  });

  it('publishes nothing for a profile that was gone before the delete reached it', async () => {
    v.ddb.on(DeleteCommand, { Key: profileKey('beta') }).resolves({});

    await deleteAgent(deps, TENANT, AGENT_ID, true);

    expect(profilesIn(deliveryBatches().flat())).toEqual(['alpha', 'gamma']);
  });

  it('dispatches only the deliveries DynamoDB took: one it keeps leaving unprocessed is logged and counted', async () => {
    let refused: Record<string, unknown> | undefined;
    v.ddb.on(BatchWriteCommand).callsFake(async (input: Parameters<typeof isDeliveryBatch>[0]) => {
      if (!isDeliveryBatch(input)) return {};
      const requests = Object.values(input.RequestItems)[0] ?? [];
      refused ??= requests[0]?.PutRequest?.Item;
      const left = requests.filter((r) => r.PutRequest?.Item?.delivery_id === refused?.delivery_id);
      return { UnprocessedItems: left.length ? { [v.tableName]: left } : {} };
    });
    const before = webhookEnqueueFailures();

    await deleteAgent(deps, TENANT, AGENT_ID, true);

    expect(refs).toHaveLength(NAMES.length - 1);
    expect(refs.map((r) => r.deliveryId)).not.toContain(refused?.delivery_id);
    expect(webhookEnqueueFailures()).toBe(before + 1);
    // The first write and its retries (shared/repositories/webhooks.ts createDeliveries).
    expect(deliveryBatches().map((b) => b.length)).toEqual([3, 1, 1, 1, 1]);
  });
});
