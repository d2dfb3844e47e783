import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '#shared/context';
import { testCaller } from '#test/support/credentials';
import { parseToken } from '#shared/crypto/token';
import { NotFoundError, TooManyRequestsError } from '#shared/errors';
import type { RunDispatcher, RunJob } from '#shared/runs/dispatch';
import { verifySignature } from '#shared/runs/signature';
import { CreateAgentBody } from '#shared/schemas/agents';
import { RunAgentBody } from '#shared/schemas/runs';


import { executeRunJob, markRunFailed, startRun } from '#shared/services/runs';
import { makeTestDeps, startTestDb, type TestDb, type TestDeps } from '#test/support/dynamo';
import { type ReceivedCall, type RunnerBehaviour, startTestRunner } from '#test/support/runner';
import { createAgent, deleteAgent, getProfileMetadata, getRun, upsertProfile } from '#test/support/services';
import { profileRef } from '#shared/store/profile-ref';

const TENANT = 'acme';
const BASE_URL = 'http://vault.test';

let db: TestDb;
let base: TestDeps;
let runner: Awaited<ReturnType<typeof startTestRunner>>;
const behaviours = new Map<string, RunnerBehaviour>();

/** A controllable clock and a dispatcher that only records jobs, so each test runs them itself. */
let clock = new Date('2030-01-01T00:00:00Z');
let jobs: RunJob[] = [];
let dispatcher: RunDispatcher = { dispatch: async (job) => void jobs.push(job) };
let deps: Deps;

beforeAll(async () => {
  db = await startTestDb();
  base = await makeTestDeps(db.db);
  deps = {
    ...base,
    now: () => clock,
    get dispatcher() {
      return dispatcher;
    },
  };
  runner = await startTestRunner((call) => (behaviours.get(call.body?.agent_id) ?? (() => ({ body: { output: 'ok' } })))(call));
});

afterAll(async () => {
  await runner?.close();
  await db?.close();
});

async function newAgent(behaviour?: RunnerBehaviour) {
  const agentId = `agent-${randomBytes(6).toString('hex')}`;
  const created = await createAgent(
    deps,
    TENANT,
    CreateAgentBody.parse({
      agent_id: agentId,
      name: 'Integration agent',
      input_args: [{ name: 'username', required: true }, { name: 'password', required: true }, { name: 'query' }],
      runner: { type: 'webhook', url: runner.url },
    }),
  );
  if (behaviour) behaviours.set(agentId, behaviour);
  return { agentId, secret: created.runner_signing_secret };
}

async function newProfile(agentId: string, shouldSave = false, name = 'main') {
  const { auth_token } = await upsertProfile(deps, TENANT, {
    agent_id: agentId,
    name,
    auth_data: { username: 'integration-user', password: 'integration-pw' },
    should_save_session: shouldSave,
  });
  return auth_token;
}

const start = (body: Record<string, unknown>) => startRun(deps, testCaller(TENANT), RunAgentBody.parse(body), BASE_URL);
const callsFor = (agentId: string): ReceivedCall[] => runner.calls.filter((c) => c.body?.agent_id === agentId);

