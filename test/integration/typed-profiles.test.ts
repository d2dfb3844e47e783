import { randomBytes } from 'node:crypto';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { namedProfileRef, slotFor } from '#shared/credentials/profile-keys';
import { ValidationError } from '#shared/errors';
import { keys } from '#shared/keys';
import { profileRepository } from '#shared/repositories/profiles';

import { toMetadata } from '#shared/services/profiles';
import { decryptAuthData, openProfile } from '#test/support/credentials';
import { useTestStore, signerOf } from '#test/support/dynamo';
import { createAgent, createProfileRecord, getProfileMetadata, upsertProfile, upsertProfileRecord } from '#test/support/services';
import { profileRef } from '#shared/store/profile-ref';

const TENANT = 'acme';
const t = useTestStore();

let seq = 0;
async function newAgent(args: readonly string[] = ['username', 'password']) {
  const agentId = `typed-${++seq}-${randomBytes(3).toString('hex')}`;
  await createAgent(t.deps, TENANT, {
    agent_id: agentId,
    name: agentId,
    input_args: args.map((name) => ({ name, required: false, secret: true })),
    runner: { type: 'webhook', url: 'http://127.0.0.1:9/run' },
  });
  return agentId;
}

async function rejectionOf(p: Promise<unknown>): Promise<Error> {
  const outcome = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(outcome instanceof Error)) throw new Error('expected the call to fail, it succeeded');
  return outcome;
}

const storedItem = (agentId: string, name: string) => profileRepository(t.store.db, signerOf(t.deps)).get(namedProfileRef(TENANT, agentId, name));
const valuesOf = async (agentId: string, token: string) => decryptAuthData(await openProfile(t.deps, TENANT, agentId, token));

describe('typed profiles on create', () => {
  it('stores a bearer profile: type and policy in clear, the token sealed, keys not checked against input args', async () => {
    const agent = await newAgent();
    const { auth_token, record } = await createProfileRecord(t.deps, TENANT, {
      name: 'gh',
      agent_id: agent,
      auth_type: 'bearer',
      auth_data: { token: 'canary-bearer-create' },
      allowed_hosts: ['API.GitHub.com', '127.0.0.1:8080'],
      allowed_methods: ['GET'],
    });

    const item = await storedItem(agent, 'gh');
    expect(item).toMatchObject({ auth_type: 'bearer', allowed_hosts: ['api.github.com', '127.0.0.1:8080'], allowed_methods: ['GET'] });
    expect(item?.auth_config).toBeUndefined();
    expect(JSON.stringify(item, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : v))).not.toContain('canary-bearer-create');
    expect(await valuesOf(agent, auth_token)).toEqual({ token: 'canary-bearer-create' });
    expect(toMetadata(record, new Date())).toMatchObject({ auth_type: 'bearer', fields: ['token'], allowed_hosts: ['api.github.com', '127.0.0.1:8080'] });
  });

  it('stores an api_key profile\'s method in clear and its values sealed', async () => {
    const agent = await newAgent();
    await createProfileRecord(t.deps, TENANT, {
      name: 'k',
      agent_id: agent,
      auth_type: 'api_key',
      auth_config: { api_key_method: 'query' },
      auth_data: { api_key: 'canary-api-key', app_id: 'canary-app' },
    });

    const meta = await getProfileMetadata(t.deps, TENANT, agent, 'k');
    expect(meta).toMatchObject({ auth_type: 'api_key', auth_config: { api_key_method: 'query' }, fields: ['api_key', 'app_id'] });
    expect(JSON.stringify(meta)).not.toContain('canary-');
  });

  it('stores an oauth2_client_credentials profile with its defaults, the client secret sealed', async () => {
    const agent = await newAgent();
    const { auth_token } = await createProfileRecord(t.deps, TENANT, {
      name: 'o',
      agent_id: agent,
      auth_type: 'oauth2_client_credentials',
      auth_config: { token_url: 'https://auth.example.com/oauth/token', scope: 'read' },
      auth_data: { client_id: 'cid', client_secret: 'canary-client-secret' },
    });

    const meta = await getProfileMetadata(t.deps, TENANT, agent, 'o');
    expect(meta.auth_config).toEqual({ token_url: 'https://auth.example.com/oauth/token', scope: 'read', client_auth: 'basic' });
    expect(JSON.stringify(meta)).not.toContain('canary-');
    expect(await valuesOf(agent, auth_token)).toEqual({ client_id: 'cid', client_secret: 'canary-client-secret' });
  });

  it('answers 400 naming what a typed profile misses, and writes nothing', async () => {
    const agent = await newAgent();
    const err = await rejectionOf(createProfileRecord(t.deps, TENANT, { name: 'b', agent_id: agent, auth_type: 'basic', auth_data: { username: 'u' } }));

    expect(err).toBeInstanceOf(ValidationError);
    expect(err.message).toContain('auth_data.password: is required');
    expect(await storedItem(agent, 'b')).toBeUndefined();
  });

  it('answers 400 for auth_config on a custom profile', async () => {
    const agent = await newAgent();
    const err = await rejectionOf(
      createProfileRecord(t.deps, TENANT, { name: 'c', agent_id: agent, auth_data: { username: 'u' }, auth_config: { api_key_method: 'header' } }),
    );
    expect(err.message).toContain('auth_config is only for typed profiles');
  });

  it('still checks a custom profile\'s keys against the input args', async () => {
    const agent = await newAgent();
    const err = await rejectionOf(createProfileRecord(t.deps, TENANT, { name: 'c', agent_id: agent, auth_type: 'custom', auth_data: { token: 'x' } }));
    expect(err).toMatchObject({ status: 400, code: 'unknown_input_args' });
  });
});

