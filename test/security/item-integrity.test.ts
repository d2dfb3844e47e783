/**
 * Issue 8 item 2, over HTTP against the local server: an adversary who can write the table but
 * holds neither the server key nor a token edits agent and API-key items directly in the store.
 * Every edit is refused and logged, the credentials never reach the adversary's runner, and a
 * legitimate runner change needs the profile holder's re-approval (409 runner_changed).
 */
import { randomBytes } from 'node:crypto';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { slotFor } from '#shared/credentials/profile-keys';
import { keys } from '#shared/keys';
import { hashApiKey, mintApiKey } from '#shared/services/api-keys';
import { type ReceivedCall, startTestRunner } from '#test/support/runner';
import { type TestVault, startTestVault } from '#test/support/vault';

type Runner = Awaited<ReturnType<typeof startTestRunner>>;

const TENANT = 'acme';
const ARGS = [{ name: 'username', required: true }, { name: 'password', required: true }, { name: 'query' }];
const CREDENTIALS = { username: 'alice', password: 'pw-integrity-canary' };

let vault: TestVault;
/** The runner the agents are registered with. */
let legit: Runner;
/** Another runner on another port: the adversary's, or the agent's legitimately new one. */
let other: Runner;

beforeAll(async () => {
  vault = await startTestVault();
  legit = await startTestRunner(() => ({ body: { output: 'legit' } }));
  other = await startTestRunner(() => ({ body: { output: 'other' } }));
});

afterAll(async () => {
  await vault?.deps.dispatcher.drain();
  await legit?.close();
  await other?.close();
  await vault?.close();
});

beforeEach(() => {
  vault.logs.length = 0;
});

/** The table as an adversary sees it: raw commands on the store the vault uses. */
const table = () => ({ send: (cmd: object) => vault.deps.db.doc.send(cmd as never) as Promise<Record<string, any>>, TableName: vault.deps.db.tableName });

async function newAgent(runnerUrl = legit.url) {
  const agentId = `agent-${randomBytes(6).toString('hex')}`;
  const res = await vault.call('POST', '/v1/agents', { agent_id: agentId, name: 'Integrity agent', input_args: ARGS, runner: { type: 'webhook', url: runnerUrl } });
  expect(res.status, res.text).toBe(201);
  return agentId;
}

async function newProfile(agentId: string, name = 'main') {
  const res = await vault.call('POST', '/api/upsert_agent_auth_profile', { agent_id: agentId, name, auth_data: CREDENTIALS });
  expect(res.status, res.text).toBe(200);
  return res.json.auth_token as string;
}

const runSync = (agentId: string, token: string) => vault.call('POST', '/run_agent', { agent_id: agentId, auth_token: token, run_async: false });
const callsFor = (r: Runner, agentId: string): ReceivedCall[] => r.calls.filter((c) => c.body?.agent_id === agentId);
const logLines = () => vault.logs.map((l) => JSON.parse(l) as Record<string, unknown>);

async function tamperAgent(agentId: string, update: string, values?: Record<string, unknown>, names?: Record<string, string>) {
  const { send, TableName } = table();
  await send(
    new UpdateCommand({
      TableName,
      Key: keys.agent(TENANT, agentId),
      UpdateExpression: update,
      ExpressionAttributeValues: values,
      ExpressionAttributeNames: names,
    }),
  );
}

