import { randomBytes } from 'node:crypto';
import { InternalServerError } from '@aws-sdk/client-dynamodb';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb } from '#shared/clients';
import type { OpenedForUse } from '#shared/credentials/gate';
import { accessTokenFor, refreshAt } from '#shared/credentials/oauth2/access-token';
import { tokenRequest } from '#shared/credentials/oauth2/token-endpoint';
import { ProfileKeys } from '#shared/credentials/profile-keys';
import { makeTestDeps, type TestDeps } from '#test/support/dynamo';
import { type MockTokenServer, startTokenServer } from '#test/support/token-server';

describe('refreshAt', () => {
  it('refreshes 60 s ahead of a long-lived token and 10 % ahead of a short one', () => {
    expect(refreshAt(3_600_000, 3_600_000)).toBe(3_540_000);
    expect(refreshAt(30_000, 30_000)).toBe(27_000);
  });
});

describe('tokenRequest', () => {
  it('form-encodes client_id and client_secret before HTTP Basic (RFC 6749 §2.3.1)', () => {
    const { headers, body } = tokenRequest({ token_url: 'https://a.example/t', client_auth: 'basic' }, { client_id: 'a b', client_secret: 'x:y%' });
    expect(headers.authorization).toBe(`Basic ${Buffer.from('a+b:x%3Ay%25').toString('base64')}`);
    expect(body).toBe('grant_type=client_credentials');
  });
});

describe('accessTokenFor with DynamoDB faults', () => {
  let server: MockTokenServer;
  let deps: TestDeps;
  let ddb: ReturnType<typeof mockClient>;
  beforeAll(async () => {
    server = await startTokenServer({ delayMs: 0 });
    const db = createDb({ dynamoEndpoint: 'http://127.0.0.1:9', region: 'local', tableName: 'unit' });
    ddb = mockClient(db.doc);
    deps = await makeTestDeps(db);
  });
  afterAll(async () => {
    ddb.restore();
    await server.close();
  });

  /** An opened oauth2 profile, built directly (no store involved). */
  function use(): OpenedForUse {
    const binding = { tenant: 'acme', agentId: 'bot', slot: randomBytes(16), generation: 1 };
    const keys = new ProfileKeys(deps.serverKeys.current, binding, randomBytes(32));
    const item = { tenant: 'acme', agent_id: 'bot', slot: binding.slot.toString('hex'), generation: 1, record_version: 1, created_at: 'x', name: 'svc' };
    return {
      profile: { item, keys, secret: Buffer.alloc(32) },
      config: { token_url: server.url, client_auth: 'basic' },
      secret: { client_id: 'c', client_secret: 's' },
    } as unknown as OpenedForUse;
  }

  it('still answers the fetched token when caching it fails, and says so in the log without the token', async () => {
    ddb.reset();
    ddb.on(GetCommand).resolves({});
    ddb.on(UpdateCommand).resolvesOnce({}).rejects(new InternalServerError({ message: 'boom', $metadata: {} }));
    server.seen.length = 0;

    const token = await accessTokenFor(deps, use(), { timeoutMs: 2_000, allowPrivate: true, httpsOnly: false });

    expect(token.access_token).toBe('tok-1');
    expect(deps.logs.join('\n')).toContain('oauth token could not be cached');
    expect(deps.logs.join('\n')).not.toContain('tok-1');
  });

  it('propagates a failure to take the lease (the http layer answers 503) without calling the token endpoint', async () => {
    ddb.reset();
    ddb.on(GetCommand).resolves({});
    ddb.on(UpdateCommand).rejects(new InternalServerError({ message: 'boom', $metadata: {} }));
    server.seen.length = 0;

    await expect(accessTokenFor(deps, use(), { timeoutMs: 2_000, allowPrivate: true, httpsOnly: false })).rejects.toBeInstanceOf(InternalServerError);
    expect(server.seen).toHaveLength(0);
  });
});
