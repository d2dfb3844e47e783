import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryAudit } from '#shared/audit/log';
import { namedProfileRef, slotFor } from '#shared/credentials/profile-keys';
import { formatToken } from '#shared/crypto/token';
import type { Caller, Deps } from '#shared/deps';
import type { HttpError } from '#shared/errors';
import { profileRepository } from '#shared/repositories/profiles';
import { loadProfileContext } from '#shared/repositories/profile-context';
import { CreateAgentBody } from '#shared/schemas/agents';
import { PatchProfileBody, RotateProfileBody } from '#shared/schemas/lifecycle';
import { RunAgentBody } from '#shared/schemas/runs';



import { executeRunJob, startRun } from '#shared/services/runs';
import type { RunJob } from '#shared/runs/dispatch';
import { type TestDb, type TestDeps, makeTestDeps, startTestDb, signerOf } from '#test/support/dynamo';
import { startTestRunner } from '#test/support/runner';
import { createAgent, deleteProfileChecked, getProfileMetadata, patchProfile, profileUsage, rotateProfile, upsertProfile } from '#test/support/services';
import { profileRef } from '#shared/store/profile-ref';

const TENANT = 'acme';
const BASE_URL = 'http://vault.test';
const caller = (sourceIp = '203.0.113.7', apiKeyId = 'key-a'): Caller => ({ tenant: TENANT, apiKeyId, role: 'admin', sourceIp, requestId: `req-${randomBytes(3).toString('hex')}` });

let db: TestDb;
let base: TestDeps;
let deps: Deps;
let clock = new Date('2030-01-01T00:00:00Z');
let runner: Awaited<ReturnType<typeof startTestRunner>>;

beforeAll(async () => {
  db = await startTestDb();
  base = await makeTestDeps(db.db);
  deps = { ...base, now: () => clock };
  runner = await startTestRunner(() => ({ body: { output: 'ok', session: { n: 1 } } }));
});

afterAll(async () => {
  await runner?.close();
  await db?.close();
});

async function newAgentWithProfile(expiresInHours?: number) {
  const agentId = `agent-${randomBytes(6).toString('hex')}`;
  await createAgent(
    deps,
    TENANT,
    CreateAgentBody.parse({
      agent_id: agentId,
      name: 'Lifecycle agent',
      input_args: [{ name: 'username', required: true }, { name: 'password', required: true }],
      runner: { type: 'webhook', url: runner.url },
    }),
  );
  const { auth_token } = await upsertProfile(
    deps,
    TENANT,
    { agent_id: agentId, name: 'main', auth_data: { username: 'u', password: 'p' }, should_save_session: true, expires_in_hours: expiresInHours },
    caller(),
  );
  return { agentId, token: auth_token };
}

const run = (agentId: string, token: string, who = caller()) =>
  startRun(deps, who, RunAgentBody.parse({ agent_id: agentId, auth_token: token, run_async: false }), BASE_URL);

async function rejection(p: Promise<unknown>): Promise<HttpError> {
  const out = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(out instanceof Error)) throw new Error('expected a rejection');
  return out as HttpError;
}

const uses = async (agentId: string) => (await profileUsage(deps, caller(), agentId, 'main')).uses;