describe('agent item integrity', () => {
  it.each([
    ['runner.url pointed at the adversary', 'SET runner.#url = :v', { ':v': 'ADVERSARY' }, { '#url': 'url' }],
    ['runner.timeout_ms raised', 'SET runner.timeout_ms = :v', { ':v': 900_000 }, undefined],
    ['input_args widened', 'SET input_args = list_append(input_args, :v)', { ':v': [{ name: 'otp', required: false, secret: true }] }, undefined],
    ['incarnation replaced', 'SET incarnation = :v', { ':v': 'feedfacefeedface' }, undefined],
    ['version bumped', 'SET version = version + :v', { ':v': 1 }, undefined],
    ['name changed', 'SET #n = :v', { ':v': 'Renamed' }, { '#n': 'name' }],
  ])('refuses an agent whose %s, sends nothing and logs tenant and agent id only', async (_what, update, values, names) => {
    // Arrange
    const agentId = await newAgent();
    const token = await newProfile(agentId);
    const v = { ...values } as Record<string, unknown>;
    if (v[':v'] === 'ADVERSARY') v[':v'] = other.url;
    await tamperAgent(agentId, update, v, names);
    vault.logs.length = 0;

    // Act
    const res = await runSync(agentId, token);

    // Assert
    expect(res.status).toBe(500);
    expect(res.json.error.code).toBe('agent_integrity_check_failed');
    expect(res.text).not.toMatch(/mac|hmac|pw-integrity-canary|127\.0\.0\.1/i);
    expect(callsFor(other, agentId)).toHaveLength(0);
    expect(callsFor(legit, agentId)).toHaveLength(0);
    const line = logLines().find((l) => l.msg === 'agent item integrity check failed');
    expect(line).toBeDefined();
    const { level, time: _t, msg: _m, ...fields } = line as Record<string, unknown>;
    expect(level).toBe('error');
    expect(fields).toEqual({ tenant: TENANT, agent_id: agentId });
  });

  it('refuses an agent item without a MAC (written before MACs existed) on every read', async () => {
    // Arrange
    const agentId = await newAgent();
    await tamperAgent(agentId, 'REMOVE mac, mac_key_id');

    // Act
    const got = await vault.call('GET', `/v1/agents/${agentId}`);
    const put = await vault.call('PUT', `/v1/agents/${agentId}`, { name: 'x', input_args: ARGS, runner: { type: 'webhook', url: legit.url } });
    const upserted = await vault.call('POST', '/api/upsert_agent_auth_profile', { agent_id: agentId, name: 'p', auth_data: CREDENTIALS });
    const listed = await vault.call('GET', '/v1/agents?limit=100');

    // Assert
    for (const res of [got, put, upserted]) {
      expect(res.status, res.text).toBe(500);
      expect(res.json.error.code).toBe('agent_integrity_check_failed');
    }
    expect(listed.status).toBe(200);
    expect(listed.json.agents.map((a: { agent_id: string }) => a.agent_id)).not.toContain(agentId);
  });

  it('refuses an agent item copied from another agent of the tenant', async () => {
    // Arrange: the adversary copies a valid item (with its valid MAC) under another agent's key.
    const victim = await newAgent();
    const token = await newProfile(victim);
    const donor = await newAgent(other.url);
    const { send, TableName } = table();
    const { Item } = await send(new GetCommand({ TableName, Key: keys.agent(TENANT, donor) }));
    await send(new PutCommand({ TableName, Item: { ...Item, ...keys.agent(TENANT, victim), agent_id: victim } }));

    // Act
    const res = await runSync(victim, token);

    // Assert
    expect(res.status).toBe(500);
    expect(callsFor(other, victim)).toHaveLength(0);
  });

  it('lets the tenant delete a refused agent and register it again', async () => {
    // Arrange
    const agentId = await newAgent();
    await newProfile(agentId);
    await tamperAgent(agentId, 'SET runner.#url = :v', { ':v': other.url }, { '#url': 'url' });

    // Act
    const deleted = await vault.call('DELETE', `/v1/agents/${agentId}?force=true`);
    const again = await vault.call('POST', '/v1/agents', { agent_id: agentId, name: 'Again', input_args: ARGS, runner: { type: 'webhook', url: legit.url } });

    // Assert
    expect(deleted.status, deleted.text).toBe(204);
    expect(again.status, again.text).toBe(201);
    expect((await vault.call('GET', `/v1/agents/${agentId}`)).status).toBe(200);
  });
});

