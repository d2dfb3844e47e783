/**
 * Fault injection between the vault and DynamoDB. Retries are checked with the real client of
 * shared/clients.ts against a loopback proxy that throttles, fails or stalls requests before
 * passing them to dynalite (aws-sdk-client-mock replaces `send`, so the SDK's retry middleware
 * would never run under it); the HTTP mapping of dependency faults is checked with
 * aws-sdk-client-mock; and multi-write operations are checked for half-written state.
 */
import 'aws-sdk-client-mock-vitest/extend';
import { GetCommand, DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Db, createDb } from '#shared/clients';
import { namedProfileRef, slotFor } from '#shared/credentials/profile-keys';
import { isTransientDependencyError } from '#shared/errors';
import { profileRepository } from '#shared/repositories/profiles';


import { decryptAuthData, openProfile } from '#test/support/credentials';
import { testCaller } from '#test/support/credentials';
import { startRun } from '#shared/services/runs';
import { type EmbeddedDynamo, startEmbeddedDynamo } from '#infra/local/embedded-dynamo';
import { type TestDeps, makeTestDeps, signerOf } from '#test/support/dynamo';
import { startTestRunner } from '#test/support/runner';
import { type TestVault, startTestVault } from '#test/support/vault';
import { failFirst, scanAll, startFaultProxy } from './helpers.ts';
import { createAgent, createProfile, deleteProfile, upsertProfile } from '#test/support/services';

const TENANT = 'acme';
const AGENT = 'fault-agent';
/** A stalled DynamoDB call must be abandoned (and retried) well within API Gateway's 29 s. */
const STALL_GUARD_MS = 12_000;

let dynamo: EmbeddedDynamo;
let proxy: Awaited<ReturnType<typeof startFaultProxy>>;
/** The vault's own client, through the proxy (shared/clients.ts: maxAttempts 3). */
let db: Db;
let deps: TestDeps;
let vault: TestVault;
let runner: Awaited<ReturnType<typeof startTestRunner>>;

beforeAll(async () => {
  dynamo = await startEmbeddedDynamo();
  proxy = await startFaultProxy(dynamo.endpoint);
  runner = await startTestRunner(() => ({ body: { output: 'done', session: { cookie: 'c-1' } } }));
  vault = await startTestVault({ VAULT_DYNAMODB_ENDPOINT: proxy.url, VAULT_TABLE_NAME: 'faults' });
  db = createDb({ dynamoEndpoint: proxy.url, region: 'local', tableName: 'faults' });
  deps = await makeTestDeps(db);
  await createAgent(deps, TENANT, {
    agent_id: AGENT,
    name: 'Fault agent',
    input_args: [{ name: 'password', required: true, secret: true }],
    runner: { type: 'webhook', url: runner.url },
  });
}, 60_000);

afterAll(async () => {
  await vault?.close();
  db?.client.destroy();
  await runner?.close();
  await proxy?.close();
  await dynamo?.close();
});

afterEach(() => proxy.setPolicy(() => 'pass'));

const opsReceived = (op: string) => proxy.received.filter((r) => r.op === op);
const profileKey = (name: string) => ({ TableName: db.tableName, Key: { pk: `TENANT#${TENANT}#AGENT#${AGENT}`, sk: `PROFILE#${slotFor(TENANT, AGENT, name).toString('hex')}` } });

