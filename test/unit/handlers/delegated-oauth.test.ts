import 'aws-sdk-client-mock-vitest/extend';
import { DeleteCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { handler } from '#functions/profiles';
import { AGENT_ID, apiEvent, dynamoErrors, invoke, stageDefaults, useMockedVault } from './mocked-deps.ts';

const v = useMockedVault();

const CLIENT_SECRET = 'canary-client-secret-3c1d';

/** Creates an oauth2_authorization_code profile through the handler (writes succeed); its connect link and the link item written. */
async function delegated() {
  stageDefaults(v.ddb, v.apiKey);
  const res = await invoke(
    handler,
    apiEvent('POST', `/v1/agents/${AGENT_ID}/auth-profiles`, {
      apiKey: v.apiKey,
      body: {
        name: 'acct',
        auth_type: 'oauth2_authorization_code',
        auth_config: {
          authorize_url: 'http://127.0.0.1:9/authorize',
          token_url: 'http://127.0.0.1:9/token',
          return_url: 'http://127.0.0.1:9/back',
        },
        auth_data: { client_id: 'c', client_secret: CLIENT_SECRET },
      },
    }),
  );
  expect(res.statusCode, res.text).toBe(201);
  const linkPut = v.ddb.commandCalls(PutCommand).find((c) => c.args[0].input.Item?.sk === 'CONNECT');
  const item = linkPut?.args[0].input.Item as Record<string, unknown>;
  const connectUrl = new URL(res.json.connect_url as string);
  return { item, path: `${connectUrl.pathname}${connectUrl.search}` };
}

const open = (path: string) => invoke(handler, apiEvent('GET', path));

describe('GET /v1/oauth/connect with DynamoDB faults', () => {
  it('answers the link-used page and writes no state when another opening consumed the link first', async () => {
    const { item, path } = await delegated();
    v.ddb.on(GetCommand, { Key: { pk: item.pk, sk: 'CONNECT' } }).resolves({ Item: item });
    v.ddb.on(DeleteCommand).rejects(dynamoErrors.conditionalCheckFailed());
    const puts = v.ddb.commandCalls(PutCommand).length;

    const res = await open(path);

    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toContain('text/html');
    expect(res.text).toContain('already used');
    expect(v.ddb.commandCalls(PutCommand).length).toBe(puts);
  });

  it('answers a 503 page (never JSON, never a stack) when the table throttles', async () => {
    const { path } = await delegated();
    v.ddb.on(GetCommand).rejects(dynamoErrors.throttling());

    const res = await open(path);

    expect(res.statusCode).toBe(503);
    expect(res.headers['content-type']).toContain('text/html');
    expect(res.text).toContain('try again');
    expect(res.text).not.toMatch(/"error"|\bat \S+:\d+/);
  });

  it('needs no API key and answers a page for a missing or malformed link', async () => {
    stageDefaults(v.ddb, v.apiKey);
    for (const path of ['/v1/oauth/connect', '/v1/oauth/connect?link=avc_short', '/v1/oauth/callback?state=avs_x&code=y']) {
      const res = await open(path);
      expect(res.statusCode, path).toBe(400);
      expect(res.headers['content-type'], path).toContain('text/html');
      expect(res.headers['referrer-policy'], path).toBe('no-referrer');
    }
  });

  it('answers an unknown query parameter of the connect link with a page too', async () => {
    stageDefaults(v.ddb, v.apiKey);
    const res = await open('/v1/oauth/connect?link=avc_x&extra=1');
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toContain('text/html');
    expect(res.text).toContain('extra');
  });
});
