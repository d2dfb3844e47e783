import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLocalDeps } from '#infra/local/deps';
import { createDb } from '#shared/clients';
import { loadConfig } from '#shared/config';
import type { OpenedForUse } from '#shared/credentials/gate';
import { accessTokenFor } from '#shared/credentials/oauth2/access-token';
import { ProfileKeys } from '#shared/credentials/profile-keys';
import type { OAuthTokenItem } from '#shared/schemas/items';


import { proxyRequest, testProfile } from '#shared/services/proxy';
import { type MemoryStore, memoryStore } from '#test/support/memory-store';
import { testCaller } from '#test/support/credentials';
import { captureLogger, makeTestDeps, type TestDeps, signerOf } from '#test/support/dynamo';
import { type MockTokenServer, startTokenServer } from '#test/support/token-server';
import { type EchoUpstream, startEchoUpstream } from '#test/support/upstream';
import { createAgent, createProfileRecord } from '#test/support/services';

/**
 * An OAuth2 proxy call reads the profile's token cache in the gate's BatchGetItem, with the agent
 * and profile, so with a warm cache it takes the round trips of a bearer call; accessTokenFor uses
 * that read for its first pass only and reads afresh on every later one.
 */

const NET = { timeoutMs: 2_000, allowPrivate: true, httpsOnly: false };
let server: MockTokenServer;
let upstream: EchoUpstream;

beforeAll(async () => {
  [server, upstream] = await Promise.all([startTokenServer({ delayMs: 0 }), startEchoUpstream()]);
});
afterAll(async () => {
  await Promise.all([server.close(), upstream.close()]);
});

describe('an OAuth2 proxy call with a warm token cache (in-memory store, round trips metered)', () => {
  let store: MemoryStore;
  let deps: Awaited<ReturnType<typeof createLocalDeps>>;
  const caller = testCaller('acme');
  const agentId = 'oauth-bot';
  let token = '';

  beforeAll(async () => {
    store = memoryStore({ latency: 'immediate' });
    const config = loadConfig({ VAULT_MODE: 'local', VAULT_DATA_DIR: mkdtempSync(join(tmpdir(), 'agent-vault-test-')) });
    deps = await createLocalDeps(config, { store, log: captureLogger() });
    await createAgent(deps, 'acme', { agent_id: agentId, name: 'o', input_args: [], runner: { type: 'webhook', url: 'http://127.0.0.1:9/run' } });
    ({ auth_token: token } = await createProfileRecord(deps, 'acme', {
      name: 'svc',
      agent_id: agentId,
      auth_type: 'oauth2_client_credentials',
      auth_config: { token_url: server.url },
      auth_data: { client_id: 'cid', client_secret: 'csecret-canary' },
      allowed_hosts: [`127.0.0.1:${upstream.port}`],
    }));
    // The first call fetches and caches the access token.
    await proxyRequest(deps, caller, { agent_id: agentId, auth_token: token, method: 'GET', url: `${upstream.url}/warm` });
  });

  it('reads the cached token in the BatchGet with the profile: one BatchGet, then the audit record ‖ the usage update', async () => {
    server.seen.length = 0;
    store.meter.reset();

    const res = await proxyRequest(deps, caller, { agent_id: agentId, auth_token: token, method: 'GET', url: `${upstream.url}/v1/items` });

    expect(res.status).toBe(200);
    expect(upstream.seen.at(-1)?.headers.authorization).toBe('Bearer tok-1');
    expect(server.seen).toHaveLength(0);
    expect(store.meter.counts).toEqual({ BatchGetCommand: 1, BatchWriteCommand: 1, UpdateCommand: 1 });
    expect(store.meter.waves).toBe(2);
  });

  it('does the same for a profile test with a request', async () => {
    store.meter.reset();

    const res = await testProfile(deps, caller, agentId, 'svc', { auth_token: token, request: { method: 'GET', url: `${upstream.url}/v1/me` } });

    expect(res.ok).toBe(true);
    expect(store.meter.counts.GetCommand).toBeUndefined();
    expect(store.meter.counts.BatchGetCommand).toBe(1);
  });
});