describe('DynamoDB client retries (shared/clients.ts)', () => {
  it('retries a throttled read with backoff and succeeds on the third attempt', async () => {
    await createProfile(deps, TENANT, { name: 'throttled', agent_id: AGENT, auth_data: { password: 'pw-throttled' } });
    proxy.setPolicy(failFirst('GetItem', 2, 'throttle'));

    const out = await db.doc.send(new GetCommand({ ...profileKey('throttled'), ConsistentRead: true }));

    expect(out.Item?.name).toBe('throttled');
    expect(opsReceived('GetItem')).toHaveLength(3);
    expect(out.$metadata.attempts).toBe(3);
    expect(out.$metadata.totalRetryDelay).toBeGreaterThan(0);
  });

  it('retries a write answered 500 and applies it once', async () => {
    proxy.setPolicy(failFirst('PutItem', 2, 'error500'));

    const created = await createProfile(deps, TENANT, { name: 'after-500', agent_id: AGENT, auth_data: { password: 'pw-500' } });

    // The name claim's put, answered 500 twice and applied on its third attempt; then the profile's.
    expect(opsReceived('PutItem')).toHaveLength(4);
    expect(decryptAuthData(await openProfile(deps, TENANT, AGENT, created.auth_token))).toEqual({ password: 'pw-500' });
  });

  it('gives up after 3 attempts with a transient error', async () => {
    proxy.setPolicy((req) => (req.op === 'GetItem' ? 'error500' : 'pass'));

    const failure = await db.doc.send(new GetCommand(profileKey('anything'))).then(
      () => undefined,
      (err: unknown) => err,
    );

    expect(failure).toBeInstanceOf(Error);
    expect(isTransientDependencyError(failure)).toBe(true);
    expect(opsReceived('GetItem')).toHaveLength(3);
    expect((failure as { $metadata: { attempts: number } }).$metadata.attempts).toBe(3);
  });

  it('abandons a DynamoDB call that never answers and retries it', async () => {
    await createProfile(deps, TENANT, { name: 'stalled', agent_id: AGENT, auth_data: { password: 'pw-stalled' } });
    proxy.setPolicy(failFirst('GetItem', 1, 'hang'));

    const read = db.doc.send(new GetCommand(profileKey('stalled'))).then(
      (out) => ({ outcome: 'answered', name: out.Item?.name, attempts: out.$metadata.attempts }),
      (err: unknown) => ({ outcome: `failed: ${(err as Error).name}` }),
    );
    const guard = new Promise<{ outcome: string }>((r) => setTimeout(() => r({ outcome: `still waiting after ${STALL_GUARD_MS} ms` }), STALL_GUARD_MS).unref());
    const result = await Promise.race([read, guard]);

    expect(result).toEqual({ outcome: 'answered', name: 'stalled', attempts: 2 });
  }, STALL_GUARD_MS + 10_000);
});

describe('dependency faults through the HTTP handler', () => {
  let ddbMock: ReturnType<typeof mockClient> | undefined;
  afterEach(() => {
    ddbMock?.restore();
    ddbMock = undefined;
  });

  const sdkError = (name: string, status: number, message: string) =>
    Object.assign(new Error(message), { name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status, requestId: 'REQ123', attempts: 3 } });

  it.each([
    ['ThrottlingException', 400],
    ['ProvisionedThroughputExceededException', 400],
    ['InternalServerError', 500],
    ['ServiceUnavailable', 503],
    ['TimeoutError', 0],
  ])('answers %s from DynamoDB with 503 service_unavailable and Retry-After', async (name, status) => {
    ddbMock = mockClient(DynamoDBDocumentClient);
    ddbMock.onAnyCommand().rejects(sdkError(name, status, `${name}: table faults at arn:aws:dynamodb:xx internal detail`));

    const res = await vault.call('GET', `/v1/agents/${AGENT}`);

    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(res.json.error.code).toBe('service_unavailable');
    expect(res.text).not.toMatch(/arn:aws|internal detail|REQ123|faults/);
  });

  it('answers a non-transient DynamoDB error with a 500 that carries no internals', async () => {
    ddbMock = mockClient(DynamoDBDocumentClient);
    ddbMock.onAnyCommand().rejects(sdkError('ValidationException', 400, 'One or more parameter values were invalid: table faults secret-ish detail'));

    const res = await vault.call('GET', `/v1/agents/${AGENT}`);

    expect(res.status).toBe(500);
    expect(res.json.error.code).toBe('internal_error');
    expect(res.text).not.toMatch(/ValidationException|parameter values|secret-ish|faults/);
  });

  it('answers 503 when the real client exhausts its retries against a throttling table', async () => {
    proxy.setPolicy(() => 'throttle');

    const res = await vault.call('GET', `/v1/agents/${AGENT}`);

    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(res.json.error.code).toBe('service_unavailable');
    expect(proxy.received.length).toBe(3);
  }, 20_000);

  it('reads the mocked store the handler sees (the mock is in effect)', async () => {
    ddbMock = mockClient(DynamoDBDocumentClient);
    ddbMock.onAnyCommand().rejects(sdkError('ThrottlingException', 400, 'x'));

    await vault.call('GET', `/v1/agents/${AGENT}`);

    expect(ddbMock).toHaveReceivedCommand(GetCommand);
    expect(ddbMock).not.toHaveReceivedCommand(PutCommand);
  });
});

