/**
 * Issue 8 item 2 and finding 3, over HTTP against the local server: an adversary who can write
 * the table but holds neither the server key nor a token edits items directly in the store
 * (raw UpdateItem through the document client). The signed store (shared/store/signer.ts) refuses
 * every edit of a covered attribute — agents, API keys, profiles (auth_config, outbound policy,
 * owner/visibility/grants, active, expiry, source IPs, approved runner), runs, grants — with 500
 * integrity_check_failed, logged with ids only, and nothing is sent anywhere; counters stay
 * editable. A legitimate runner change needs the profile holder's re-approval (409 runner_changed).
 */
import { randomBytes } from 'node:crypto';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { namedProfileRef } from '#shared/credentials/profile-keys';
import { IntegrityError } from '#shared/errors';
import { type MockTokenServer, startTokenServer } from '#test/support/token-server';
import { type EchoUpstream, startEchoUpstream } from '#test/support/upstream';
import { setRawAttribute } from '#test/support/raw-table';
import { signUnsignedItems } from '#shared/store/dynamodb';
import { signerOf } from '#test/support/dynamo';
import { legacyAgentItem, legacyApiKeyItem } from '#test/support/legacy-mac';
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
    expect(res.json.error.code).toBe('integrity_check_failed');
    expect(res.text).not.toMatch(/mac|hmac|pw-integrity-canary|127\.0\.0\.1/i);
    expect(callsFor(other, agentId)).toHaveLength(0);
    expect(callsFor(legit, agentId)).toHaveLength(0);
    const line = logLines().find((l) => l.msg === 'item integrity check failed');
    expect(line).toBeDefined();
    const { level, time: _t, msg: _m, ...fields } = line as Record<string, unknown>;
    expect(level).toBe('error');
    expect(fields).toEqual({ kind: 'agent', tenant: TENANT, agent_id: agentId });
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
      expect(res.json.error.code).toBe('integrity_check_failed');
      // An item from before signing names the operator's command that signs it.
      expect(res.json.error.message).toContain('npm run admin -- sign-items');
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
    const line = logLines().find((l) => l.msg === 'item integrity check failed');
    expect(line).toMatchObject({ level: 'error', kind: 'api-key', key_hash_prefix: hashApiKey(key).slice(0, 12) });
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
    expect(logLines().some((l) => l.msg === 'item integrity check failed' && l.kind === 'api-key')).toBe(true);
  });

  it('answers 401 when a table writer removes a member key\'s role (a key from before roles is an admin)', async () => {
    const member = await mintApiKey(vault.deps, TENANT, { name: 'ci', role: 'member' });
    const { send, TableName } = table();
    await send(new UpdateCommand({ TableName, Key: keys.apiKey(hashApiKey(member)), UpdateExpression: 'REMOVE #r', ExpressionAttributeNames: { '#r': 'role' } }));

    const res = await vault.call('GET', '/v1/api-keys', undefined, { apiKey: member });

    expect(res.status).toBe(401);
  });

  it('refuses a revocation through an index entry a table writer pointed at another key: 500, neither key revoked', async () => {
    const target = await mintApiKey(vault.deps, TENANT, { name: 'target', role: 'member' });
    const bystander = await mintApiKey(vault.deps, TENANT, { name: 'bystander', role: 'member' });
    const targetId = hashApiKey(target).slice(0, 16);
    await setRawAttribute(vault.deps.db, keys.tenantApiKey(TENANT, targetId), 'key_hash', hashApiKey(bystander));
    vault.logs.length = 0;

    const res = await vault.call('DELETE', `/v1/api-keys/${targetId}`);

    expect(res.status, res.text).toBe(500);
    expect(res.json.error.code).toBe('integrity_check_failed');
    expect(logLines().find((l) => l.msg === 'item integrity check failed')).toMatchObject({ kind: 'api-key-index', tenant: TENANT, key_id: targetId });
    expect((await vault.call('GET', '/v1/agents', undefined, { apiKey: bystander })).status).toBe(200);
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

  it('refuses and logs a profile whose approved origin a table writer rewrote (the signed store, before the approval tag)', async () => {
    // Arrange: the agent moved legitimately; the adversary "approves" the new origin without a token.
    const agentId = await newAgent();
    const token = await newProfile(agentId);
    await moveRunner(agentId, other.url);
    const { send, TableName } = table();
    const Key = keys.profile(namedProfileRef(TENANT, agentId, 'main'));
    await send(new UpdateCommand({ TableName, Key, UpdateExpression: 'SET runner_origin = :o', ExpressionAttributeValues: { ':o': new URL(other.url).origin } }));
    vault.logs.length = 0;

    // Act
    const res = await runSync(agentId, token);

    // Assert
    expect(res.status).toBe(500);
    expect(res.json.error.code).toBe('integrity_check_failed');
    expect(callsFor(other, agentId)).toHaveLength(0);
    expect(logLines().some((l) => l.msg === 'item integrity check failed' && l.kind === 'profile' && l.agent_id === agentId)).toBe(true);
  });

  it('refuses a profile whose approval was removed', async () => {
    // Arrange
    const agentId = await newAgent();
    const token = await newProfile(agentId);
    const { send, TableName } = table();
    const Key = keys.profile(namedProfileRef(TENANT, agentId, 'main'));
    await send(new UpdateCommand({ TableName, Key, UpdateExpression: 'REMOVE runner_origin, runner_approval' }));

    // Act
    const res = await runSync(agentId, token);

    // Assert
    expect(res.status).toBe(500);
    expect(res.json.error.code).toBe('integrity_check_failed');
    expect(callsFor(legit, agentId)).toHaveLength(0);
  });
});