describe('rotate', () => {
  it('issues a working token one generation on, kills the old one at once and drops the old session', async () => {
    const { agentId, token } = await newAgentWithProfile();
    await run(agentId, token); // saves a session
    const slot = slotFor(TENANT, agentId, 'main').toString('hex');
    expect((await loadProfileContext(db.db, signerOf(deps), profileRef(TENANT, agentId, slot), { withSession: true })).session).toBeDefined();

    const rotated = await rotateProfile(deps, caller(), agentId, 'main', { auth_token: token, expires_in_hours: 48 });

    expect(rotated.generation).toBe(2);
    expect(rotated.token_expires_at).toBe('2030-01-03T00:00:00.000Z');
    expect((await run(agentId, rotated.auth_token)).error_message).toBeUndefined();
    expect((runner.calls.at(-1)?.body as { parameters?: unknown } | undefined)?.parameters).toEqual({ username: 'u', password: 'p' });
    expect((await rejection(run(agentId, token))).code).toBe('profile_not_found');
    expect((await loadProfileContext(db.db, signerOf(deps), profileRef(TENANT, agentId, slot), { withSession: true })).session).toMatchObject({ generation: 2 });
    const meta = await getProfileMetadata(deps, TENANT, agentId, 'main');
    expect(meta).toMatchObject({ generation: 2, token_state: 'valid', use_count: 2 });
  });

  it('answers a wrong, other-profile or unknown token with the same 404', async () => {
    const a = await newAgentWithProfile();
    const b = await newAgentWithProfile();
    const wrongSecret = formatToken(slotFor(TENANT, a.agentId, 'main'), randomBytes(32));
    const unknownSlot = formatToken(randomBytes(16), randomBytes(32));
    const answers = [];
    for (const t of [b.token, wrongSecret, unknownSlot]) {
      const err = await rejection(rotateProfile(deps, caller(), a.agentId, 'main', { auth_token: t }));
      answers.push([err.status, err.code, err.message]);
    }
    expect(new Set(answers.map((x) => JSON.stringify(x))).size).toBe(1);
    expect(answers[0]?.slice(0, 2)).toEqual([404, 'profile_not_found']);
  });

  it('keeps the stored expiry without expires_in_hours, removes it with null, sets a new one with a number', async () => {
    const { agentId, token } = await newAgentWithProfile(72);
    const stored = (await getProfileMetadata(deps, TENANT, agentId, 'main')).token_expires_at;
    expect(stored).toBeDefined();

    const kept = await rotateProfile(deps, caller(), agentId, 'main', RotateProfileBody.parse({ auth_token: token }));
    expect(kept.token_expires_at).toBe(stored);
    expect((await getProfileMetadata(deps, TENANT, agentId, 'main')).token_expires_at).toBe(stored);

    const renewed = await rotateProfile(deps, caller(), agentId, 'main', RotateProfileBody.parse({ auth_token: kept.auth_token, expires_in_hours: 2 }));
    expect(renewed.token_expires_at).toBe(new Date(clock.getTime() + 2 * 3_600_000).toISOString());

    const unlimited = await rotateProfile(deps, caller(), agentId, 'main', RotateProfileBody.parse({ auth_token: renewed.auth_token, expires_in_hours: null }));
    expect(unlimited.token_expires_at).toBeUndefined();
    const meta = await getProfileMetadata(deps, TENANT, agentId, 'main');
    expect(meta).toMatchObject({ generation: 4, token_state: 'valid' });
    expect(meta.token_expires_at).toBeUndefined();
    // Absent again: no expiry is kept as no expiry.
    expect((await rotateProfile(deps, caller(), agentId, 'main', RotateProfileBody.parse({ auth_token: unlimited.auth_token }))).token_expires_at).toBeUndefined();
  });

  it('follows the rule of an update in place, which keeps the expiry without expires_in_hours and sets a number', async () => {
    const { agentId, token } = await newAgentWithProfile(72);
    const stored = (await getProfileMetadata(deps, TENANT, agentId, 'main')).token_expires_at;
    await upsertProfile(deps, TENANT, { agent_id: agentId, auth_token: token, auth_data: { password: 'p2' } }, caller());
    expect((await getProfileMetadata(deps, TENANT, agentId, 'main')).token_expires_at).toBe(stored);
    await upsertProfile(deps, TENANT, { agent_id: agentId, auth_token: token, auth_data: { password: 'p3' }, expires_in_hours: 5 }, caller());
    expect((await getProfileMetadata(deps, TENANT, agentId, 'main')).token_expires_at).toBe(new Date(clock.getTime() + 5 * 3_600_000).toISOString());
  });

  it('refuses to keep an expiry that has passed (the new token would be dead): 400, nothing changed', async () => {
    const { agentId, token } = await newAgentWithProfile(1);
    clock = new Date(clock.getTime() + 2 * 3_600_000);
    const err = await rejection(rotateProfile(deps, caller(), agentId, 'main', RotateProfileBody.parse({ auth_token: token })));
    expect([err.status, err.code]).toEqual([400, 'validation_error']);
    expect(err.message).toContain('expires_in_hours');
    expect((await getProfileMetadata(deps, TENANT, agentId, 'main'))).toMatchObject({ generation: 1, token_state: 'expired' });
  });

  it('renews an expired token, and keeps the settings a PATCH made', async () => {
    const { agentId, token } = await newAgentWithProfile(1);
    await patchProfile(deps, caller(), agentId, 'main', PatchProfileBody.parse({ description: 'billing', allowed_methods: ['GET'] }));
    clock = new Date(clock.getTime() + 2 * 3_600_000);
    expect((await getProfileMetadata(deps, TENANT, agentId, 'main')).token_state).toBe('expired');
    const rotated = await rotateProfile(deps, caller(), agentId, 'main', RotateProfileBody.parse({ auth_token: token, expires_in_hours: null }));
    const meta = await getProfileMetadata(deps, TENANT, agentId, 'main');
    expect(meta).toMatchObject({ token_state: 'valid', description: 'billing', allowed_methods: ['GET'] });
    expect(meta.token_expires_at).toBeUndefined();
    expect((await run(agentId, rotated.auth_token)).error_message).toBeUndefined();
  });
});

