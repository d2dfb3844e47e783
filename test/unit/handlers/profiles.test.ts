import 'aws-sdk-client-mock-vitest/extend';
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { handler } from '#functions/profiles';
import { type ItemKey, keys } from '#shared/keys';
import { namedProfileRef } from '#shared/credentials/profile-keys';

import {
  AGENT_ID,
  apiEvent,
  commandNames,
  dynamoErrors,
  invoke,
  lastPutItem,
  profileKey,
  signer,
  stageDefaults,
  TENANT,
  useMockedVault,
} from './mocked-deps.ts';

/** The claim item of a profile name (docs/architecture.md, "Renaming a profile"). */
const nameClaimKey = (name: string) => {
  const ref = namedProfileRef(TENANT, AGENT_ID, name);
  return keys.profileName(ref.tenant, ref.agentId, ref.slot);
};

const CREATE = '/api/create_agent_auth_profile';
const UPSERT = '/api/upsert_agent_auth_profile';

const v = useMockedVault();

const call = (method: string, path: string, body?: unknown) => invoke(handler, apiEvent(method, path, { body, apiKey: v.apiKey }));

/** Creates a profile through the handler (writes succeed) and returns its token and stored item. */
async function storedProfile(name: string, authData: Record<string, string>) {
  const res = await call('POST', CREATE, { name, agent_id: AGENT_ID, auth_data: authData });
  expect(res.statusCode).toBe(200);
  const item = lastPutItem(v.ddb);
  stageDefaults(v.ddb, v.apiKey);
  v.ddb.on(GetCommand, { Key: profileKey(name) }).resolves({ Item: item });
  return { token: res.json.auth_token as string, item };
}

/** The error answer carries only the standard shape and nothing of the fault behind it. */
function expectNoInternals(text: string, ...secrets: string[]) {
  for (const s of secrets) expect(text).not.toContain(s);
  expect(text).not.toMatch(/Exception|at .*\.ts|node_modules|stack/i);
}

