import 'aws-sdk-client-mock-vitest/extend';
import { BatchWriteCommand, DeleteCommand, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { handler } from '#functions/agents';
import { keys } from '#shared/keys';
import {
  AGENT_ID,
  agentItem,
  apiEvent,
  dynamoErrors,
  invoke,
  TENANT,
  useMockedVault,
} from './mocked-deps.ts';

const v = useMockedVault();

const call = (method: string, path: string, body?: unknown) => invoke(handler, apiEvent(method, path, { body, apiKey: v.apiKey }));

const agentBody = {
  agent_id: 'new-bot',
  name: 'New bot',
  input_args: [{ name: 'password', required: true }],
  runner: { type: 'webhook', url: 'http://127.0.0.1:9/run' },
};

const partition = keys.agentPartition(TENANT, AGENT_ID);
const partitionItems = (n: number, prefix = 'PROFILE#') =>
  Array.from({ length: n }, (_, i) => ({ pk: partition, sk: `${prefix}${String(i).padStart(4, '0')}` }));

describe('POST /v1/agents', () => {
  it('answers 201 with the signing secret once and stores only its sealed form', async () => {
    const res = await call('POST', '/v1/agents', agentBody);

    expect(res.statusCode).toBe(201);
    expect(res.json.runner_signing_secret).toMatch(/^avs_/);
    const put = v.ddb.commandCalls(PutCommand)[0]?.args[0].input;
    expect(put?.ConditionExpression).toBe('attribute_not_exists(pk)');
    expect(JSON.stringify(put)).not.toContain(res.json.runner_signing_secret);
    expect(Buffer.from(put?.Item?.signing_secret as Uint8Array).includes(Buffer.from(res.json.runner_signing_secret))).toBe(false);
  });

  it('answers 409 agent_exists when the conditional put fails', async () => {
    v.ddb.on(PutCommand).rejects(dynamoErrors.conditionalCheckFailed());

    const res = await call('POST', '/v1/agents', agentBody);

    expect(res.statusCode).toBe(409);
    expect(res.json.error.code).toBe('agent_exists');
    expect(res.text).not.toContain('avs_');
  });

  it('answers 503 with Retry-After when the put is throttled', async () => {
    v.ddb.on(PutCommand).rejects(dynamoErrors.provisionedThroughputExceeded());

    const res = await call('POST', '/v1/agents', agentBody);

    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.text).not.toContain('avs_');
  });
});

describe('PUT /v1/agents/{agent_id}', () => {
  it('answers 409 conflict when the agent changed since it was read', async () => {
    v.ddb.on(PutCommand).rejects(dynamoErrors.conditionalCheckFailed());
    const { agent_id: _id, ...body } = agentBody;

    const res = await call('PUT', `/v1/agents/${AGENT_ID}`, body);

    expect(res.statusCode).toBe(409);
    expect(res.json.error.code).toBe('conflict');
    expect(v.ddb).toHaveReceivedCommandWith(PutCommand, {
      ConditionExpression: 'attribute_exists(pk) AND version = :v',
      ExpressionAttributeValues: { ':v': 1 },
    });
  });
});

describe('GET /v1/agents/{agent_id}', () => {
  it('answers 503 when the read is throttled', async () => {
    v.ddb.on(GetCommand, { Key: keys.agent(TENANT, AGENT_ID) }).rejects(dynamoErrors.throttling());

    const res = await call('GET', `/v1/agents/${AGENT_ID}`);

    expect(res.statusCode).toBe(503);
    expect(res.json.error.code).toBe('service_unavailable');
  });

  it('never returns the sealed signing secret', async () => {
    const res = await call('GET', `/v1/agents/${AGENT_ID}`);

    expect(res.statusCode).toBe(200);
    expect(res.json).not.toHaveProperty('signing_secret');
    expect(res.json).not.toHaveProperty('runner_signing_secret');
  });
});

