import 'aws-sdk-client-mock-vitest/extend';
import { randomBytes } from 'node:crypto';
import { BatchGetCommand, BatchWriteCommand, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { handler } from '#functions/profiles';
import { openForUse } from '#shared/credentials/gate';
import { issueGrant } from '#shared/credentials/grants';
import { formatToken } from '#shared/crypto/token';
import { keys } from '#shared/keys';
import { testCaller } from '#test/support/credentials';
import { type EchoUpstream, startEchoUpstream } from '#test/support/upstream';
import { AGENT_ID, TENANT, apiEvent, dynamoErrors, invoke, lastPutItem, profileKey, useMockedVault } from './mocked-deps.ts';

/**
 * POST /v1/proxy with a run grant (no API key) under VAULT_TENANT_RATE_LIMIT, on a mocked
 * document client: the grant call counts against the grant's tenant with the same conditional ADD
 * the API-key middleware uses, sent together with the profile read (no extra round trip), and
 * only once the grant has unwrapped.
 */

const LIMIT = 5;
const v = useMockedVault();
let upstream: EchoUpstream;
let grant = '';
let grantKey: { pk: string; sk: string };
let grantItem: Record<string, unknown>;
let profileItem: Record<string, unknown>;
const SECRET = `canary-grant-${randomBytes(6).toString('hex')}`;

beforeAll(async () => {
  upstream = await startEchoUpstream();
  // The handlers' deps are this very object: switch the limit on for the whole file.
  Object.assign(v.deps, { config: { ...v.deps.config, tenantRateLimit: LIMIT } });
  const created = await invoke(
    handler,
    apiEvent('POST', `/v1/agents/${AGENT_ID}/auth-profiles`, {
      apiKey: v.apiKey,
      body: { name: 'p', auth_type: 'bearer', auth_data: { token: SECRET }, allowed_hosts: [`127.0.0.1:${upstream.port}`] },
    }),
  );
  expect(created.statusCode, created.text).toBe(201);
  profileItem = lastPutItem(v.ddb);
  v.ddb.on(GetCommand, { Key: profileKey('p') }).resolves({ Item: profileItem });
  const use = await openForUse(v.deps, testCaller(TENANT), { kind: 'token', agentId: AGENT_ID, token: created.json.auth_token }, 'run');
  const issued = await issueGrant(v.deps, use.profile, 'session-unit', Date.now() + 10 * 60_000);
  grant = issued.grant;
  grantKey = keys.grant(issued.idHex);
  grantItem = lastPutItem(v.ddb);
});

afterAll(async () => {
  await upstream?.close();
});

beforeEach(() => {
  // useMockedVault restages its defaults first; then the profile and the grant resolve.
  v.ddb.on(GetCommand, { Key: profileKey('p') }).resolves({ Item: profileItem });
  v.ddb.on(GetCommand, { Key: grantKey }).resolves({ Item: grantItem });
});

const window = () => Math.floor(Date.now() / 1000);
const rateCalls = () =>
  v.ddb.commandCalls(UpdateCommand).filter((c) => String(c.args[0].input.Key?.pk).startsWith('RATE#'));
const proxyWith = (bearer: string) =>
  invoke(handler, apiEvent('POST', '/v1/proxy', { body: { method: 'GET', url: `${upstream.url}/items` }, headers: { authorization: `Bearer ${bearer}` } }));

describe('POST /v1/proxy with a run grant under the tenant rate limit', () => {
  it("counts the call against the grant's tenant with one conditional ADD, sent while the profile read is in flight", async () => {
    let addSentDuringRead = false;
    v.ddb.on(BatchGetCommand).callsFake(async (input: { RequestItems: Record<string, { Keys: Record<string, unknown>[] }> }) => {
      // Let the gate's other command go out before this read answers.
      await new Promise((r) => setImmediate(r));
      addSentDuringRead = rateCalls().length === 1;
      const [table, request] = Object.entries(input.RequestItems)[0] ?? [];
      const items: unknown[] = [];
      for (const Key of request?.Keys ?? []) {
        const out = (await v.ddb.send(new GetCommand({ TableName: table, Key, ConsistentRead: true }))) as { Item?: unknown } | undefined;
        if (out?.Item) items.push(out.Item);
      }
      return { Responses: { [table as string]: items }, UnprocessedKeys: {} };
    });
    const w = window();

    const res = await proxyWith(grant);

    expect(res.statusCode, res.text).toBe(200);
    expect(addSentDuringRead).toBe(true);
    expect(rateCalls()).toHaveLength(1);
    const input = rateCalls()[0]?.args[0].input as { Key: unknown; ConditionExpression: string; ExpressionAttributeValues: Record<string, unknown> };
    // A window boundary may fall between the call and this line.
    expect([keys.tenantRate(TENANT, w), keys.tenantRate(TENANT, w + 1)]).toContainEqual(input.Key);
    expect(input.ConditionExpression).toBe('attribute_not_exists(#n) OR #n < :limit');
    expect(input.ExpressionAttributeValues[':limit']).toBe(LIMIT);
    expect(upstream.seen.at(-1)?.headers.authorization).toBe(`Bearer ${SECRET}`);
  });

  it('answers 429 with Retry-After when the tenant is over its limit, and nothing is audited, counted or sent upstream', async () => {
    v.ddb.on(UpdateCommand, { Key: keys.tenantRate(TENANT, window()) }).rejects(dynamoErrors.conditionalCheckFailed());
    v.ddb.on(UpdateCommand, { Key: keys.tenantRate(TENANT, window() + 1) }).rejects(dynamoErrors.conditionalCheckFailed());
    const before = upstream.seen.length;

    const res = await proxyWith(grant);

    expect(res.statusCode).toBe(429);
    expect(res.json.error.code).toBe('too_many_requests');
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(upstream.seen.length).toBe(before);
    expect(v.ddb).not.toHaveReceivedCommand(BatchWriteCommand);
    expect(v.ddb.commandCalls(UpdateCommand).filter((c) => c.args[0].input.Key?.sk === profileKey('p').sk)).toHaveLength(0);
    expect(res.text).not.toContain(SECRET);
  });

  it('admits the call, with a warning in the log, when the counter is throttled', async () => {
    v.ddb.on(UpdateCommand, { Key: keys.tenantRate(TENANT, window()) }).rejects(dynamoErrors.throttling());
    v.ddb.on(UpdateCommand, { Key: keys.tenantRate(TENANT, window() + 1) }).rejects(dynamoErrors.throttling());

    const res = await proxyWith(grant);

    expect(res.statusCode, res.text).toBe(200);
    expect(v.deps.logs.join('\n')).toMatch(/tenant rate limit counter unavailable/);
  });

  it('answers a forged grant for a real grant item exactly like an unknown grant, and touches no counter, while the tenant is over its limit', async () => {
    v.ddb.on(UpdateCommand).rejects(dynamoErrors.conditionalCheckFailed());
    const id = Buffer.from(grantKey.pk.split('#')[1] ?? '', 'hex');
    expect(id).toHaveLength(16);
    const forged = `avg_${formatToken(id, randomBytes(32)).slice(4)}`;
    const unknown = `avg_${formatToken(randomBytes(16), randomBytes(32)).slice(4)}`;

    const a = await proxyWith(forged);
    const b = await proxyWith(unknown);

    expect(a.statusCode).toBe(401);
    expect([a.statusCode, a.json, a.headers['retry-after']]).toEqual([b.statusCode, b.json, b.headers['retry-after']]);
    expect(a.json.error.code).toBe('invalid_grant');
    expect(rateCalls()).toHaveLength(0);
  });

  it('answers 503 (not 429, not 200) when the profile read fails while the counter admits', async () => {
    v.ddb.on(BatchGetCommand).rejects(dynamoErrors.internalServerError());
    const before = upstream.seen.length;

    const res = await proxyWith(grant);

    expect(res.statusCode).toBe(503);
    expect(upstream.seen.length).toBe(before);
  });
});