describe('POST /api/create_agent_auth_profile', () => {
  it('returns the auth token after two puts conditioned on absence: the name claim, then the profile', async () => {
    const res = await call('POST', CREATE, { name: 'main', agent_id: AGENT_ID, auth_data: { username: 'ann', password: 'pw-1' } });

    expect(res.statusCode).toBe(200);
    expect(res.json.auth_token).toMatch(/^avt_[A-Za-z0-9_-]{70}$/);
    const puts = v.ddb.commandCalls(PutCommand).map((c) => c.args[0].input);
    expect(puts.map((p) => [p.Item?.sk, p.ConditionExpression])).toEqual([
      [nameClaimKey('main').sk, 'attribute_not_exists(pk)'],
      [profileKey('main').sk, 'attribute_not_exists(pk)'],
    ]);
    // The claim points at the name's own slot (free): the profile lives there.
    expect(puts[0]?.Item).toMatchObject({ name: 'main', slot: profileKey('main').sk.slice('PROFILE#'.length) });
    expect(lastPutItem(v.ddb)).toMatchObject({ ...profileKey('main'), generation: 1, record_version: 1 });
  });

  it('answers 409 profile_exists when the conditional put fails, and writes nothing else', async () => {
    v.ddb.on(PutCommand, { Item: { sk: profileKey('main').sk } }).rejects(dynamoErrors.conditionalCheckFailed());

    const res = await call('POST', CREATE, { name: 'main', agent_id: AGENT_ID, auth_data: { password: 'pw-1' } });

    expect(res.statusCode).toBe(409);
    expect(res.json.error.code).toBe('profile_exists');
    expect(res.json.error.message).toContain('"main"');
    expect(v.ddb).toHaveReceivedCommandTimes(PutCommand, 2);
    expect(v.ddb).not.toHaveReceivedCommand(UpdateCommand);
    expect(v.ddb).not.toHaveReceivedCommand(DeleteCommand);
  });

  it('answers 400 unknown_input_args naming the keys, before any write', async () => {
    const res = await call('POST', CREATE, { name: 'main', agent_id: AGENT_ID, auth_data: { password: 'pw', pin: '1', totp: '2' } });

    expect(res.statusCode).toBe(400);
    expect(res.json.error.code).toBe('unknown_input_args');
    expect(res.json.error.message).toContain('"pin", "totp"');
    expect(res.json.error.message).toContain('declared: username, password, otp_seed');
    expect(v.ddb).not.toHaveReceivedCommand(PutCommand);
  });

  it('answers 404 agent_not_found for an unknown agent, before any write', async () => {
    const res = await call('POST', CREATE, { name: 'main', agent_id: 'ghost', auth_data: { password: 'pw' } });

    expect(res.statusCode).toBe(404);
    expect(res.json.error.code).toBe('agent_not_found');
    expect(v.ddb).not.toHaveReceivedCommand(PutCommand);
  });

  it.each([
    ['ProvisionedThroughputExceededException', dynamoErrors.provisionedThroughputExceeded],
    ['ThrottlingException', dynamoErrors.throttling],
    ['InternalServerError (500)', dynamoErrors.internalServerError],
    ['an unmodeled 503', dynamoErrors.http503],
  ])('answers 503 with Retry-After when the put fails with %s', async (_label, make) => {
    v.ddb.on(PutCommand).rejects(make('table vault-unit partition 7f3a internal-detail-91'));

    const res = await call('POST', CREATE, { name: 'main', agent_id: AGENT_ID, auth_data: { password: 'canary-pw-503' } });

    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toMatch(/^\d+$/);
    expect(res.json).toEqual({ error: { code: 'service_unavailable', message: expect.any(String) } });
    expectNoInternals(res.text, 'internal-detail-91', 'vault-unit', 'canary-pw-503');
  });

  it('answers 503 and writes nothing when the agent read is throttled', async () => {
    v.ddb.on(GetCommand, { Key: keys.agent(TENANT, AGENT_ID) }).rejects(dynamoErrors.provisionedThroughputExceeded());

    const res = await call('POST', CREATE, { name: 'main', agent_id: AGENT_ID, auth_data: { password: 'pw' } });

    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBeDefined();
    expect(v.ddb).not.toHaveReceivedCommand(PutCommand);
  });

  it('logs a throttled request without the error message or the auth data', async () => {
    v.ddb.on(PutCommand).rejects(dynamoErrors.throttling('throttle-detail-77'));

    await call('POST', CREATE, { name: 'main', agent_id: AGENT_ID, auth_data: { password: 'canary-pw-throttle' } });

    const logs = v.deps.logs.join('\n');
    expect(logs).toContain('ThrottlingException');
    expect(logs).not.toContain('throttle-detail-77');
    expect(logs).not.toContain('canary-pw-throttle');
  });

  it('answers 500 internal_error with only a request id for an unexpected error', async () => {
    v.ddb.on(PutCommand).rejects(new TypeError('cannot marshal canary-pw-500 at offset 3'));
    const event = apiEvent('POST', CREATE, {
      body: { name: 'main', agent_id: AGENT_ID, auth_data: { password: 'canary-pw-500' } },
      apiKey: v.apiKey,
    });

    const res = await invoke(handler, event);

    expect(res.statusCode).toBe(500);
    expect(res.json).toEqual({
      error: { code: 'internal_error', message: `Internal error; quote request id ${event.requestContext.requestId} when reporting it.` },
    });
    expectNoInternals(res.text, 'canary-pw-500', 'marshal', 'TypeError');
  });

  it('logs an unexpected error by name and request id, without its message or the auth data', async () => {
    v.ddb.on(PutCommand).rejects(new TypeError('cannot marshal canary-pw-log at offset 3'));
    const event = apiEvent('POST', CREATE, {
      body: { name: 'main', agent_id: AGENT_ID, auth_data: { password: 'canary-pw-log' } },
      apiKey: v.apiKey,
    });

    await invoke(handler, event);

    const logs = v.deps.logs.join('\n');
    expect(logs).toContain('TypeError');
    expect(logs).toContain(event.requestContext.requestId);
    expect(logs).not.toContain('canary-pw-log');
    expect(logs).not.toContain('cannot marshal');
  });

  it('logs no part of an unexpected error message that spans several lines', async () => {
    // A message can quote input over several lines (e.g. a serialised object); the logged
    // "stack" must hold frames only, never a continuation line of the message.
    v.ddb.on(PutCommand).rejects(new Error('could not write item:\n  password: canary-pw-multiline\n  user: ann'));

    await call('POST', CREATE, { name: 'main', agent_id: AGENT_ID, auth_data: { password: 'canary-pw-multiline' } });

    const logs = v.deps.logs.join('\n');
    expect(logs).toContain('unhandled error');
    expect(logs).not.toContain('canary-pw-multiline');
  });
});