describe('profile item integrity (finding 3: a table writer redirects what a profile sends where)', () => {
  let upstream: EchoUpstream;
  let adversaryUpstream: EchoUpstream;
  let tokens: MockTokenServer;
  let adversaryTokens: MockTokenServer;

  beforeAll(async () => {
    [upstream, adversaryUpstream, tokens, adversaryTokens] = await Promise.all([startEchoUpstream(), startEchoUpstream(), startTokenServer(), startTokenServer()]);
  });
  afterAll(async () => {
    await Promise.all([upstream?.close(), adversaryUpstream?.close(), tokens?.close(), adversaryTokens?.close()]);
  });

  const CLIENT_SECRET = 'cs-integrity-canary';
  const profileKey = (agentId: string, name = 'svc') => keys.profile(namedProfileRef(TENANT, agentId, name));
  const tamperProfile = (agentId: string, attr: string, value: unknown) => setRawAttribute(vault.deps.db, profileKey(agentId), attr, value);
  const proxy = (agentId: string, token: string, url = `${upstream.url}/echo`, apiKey?: string) =>
    vault.call('POST', '/v1/proxy', { agent_id: agentId, auth_token: token, method: 'GET', url }, apiKey ? { apiKey } : {});

  /** An agent with an oauth2_client_credentials profile "svc" (token endpoint: the legitimate loopback one) allowed to reach the echo upstream. */
  async function oauthProfile(extra: Record<string, unknown> = {}) {
    const agentId = await newAgent();
    const res = await vault.call('POST', `/v1/agents/${agentId}/auth-profiles`, {
      name: 'svc',
      auth_type: 'oauth2_client_credentials',
      auth_config: { token_url: tokens.url },
      auth_data: { client_id: 'client-1', client_secret: CLIENT_SECRET },
      allowed_hosts: [`127.0.0.1:${upstream.port}`],
      ...extra,
    });
    expect(res.status, res.text).toBe(201);
    return { agentId, token: res.json.auth_token as string };
  }

  /** An agent with a bearer profile "svc" allowed to reach the echo upstream. */
  async function bearerProfile(extra: Record<string, unknown> = {}) {
    const agentId = await newAgent();
    const res = await vault.call('POST', `/v1/agents/${agentId}/auth-profiles`, {
      name: 'svc',
      auth_type: 'bearer',
      auth_data: { token: 'bearer-integrity-canary' },
      allowed_hosts: [`127.0.0.1:${upstream.port}`],
      ...extra,
    });
    expect(res.status, res.text).toBe(201);
    return { agentId, token: res.json.auth_token as string };
  }

  function expectRefused(res: { status: number; text: string; json: any }, agentId: string) {
    expect(res.status, res.text).toBe(500);
    expect(res.json.error.code).toBe('integrity_check_failed');
    expect(res.text).not.toMatch(/mac|hmac|canary|token_url|127\.0\.0\.1/i);
    const line = logLines().find((l) => l.msg === 'item integrity check failed' && l.agent_id === agentId);
    expect(line).toBeDefined();
    const { level, time: _t, msg: _m, ...fields } = line as Record<string, unknown>;
    expect(level).toBe('error');
    expect(Object.keys(fields).sort()).toEqual(['agent_id', 'kind', 'slot', 'tenant']);
  }

  it('never sends the client secret to a token_url a table writer set: 500, and the loopback token servers receive nothing', async () => {
    // Arrange: a working profile (one legitimate token fetch), then the adversary's token endpoint.
    const { agentId, token } = await oauthProfile();
    expect((await proxy(agentId, token)).status).toBe(200);
    await setRawAttribute(vault.deps.db, keys.oauthToken(namedProfileRef(TENANT, agentId, 'svc')), 'refresh_at', 0);
    await tamperProfile(agentId, 'auth_config.token_url', adversaryTokens.url);
    tokens.seen.length = 0;
    adversaryTokens.seen.length = 0;
    const upstreamBefore = upstream.seen.length;
    vault.logs.length = 0;

    // Act
    const res = await proxy(agentId, token);
    const tested = await vault.call('POST', `/v1/agents/${agentId}/auth-profiles/svc/test`, { auth_token: token });

    // Assert
    expectRefused(res, agentId);
    expect(tested.status).toBe(500);
    expect(adversaryTokens.seen).toHaveLength(0);
    expect(tokens.seen).toHaveLength(0);
    expect(upstream.seen.length).toBe(upstreamBefore);
  });

  it.each([
    ['allowed_hosts widened to the adversary', (agentId: string) => tamperProfile(agentId, 'allowed_hosts', [`127.0.0.1:${adversaryUpstream.port}`]), 'adversary'],
    ['allowed_path_prefixes removed', (agentId: string) => tamperProfile(agentId, 'allowed_path_prefixes', undefined), 'legit'],
    ['allowed_methods widened', (agentId: string) => tamperProfile(agentId, 'allowed_methods', ['GET', 'DELETE']), 'legit'],
    ['auth_type changed', (agentId: string) => tamperProfile(agentId, 'auth_type', 'custom'), 'legit'],
  ])('refuses a profile whose %s: 500, nothing proxied', async (_what, tamper, target) => {
    const { agentId, token } = await bearerProfile({ allowed_path_prefixes: ['/echo'], allowed_methods: ['GET'] });
    await tamper(agentId);
    const before = [upstream.seen.length, adversaryUpstream.seen.length];
    vault.logs.length = 0;

    const res = await proxy(agentId, token, target === 'adversary' ? `${adversaryUpstream.url}/echo` : `${upstream.url}/echo`);

    expectRefused(res, agentId);
    expect([upstream.seen.length, adversaryUpstream.seen.length]).toEqual(before);
  });

  it('refuses a private profile a table writer shared with every member (visibility, grants) or gave to a member (owner)', async () => {
    const member = await mintApiKey(vault.deps, TENANT, { name: 'member', role: 'member' });
    const memberKeyId = hashApiKey(member).slice(0, 16);
    for (const tamper of [
      async (agentId: string) => {
        await tamperProfile(agentId, 'visibility', 'shared');
        await tamperProfile(agentId, 'grants', [{ principal: 'role:member', permission: 'read_write' }]);
      },
      (agentId: string) => tamperProfile(agentId, 'owner', memberKeyId),
    ]) {
      const { agentId, token } = await bearerProfile();
      expect((await proxy(agentId, token, undefined, member)).status).toBe(404); // private: invisible to the member
      await tamper(agentId);
      const before = upstream.seen.length;
      vault.logs.length = 0;

      const res = await proxy(agentId, token, undefined, member);
      const listed = await vault.call('GET', `/v1/agents/${agentId}/auth-profiles`, undefined, { apiKey: member });

      expectRefused(res, agentId);
      expect(upstream.seen.length).toBe(before);
      // A listing leaves the tampered profile out (and logs it).
      expect(listed.status).toBe(200);
      expect(JSON.stringify(listed.json)).not.toContain('"svc"');
    }
  });

  it('refuses a profile a table writer re-activated, un-expired or opened to any source IP', async () => {
    const cases: [string, Record<string, unknown>, (agentId: string) => Promise<void>][] = [
      ['active', {}, (agentId) => tamperProfile(agentId, 'active', true)],
      ['token_expires_at', { expires_in_hours: 1 }, (agentId) => tamperProfile(agentId, 'token_expires_at', '2999-01-01T00:00:00.000Z')],
      ['allowed_source_ips', {}, (agentId) => tamperProfile(agentId, 'allowed_source_ips', [])],
    ];
    for (const [what, extra, tamper] of cases) {
      const { agentId, token } = await bearerProfile(extra);
      if (what !== 'token_expires_at') {
        // Set legitimately first (PATCH): the use is refused, as it should be.
        const settings = what === 'active' ? { active: false } : { allowed_source_ips: ['203.0.113.7'] };
        const patched = await vault.call('PATCH', `/v1/agents/${agentId}/auth-profiles/svc`, settings);
        expect(patched.status, patched.text).toBe(200);
        expect((await proxy(agentId, token)).status, what).toBe(403);
      }
      await tamper(agentId);
      const before = upstream.seen.length;
      vault.logs.length = 0;

      const res = await proxy(agentId, token);

      expectRefused(res, agentId);
      expect(upstream.seen.length, what).toBe(before);
    }
  });

  it('refuses a profile whose approved runner (origin, delivery) a table writer changed: nothing reaches any runner', async () => {
    for (const [attr, value] of [
      ['runner_origin', new URL(other.url).origin],
      ['runner_delivery', 'proxy'],
    ] as const) {
      const agentId = await newAgent();
      const token = await newProfile(agentId);
      await setRawAttribute(vault.deps.db, keys.profile(namedProfileRef(TENANT, agentId, 'main')), attr, value);
      vault.logs.length = 0;

      const res = await runSync(agentId, token);

      expectRefused(res, agentId);
      expect(callsFor(legit, agentId)).toHaveLength(0);
      expect(callsFor(other, agentId)).toHaveLength(0);
    }
  });

  it('accepts edited counters and observations (outside the MAC): use_count, day counters, last_used_at, last test, last error', async () => {
    const { agentId, token } = await bearerProfile();
    expect((await proxy(agentId, token)).status).toBe(200);
    const day = new Date().toISOString().slice(0, 10).replaceAll('-', '');
    for (const [attr, value] of [
      ['use_count', 9_999],
      [`uses_${day}_proxy`, 4_242],
      ['last_used_at', '2020-01-01T00:00:00.000Z'],
      ['last_tested_at', '2020-01-01T00:00:00.000Z'],
      ['last_test_ok', false],
      ['last_error', 'edited'],
      ['in_flight_until', '2020-01-01T00:00:00.000Z'],
    ] as const) {
      await tamperProfile(agentId, attr, value);
    }

    const res = await proxy(agentId, token);
    const read = await vault.call('GET', `/v1/agents/${agentId}/auth-profiles/svc`);

    expect(res.status, res.text).toBe(200);
    expect(read.status, read.text).toBe(200);
    expect(logLines().some((l) => l.msg === 'item integrity check failed')).toBe(false);
  });

  it('keeps a profile verifiable through every partial write: PATCH, share, unshare, in-place update', async () => {
    const { agentId, token } = await bearerProfile();
    const member = await mintApiKey(vault.deps, TENANT, { name: 'member', role: 'member' });
    expect((await vault.call('PATCH', `/v1/agents/${agentId}/auth-profiles/svc`, { description: 'patched', allowed_methods: ['GET', 'POST'] })).status).toBe(200);
    expect((await vault.call('POST', `/v1/agents/${agentId}/auth-profiles/svc/share`, { principal: 'role:member', permission: 'read' })).status).toBe(200);
    expect((await proxy(agentId, token, undefined, member)).status).toBe(200);
    expect((await vault.call('DELETE', `/v1/agents/${agentId}/auth-profiles/svc/share/role:member`)).status).toBeLessThan(300);
    const updated = await vault.call('POST', '/api/upsert_agent_auth_profile', { agent_id: agentId, auth_token: token, auth_data: { token: 'bearer-2' } });
    expect(updated.status, updated.text).toBe(200);

    const res = await proxy(agentId, token);

    expect(res.status, res.text).toBe(200);
    expect(upstream.seen.at(-1)?.headers.authorization).toBe('Bearer bearer-2');
    expect(logLines().some((l) => l.msg === 'item integrity check failed')).toBe(false);
  });
});

