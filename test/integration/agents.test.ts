import { randomBytes } from 'node:crypto';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { SESSION_FIELD } from '#shared/credentials/profile-keys';
import { parseToken } from '#shared/crypto/token';
import { ConflictError, ProfileNotFoundError, ValidationError } from '#shared/errors';
import { keys } from '#shared/keys';
import { agentRepository } from '#shared/repositories/agents';
import { sessionRepository } from '#shared/repositories/sessions';
import type { CreateAgentBody } from '#shared/schemas/agents';
import { openSigningSecret } from '#shared/services/agents';

import { openProfile } from '#test/support/credentials';
import { useTestStore, signerOf } from '#test/support/dynamo';
import {
  createAgent,
  createProfile,
  deleteAgent,
  getAgent,
  listAgents,
  listProfiles,
  rotateSigningSecret,
  updateAgent,
} from '#test/support/services';
import { profileRef } from '#shared/store/profile-ref';

const TENANT = 'acme';

const t = useTestStore();

const body = (agentId?: string, args: readonly string[] = ['username', 'password']): CreateAgentBody => ({
  ...(agentId ? { agent_id: agentId } : {}),
  name: 'CRM bot',
  description: 'logs into the CRM',
  input_args: args.map((name) => ({ name, required: name === 'password', secret: true })),
  runner: { type: 'webhook', url: 'http://127.0.0.1:9/run' },
});

const freshId = () => `bot-${randomBytes(4).toString('hex')}`;

/** Every item left in the agent's partition (profiles, sessions and name claims: docs/architecture.md, "Renaming a profile"). */
async function partitionItems(agentId: string, tenant = TENANT) {
  const out = await t.store.db.doc.send(
    new QueryCommand({
      TableName: t.store.db.tableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': keys.agentPartition(tenant, agentId) },
    }),
  );
  return out.Items ?? [];
}

/** Creates `n` profiles, each with a saved session beside it; returns their tokens. */
async function profilesWithSessions(agentId: string, n: number) {
  const tokens: string[] = [];
  for (let i = 0; i < n; i++) {
    const { auth_token } = await createProfile(t.deps, TENANT, { name: `p${i}`, agent_id: agentId, auth_data: { password: `pw-${i}` } });
    const opened = await openProfile(t.deps, TENANT, agentId, auth_token);
    await sessionRepository(t.store.db, signerOf(t.deps)).save(
      profileRef(TENANT, agentId, parseToken(auth_token).slot.toString('hex')),
      {
        generation: 1,
        version: 1,
        blob: opened.keys.seal(SESSION_FIELD, 1, Buffer.from('{"cookie":"c"}')),
        updated_at: new Date().toISOString(),
      },
      undefined,
    );
    tokens.push(auth_token);
  }
  return tokens;
}

describe('createAgent', () => {
  it('stores the agent and returns its signing secret once', async () => {
    const id = freshId();

    const created = await createAgent(t.deps, TENANT, body(id));

    expect(created.runner_signing_secret).toMatch(/^avs_[A-Za-z0-9_-]{43}$/);
    const fetched = await getAgent(t.deps, TENANT, id);
    expect(fetched).toMatchObject({
      agent_id: id,
      name: 'CRM bot',
      input_args: [{ name: 'username' }, { name: 'password', required: true }],
    });
    expect(fetched).not.toHaveProperty('runner_signing_secret');
    const item = await agentRepository(t.store.db, signerOf(t.deps)).get(TENANT, id);
    expect(Buffer.from(item?.signing_secret ?? []).includes(Buffer.from(created.runner_signing_secret))).toBe(false);
    expect(openSigningSecret(t.deps, item!)).toBe(created.runner_signing_secret);
  });

  it('generates an agent id when none is given', async () => {
    const created = await createAgent(t.deps, TENANT, body());

    expect(created.agent_id).toMatch(/^agt_/);
    await expect(getAgent(t.deps, TENANT, created.agent_id)).resolves.toMatchObject({ agent_id: created.agent_id });
  });

  it('answers 409 agent_exists for a taken id and keeps the first agent', async () => {
    const id = freshId();
    const first = await createAgent(t.deps, TENANT, body(id));

    await expect(createAgent(t.deps, TENANT, { ...body(id), name: 'Impostor' })).rejects.toMatchObject({
      status: 409,
      code: 'agent_exists',
    });

    expect((await getAgent(t.deps, TENANT, id)).name).toBe(first.name);
  });

  it('keeps agents of different tenants apart', async () => {
    const id = freshId();
    await createAgent(t.deps, TENANT, body(id));

    await expect(getAgent(t.deps, 'globex', id)).rejects.toMatchObject({ status: 404, code: 'agent_not_found' });
  });
});