describe('POST /api/upsert_agent_auth_profile (update with auth_token)', () => {
  it('rewrites the profile with one update conditioned on the generation and record version read', async () => {
    const { token } = await storedProfile('main', { username: 'ann', password: 'pw-1' });

    const res = await call('POST', UPSERT, { agent_id: AGENT_ID, auth_token: token, auth_data: { password: 'pw-2' } });

    expect(res.statusCode).toBe(200);
    expect(res.json).toEqual({ auth_token: token, name: 'main', type: 'update' });
    expect(v.ddb).toHaveReceivedCommandTimes(UpdateCommand, 1);
    expect(v.ddb).toHaveReceivedCommandWith(UpdateCommand, {
      Key: profileKey('main'),
      // The in-place rewrite MACs the post-state: conditioned on every version guarding the rest (shared/repositories/profiles.ts).
      ConditionExpression:
        'generation = :g AND record_version = :rv AND (attribute_not_exists(settings_version) OR settings_version = :sv) AND created_at = :ca',
      ExpressionAttributeValues: expect.objectContaining({ ':g': 1, ':rv': 1, ':sv': 0, ':next': 2 }),
    });
    expect(v.ddb).not.toHaveReceivedCommand(PutCommand);
  });

  it('answers 409 conflict when the conditional update fails, and writes nothing else', async () => {
    const { token } = await storedProfile('main', { username: 'ann', password: 'pw-1' });
    v.ddb.on(UpdateCommand).rejects(dynamoErrors.conditionalCheckFailed());

    const res = await call('POST', UPSERT, { agent_id: AGENT_ID, auth_token: token, auth_data: { password: 'pw-2' } });

    expect(res.statusCode).toBe(409);
    expect(res.json.error.code).toBe('conflict');
    expect(res.json.error.message).toContain('"main"');
    expect(v.ddb).toHaveReceivedCommandTimes(UpdateCommand, 1);
    expect(v.ddb).not.toHaveReceivedCommand(PutCommand);
    expect(v.ddb).not.toHaveReceivedCommand(DeleteCommand);
  });

  it('answers 503 with Retry-After when the update is throttled', async () => {
    const { token } = await storedProfile('main', { password: 'pw-1' });
    v.ddb.on(UpdateCommand).rejects(dynamoErrors.provisionedThroughputExceeded());

    const res = await call('POST', UPSERT, { agent_id: AGENT_ID, auth_token: token, auth_data: { password: 'canary-pw-upd' } });

    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expectNoInternals(res.text, 'canary-pw-upd', token);
  });

  it('answers 404 profile_not_found and writes nothing for a token whose profile is absent', async () => {
    const { token } = await storedProfile('main', { password: 'pw-1' });
    v.ddb.on(GetCommand, { Key: profileKey('main') }).resolves({});

    const res = await call('POST', UPSERT, { agent_id: AGENT_ID, auth_token: token, auth_data: { password: 'pw-2' } });

    expect(res.statusCode).toBe(404);
    expect(res.json.error.code).toBe('profile_not_found');
    expect(v.ddb).not.toHaveReceivedCommand(UpdateCommand);
    expect(v.ddb).not.toHaveReceivedCommand(PutCommand);
  });

  it('answers the compatible upsert of a mistyped token with 404 profile_not_found, never reading its profile or writing (docs/api.md, "Kura drop-in")', async () => {
    const { token } = await storedProfile('main', { password: 'pw-1' });
    const typo = `${token.slice(0, 20)}${token[20] === 'A' ? 'B' : 'A'}${token.slice(21)}`;

    const res = await call('POST', UPSERT, { agent_id: AGENT_ID, auth_token: typo, auth_data: { password: 'pw-2' } });

    expect(res.statusCode).toBe(404);
    expect(res.json.error.code).toBe('profile_not_found');
    expect(v.ddb).not.toHaveReceivedCommandWith(GetCommand, { Key: profileKey('main') });
    expect(v.ddb).not.toHaveReceivedCommand(UpdateCommand);
    expect(v.ddb).not.toHaveReceivedCommand(PutCommand);
  });

  it('answers the native upsert of a mistyped token with 400 invalid_auth_token, before any read', async () => {
    const { token } = await storedProfile('main', { password: 'pw-1' });
    const typo = `${token.slice(0, 20)}${token[20] === 'A' ? 'B' : 'A'}${token.slice(21)}`;

    const res = await call('PUT', `/v1/agents/${AGENT_ID}/auth-profiles/main`, { auth_token: typo, auth_data: { password: 'pw-2' } });

    expect(res.statusCode).toBe(400);
    expect(res.json.error.code).toBe('invalid_auth_token');
    expect(v.ddb).not.toHaveReceivedCommandWith(GetCommand, { Key: profileKey('main') });
  });

  it('answers 400 and writes nothing when the name does not match the profile of the token', async () => {
    const { token } = await storedProfile('main', { password: 'pw-1' });

    const res = await call('POST', UPSERT, { agent_id: AGENT_ID, auth_token: token, name: 'other', auth_data: { password: 'pw-2' } });

    expect(res.statusCode).toBe(400);
    expect(res.json.error.message).toContain('"other"');
    expect(v.ddb).not.toHaveReceivedCommand(UpdateCommand);
  });
});