describe('run and grant item integrity', () => {
  it('refuses a run whose tenant or starting key a table writer swapped: 500 to every reader, logged', async () => {
    const agentId = await newAgent();
    const token = await newProfile(agentId);
    const ran = await runSync(agentId, token);
    expect(ran.status, ran.text).toBe(200);
    const sessionId = ran.json.session_id as string;
    expect((await vault.call('GET', `/v1/runs/${sessionId}`)).status).toBe(200);
    const globex = await mintApiKey(vault.deps, 'globex');

    for (const [attr, value] of [
      ['tenant', 'globex'],
      ['started_by', 'feedfacefeedface'],
      ['status', 'queued'],
    ] as const) {
      const before = await vault.deps.db.doc.send(new GetCommand({ TableName: vault.deps.db.tableName, Key: keys.run(sessionId) }));
      await setRawAttribute(vault.deps.db, keys.run(sessionId), attr, value);
      vault.logs.length = 0;

      const own = await vault.call('GET', `/v1/runs/${sessionId}`);
      const adversary = await vault.call('GET', `/v1/runs/${sessionId}`, undefined, { apiKey: globex });

      expect(own.status, attr).toBe(500);
      expect(own.json.error.code).toBe('integrity_check_failed');
      expect(adversary.status, attr).toBe(500);
      expect(JSON.stringify(adversary.json)).not.toContain(ran.json.agent_output);
      expect(logLines().find((l) => l.msg === 'item integrity check failed')).toMatchObject({ level: 'error', kind: 'run', session_id: sessionId });
      // Put the run back as it was (its MAC still verifies: nothing covered changed).
      await vault.deps.db.doc.send(new PutCommand({ TableName: vault.deps.db.tableName, Item: before.Item }));
      expect((await vault.call('GET', `/v1/runs/${sessionId}`)).status).toBe(200);
    }
  });

  it('refuses a run grant a table writer extended or moved, on dynalite', async () => {
    const idHex = randomBytes(16).toString('hex');
    const grant = {
      id_hex: idHex,
      tenant: TENANT,
      agent_id: 'agent-x',
      slot: 'aa'.repeat(16),
      generation: 1,
      profile_created_at: '2026-01-01T00:00:00.000Z',
      session_id: '00000000-0000-4000-8000-000000000000',
      deadline_ms: Date.now() + 60_000,
      server_key_id: vault.deps.serverKeys.current.idHex,
      sealed: new Uint8Array(48),
      expires_at: Math.ceil(Date.now() / 1000) + 60,
    };
    expect(await vault.deps.store.grants.create(grant)).toBe(true);
    expect(await vault.deps.store.grants.get(idHex)).toMatchObject({ tenant: TENANT, agent_id: 'agent-x' });

    for (const [attr, value] of [
      ['deadline_ms', Date.now() + 86_400_000],
      ['tenant', 'globex'],
    ] as const) {
      await setRawAttribute(vault.deps.db, keys.grant(idHex), attr, value);
      vault.logs.length = 0;
      await expect(vault.deps.store.grants.get(idHex)).rejects.toBeInstanceOf(IntegrityError);
      expect(logLines().find((l) => l.msg === 'item integrity check failed')).toMatchObject({ level: 'error', kind: 'grant', grant_id_prefix: idHex.slice(0, 8) });
    }
  });
});