describe('API key item integrity', () => {
  async function keyOf(tenant: string) {
    return mintApiKey(vault.deps, tenant);
  }

  it('answers 401 like an unknown key when the item was moved to another tenant, and logs it', async () => {
    // Arrange: a key of tenant globex, rewritten to belong to acme before it is ever used.
    const key = await keyOf('globex');
    const { send, TableName } = table();
    await send(new UpdateCommand({ TableName, Key: keys.apiKey(hashApiKey(key)), UpdateExpression: 'SET tenant = :t', ExpressionAttributeValues: { ':t': TENANT } }));
    const unknown = await vault.call('GET', '/v1/agents', undefined, { apiKey: `avk_${randomBytes(32).toString('base64url')}` });

    // Act
    const res = await vault.call('GET', '/v1/agents', undefined, { apiKey: key });

    // Assert
    expect(res.status).toBe(401);
    expect(res.json).toEqual(unknown.json);
    const line = logLines().find((l) => l.msg === 'API key item integrity check failed');
    expect(line).toMatchObject({ level: 'error', key_hash_prefix: hashApiKey(key).slice(0, 12) });
    expect(JSON.stringify(line)).not.toContain(key);
  });

  it('answers 401 for a key item the adversary wrote from scratch', async () => {
    // Arrange: the adversary picks a key and writes its hash for tenant acme.
    const key = `avk_${randomBytes(32).toString('base64url')}`;
    const { send, TableName } = table();
    await send(new PutCommand({ TableName, Item: { ...keys.apiKey(hashApiKey(key)), tenant: TENANT, created_at: new Date().toISOString() } }));

    // Act
    const res = await vault.call('GET', '/v1/agents', undefined, { apiKey: key });

    // Assert
    expect(res.status).toBe(401);
  });

  it('answers 401 when any covered field (the label) was edited', async () => {
    // Arrange
    const key = await keyOf(TENANT);
    const { send, TableName } = table();
    await send(new UpdateCommand({ TableName, Key: keys.apiKey(hashApiKey(key)), UpdateExpression: 'SET label = :l', ExpressionAttributeValues: { ':l': 'admin' } }));

    // Act
    const res = await vault.call('GET', '/v1/agents', undefined, { apiKey: key });

    // Assert
    expect(res.status).toBe(401);
  });

  it('answers 401 like an unknown key when a table writer promotes a member to admin', async () => {
    // Arrange: members get 403 on the key routes; this one's role is rewritten in the table before
    // its first use (a cached principal would hide the edit for up to 5 s, by design).
    const other = await mintApiKey(vault.deps, TENANT, { name: 'ci', role: 'member' });
    expect((await vault.call('GET', '/v1/api-keys', undefined, { apiKey: other })).status).toBe(403);
    const member = await mintApiKey(vault.deps, TENANT, { name: 'ci', role: 'member' });
    const { send, TableName } = table();
    await send(new UpdateCommand({ TableName, Key: keys.apiKey(hashApiKey(member)), UpdateExpression: 'SET #r = :r', ExpressionAttributeNames: { '#r': 'role' }, ExpressionAttributeValues: { ':r': 'admin' } }));
    const unknown = await vault.call('GET', '/v1/api-keys', undefined, { apiKey: `avk_${randomBytes(32).toString('base64url')}` });

    // Act
    const res = await vault.call('GET', '/v1/api-keys', undefined, { apiKey: member });

    // Assert
    expect(res.status).toBe(401);
    expect(res.json).toEqual(unknown.json);
    expect(logLines().some((l) => l.msg === 'API key item integrity check failed')).toBe(true);
  });

  it('answers 401 when a table writer removes a member key\'s role (a key from before roles is an admin)', async () => {
    const member = await mintApiKey(vault.deps, TENANT, { name: 'ci', role: 'member' });
    const { send, TableName } = table();
    await send(new UpdateCommand({ TableName, Key: keys.apiKey(hashApiKey(member)), UpdateExpression: 'REMOVE #r', ExpressionAttributeNames: { '#r': 'role' } }));

    const res = await vault.call('GET', '/v1/api-keys', undefined, { apiKey: member });

    expect(res.status).toBe(401);
  });

  it('accepts a minted key (the MAC verifies)', async () => {
    const res = await vault.call('GET', '/v1/agents', undefined, { apiKey: await keyOf(TENANT) });
    expect(res.status).toBe(200);
  });
});