describe('accessTokenFor with the cache item the gate read', () => {
  let deps: TestDeps;
  let ddb: ReturnType<typeof mockClient>;
  let base: OpenedForUse;
  /** The cache item as the leaseholder stored it (captured from its storeToken write). */
  let stored: OAuthTokenItem;

  beforeAll(async () => {
    const db = createDb({ dynamoEndpoint: 'http://127.0.0.1:9', region: 'local', tableName: 'unit' });
    ddb = mockClient(db.doc);
    deps = await makeTestDeps(db);
    const binding = { tenant: 'acme', agentId: 'bot', slot: randomBytes(16), generation: 1 };
    const keys = new ProfileKeys(deps.serverKeys.current, binding, randomBytes(32));
    const item = { tenant: 'acme', agent_id: 'bot', slot: binding.slot.toString('hex'), generation: 1, record_version: 1, created_at: 'x', name: 'svc' };
    base = {
      profile: { item, keys, secret: Buffer.alloc(32) },
      config: { token_url: server.url, client_auth: 'basic' },
      secret: { client_id: 'c', client_secret: 's' },
    } as unknown as OpenedForUse;
    // One fetch through the mocked table, to capture a real sealed cache entry.
    ddb.on(GetCommand).resolves({});
    ddb.on(UpdateCommand).resolves({});
    server.seen.length = 0;
    const first = await accessTokenFor(deps, base, NET);
    const write = ddb.commandCalls(UpdateCommand).find((c) => String(c.args[0].input.UpdateExpression).includes('#blob'));
    const v = write?.args[0].input.ExpressionAttributeValues as Record<string, unknown>;
    stored = {
      pk: 'p',
      sk: 's',
      entity: 'oauth_token',
      version: 2,
      blob: v[':blob'],
      token_expires_at: v[':exp'],
      refresh_at: v[':refresh'],
      expires_at: v[':ttl'],
      generation: v[':g'],
      record_version: v[':rv'],
      profile_created_at: v[':pca'],
    } as OAuthTokenItem;
    expect(first.access_token).toBe(`tok-${server.seen.length}`);
  });
  afterAll(() => {
    ddb.restore();
  });
  beforeEach(() => {
    ddb.reset();
    server.seen.length = 0;
  });

  it('answers a valid cached token from that read alone: no command, no fetch', async () => {
    ddb.onAnyCommand().rejects(new Error('no command expected'));

    const token = await accessTokenFor(deps, { ...base, oauthToken: { item: stored } }, NET);

    expect(token.access_token).toMatch(/^tok-\d+$/);
    expect(ddb.calls()).toHaveLength(0);
    expect(server.seen).toHaveLength(0);
  });

  it('takes the lease straight away when that read found no cache item (no second read first)', async () => {
    ddb.on(UpdateCommand).resolves({});
    ddb.on(GetCommand).rejects(new Error('no read expected'));

    const token = await accessTokenFor(deps, { ...base, oauthToken: { item: undefined } }, NET);

    expect(token.access_token).toMatch(/^tok-\d+$/);
    expect(server.seen).toHaveLength(1);
    const first = ddb.calls()[0]?.args[0].input as { ConditionExpression?: string };
    expect(first.ConditionExpression).toMatch(/^attribute_not_exists\(pk\)/);
  });

  it('reads afresh after the first pass: while another process holds the lease, it polls and takes the token that process stored', async () => {
    const leased = { pk: 'p', sk: 's', entity: 'oauth_token', version: 1, lease_id: 'other', lease_until: Date.now() + 60_000 } as OAuthTokenItem;
    ddb.on(GetCommand).resolves({ Item: signerOf(deps).seal('oauth-token', stored) });

    const token = await accessTokenFor(deps, { ...base, oauthToken: { item: leased } }, NET);

    expect(token.access_token).toMatch(/^tok-\d+$/);
    expect(ddb.commandCalls(GetCommand)).toHaveLength(1);
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
    expect(server.seen).toHaveLength(0);
  });

  it('reads afresh after losing the lease race on the item it was given', async () => {
    ddb.on(UpdateCommand).rejects(Object.assign(new Error('The conditional request failed'), { name: 'ConditionalCheckFailedException', $metadata: { httpStatusCode: 400 } }));
    ddb.on(GetCommand).resolves({ Item: signerOf(deps).seal('oauth-token', stored) });

    const token = await accessTokenFor(deps, { ...base, oauthToken: { item: undefined } }, NET);

    expect(token.access_token).toMatch(/^tok-\d+$/);
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(1);
    expect(ddb.commandCalls(GetCommand)).toHaveLength(1);
    expect(server.seen).toHaveLength(0);
  });
});