describe('updateAgent', () => {
  it('replaces the definition and keeps the signing secret', async () => {
    const id = freshId();
    const created = await createAgent(t.deps, TENANT, body(id));

    const updated = await updateAgent(t.deps, TENANT, id, { ...body(undefined, ['token']), name: 'Renamed' });

    expect(updated).toMatchObject({ name: 'Renamed', input_args: [{ name: 'token' }] });
    expect(openSigningSecret(t.deps, (await agentRepository(t.store.db, signerOf(t.deps)).get(TENANT, id))!)).toBe(
      created.runner_signing_secret,
    );
  });

  it('lets each of 10 parallel updates succeed or get 409, never a lost write', async () => {
    const id = freshId();
    await createAgent(t.deps, TENANT, body(id));

    const outcomes = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => updateAgent(t.deps, TENANT, id, { ...body(), name: `name-${i}` })),
    );

    const ok = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value.name] : []));
    for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(ConflictError);
    const stored = await agentRepository(t.store.db, signerOf(t.deps)).get(TENANT, id);
    expect(stored?.version).toBe(1 + ok.length);
    expect(ok).toContain(stored?.name);
  });

  it('answers 404 for an unknown agent', async () => {
    await expect(updateAgent(t.deps, TENANT, freshId(), body())).rejects.toMatchObject({ status: 404, code: 'agent_not_found' });
  });
});

describe('rotateSigningSecret', () => {
  it('issues a new secret that replaces the old one', async () => {
    const id = freshId();
    const created = await createAgent(t.deps, TENANT, body(id));

    const rotated = await rotateSigningSecret(t.deps, TENANT, id);

    expect(rotated.runner_signing_secret).not.toBe(created.runner_signing_secret);
    expect(openSigningSecret(t.deps, (await agentRepository(t.store.db, signerOf(t.deps)).get(TENANT, id))!)).toBe(
      rotated.runner_signing_secret,
    );
  });
});

describe('listAgents', () => {
  it('pages through the tenant’s agents with a cursor', async () => {
    const tenant = `t${randomBytes(3).toString('hex')}`;
    const ids = Array.from({ length: 5 }, (_, i) => `agent-${i}`);
    for (const id of ids) await createAgent(t.deps, tenant, body(id));

    const first = await listAgents(t.deps, tenant, 2);
    const second = await listAgents(t.deps, tenant, 2, first.next_cursor);
    const third = await listAgents(t.deps, tenant, 2, second.next_cursor);

    expect([first, second, third].map((p) => p.agents.length)).toEqual([2, 2, 1]);
    expect([...first.agents, ...second.agents, ...third.agents].map((a) => a.agent_id).sort()).toEqual(ids);
    expect(third.next_cursor).toBeUndefined();
  });

  it('answers 400 for a cursor of another tenant', async () => {
    const [a, b] = [`t${randomBytes(3).toString('hex')}`, `t${randomBytes(3).toString('hex')}`];
    for (const id of ['x1', 'x2']) await createAgent(t.deps, a, body(id));
    const { next_cursor } = await listAgents(t.deps, a, 1);

    await expect(listAgents(t.deps, b, 1, next_cursor)).rejects.toBeInstanceOf(ValidationError);
  });
});