describe('expiry', () => {
  it('shows valid → expiring_soon → expired and refuses an expired token with 401 token_expired, audited', async () => {
    const { agentId, token } = await newAgentWithProfile(30);
    expect((await getProfileMetadata(deps, TENANT, agentId, 'main')).token_state).toBe('valid');
    clock = new Date(clock.getTime() + 7 * 3_600_000);
    expect((await getProfileMetadata(deps, TENANT, agentId, 'main')).token_state).toBe('expiring_soon');
    clock = new Date(clock.getTime() + 24 * 3_600_000);
    expect((await getProfileMetadata(deps, TENANT, agentId, 'main')).token_state).toBe('expired');
    const err = await rejection(run(agentId, token));
    expect([err.status, err.code]).toEqual([401, 'token_expired']);
    expect((await uses(agentId))[0]).toMatchObject({ action: 'run', status: 401, result: 'token_expired' });
  });

  it('still answers an unknown token with 404, not token_expired', async () => {
    const { agentId } = await newAgentWithProfile(1);
    clock = new Date(clock.getTime() + 2 * 3_600_000);
    const forged = formatToken(slotFor(TENANT, agentId, 'main'), randomBytes(32));
    const err = await rejection(run(agentId, forged));
    expect([err.status, err.code]).toEqual([404, 'profile_not_found']);
    expect((await uses(agentId))[0]).toMatchObject({ status: 404, result: 'profile_not_found' });
  });
});

describe('PATCH', () => {
  it('switches a profile off (403 profile_inactive, audited, nothing deleted) and on again', async () => {
    const { agentId, token } = await newAgentWithProfile();
    const off = await patchProfile(deps, caller(), agentId, 'main', PatchProfileBody.parse({ active: false }));
    expect(off.active).toBe(false);
    const err = await rejection(run(agentId, token));
    expect([err.status, err.code]).toEqual([403, 'profile_inactive']);
    expect((await uses(agentId))[0]).toMatchObject({ result: 'profile_inactive', status: 403, key_id: 'key-a' });
    await patchProfile(deps, caller(), agentId, 'main', PatchProfileBody.parse({ active: true }));
    expect((await run(agentId, token)).error_message).toBeUndefined();
  });

  it('limits uses to the allowed source IPs, checked before the token (even a wrong token gets 403)', async () => {
    const { agentId, token } = await newAgentWithProfile();
    const patched = await patchProfile(deps, caller(), agentId, 'main', PatchProfileBody.parse({ allowed_source_ips: ['198.51.100.0/24', '2001:db8::/32'] }));
    expect(patched.allowed_source_ips).toEqual(['198.51.100.0/24', '2001:db8::/32']);
    expect((await rejection(run(agentId, token, caller('203.0.113.7')))).code).toBe('source_ip_not_allowed');
    const wrong = formatToken(slotFor(TENANT, agentId, 'main'), randomBytes(32));
    const beforeVerify = await rejection(run(agentId, wrong, caller('203.0.113.7')));
    expect([beforeVerify.status, beforeVerify.code]).toEqual([403, 'source_ip_not_allowed']);
    expect((await rejection(run(agentId, wrong, caller('198.51.100.20')))).code).toBe('profile_not_found');
    expect((await run(agentId, token, caller('198.51.100.20'))).error_message).toBeUndefined();
    expect((await run(agentId, token, caller('::ffff:198.51.100.21'))).error_message).toBeUndefined();
    expect((await run(agentId, token, caller('2001:db8::5'))).error_message).toBeUndefined();
    expect((await uses(agentId)).map((u) => u.result)).toContain('source_ip_not_allowed');
  });

  it('refuses a bad allow-list with a 400 naming the entry and changes nothing', async () => {
    const { agentId } = await newAgentWithProfile();
    const err = await rejection(patchProfile(deps, caller(), agentId, 'main', PatchProfileBody.parse({ allowed_source_ips: ['10.0.0.0/8', 'not-an-ip'] })));
    expect([err.status, err.code]).toEqual([400, 'invalid_source_ips']);
    expect(err.message).toContain('allowed_source_ips[1] is not an IP address');
    expect((await getProfileMetadata(deps, TENANT, agentId, 'main')).allowed_source_ips).toEqual([]);
  });

  it('loses no field when PATCHes race each other and a rotation', async () => {
    const { agentId, token } = await newAgentWithProfile();
    await Promise.all([
      patchProfile(deps, caller(), agentId, 'main', PatchProfileBody.parse({ description: 'd' })),
      patchProfile(deps, caller(), agentId, 'main', PatchProfileBody.parse({ allowed_hosts: ['api.example.com'] })),
      patchProfile(deps, caller(), agentId, 'main', PatchProfileBody.parse({ allowed_methods: ['POST'] })),
      rotateProfile(deps, caller(), agentId, 'main', { auth_token: token }).catch((e: HttpError) => e.code),
    ]);
    expect(await getProfileMetadata(deps, TENANT, agentId, 'main')).toMatchObject({
      description: 'd',
      allowed_hosts: ['api.example.com'],
      allowed_methods: ['POST'],
    });
  });

  it('answers 404 for an unknown profile', async () => {
    const { agentId } = await newAgentWithProfile();
    expect((await rejection(patchProfile(deps, caller(), agentId, 'nope', PatchProfileBody.parse({ active: false })))).status).toBe(404);
  });
});