describe('items written before the signed store (admin sign-items)', () => {
  it('refuses them with a message naming the command, until the operator signs them; a tampered MAC is never signed', async () => {
    // Arrange: an agent and a profile as an older vault wrote them (no MAC), and a run with a wrong MAC.
    const agentId = await newAgent();
    const token = await newProfile(agentId);
    const profileKey = keys.profile(namedProfileRef(TENANT, agentId, 'main'));
    for (const k of [keys.agent(TENANT, agentId), profileKey]) {
      for (const attr of ['mac', 'mac_key_id', 'mac_format']) await setRawAttribute(vault.deps.db, k, attr, undefined);
    }
    const ran = await runSync(agentId, token);
    expect(ran.status, ran.text).toBe(500);
    expect(ran.json.error.code).toBe('integrity_check_failed');
    expect(ran.json.error.message).toContain('npm run admin -- sign-items');
    const other = await newAgent();
    const otherToken = await newProfile(other);
    const done = await runSync(other, otherToken);
    await setRawAttribute(vault.deps.db, keys.run(done.json.session_id), 'tenant', 'globex');

    // Act
    const outcome = await signUnsignedItems(vault.deps.db, signerOf(vault.deps));

    // Assert
    expect(outcome.signed).toBeGreaterThanOrEqual(2);
    expect(outcome.refused).toContainEqual({ ...keys.run(done.json.session_id), kind: 'run' });
    const again = await runSync(agentId, token);
    expect(again.status, again.text).toBe(200);
    expect((await vault.call('GET', `/v1/runs/${done.json.session_id}`)).status).toBe(500);
    // Signing twice changes nothing.
    const second = await signUnsignedItems(vault.deps.db, signerOf(vault.deps));
    expect(second.signed).toBe(0);
  });

  it('keeps verifying the MACs agents and API keys carried before (v1), and re-signs them on request', async () => {
    const hash = hashApiKey(`avk_${randomBytes(32).toString('base64url')}`);
    const agent = legacyAgentItem(vault.deps.serverKeys, {
      tenant: TENANT,
      agent_id: `legacy-${randomBytes(4).toString('hex')}`,
      name: 'legacy',
      input_args: [],
      runner: { type: 'webhook', url: legit.url },
      signing_secret: new Uint8Array(60),
      incarnation: 'abcdabcdabcdabcd',
      version: 1,
      created_at: '2026-01-01T00:00:00.000Z',
      updated_at: '2026-01-01T00:00:00.000Z',
    });
    const { send, TableName } = table();
    await send(new PutCommand({ TableName, Item: agent }));
    await send(new PutCommand({ TableName, Item: legacyApiKeyItem(vault.deps.serverKeys, hash, { tenant: TENANT, created_at: '2026-01-01T00:00:00.000Z', role: 'member', key_id: hash.slice(0, 16), name: 'old' }) }));

    expect((await vault.call('GET', `/v1/agents/${agent.agent_id}`)).status).toBe(200);
    expect(await vault.deps.store.apiKeys.get(hash)).toMatchObject({ tenant: TENANT, role: 'member' });
    const outcome = await signUnsignedItems(vault.deps.db, signerOf(vault.deps));
    expect(outcome.resigned).toBeGreaterThanOrEqual(2);
    expect((await send(new GetCommand({ TableName, Key: keys.agent(TENANT, agent.agent_id) }))).Item?.mac_format).toBe(2);
    expect((await vault.call('GET', `/v1/agents/${agent.agent_id}`)).status).toBe(200);
    expect(await vault.deps.store.apiKeys.get(hash)).toMatchObject({ tenant: TENANT, role: 'member' });
  });
});