describe('nothing half-written', () => {
  it('leaves no profile behind when its write fails, so a retried create succeeds', async () => {
    proxy.setPolicy((req) => (req.op === 'PutItem' ? 'error500' : 'pass'));
    const failed = await createProfile(deps, TENANT, { name: 'never-written', agent_id: AGENT, auth_data: { password: 'pw-x' } }).then(
      () => undefined,
      (err: unknown) => err,
    );
    proxy.setPolicy(() => 'pass');

    const items = await scanAll(db);
    const retried = await createProfile(deps, TENANT, { name: 'never-written', agent_id: AGENT, auth_data: { password: 'pw-y' } });

    expect(isTransientDependencyError(failed)).toBe(true);
    expect(items.filter((i) => i.name === 'never-written')).toEqual([]);
    expect(decryptAuthData(await openProfile(deps, TENANT, AGENT, retried.auth_token))).toEqual({ password: 'pw-y' });
  });

  it('returns a working token when DynamoDB applied the create but its answer was lost', async () => {
    // The SDK retries the PutItem; the retry meets the item the first attempt wrote.
    proxy.setPolicy(failFirst('PutItem', 1, 'applyThen500'));

    const created = await createProfile(deps, TENANT, { name: 'applied-once', agent_id: AGENT, auth_data: { password: 'pw-applied' } }).then(
      (v) => v,
      (err: unknown) => ({ error: `${(err as Error).name}: ${(err as Error).message}` }),
    );

    expect(created, JSON.stringify(created)).toHaveProperty('auth_token');
    const opened = await openProfile(deps, TENANT, AGENT, (created as { auth_token: string }).auth_token);
    expect(decryptAuthData(opened)).toEqual({ password: 'pw-applied' });
  });

  it('returns the new token of a replace whose answer was lost', async () => {
    await createProfile(deps, TENANT, { name: 'replace-lost', agent_id: AGENT, auth_data: { password: 'pw-old' } });
    proxy.setPolicy(failFirst('PutItem', 1, 'applyThen500'));

    const replaced = await upsertProfile(deps, TENANT, { agent_id: AGENT, name: 'replace-lost', auth_data: { password: 'pw-new' } });

    // Whatever type it reports, the token it returns must open the profile it describes.
    expect(decryptAuthData(await openProfile(deps, TENANT, AGENT, replaced.auth_token))).toEqual({ password: 'pw-new' });
  });

  it('leaves no orphaned session when deleting a profile fails half-way', async () => {
    const created = await upsertProfile(deps, TENANT, { agent_id: AGENT, name: 'half-deleted', should_save_session: true, auth_data: { password: 'pw-hd' } });
    await startRun(deps, testCaller(TENANT), { agent_id: AGENT, auth_token: created.auth_token, parameters: {}, run_async: false }, 'http://vault.test');
    const slot = slotFor(TENANT, AGENT, 'half-deleted').toString('hex');
    proxy.setPolicy((req) => (req.op === 'DeleteItem' && req.body.includes('SESSION#') ? 'error500' : 'pass'));

    const failed = await deleteProfile(deps, TENANT, AGENT, 'half-deleted').then(
      () => undefined,
      (err: unknown) => err,
    );
    proxy.setPolicy(() => 'pass');

    const left = (await scanAll(db)).filter((i) => String(i.sk).endsWith(slot)).map((i) => String(i.sk).split('#')[0]);
    expect(failed).toBeInstanceOf(Error);
    // Either both items are gone, or the profile is still there so the delete can be retried.
    expect(left.includes('PROFILE') || left.length === 0, `left behind: ${JSON.stringify(left)}`).toBe(true);
  });

  it('saves the session of a profile re-created after a half-failed delete', async () => {
    const first = await upsertProfile(deps, TENANT, { agent_id: AGENT, name: 'recreated', should_save_session: true, auth_data: { password: 'pw-r1' } });
    await startRun(deps, testCaller(TENANT), { agent_id: AGENT, auth_token: first.auth_token, parameters: {}, run_async: false }, 'http://vault.test');
    proxy.setPolicy((req) => (req.op === 'DeleteItem' && req.body.includes('SESSION#') ? 'error500' : 'pass'));
    await deleteProfile(deps, TENANT, AGENT, 'recreated').catch(() => undefined);
    proxy.setPolicy(() => 'pass');
    await deleteProfile(deps, TENANT, AGENT, 'recreated').catch(() => undefined); // the caller retries

    const second = await upsertProfile(deps, TENANT, { agent_id: AGENT, name: 'recreated', should_save_session: true, auth_data: { password: 'pw-r2' } });
    const run = await startRun(deps, testCaller(TENANT), { agent_id: AGENT, auth_token: second.auth_token, parameters: {}, run_async: false }, 'http://vault.test');

    expect(run.error_message).toBeUndefined();
    expect(run.agent_output).toBe('done');
    const item = await profileRepository(db, signerOf(deps)).get(namedProfileRef(TENANT, AGENT, 'recreated'));
    expect(item?.generation).toBe(1);
  });
});