describe('startRun', () => {
  it('returns agent_run_url built on the base URL it is given', async () => {
    const { agentId } = await newAgent();
    const token = await newProfile(agentId);

    const started = await start({ agent_id: agentId, auth_token: token, run_async: false });

    expect(started.agent_run_url).toBe(`${BASE_URL}/v1/runs/${started.session_id}`);
  });

  it("signs the runner call with the vault's clock", async () => {
    const { agentId, secret } = await newAgent();
    const token = await newProfile(agentId);

    await start({ agent_id: agentId, auth_token: token, run_async: false });

    const [call] = callsFor(agentId);
    const header = call?.headers['x-agent-vault-signature'] as string;
    expect(header).toMatch(new RegExp(`^t=${Math.floor(clock.getTime() / 1000)},v1=`));
    expect(verifySignature(secret, call?.rawBody ?? '', header, { nowSeconds: Math.floor(clock.getTime() / 1000) })).toBe(true);
  });

  it('stores the result sealed: the stored run item does not hold the output in clear', async () => {
    const marker = `visible-output-${randomBytes(4).toString('hex')}`;
    const { agentId } = await newAgent(() => ({ body: { output: marker } }));
    const token = await newProfile(agentId);

    const started = await start({ agent_id: agentId, auth_token: token, run_async: false });
    const item = await deps.store.runs.get(started.session_id, Math.floor(clock.getTime() / 1000));

    expect(item?.result).toBeDefined();
    expect(Buffer.from(item?.result as Uint8Array).toString('latin1')).not.toContain(marker);
    expect((await getRun(deps, TENANT, started.session_id)).agent_output).toBe(marker);
  });

  it('records the run as failed and rethrows when the dispatcher refuses it', async () => {
    const { agentId } = await newAgent();
    const token = await newProfile(agentId);
    const seen: RunJob[] = [];
    dispatcher = {
      dispatch: async (job) => {
        seen.push(job);
        throw new TooManyRequestsError('queue full');
      },
    };
    try {
      await expect(start({ agent_id: agentId, auth_token: token })).rejects.toBeInstanceOf(TooManyRequestsError);
    } finally {
      dispatcher = { dispatch: async (job) => void jobs.push(job) };
    }

    const run = await getRun(deps, TENANT, seen[0]?.sessionId as string);
    expect(run.status).toBe('failed');
    expect(run.error_message).toBe('the run could not be queued');
    expect(callsFor(agentId)).toHaveLength(0);
  });

  it('hands the job the caller parameters unmerged, and records the run as queued', async () => {
    jobs = [];
    const { agentId } = await newAgent();
    const token = await newProfile(agentId);

    const started = await start({ agent_id: agentId, auth_token: token, parameters: { query: 'q' } });

    const { apiKeyId, sourceIp, requestId } = testCaller(TENANT);
    // inFlightUntil: the mark the accepted run set on its profile, which the worker removes when the run has ended.
    const marked = (await getProfileMetadata(deps, TENANT, agentId, 'main')).in_flight_until;
    expect(marked).toBeDefined();
    expect(jobs).toEqual([{ tenant: TENANT, apiKeyId, apiKeyRole: 'admin', sourceIp, requestId, agentId, sessionId: started.session_id, authToken: token, parameters: { query: 'q' }, proxyUrl: `${BASE_URL}/v1/proxy`, inFlightUntil: marked }]);
    expect((await getRun(deps, TENANT, started.session_id)).status).toBe('queued');
  });
});

describe('executeRunJob', () => {
  it('runs a queued job and records it succeeded', async () => {
    jobs = [];
    const { agentId } = await newAgent(() => ({ body: { output: 'async-ok' } }));
    const token = await newProfile(agentId);
    const started = await start({ agent_id: agentId, auth_token: token });

    await executeRunJob(deps, jobs[0] as RunJob);

    expect(await getRun(deps, TENANT, started.session_id)).toMatchObject({ status: 'succeeded', agent_output: 'async-ok' });
  });

  it('ignores a duplicate delivery of a job that already ran (the runner is called once)', async () => {
    jobs = [];
    const { agentId } = await newAgent();
    const token = await newProfile(agentId);
    await start({ agent_id: agentId, auth_token: token });
    const job = jobs[0] as RunJob;

    await executeRunJob(deps, job);
    await executeRunJob(deps, job);

    expect(callsFor(agentId)).toHaveLength(1);
  });

  it('ignores a job whose run record does not exist', async () => {
    const { agentId } = await newAgent();
    const token = await newProfile(agentId);

    await executeRunJob(deps, { tenant: TENANT, agentId, sessionId: randomUUID(), authToken: token, parameters: {} });

    expect(callsFor(agentId)).toHaveLength(0);
  });

  it('records a failure naming the profile when the profile was replaced after the run was accepted', async () => {
    jobs = [];
    const { agentId } = await newAgent();
    const token = await newProfile(agentId);
    const started = await start({ agent_id: agentId, auth_token: token });
    await newProfile(agentId); // replace: the accepted token dies

    await executeRunJob(deps, jobs[0] as RunJob);

    const run = await getRun(deps, TENANT, started.session_id);
    expect(run.status).toBe('failed');
    expect(run.error_message).toMatch(/No auth profile matches this auth_token/);
    expect(callsFor(agentId)).toHaveLength(0);
  });

  it('records a failure when the agent was deleted after the run was accepted', async () => {
    jobs = [];
    const { agentId } = await newAgent();
    const token = await newProfile(agentId);
    const started = await start({ agent_id: agentId, auth_token: token });
    await deleteAgent(deps, TENANT, agentId, true);

    await executeRunJob(deps, jobs[0] as RunJob);

    const run = await getRun(deps, TENANT, started.session_id);
    expect(run.status).toBe('failed');
    expect(run.error_message).toMatch(/No agent/);
    expect(callsFor(agentId)).toHaveLength(0);
  });
});