describe('POST /api/upsert_agent_auth_profile (by name)', () => {
  it('creates with a put conditioned on absence when the name is new', async () => {
    const res = await call('POST', UPSERT, { agent_id: AGENT_ID, name: 'fresh', auth_data: { password: 'pw' } });

    expect(res.statusCode).toBe(200);
    expect(res.json.type).toBe('create');
    expect(v.ddb).toHaveReceivedCommandWith(PutCommand, { ConditionExpression: 'attribute_not_exists(pk)' });
  });

  it('replaces with a put conditioned on the generation, record version and settings version read', async () => {
    const { token } = await storedProfile('main', { password: 'pw-1' });

    const res = await call('POST', UPSERT, { agent_id: AGENT_ID, name: 'main', auth_data: { password: 'pw-2' } });

    expect(res.statusCode).toBe(200);
    expect(res.json.type).toBe('replace');
    expect(res.json.auth_token).not.toBe(token);
    expect(v.ddb).toHaveReceivedCommandTimes(PutCommand, 1);
    expect(v.ddb).toHaveReceivedCommandWith(PutCommand, {
      ConditionExpression:
        'generation = :g AND record_version = :rv AND (attribute_not_exists(settings_version) OR settings_version = :sv)',
      ExpressionAttributeValues: { ':g': 1, ':rv': 1, ':sv': 0 },
    });
    expect(lastPutItem(v.ddb)).toMatchObject({ generation: 2, record_version: 2 });
  });

  it('re-reads and retries a replace that lost a race, then succeeds', async () => {
    const { item } = await storedProfile('main', { password: 'pw-1' });
    const racedItem = signer.seal('profile', { ...(item as unknown as ItemKey), generation: 2, record_version: 2 });
    v.ddb
      .on(GetCommand, { Key: profileKey('main') })
      .resolvesOnce({ Item: item })
      .resolves({ Item: racedItem });
    v.ddb.on(PutCommand).rejectsOnce(dynamoErrors.conditionalCheckFailed()).resolves({});

    const res = await call('POST', UPSERT, { agent_id: AGENT_ID, name: 'main', auth_data: { password: 'pw-2' } });

    expect(res.statusCode).toBe(200);
    expect(res.json.type).toBe('replace');
    expect(v.ddb).toHaveReceivedCommandTimes(PutCommand, 2);
    expect(v.ddb).toHaveReceivedNthCommandWith(PutCommand, 2, { ExpressionAttributeValues: { ':g': 2, ':rv': 2, ':sv': 0 } });
    expect(lastPutItem(v.ddb)).toMatchObject({ generation: 3, record_version: 3 });
  });

  it('creates when the profile it meant to replace was deleted meanwhile', async () => {
    const { item } = await storedProfile('main', { password: 'pw-1' });
    v.ddb
      .on(GetCommand, { Key: profileKey('main') })
      .resolvesOnce({ Item: item })
      .resolves({});
    v.ddb.on(PutCommand).rejectsOnce(dynamoErrors.conditionalCheckFailed()).resolves({});

    const res = await call('POST', UPSERT, { agent_id: AGENT_ID, name: 'main', auth_data: { password: 'pw-2' } });

    expect(res.statusCode).toBe(200);
    expect(res.json.type).toBe('create');
    expect(v.ddb).toHaveReceivedNthCommandWith(PutCommand, 2, { ConditionExpression: 'attribute_not_exists(pk)' });
  });

  it('answers 409 conflict after a bounded number of lost races, having written nothing', async () => {
    await storedProfile('main', { password: 'pw-1' });
    v.ddb.on(PutCommand).rejects(dynamoErrors.conditionalCheckFailed());

    const res = await call('POST', UPSERT, { agent_id: AGENT_ID, name: 'main', auth_data: { password: 'pw-2' } });

    expect(res.statusCode).toBe(409);
    expect(res.json.error.code).toBe('conflict');
    const puts = v.ddb.commandCalls(PutCommand).length;
    expect(puts).toBeGreaterThan(1);
    expect(puts).toBeLessThanOrEqual(10);
    // One read before each attempt, plus one after the last to rule out a write whose answer was lost.
    expect(v.ddb.commandCalls(GetCommand, { Key: profileKey('main') })).toHaveLength(puts + 1);
    expect(v.ddb).not.toHaveReceivedCommand(UpdateCommand);
    expect(v.ddb).not.toHaveReceivedCommand(DeleteCommand);
  });

  it('answers 503 and writes nothing when reading the existing profile is throttled', async () => {
    v.ddb.on(GetCommand, { Key: profileKey('main') }).rejects(dynamoErrors.throttling());

    const res = await call('POST', UPSERT, { agent_id: AGENT_ID, name: 'main', auth_data: { password: 'pw' } });

    expect(res.statusCode).toBe(503);
    expect(v.ddb).not.toHaveReceivedCommand(PutCommand);
  });
});

