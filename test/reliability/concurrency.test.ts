/**
 * Races against a real store (dynalite), through the services: parallel updates, replaces and
 * creates of one profile. Every write is conditional (docs/architecture.md, "The table"), so a race may cost a 409 but
 * never a lost or mixed-up write.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConflictError, type HttpError, ProfileNotFoundError } from '#shared/errors';
import { profileRepository } from '#shared/repositories/profiles';


import { decryptAuthData, openProfile } from '#test/support/credentials';
import { namedProfileRef } from '#shared/credentials/profile-keys';
import { type TestDb, type TestDeps, makeTestDeps, startTestDb, signerOf } from '#test/support/dynamo';
import { createAgent, createProfile, upsertProfile } from '#test/support/services';

const TENANT = 'acme';
const AGENT = 'race-agent';
const N = 50;
const KEYS = Array.from({ length: N }, (_, i) => `k${i}`);

let store: TestDb;
let deps: TestDeps;

beforeAll(async () => {
  store = await startTestDb();
  deps = await makeTestDeps(store.db);
  await createAgent(deps, TENANT, {
    agent_id: AGENT,
    name: 'Race agent',
    input_args: [{ name: 'password', required: false, secret: true }, ...KEYS.map((name) => ({ name, required: false, secret: true }))],
    runner: { type: 'webhook', url: 'http://127.0.0.1:9/run' },
  });
});

afterAll(async () => {
  await store?.close();
});

/** Runs all `tasks` at once; each outcome is the value or the error thrown. */
async function race<T>(tasks: (() => Promise<T>)[]): Promise<({ ok: true; value: T } | { ok: false; error: unknown })[]> {
  return Promise.all(tasks.map((t) => t().then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error }))));
}

const storedProfile = (name: string) => profileRepository(store.db, signerOf(deps)).get(namedProfileRef(TENANT, AGENT, name));

describe('50 parallel updates of one profile', () => {
  it('loses no successful update and answers every loser 409 conflict', async () => {
    const { auth_token: token } = await createProfile(deps, TENANT, { name: 'updated', agent_id: AGENT, auth_data: { password: 'p0' } });

    const outcomes = await race(KEYS.map((k, i) => () => upsertProfile(deps, TENANT, { agent_id: AGENT, auth_token: token, auth_data: { [k]: `v${i}` } })));

    const winners = KEYS.filter((_, i) => outcomes[i]?.ok);
    const losers = outcomes.filter((o) => !o.ok).map((o) => (o as { error: unknown }).error);
    expect(winners.length).toBeGreaterThanOrEqual(1);
    for (const err of losers) {
      expect(err).toBeInstanceOf(ConflictError);
      expect((err as HttpError).status).toBe(409);
    }
    const item = await storedProfile('updated');
    // Each success wrote exactly one record version on top of the previous one (no lost update).
    expect(item?.record_version).toBe(1 + winners.length);
    const data = decryptAuthData(await openProfile(deps, TENANT, AGENT, token));
    expect(Object.keys(data).sort()).toEqual(['password', ...winners].sort());
    for (const k of winners) expect(data[k]).toBe(`v${KEYS.indexOf(k)}`);
  });
});

describe('50 parallel replaces of one profile', () => {
  it('leaves exactly one of the returned tokens valid', async () => {
    await createProfile(deps, TENANT, { name: 'replaced', agent_id: AGENT, auth_data: { password: 'original' } });

    const outcomes = await race(KEYS.map((_, i) => () => upsertProfile(deps, TENANT, { agent_id: AGENT, name: 'replaced', auth_data: { password: `r${i}` } })));

    const issued = outcomes.flatMap((o, i) => (o.ok ? [{ i, token: o.value.auth_token }] : []));
    for (const o of outcomes) {
      if (o.ok) expect(o.value.type).toBe('replace');
      else expect(o.error).toBeInstanceOf(ConflictError);
    }
    expect(issued.length).toBeGreaterThanOrEqual(1);
    const opened = await race(issued.map(({ token }) => () => openProfile(deps, TENANT, AGENT, token)));
    for (const o of opened) if (!o.ok) expect(o.error).toBeInstanceOf(ProfileNotFoundError);
    const valid = issued.flatMap(({ i }, j) => {
      const o = opened[j];
      return o?.ok ? [{ i, data: decryptAuthData(o.value) }] : [];
    });
    expect(valid).toHaveLength(1);
    // The valid token opens the content its own replace wrote.
    expect(valid[0]?.data.password).toBe(`r${valid[0]?.i}`);
    // Every successful replace moved the generation on by one.
    expect((await storedProfile('replaced'))?.generation).toBe(1 + issued.length);
  });
});

describe('50 parallel creates of one name', () => {
  it('lets exactly one win and answers the others 409 profile_exists', async () => {
    const outcomes = await race(KEYS.map((_, i) => () => createProfile(deps, TENANT, { name: 'created', agent_id: AGENT, auth_data: { password: `c${i}` } })));

    const winners = outcomes.flatMap((o, i) => (o.ok ? [{ i, token: o.value.auth_token }] : []));
    expect(winners).toHaveLength(1);
    for (const o of outcomes) {
      if (!o.ok) {
        expect(o.error).toBeInstanceOf(ConflictError);
        expect((o.error as ConflictError).code).toBe('profile_exists');
      }
    }
    const winner = winners[0] as { i: number; token: string };
    const data = decryptAuthData(await openProfile(deps, TENANT, AGENT, winner.token));
    expect(data.password).toBe(`c${winner.i}`);
  });
});

describe('50 parallel upserts of one new name', () => {
  it('creates the profile once and leaves exactly one returned token valid', async () => {
    const outcomes = await race(KEYS.map((_, i) => () => upsertProfile(deps, TENANT, { agent_id: AGENT, name: 'upserted', auth_data: { password: `u${i}` } })));

    const ok = outcomes.flatMap((o) => (o.ok ? [o.value] : []));
    expect(ok.filter((v) => v.type === 'create')).toHaveLength(1);
    for (const o of outcomes) if (!o.ok) expect(o.error).toBeInstanceOf(ConflictError);
    const opened = await race(ok.map((v) => () => openProfile(deps, TENANT, AGENT, v.auth_token)));
    expect(opened.filter((o) => o.ok)).toHaveLength(1);
  });
});