describe('markRunFailed', () => {
  it('fails a queued run with the message given', async () => {
    jobs = [];
    const { agentId } = await newAgent();
    const started = await start({ agent_id: agentId, parameters: { username: 'u1', password: 'p1' } });

    const changed = await markRunFailed(deps, started.session_id, 'the worker crashed');

    expect(changed).toBe(true);
    expect(await getRun(deps, TENANT, started.session_id)).toMatchObject({ status: 'failed', error_message: 'the worker crashed' });
  });

  it('leaves a finished run as it is', async () => {
    const { agentId } = await newAgent(() => ({ body: { output: 'kept' } }));
    const started = await start({ agent_id: agentId, parameters: { username: 'u1', password: 'p1' }, run_async: false });

    const changed = await markRunFailed(deps, started.session_id, 'late failure');

    expect(changed).toBe(false);
    expect(await getRun(deps, TENANT, started.session_id)).toMatchObject({ status: 'succeeded', agent_output: 'kept' });
  });

  it('answers false for an unknown run', async () => {
    await expect(markRunFailed(deps, randomUUID(), 'x')).resolves.toBe(false);
  });
});

describe('getRun and retention', () => {
  it('finds a run until its retention period ends and answers 404 from then on', async () => {
    const { agentId } = await newAgent();
    const started = await start({ agent_id: agentId, parameters: { username: 'u1', password: 'p1' }, run_async: false });
    const startedAt = clock;
    const retentionMs = deps.config.runRetentionSeconds * 1000;

    try {
      clock = new Date(startedAt.getTime() + retentionMs - 1000);
      const justBefore = await getRun(deps, TENANT, started.session_id);
      clock = new Date(startedAt.getTime() + retentionMs);
      const atExpiry = getRun(deps, TENANT, started.session_id);

      expect(justBefore.status).toBe('succeeded');
      await expect(atExpiry).rejects.toBeInstanceOf(NotFoundError);
      await expect(atExpiry).rejects.toMatchObject({ code: 'run_not_found' });
    } finally {
      clock = startedAt;
    }
  });

  it("answers 404 for another tenant's run", async () => {
    const { agentId } = await newAgent();
    const started = await start({ agent_id: agentId, parameters: { username: 'u1', password: 'p1' }, run_async: false });

    await expect(getRun(deps, 'other-tenant', started.session_id)).rejects.toMatchObject({ status: 404, code: 'run_not_found' });
  });

  it('answers the same 404 message shape for an unknown and a foreign run', async () => {
    const { agentId } = await newAgent();
    const started = await start({ agent_id: agentId, parameters: { username: 'u1', password: 'p1' }, run_async: false });
    const unknown = randomUUID();

    const foreign = await getRun(deps, 'other-tenant', started.session_id).then(
      () => 'found',
      (e: Error) => e.message,
    );
    const missing = await getRun(deps, TENANT, unknown).then(
      () => 'found',
      (e: Error) => e.message,
    );

    expect(foreign).toBe(missing.replace(unknown, started.session_id));
  });
});

describe('saved sessions under concurrency and corruption', () => {
  it('saves only one of two concurrent sessions and says so in the other run', async () => {
    let arrived = 0;
    let both!: () => void;
    const bothArrived = new Promise<void>((r) => {
      both = r;
    });
    const { agentId } = await newAgent(async ({ body }) => {
      if (++arrived === 2) both();
      await bothArrived;
      return { body: { output: body.parameters.query, session: { from: body.parameters.query } } };
    });
    const token = await newProfile(agentId, true);

    const [a, b] = await Promise.all([
      start({ agent_id: agentId, auth_token: token, parameters: { query: 'a' }, run_async: false }),
      start({ agent_id: agentId, auth_token: token, parameters: { query: 'b' }, run_async: false }),
    ]);
    const lost = [a, b].filter((r) => /concurrent run/.test(r.error_message ?? ''));
    const won = [a, b].find((r) => !/concurrent run/.test(r.error_message ?? ''));
    await start({ agent_id: agentId, auth_token: token, parameters: { query: 'c' }, run_async: false });

    expect(lost).toHaveLength(1);
    expect(callsFor(agentId).at(-1)?.body.session).toEqual({ from: won?.agent_output });
  });

  it('starts without a session, and logs a warning without secrets, when the saved session does not open', async () => {
    const { agentId } = await newAgent(({ body }) => ({ body: { output: body.session, session: { n: 1 } } }));
    const token = await newProfile(agentId, true);
    await start({ agent_id: agentId, auth_token: token, run_async: false });
    const slot = parseToken(token).slot.toString('hex');
    const garbage = randomBytes(64);
    await deps.store.sessions.save(
      profileRef(TENANT, agentId, slot),
      { generation: 1, version: 2, blob: garbage, updated_at: clock.toISOString() },
      { version: 1, generation: 1 },
    );
    const logsFrom = base.logs.length;

    const res = await start({ agent_id: agentId, auth_token: token, run_async: false });

    const lines = base.logs.slice(logsFrom);
    expect(res.agent_output).toBeNull();
    expect(lines.some((l) => l.includes('saved session did not open'))).toBe(true);
    expect(lines.join('\n')).not.toContain(token);
    expect(lines.join('\n')).not.toContain('integration-pw');
  });
});