describe('DELETE /v1/agents/{agent_id}', () => {
  it('answers 409 agent_has_profiles and deletes nothing while profiles exist', async () => {
    v.ddb.on(QueryCommand).resolves({ Items: partitionItems(1) });

    const res = await call('DELETE', `/v1/agents/${AGENT_ID}`);

    expect(res.statusCode).toBe(409);
    expect(res.json.error.code).toBe('agent_has_profiles');
    expect(res.json.error.message).toContain('force=true');
    expect(v.ddb).not.toHaveReceivedCommand(DeleteCommand);
    expect(v.ddb).not.toHaveReceivedCommand(BatchWriteCommand);
  });

  it('with force deletes each profile (reading back what it removed), the rest in batches of 25, then the agent', async () => {
    const profiles = partitionItems(20);
    const sessions = partitionItems(30, 'SESSION#');
    v.ddb.on(QueryCommand).resolves({ Items: [...profiles, ...sessions] });

    const res = await call('DELETE', `/v1/agents/${AGENT_ID}?force=true`);

    expect(res.statusCode).toBe(204);
    const profileDeletes = v.ddb.commandCalls(DeleteCommand).map((c) => c.args[0].input);
    expect(profileDeletes.slice(0, 20)).toEqual(profiles.map((Key) => ({ TableName: v.tableName, Key, ReturnValues: 'ALL_OLD' })));
    // Besides the audit record's (written first: shared/audit/log.ts auditedChange), the partition's deletes.
    const batches = v.ddb
      .commandCalls(BatchWriteCommand)
      .map((c) => c.args[0].input.RequestItems?.[v.tableName] ?? [])
      .filter((b) => b.some((r) => r.DeleteRequest));
    expect(batches.map((b) => b.length)).toEqual([25, 5]);
    expect(batches.flat().map((r) => r.DeleteRequest?.Key?.sk)).toEqual(sessions.map((i) => i.sk));
    expect(profileDeletes.at(-1)).toMatchObject({ Key: keys.agent(TENANT, AGENT_ID) });
  });

  it('with force retries unprocessed deletes before deleting the agent', async () => {
    const items = partitionItems(3, 'SESSION#');
    v.ddb.on(QueryCommand).resolves({ Items: items });
    let refused = false;
    v.ddb.on(BatchWriteCommand).callsFake((input: { RequestItems: Record<string, { DeleteRequest?: unknown }[]> }) => {
      // The first batch of deletes leaves one item unprocessed; the audit record's batch goes through.
      if (refused || !(input.RequestItems[v.tableName] ?? []).some((r) => r.DeleteRequest)) return {};
      refused = true;
      return { UnprocessedItems: { [v.tableName]: [{ DeleteRequest: { Key: items[2] } }] } };
    });

    const res = await call('DELETE', `/v1/agents/${AGENT_ID}?force=true`);

    expect(res.statusCode).toBe(204);
    const deleteBatches = v.ddb.commandCalls(BatchWriteCommand).filter((c) => (c.args[0].input.RequestItems?.[v.tableName] ?? []).some((r) => r.DeleteRequest));
    expect(deleteBatches.map((c) => c.args[0].input.RequestItems?.[v.tableName])).toEqual([
      items.map((Key) => ({ DeleteRequest: { Key } })),
      [{ DeleteRequest: { Key: items[2] } }],
    ]);
  });

  it('with force keeps the agent when deleting its profiles is throttled', async () => {
    const items = partitionItems(2);
    v.ddb.on(QueryCommand).resolves({ Items: items });
    v.ddb.on(DeleteCommand, { Key: items[1] }).rejects(dynamoErrors.provisionedThroughputExceeded());

    const res = await call('DELETE', `/v1/agents/${AGENT_ID}?force=true`);

    expect(res.statusCode).toBe(503);
    expect(v.ddb).toHaveReceivedCommandWith(DeleteCommand, { Key: items[0] });
    expect(v.ddb).not.toHaveReceivedCommandWith(DeleteCommand, { Key: keys.agent(TENANT, AGENT_ID) });
  });

  it('answers 404 agent_not_found for an unknown agent and deletes nothing', async () => {
    const res = await call('DELETE', '/v1/agents/ghost?force=true');

    expect(res.statusCode).toBe(404);
    expect(res.json.error.code).toBe('agent_not_found');
    expect(v.ddb).not.toHaveReceivedCommand(BatchWriteCommand);
    expect(v.ddb).not.toHaveReceivedCommand(DeleteCommand);
  });
});

describe('POST /v1/agents/{agent_id}/rotate-signing-secret', () => {
  it('answers 409 conflict when the agent changed meanwhile, without revealing the new secret', async () => {
    v.ddb.on(GetCommand, { Key: keys.agent(TENANT, AGENT_ID) }).resolves({ Item: agentItem(undefined, { version: 4 }) });
    v.ddb.on(PutCommand).rejects(dynamoErrors.conditionalCheckFailed());

    const res = await call('POST', `/v1/agents/${AGENT_ID}/rotate-signing-secret`);

    expect(res.statusCode).toBe(409);
    expect(res.text).not.toContain('avs_');
    expect(v.ddb).toHaveReceivedCommandWith(PutCommand, { ExpressionAttributeValues: { ':v': 4 } });
  });
});