describe('typed profiles on upsert', () => {
  it('updates a bearer token in place (same token) and keeps the policy the body leaves out', async () => {
    const agent = await newAgent();
    const { auth_token } = await upsertProfile(t.deps, TENANT, {
      agent_id: agent,
      name: 'gh',
      auth_type: 'bearer',
      auth_data: { token: 'v1' },
      allowed_hosts: ['api.example.com'],
    });

    const updated = await upsertProfileRecord(t.deps, TENANT, { agent_id: agent, auth_token, auth_data: { token: 'v2' }, allowed_methods: ['GET', 'POST'] });

    expect(updated.type).toBe('update');
    expect(await valuesOf(agent, auth_token)).toEqual({ token: 'v2' });
    expect(await storedItem(agent, 'gh')).toMatchObject({ auth_type: 'bearer', allowed_hosts: ['api.example.com'], allowed_methods: ['GET', 'POST'], record_version: 2 });
  });

  it('refuses to change the type in place, and refuses keys the type does not have', async () => {
    const agent = await newAgent();
    const { auth_token } = await upsertProfile(t.deps, TENANT, { agent_id: agent, name: 'gh', auth_type: 'bearer', auth_data: { token: 'v1' } });

    const typeChange = await rejectionOf(upsertProfile(t.deps, TENANT, { agent_id: agent, auth_token, auth_type: 'basic', auth_data: { username: 'u', password: 'p' } }));
    expect(typeChange.message).toContain('an update in place keeps the type');
    const strayKey = await rejectionOf(upsertProfile(t.deps, TENANT, { agent_id: agent, auth_token, auth_data: { password: 'p' } }));
    expect(strayKey.message).toContain('auth_data');
    expect(await valuesOf(agent, auth_token)).toEqual({ token: 'v1' });
  });

  it('replaces by name: the type defaults to custom again, the policy is carried over', async () => {
    const agent = await newAgent();
    await upsertProfile(t.deps, TENANT, { agent_id: agent, name: 'p', auth_type: 'bearer', auth_data: { token: 'v1' }, allowed_hosts: ['api.example.com'] });

    const replaced = await upsertProfile(t.deps, TENANT, { agent_id: agent, name: 'p', auth_data: { username: 'u' } });

    expect(replaced.type).toBe('replace');
    expect(await storedItem(agent, 'p')).toMatchObject({ auth_type: 'custom', allowed_hosts: ['api.example.com'], generation: 2 });
  });

  it('replaces an api_key profile\'s config and removes a policy list only by a replace without it… (update keeps it)', async () => {
    const agent = await newAgent();
    const { auth_token } = await upsertProfile(t.deps, TENANT, {
      agent_id: agent,
      name: 'k',
      auth_type: 'api_key',
      auth_config: { api_key_method: 'header' },
      auth_data: { 'X-Api-Key': 'a' },
      allowed_path_prefixes: ['/v1'],
    });
    await upsertProfile(t.deps, TENANT, { agent_id: agent, auth_token, auth_config: { api_key_method: 'body' }, auth_data: { 'X-Api-Key': 'b' } });

    const item = await storedItem(agent, 'k');
    expect(item).toMatchObject({ auth_config: { api_key_method: 'body' }, allowed_path_prefixes: ['/v1'] });
  });

  it('reads and updates a profile stored before typed profiles (no auth_type attribute) as custom', async () => {
    const agent = await newAgent();
    const { auth_token } = await upsertProfile(t.deps, TENANT, { agent_id: agent, name: 'old', auth_data: { username: 'u' } });
    const slotHex = slotFor(TENANT, agent, 'old').toString('hex');
    await t.store.db.doc.send(new UpdateCommand({ TableName: t.store.db.tableName, Key: keys.profile(profileRef(TENANT, agent, slotHex)), UpdateExpression: 'REMOVE auth_type' }));

    expect((await getProfileMetadata(t.deps, TENANT, agent, 'old')).auth_type).toBe('custom');
    await upsertProfile(t.deps, TENANT, { agent_id: agent, auth_token, auth_data: { password: 'p' } });
    expect(await valuesOf(agent, auth_token)).toEqual({ username: 'u', password: 'p' });
  });
});