describe('deleteAgent', () => {
  it('deletes an agent without profiles', async () => {
    const id = freshId();
    await createAgent(t.deps, TENANT, body(id));

    await deleteAgent(t.deps, TENANT, id, false);

    await expect(getAgent(t.deps, TENANT, id)).rejects.toMatchObject({ status: 404 });
  });

  it('refuses with 409 agent_has_profiles while profiles exist, and deletes nothing', async () => {
    const id = freshId();
    await createAgent(t.deps, TENANT, body(id));
    const [token] = await profilesWithSessions(id, 2);

    const err = await deleteAgent(t.deps, TENANT, id, false).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(ConflictError);
    expect(err).toMatchObject({ status: 409, code: 'agent_has_profiles' });
    await expect(getAgent(t.deps, TENANT, id)).resolves.toMatchObject({ agent_id: id });
    expect(await partitionItems(id)).toHaveLength(6); // 2 profiles, their sessions and name claims
    await expect(openProfile(t.deps, TENANT, id, token as string)).resolves.toBeDefined();
  });

  it('with force deletes every profile and saved session, then the agent', async () => {
    const id = freshId();
    await createAgent(t.deps, TENANT, body(id));
    await profilesWithSessions(id, 3);

    await deleteAgent(t.deps, TENANT, id, true);

    expect(await partitionItems(id)).toEqual([]);
    await expect(getAgent(t.deps, TENANT, id)).rejects.toMatchObject({ status: 404, code: 'agent_not_found' });
  });

  it('with force deletes more items than one batch holds', async () => {
    const id = freshId();
    await createAgent(t.deps, TENANT, body(id));
    await profilesWithSessions(id, 14); // 28 items: more than one 25-item batch

    await deleteAgent(t.deps, TENANT, id, true);

    expect(await partitionItems(id)).toEqual([]);
  });

  it('leaves other agents’ profiles alone', async () => {
    const [doomed, kept] = [freshId(), freshId()];
    await createAgent(t.deps, TENANT, body(doomed));
    await createAgent(t.deps, TENANT, body(kept));
    await profilesWithSessions(doomed, 1);
    const [keptToken] = await profilesWithSessions(kept, 1);

    await deleteAgent(t.deps, TENANT, doomed, true);

    expect(await partitionItems(kept)).toHaveLength(3); // the profile, its session and its name claim
    await expect(openProfile(t.deps, TENANT, kept, keptToken as string)).resolves.toBeDefined();
  });

  it('leaves no old token working on an agent re-created under the same id', async () => {
    const id = freshId();
    await createAgent(t.deps, TENANT, body(id));
    const [oldToken] = await profilesWithSessions(id, 1);
    await deleteAgent(t.deps, TENANT, id, true);
    await createAgent(t.deps, TENANT, body(id));

    await expect(openProfile(t.deps, TENANT, id, oldToken as string)).rejects.toBeInstanceOf(ProfileNotFoundError);
    await expect(listProfiles(t.deps, TENANT, id, 50)).resolves.toMatchObject({ profiles: [] });
  });

  it('refuses a profile orphaned by a create racing a forced delete, once the agent is registered again', async () => {
    // Arrange: the race leaves a profile whose agent item is gone (only the agent item is deleted).
    const id = freshId();
    await createAgent(t.deps, TENANT, body(id));
    const { auth_token } = await createProfile(t.deps, TENANT, { name: 'orphan', agent_id: id, auth_data: { password: 'pw-orphan' } });
    await agentRepository(t.store.db, signerOf(t.deps)).delete(TENANT, id);
    await createAgent(t.deps, TENANT, body(id));

    // Act / Assert: the orphan survives in the table but its token opens nothing.
    expect(await partitionItems(id)).toHaveLength(2); // the profile and its name claim
    await expect(openProfile(t.deps, TENANT, id, auth_token)).rejects.toBeInstanceOf(ProfileNotFoundError);
  });

  it('answers 404 for an unknown agent', async () => {
    await expect(deleteAgent(t.deps, TENANT, freshId(), true)).rejects.toMatchObject({ status: 404, code: 'agent_not_found' });
  });
});
