import 'aws-sdk-client-mock-vitest/extend';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler } from '#functions/profiles';
import { type EchoUpstream, startEchoUpstream } from '#test/support/upstream';
import { AGENT_ID, apiEvent, dynamoErrors, invoke, lastPutItem, profileKey, stageDefaults, useMockedVault } from './mocked-deps.ts';

const v = useMockedVault();
let upstream: EchoUpstream;

beforeAll(async () => {
  upstream = await startEchoUpstream();
});

afterAll(async () => {
  await upstream?.close();
});

const call = (method: string, path: string, body?: unknown) => invoke(handler, apiEvent(method, path, { body, apiKey: v.apiKey }));

/** Creates a bearer profile through the handler (writes succeed) and stages reads of it. */
async function storedBearer(secret: string) {
  const res = await call('POST', `/v1/agents/${AGENT_ID}/auth-profiles`, { name: 'p', auth_type: 'bearer', auth_data: { token: secret }, allowed_hosts: ['127.0.0.1'] });
  expect(res.statusCode).toBe(201);
  const item = lastPutItem(v.ddb);
  stageDefaults(v.ddb, v.apiKey);
  v.ddb.on(GetCommand, { Key: profileKey('p') }).resolves({ Item: item });
  return res.json.auth_token as string;
}

describe('POST /v1/proxy with DynamoDB faults', () => {
  it('answers 503 and sends nothing upstream when the use cannot be recorded', async () => {
    const token = await storedBearer('canary-fault-token');
    v.ddb.on(UpdateCommand).rejects(dynamoErrors.throttling());
    const before = upstream.seen.length;

    const res = await call('POST', '/v1/proxy', { agent_id: AGENT_ID, auth_token: token, method: 'GET', url: `${upstream.url}/` });

    expect(res.statusCode).toBe(503);
    expect(res.text).not.toContain('canary-fault-token');
    expect(upstream.seen.length).toBe(before);
  });

  it('answers 503 and sends nothing when the profile read is throttled', async () => {
    const token = await storedBearer('canary-fault-2');
    v.ddb.on(GetCommand, { Key: profileKey('p') }).rejects(dynamoErrors.provisionedThroughputExceeded());
    const before = upstream.seen.length;

    const res = await call('POST', '/v1/proxy', { agent_id: AGENT_ID, auth_token: token, method: 'GET', url: `${upstream.url}/` });

    expect(res.statusCode).toBe(503);
    expect(upstream.seen.length).toBe(before);
  });

  it('records the use with one conditional update and relays the redacted answer', async () => {
    const token = await storedBearer('canary-ok-token');
    v.ddb.on(UpdateCommand).resolves({});

    const res = await call('POST', '/v1/proxy', { agent_id: AGENT_ID, auth_token: token, method: 'GET', url: `${upstream.url}/` });

    expect(res.statusCode).toBe(200);
    expect(v.ddb).toHaveReceivedCommandTimes(UpdateCommand, 1);
    expect(res.text).not.toContain('canary-ok-token');
    expect(upstream.seen[upstream.seen.length - 1]?.headers.authorization).toBe('Bearer canary-ok-token');
  });
});
