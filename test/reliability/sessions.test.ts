import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { namedProfileRef, slotFor } from '#shared/credentials/profile-keys';
import { loadProfileContext } from '#shared/repositories/profile-context';
import { sessionRepository } from '#shared/repositories/sessions';
import { CreateAgentBody } from '#shared/schemas/agents';
import { RunAgentBody } from '#shared/schemas/runs';


import { startRun } from '#shared/services/runs';
import { testCaller } from '#test/support/credentials';
import { useTestStore, signerOf } from '#test/support/dynamo';
import { type RunnerBehaviour, startTestRunner } from '#test/support/runner';
import { createAgent, deleteAgent, deleteProfile, upsertProfile } from '#test/support/services';
import { profileRef } from '#shared/store/profile-ref';

const TENANT = 'acme';
const t = useTestStore();
let runner: Awaited<ReturnType<typeof startTestRunner>>;
const behaviours = new Map<string, RunnerBehaviour>();

beforeAll(async () => {
  runner = await startTestRunner((call) => (behaviours.get(call.body?.agent_id) ?? (() => ({ body: { output: 'ok', session: { n: 1 } } })))(call));
});
afterAll(async () => {
  await runner?.close();
});

/** A runner answer held until `release()`; `entered` resolves once the runner has the call. */
function gate() {
  let release!: () => void;
  let entered!: () => void;
  const released = new Promise<void>((r) => {
    release = r;
  });
  const arrived = new Promise<void>((r) => {
    entered = r;
  });
  const behaviour: RunnerBehaviour = async () => {
    entered();
    await released;
    return { body: { output: 'late', session: { from: 'late run' } } };
  };
  return { behaviour, release, arrived };
}

async function newAgent() {
  const agentId = `agent-${randomBytes(6).toString('hex')}`;
  await createAgent(
    t.deps,
    TENANT,
    CreateAgentBody.parse({ agent_id: agentId, name: 'Sessions', input_args: [{ name: 'password', required: true }], runner: { type: 'webhook', url: runner.url } }),
  );
  return agentId;
}

const upsert = (agentId: string, name = 'main') =>
  upsertProfile(t.deps, TENANT, { agent_id: agentId, name, auth_data: { password: 'pw-of-sessions-test' }, should_save_session: true });

const run = (agentId: string, token: string) =>
  startRun(t.deps, testCaller(TENANT), RunAgentBody.parse({ agent_id: agentId, auth_token: token, run_async: false }), 'http://vault.test');

const storedSession = async (agentId: string, name = 'main') =>
  (await loadProfileContext(t.store.db, signerOf(t.deps), namedProfileRef(TENANT, agentId, name), { withSession: true })).session;

describe('saved sessions and their profile', () => {
  it('a replace deletes the previous generation\'s session', async () => {
    const agentId = await newAgent();
    const first = await upsert(agentId);
    await run(agentId, first.auth_token);
    expect(await storedSession(agentId)).toBeDefined();

    const replaced = await upsert(agentId);

    expect(replaced.type).toBe('replace');
    expect(await storedSession(agentId)).toBeUndefined();
  });

  it('a run that finishes after its profile was deleted does not recreate the session', async () => {
    const agentId = await newAgent();
    const { auth_token } = await upsert(agentId);
    const g = gate();
    behaviours.set(agentId, g.behaviour);
    const running = run(agentId, auth_token);
    await g.arrived;

    await deleteProfile(t.deps, TENANT, agentId, 'main');
    g.release();
    const result = await running;

    expect(result.error_message).toMatch(/deleted or replaced while the run ran/);
    expect(await storedSession(agentId)).toBeUndefined();
  });

  it('a run that finishes after its profile was replaced leaves no session of the old generation', async () => {
    const agentId = await newAgent();
    const { auth_token } = await upsert(agentId);
    const g = gate();
    behaviours.set(agentId, g.behaviour);
    const running = run(agentId, auth_token);
    await g.arrived;

    await upsert(agentId);
    g.release();
    const result = await running;

    expect(result.error_message).toMatch(/deleted or replaced while the run ran/);
    expect(await storedSession(agentId)).toBeUndefined();
  });

  it('a late run of a replaced profile never overwrites the new generation\'s session', async () => {
    const agentId = await newAgent();
    const old = await upsert(agentId);
    const g = gate();
    behaviours.set(agentId, g.behaviour);
    const late = run(agentId, old.auth_token);
    await g.arrived;
    const current = await upsert(agentId);
    behaviours.delete(agentId);
    await run(agentId, current.auth_token);
    const saved = await storedSession(agentId);
    expect(saved?.generation).toBe(2);

    g.release();
    await late;

    expect(await storedSession(agentId)).toEqual(saved);
  });

  it('a profile deleted and created again does not open or keep the old session', async () => {
    const agentId = await newAgent();
    const first = await upsert(agentId);
    await run(agentId, first.auth_token);
    await deleteProfile(t.deps, TENANT, agentId, 'main');

    await upsert(agentId);

    expect(await storedSession(agentId)).toBeUndefined();
  });
});

describe('deleteAgent and sessions', () => {
  it('removes and counts a session left without its profile, also without force', async () => {
    const agentId = await newAgent();
    const slot = slotFor(TENANT, agentId, 'gone').toString('hex');
    await sessionRepository(t.store.db, signerOf(t.deps)).save(profileRef(TENANT, agentId, slot), { generation: 1, version: 1, blob: Buffer.from('x'), updated_at: 'now' }, undefined);
    t.deps.logs.length = 0;

    await deleteAgent(t.deps, TENANT, agentId, false);

    expect(await storedSession(agentId, 'gone')).toBeUndefined();
    expect(t.deps.logs.join('\n')).toMatch(/"sessions_deleted":1/);
  });

  it('force-deletes profiles and sessions and counts both', async () => {
    const agentId = await newAgent();
    const { auth_token } = await upsert(agentId);
    await run(agentId, auth_token);
    await upsert(agentId, 'second');
    t.deps.logs.length = 0;

    await deleteAgent(t.deps, TENANT, agentId, true);

    expect(await storedSession(agentId)).toBeUndefined();
    const line = t.deps.logs.join('\n');
    expect(line).toMatch(/"profiles_deleted":2/);
    expect(line).toMatch(/"sessions_deleted":1/);
  });
});