describe('runner approval', () => {
  async function moveRunner(agentId: string, url: string) {
    const res = await vault.call('PUT', `/v1/agents/${agentId}`, { name: 'Integrity agent', input_args: ARGS, runner: { type: 'webhook', url } });
    expect(res.status, res.text).toBe(200);
  }

  it('answers 409 runner_changed after a runner URL change until the profile is updated with its token', async () => {
    // Arrange
    const agentId = await newAgent();
    const token = await newProfile(agentId);
    await moveRunner(agentId, other.url);

    // Act
    const refused = await runSync(agentId, token);
    const refusedAsync = await vault.call('POST', '/run_agent', { agent_id: agentId, auth_token: token });
    const update = await vault.call('POST', '/api/upsert_agent_auth_profile', { agent_id: agentId, auth_token: token, auth_data: {} });
    const ran = await runSync(agentId, token);

    // Assert
    const from = new URL(legit.url).origin;
    const to = new URL(other.url).origin;
    expect(refused.status).toBe(409);
    expect(refused.json.error.code).toBe('runner_changed');
    expect(refused.json.error.message).toContain(`from ${from} to ${to}`);
    expect(refused.json.error.message).toMatch(/upsert the profile again/);
    expect(refusedAsync.status).toBe(409);
    expect(update.json.type).toBe('update');
    expect(ran.status, ran.text).toBe(200);
    expect(ran.json.agent_output).toBe('other');
    expect(callsFor(other, agentId)).toHaveLength(1);
    expect(callsFor(legit, agentId)).toHaveLength(0);
  });

  it('is re-approved by a replace (upsert by name) too', async () => {
    // Arrange
    const agentId = await newAgent();
    await newProfile(agentId);
    await moveRunner(agentId, other.url);

    // Act
    const replacement = await newProfile(agentId);
    const ran = await runSync(agentId, replacement);

    // Assert
    expect(ran.status, ran.text).toBe(200);
  });

  it('needs no re-approval for a new path on the same origin', async () => {
    // Arrange
    const agentId = await newAgent();
    const token = await newProfile(agentId);
    await moveRunner(agentId, `${legit.url}/v2`);

    // Act
    const res = await runSync(agentId, token);

    // Assert
    expect(res.status, res.text).toBe(200);
  });

  it('refuses and logs a profile whose approved origin a table writer rewrote', async () => {
    // Arrange: the agent moved legitimately; the adversary "approves" the new origin without a token.
    const agentId = await newAgent();
    const token = await newProfile(agentId);
    await moveRunner(agentId, other.url);
    const { send, TableName } = table();
    const Key = keys.profile(TENANT, agentId, slotFor(TENANT, agentId, 'main').toString('hex'));
    await send(new UpdateCommand({ TableName, Key, UpdateExpression: 'SET runner_origin = :o', ExpressionAttributeValues: { ':o': new URL(other.url).origin } }));
    vault.logs.length = 0;

    // Act
    const res = await runSync(agentId, token);

    // Assert
    expect(res.status).toBe(404);
    expect(res.json.error.code).toBe('profile_not_found');
    expect(callsFor(other, agentId)).toHaveLength(0);
    expect(logLines().some((l) => l.msg === 'profile runner approval check failed' && l.agent_id === agentId)).toBe(true);
  });

  it('refuses a profile whose approval was removed', async () => {
    // Arrange
    const agentId = await newAgent();
    const token = await newProfile(agentId);
    const { send, TableName } = table();
    const Key = keys.profile(TENANT, agentId, slotFor(TENANT, agentId, 'main').toString('hex'));
    await send(new UpdateCommand({ TableName, Key, UpdateExpression: 'REMOVE runner_origin, runner_approval' }));

    // Act
    const res = await runSync(agentId, token);

    // Assert
    expect(res.status).toBe(404);
    expect(callsFor(legit, agentId)).toHaveLength(0);
  });
});