describe('usage and delete', () => {
  it('counts uses per kind for 7 days and lists the last uses newest first with key, result and source IP', async () => {
    const { agentId, token } = await newAgentWithProfile();
    await run(agentId, token, caller('198.51.100.1', 'key-b'));
    clock = new Date(clock.getTime() + 3 * 86_400_000);
    await run(agentId, token, caller('198.51.100.2', 'key-c'));
    let usage = await profileUsage(deps, caller(), agentId, 'main');
    expect(usage).toMatchObject({ use_count: 2, uses_last_7_days: { run: 2, proxy: 0, test: 0 } });
    expect(usage.uses.map((u) => [u.key_id, u.source_ip, u.result])).toEqual([
      ['key-c', '198.51.100.2', 'ok'],
      ['key-b', '198.51.100.1', 'ok'],
    ]);
    clock = new Date(clock.getTime() + 5 * 86_400_000);
    await run(agentId, token);
    usage = await profileUsage(deps, caller(), agentId, 'main');
    expect(usage).toMatchObject({ use_count: 3, uses_last_7_days: { run: 2 } });
    // The day counter that left the window was dropped from the item by the last use.
    const item = await profileRepository(db.db, signerOf(deps)).get(namedProfileRef(TENANT, agentId, 'main'));
    expect(Object.keys(item?.daily_uses ?? {})).toHaveLength(2);
  });

  it('refuses to delete a profile used recently with 409 profile_in_use and its usage, unless forced', async () => {
    const { agentId, token } = await newAgentWithProfile();
    await run(agentId, token);
    const err = await rejection(deleteProfileChecked(deps, caller(), agentId, 'main', false));
    expect([err.status, err.code]).toEqual([409, 'profile_in_use']);
    expect(err.details?.usage).toMatchObject({ use_count: 1, uses_last_7_days: { run: 1, proxy: 0, test: 0 } });
    expect(await getProfileMetadata(deps, TENANT, agentId, 'main')).toBeDefined();
    await deleteProfileChecked(deps, caller(), agentId, 'main', true);
    expect((await rejection(getProfileMetadata(deps, TENANT, agentId, 'main'))).status).toBe(404);
  });

  it('deletes without force once the in-use window has passed, and an unused profile at once', async () => {
    const used = await newAgentWithProfile();
    await run(used.agentId, used.token);
    clock = new Date(clock.getTime() + deps.config.inUseWindowMs + 1000);
    await deleteProfileChecked(deps, caller(), used.agentId, 'main', false);
    const unused = await newAgentWithProfile();
    await deleteProfileChecked(deps, caller(), unused.agentId, 'main', false);
  });

  it('refuses to delete a profile with an async run in flight, and no longer once the worker has run it', async () => {
    const { agentId, token } = await newAgentWithProfile();
    const held: RunJob[] = [];
    const withQueue = { ...deps, dispatcher: { dispatch: async (job: RunJob) => void held.push(job) } };
    await startRun(withQueue, caller(), RunAgentBody.parse({ agent_id: agentId, auth_token: token, run_async: true }), BASE_URL);
    const zeroWindow = { ...deps, config: { ...deps.config, inUseWindowMs: 0 } };
    const err = await rejection(deleteProfileChecked(zeroWindow, caller(), agentId, 'main', false));
    expect(err.code).toBe('profile_in_use');
    expect((err.details?.usage as { in_flight_until?: string } | undefined)?.in_flight_until).toBeDefined();

    expect(await executeRunJob(deps, held[0] as RunJob)).toBe(true);
    expect((await getProfileMetadata(deps, TENANT, agentId, 'main')).in_flight_until).toBeUndefined();
    await deleteProfileChecked(zeroWindow, caller(), agentId, 'main', false);
  });

  it('no longer counts a finished synchronous run as in flight (its runner timeout is not waited out)', async () => {
    const { agentId, token } = await newAgentWithProfile();
    expect((await run(agentId, token)).error_message).toBeUndefined();
    const usage = await profileUsage(deps, caller(), agentId, 'main');
    expect(usage.in_flight_until).toBeUndefined();
    expect(usage.uses_last_7_days.run).toBe(1);
    // A real use: in use for the window, whatever the in-flight mark says.
    expect((await rejection(deleteProfileChecked(deps, caller(), agentId, 'main', false))).code).toBe('profile_in_use');
    await deleteProfileChecked({ ...deps, config: { ...deps.config, inUseWindowMs: 0 } }, caller(), agentId, 'main', false);
  });

  it("keeps a concurrent async run's longer mark when a synchronous run ends", async () => {
    const { agentId, token } = await newAgentWithProfile();
    const held: RunJob[] = [];
    const withQueue = { ...deps, dispatcher: { dispatch: async (job: RunJob) => void held.push(job) } };
    await startRun(withQueue, caller(), RunAgentBody.parse({ agent_id: agentId, auth_token: token, run_async: true }), BASE_URL);
    const queued = (await getProfileMetadata(deps, TENANT, agentId, 'main')).in_flight_until;
    expect(queued).toBe(held[0]?.inFlightUntil);
    await run(agentId, token);
    expect((await getProfileMetadata(deps, TENANT, agentId, 'main')).in_flight_until).toBe(queued);
    const zeroWindow = { ...deps, config: { ...deps.config, inUseWindowMs: 0 } };
    expect((await rejection(deleteProfileChecked(zeroWindow, caller(), agentId, 'main', false))).code).toBe('profile_in_use');
  });
});

describe('audit of changes', () => {
  it('records create, update, rotate, patch and delete with who and from where', async () => {
    const { agentId, token } = await newAgentWithProfile();
    await upsertProfile(deps, TENANT, { agent_id: agentId, auth_token: token, auth_data: { password: 'q' } }, caller());
    const rotated = await rotateProfile(deps, caller('198.51.100.9', 'key-r'), agentId, 'main', { auth_token: token });
    await patchProfile(deps, caller(), agentId, 'main', PatchProfileBody.parse({ active: false }));
    await deleteProfileChecked(deps, caller(), agentId, 'main', false);
    const page = await queryAudit(deps, { tenant: TENANT, agentId, limit: 50 });
    // The agent's registration is in its view too.
    expect(page.records.map((r) => r.action)).toEqual(['delete', 'patch', 'rotate', 'update', 'create', 'agent_create']);
    expect(page.records[2]).toMatchObject({ key_id: 'key-r', source_ip: '198.51.100.9', generation: 2, status: 200, result: 'ok' });
    expect(JSON.stringify(page.records)).not.toContain(rotated.auth_token);
  });
});
