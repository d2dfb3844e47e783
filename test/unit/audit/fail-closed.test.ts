/**
 * The audit log fails closed: when the audit record of a use cannot be written, the use does
 * not happen (503 audit_unavailable, nothing sent to the runner or the queue, no run recorded);
 * when the record of a change cannot be written, the answer is 503 too. DynamoDB is an
 * aws-sdk-client-mock stub, so the audit write (a BatchWriteItem) can be made to fail alone.
 */
import 'aws-sdk-client-mock-vitest/extend';
import { BatchWriteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as profilesHandler } from '#functions/profiles';
import { handler as runsHandler } from '#functions/runs';
import { AGENT_ID, agentItem, apiEvent, dynamoErrors, invoke, lastPutItem, profileKey, stageDefaults, useMockedVault } from '../handlers/mocked-deps.ts';
import { sealWithServerKey } from '#shared/crypto/server-seal';
import { keys } from '#shared/keys';
import { startTestRunner } from '#test/support/runner';

const v = useMockedVault();
let runner: Awaited<ReturnType<typeof startTestRunner>>;

beforeAll(async () => {
  runner = await startTestRunner(() => ({ body: { output: 'ok' } }));
});
afterAll(async () => {
  await runner?.close();
});

/** Stages an agent whose runner is the test runner and one stored profile; returns its token. */
async function stagedProfile(): Promise<string> {
  const agent = agentItem(['username', 'password'], {
    runner: { type: 'webhook', url: runner.url },
    signing_secret: sealWithServerKey(v.deps.serverKeys, 'runner-signing-secret', ['acme', AGENT_ID], Buffer.from('avs_unit-signing-secret')),
  });
  v.ddb.on(GetCommand, { Key: keys.agent('acme', AGENT_ID) }).resolves({ Item: agent });
  const res = await invoke(profilesHandler, apiEvent('POST', '/api/create_agent_auth_profile', { apiKey: v.apiKey, body: { name: 'main', agent_id: AGENT_ID, auth_data: { username: 'u', password: 'p' } } }));
  expect(res.statusCode, res.text).toBe(200);
  const item = lastPutItem(v.ddb);
  stageDefaults(v.ddb, v.apiKey);
  v.ddb.on(GetCommand, { Key: keys.agent('acme', AGENT_ID) }).resolves({ Item: agent });
  v.ddb.on(GetCommand, { Key: profileKey('main') }).resolves({ Item: item });
  return res.json.auth_token as string;
}

const runEvent = (token: string, runAsync: boolean) =>
  apiEvent('POST', '/run_agent', { apiKey: v.apiKey, body: { agent_id: AGENT_ID, auth_token: token, run_async: runAsync } });

describe('audit fail-closed', () => {
  it('runs when the audit record is written, and writes it before the runner is called', async () => {
    const token = await stagedProfile();
    const before = runner.calls.length;
    const res = await invoke(runsHandler, runEvent(token, false));
    expect(res.statusCode, `${res.text} ${v.deps.logs.join('\n')}`).toBe(200);
    expect(runner.calls.length).toBe(before + 1);
    const audit = v.ddb.commandCalls(BatchWriteCommand);
    expect(audit).toHaveLength(1);
    const items = Object.values(audit[0]?.args[0].input.RequestItems ?? {})[0]?.map((r) => r.PutRequest?.Item) ?? [];
    // The record's three views and its writer's head, in the one BatchWriteItem.
    expect(items.map((i) => i?.view ?? i?.entity)).toEqual(['tenant', 'agent', 'profile', 'audit_head']);
    expect(items[0]).toMatchObject({ action: 'run', result: 'ok', status: 200, source_ip: '127.0.0.1' });
    expect(JSON.stringify(items)).not.toContain(token);
  });

  it('refuses a sync run with 503 audit_unavailable when the record cannot be written: no runner call, no run record', async () => {
    const token = await stagedProfile();
    v.ddb.on(BatchWriteCommand).rejects(dynamoErrors.throttling());
    const before = runner.calls.length;
    const res = await invoke(runsHandler, runEvent(token, false));
    expect(res.statusCode).toBe(503);
    expect(res.json.error.code).toBe('audit_unavailable');
    expect(res.headers['retry-after']).toBe('1');
    expect(runner.calls.length).toBe(before);
    expect(v.ddb).not.toHaveReceivedCommand(PutCommand);
  });

  it('refuses an async run the same way: nothing is queued', async () => {
    const token = await stagedProfile();
    v.ddb.on(BatchWriteCommand).rejects(dynamoErrors.internalServerError());
    const queued: unknown[] = [];
    const dispatch = v.deps.dispatcher.dispatch;
    v.deps.dispatcher.dispatch = async (job) => void queued.push(job);
    try {
      const res = await invoke(runsHandler, runEvent(token, true));
      expect(res.statusCode).toBe(503);
      expect(res.json.error.code).toBe('audit_unavailable');
      expect(queued).toHaveLength(0);
    } finally {
      v.deps.dispatcher.dispatch = dispatch;
    }
  });

  it('answers a change whose audit record cannot be written with 503 audit_unavailable', async () => {
    await stagedProfile();
    v.ddb.on(BatchWriteCommand).rejects(dynamoErrors.throttling());
    v.ddb.on(UpdateCommand).resolves({ Attributes: undefined });
    const res = await invoke(profilesHandler, apiEvent('POST', '/api/create_agent_auth_profile', { apiKey: v.apiKey, body: { name: 'other', agent_id: AGENT_ID, auth_data: { username: 'u' } } }));
    expect(res.statusCode).toBe(503);
    expect(res.json.error.code).toBe('audit_unavailable');
    expect(v.deps.logs.join('\n')).toContain('audit record could not be written');
  });
});