describe('native profile routes', () => {
  const sessionKey = () => ({ ...profileKey('main'), sk: profileKey('main').sk.replace('PROFILE#', 'SESSION#') });

  it('deletes the saved session, the profile, then the session again (a run may have saved one in between)', async () => {
    await storedProfile('main', { password: 'pw-1' });
    const res = await call('DELETE', `/v1/agents/${AGENT_ID}/auth-profiles/main`);

    expect(res.statusCode).toBe(204);
    const deletes = v.ddb.commandCalls(DeleteCommand).map((c) => c.args[0].input.Key);
    // …and, once the profile is gone, its name's claim.
    expect(deletes).toEqual([sessionKey(), profileKey('main'), sessionKey(), nameClaimKey('main')]);
  });

  it('answers 404 profile_not_found when the profile is absent, deleting nothing', async () => {
    const res = await call('DELETE', `/v1/agents/${AGENT_ID}/auth-profiles/main`);

    expect(res.statusCode).toBe(404);
    expect(res.json.error.code).toBe('profile_not_found');
    expect(v.ddb).not.toHaveReceivedCommand(DeleteCommand);
  });

  it('answers 404 profile_not_found when the profile was deleted between the read and the delete', async () => {
    await storedProfile('main', { password: 'pw-1' });
    v.ddb.on(DeleteCommand, { Key: profileKey('main') }).rejects(dynamoErrors.conditionalCheckFailed());

    const res = await call('DELETE', `/v1/agents/${AGENT_ID}/auth-profiles/main`);

    expect(res.statusCode).toBe(404);
    expect(res.json.error.code).toBe('profile_not_found');
  });

  it('answers 503 and leaves the profile in place when the session delete is throttled', async () => {
    await storedProfile('main', { password: 'pw-1' });
    v.ddb.on(DeleteCommand).rejects(dynamoErrors.provisionedThroughputExceeded());

    const res = await call('DELETE', `/v1/agents/${AGENT_ID}/auth-profiles/main`);

    expect(res.statusCode).toBe(503);
    expect(v.ddb.commandCalls(DeleteCommand).map((c) => c.args[0].input.Key)).toEqual([sessionKey()]);
  });

  it('answers metadata without any value or ciphertext', async () => {
    await storedProfile('main', { username: 'canary-user-meta', password: 'canary-pw-meta' });

    const res = await call('GET', `/v1/agents/${AGENT_ID}/auth-profiles/main`);

    expect(res.statusCode).toBe(200);
    expect(res.json).toMatchObject({
      agent_id: AGENT_ID,
      name: 'main',
      fields: ['password', 'username'],
      generation: 1,
      record_version: 1,
      auth_type: 'custom', // an item stored before typed profiles reads as custom
    });
    expect(Object.keys(res.json).sort()).toEqual(
      [
        'agent_id',
        'auth_type',
        'created_at',
        'fields',
        'generation',
        'name',
        'record_version',
        'should_save_session',
        'updated_at',
        'use_count',
        'active',
        'token_state',
        'allowed_source_ips',
        'uses_last_7_days',
        'owner',
        'visibility',
        'grants',
      ].sort(),
    );
    expect(res.text).not.toContain('canary-');
  });

  it('answers 503 when listing is throttled', async () => {
    v.ddb.onAnyCommand().rejects(dynamoErrors.provisionedThroughputExceeded());
    v.ddb.on(GetCommand).callsFake(async (input: { Key: { pk: string } }) => {
      if (input.Key.pk.startsWith('APIKEY#')) return { Item: { ...input.Key, tenant: TENANT, created_at: 'x' } };
      throw dynamoErrors.provisionedThroughputExceeded();
    });

    const res = await call('GET', `/v1/agents/${AGENT_ID}/auth-profiles`);

    expect(res.statusCode).toBe(503);
    expect(res.json.error.code).toBe('service_unavailable');
  });

  it('sends only reads for a request that fails validation', async () => {
    await call('POST', CREATE, { name: 'main', agent_id: AGENT_ID, auth_data: { password: 7 } });

    expect(commandNames(v.ddb).every((n) => n === 'GetCommand')).toBe(true);
  });
});
