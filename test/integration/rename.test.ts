import { randomBytes } from 'node:crypto';
import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import type { Deps } from '#shared/context';
import type { Caller } from '#shared/deps';
import { openForUse } from '#shared/credentials/gate';
import { namedProfileRef } from '#shared/credentials/profile-keys';
import { UNBORN_CLAIM_LEASE_MS } from '#shared/credentials/profile-names';
import { keys } from '#shared/keys';
import { listAudit } from '#shared/services/audit';
import type { Store } from '#shared/store/types';
import { openProfile, testCaller } from '#test/support/credentials';
import { useTestStore } from '#test/support/dynamo';
import {
  createAgent,
  createProfile,
  deleteProfile,
  getProfileMetadata,
  listTenantProfiles,
  patchProfile,
  profileUsage,
  rotateProfile,
  upsertProfile,
} from '#test/support/services';

const t = useTestStore();

/** A fresh tenant with one agent, so listings see only this test's profiles. */
async function world() {
  const tenant = `t${randomBytes(4).toString('hex')}`;
  const admin = testCaller(tenant, 'aaaaaaaaaaaaaaaa', 'admin');
  await createAgent(t.deps, tenant, {
    agent_id: 'bot',
    name: 'bot',
    input_args: [{ name: 'password', required: false, secret: true }],
    runner: { type: 'webhook', url: 'http://127.0.0.1:9/run' },
  });
  const create = async (name: string, deps: Deps = t.deps) =>
    (await createProfile(deps, tenant, { name, agent_id: 'bot', auth_data: { password: `pw-${name}` } })).auth_token;
  const rename = (from: string, to: string, deps: Deps = t.deps, caller: Caller = admin) =>
    patchProfile(deps, caller, 'bot', from, { name: to });
  const metadata = (name: string) => getProfileMetadata(t.deps, tenant, 'bot', name);
  return { tenant, admin, create, rename, metadata };
}

/** What a promise rejected with (fails the test if it resolved). */
async function rejection(p: Promise<unknown>): Promise<{ status?: number; code?: string }> {
  const outcome = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (outcome === undefined) throw new Error('expected the call to fail, it succeeded');
  return outcome as { status?: number; code?: string };
}

/**
 * Deps whose store "crashes" at a step of a rename: the named store call and every call after
 * it throw, as if the process died there (no clean-up runs).
 */
function crashingAt(step: 'markRename' | 'claim' | 'rename' | 'release') {
  const state = { dead: false };
  const die = () => {
    state.dead = true;
    throw new Error(`crashed at ${step}`);
  };
  const guard =
    <A extends unknown[], R>(fn: (...a: A) => Promise<R>, isStep: boolean) =>
    async (...a: A): Promise<R> => {
      if (state.dead) throw new Error('the process is gone');
      if (isStep) die();
      return fn(...a);
    };
  const s = t.deps.store;
  const store: Store = {
    ...s,
    profiles: {
      ...s.profiles,
      get: guard(s.profiles.get, false),
      markRename: guard(s.profiles.markRename, step === 'markRename'),
      cancelRename: guard(s.profiles.cancelRename, false),
      rename: guard(s.profiles.rename, step === 'rename'),
    },
    profileNames: {
      get: guard(s.profileNames.get, false),
      put: guard(s.profileNames.put, step === 'claim'),
      release: guard(s.profileNames.release, step === 'release'),
    },
    profileContext: { load: guard(s.profileContext.load, false) },
  };
  return { ...t.deps, store };
}

describe('PATCH {"name"}: rename', () => {
  it('keeps the token working: it opens the same values, and a run or proxy use through the gate passes', async () => {
    const w = await world();
    const token = await w.create('github');

    const renamed = await w.rename('github', 'github-main');

    expect(renamed.name).toBe('github-main');
    expect((await openProfile(t.deps, w.tenant, 'bot', token)).item.name).toBe('github-main');
    const opened = await openForUse(t.deps, w.admin, { kind: 'token', agentId: 'bot', token }, 'run');
    expect(opened.profile.item.name).toBe('github-main');
    // The path-named routes take the new name with the same token (here a rotation).
    await expect(rotateProfile(t.deps, w.admin, 'bot', 'github-main', { auth_token: token })).resolves.toMatchObject({
      name: 'github-main',
      generation: 2,
    });
  });

  it('answers 404 for the old name at once, and the new name shows the same profile', async () => {
    const w = await world();
    await w.create('old');
    const before = await w.metadata('old');

    await w.rename('old', 'new');

    expect(await rejection(w.metadata('old'))).toMatchObject({ status: 404, code: 'profile_not_found' });
    expect(await w.metadata('new')).toMatchObject({ name: 'new', created_at: before.created_at, generation: before.generation });
  });

  it('answers 409 profile_exists when the name is taken, and changes nothing', async () => {
    const w = await world();
    const token = await w.create('a');
    await w.create('b');

    expect(await rejection(w.rename('a', 'b'))).toMatchObject({ status: 409, code: 'profile_exists' });

    expect((await w.metadata('a')).name).toBe('a');
    expect((await openProfile(t.deps, w.tenant, 'bot', token)).item.name).toBe('a');
    // No fence left behind: the next rename goes through.
    await expect(w.rename('a', 'c')).resolves.toMatchObject({ name: 'c' });
  });

  it('keeps usage and audit history under the new name', async () => {
    const w = await world();
    const token = await w.create('svc');
    const opened = await openForUse(t.deps, w.admin, { kind: 'token', agentId: 'bot', token }, 'proxy');
    await opened.recordUse();

    await w.rename('svc', 'svc-prod');

    const usage = await profileUsage(t.deps, w.admin, 'bot', 'svc-prod');
    expect(usage.use_count).toBe(1);
    expect(usage.uses.map((u) => u.action)).toEqual(['proxy']);
    const audit = await listAudit(t.deps, w.admin, { agent_id: 'bot', profile: 'svc-prod', limit: 50 });
    expect(audit.records.map((r) => [r.action, r.profile, r.new_name])).toEqual([
      ['rename', 'svc', 'svc-prod'],
      ['proxy', 'svc', undefined],
      ['create', 'svc', undefined],
    ]);
  });

  it('shows the new name in the tenant-wide listing, in its place in name order', async () => {
    const w = await world();
    await w.create('m-profile');
    await w.create('b-profile');

    await w.rename('m-profile', 'a-profile');

    expect((await listTenantProfiles(t.deps, w.tenant, 50)).profiles.map((p) => p.name)).toEqual(['a-profile', 'b-profile']);
  });

  it('frees the old name: a new profile of that name gets its own token, the renamed one keeps its own', async () => {
    const w = await world();
    const first = await w.create('main');
    await w.rename('main', 'main-archived');

    const second = await w.create('main');

    expect((await openProfile(t.deps, w.tenant, 'bot', first)).item.name).toBe('main-archived');
    expect((await openProfile(t.deps, w.tenant, 'bot', second)).item.name).toBe('main');
    expect(new Set((await listTenantProfiles(t.deps, w.tenant, 50)).profiles.map((p) => p.name))).toEqual(
      new Set(['main', 'main-archived']),
    );
    // The new "main" is replaced by name, the archived one is untouched.
    await upsertProfile(t.deps, w.tenant, { agent_id: 'bot', name: 'main', auth_data: { password: 'pw-2' } });
    expect((await openProfile(t.deps, w.tenant, 'bot', first)).item.name).toBe('main-archived');
  });

  it('renames back to the first name', async () => {
    const w = await world();
    const token = await w.create('x');
    await w.rename('x', 'y');

    await w.rename('y', 'x');

    expect((await w.metadata('x')).name).toBe('x');
    expect(await rejection(w.metadata('y'))).toMatchObject({ status: 404 });
    expect((await openProfile(t.deps, w.tenant, 'bot', token)).item.name).toBe('x');
  });

  it('renames a profile from before name claims (no claim item)', async () => {
    const w = await world();
    const token = await w.create('legacy');
    const home = namedProfileRef(w.tenant, 'bot', 'legacy');
    await t.store.db.doc.send(
      new DeleteCommand({ TableName: t.store.db.tableName, Key: keys.profileName(home.tenant, home.agentId, home.slot) }),
    );
    expect((await w.metadata('legacy')).name).toBe('legacy');

    await w.rename('legacy', 'modern');

    expect((await openProfile(t.deps, w.tenant, 'bot', token)).item.name).toBe('modern');
    expect(await rejection(w.metadata('legacy'))).toMatchObject({ status: 404 });
  });

  it('refuses a member without read as if the profile did not exist (404)', async () => {
    const w = await world();
    await w.create('p');
    const stranger = testCaller(w.tenant, 'bbbbbbbbbbbbbbbb', 'member');

    expect(await rejection(w.rename('p', 'q', t.deps, stranger))).toMatchObject({ status: 404 });
  });
});

describe('concurrent renames', () => {
  it('two profiles renamed to one name at once: exactly one gets it, the other keeps its name', async () => {
    const w = await world();
    await w.create('x');
    await w.create('y');

    const outcomes = await Promise.allSettled([w.rename('x', 'same'), w.rename('y', 'same')]);

    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    const refused = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
    expect(refused.reason).toMatchObject({ status: 409 });
    const names = (await listTenantProfiles(t.deps, w.tenant, 50)).profiles.map((p) => p.name).sort();
    expect(names).toHaveLength(2);
    expect(names.filter((n) => n === 'same')).toHaveLength(1);
    expect((await w.metadata('same')).name).toBe('same');
  });

  it('one profile renamed to two names at once: it ends with exactly one of them, and the other answers 404', async () => {
    const w = await world();
    const token = await w.create('p');

    const outcomes = await Promise.allSettled([w.rename('p', 'left'), w.rename('p', 'right')]);

    expect(outcomes.some((o) => o.status === 'fulfilled')).toBe(true);
    const final = (await openProfile(t.deps, w.tenant, 'bot', token)).item.name;
    expect(['left', 'right']).toContain(final);
    const other = final === 'left' ? 'right' : 'left';
    expect(await rejection(w.metadata(other))).toMatchObject({ status: 404 });
    expect(await rejection(w.metadata('p'))).toMatchObject({ status: 404 });
    expect((await listTenantProfiles(t.deps, w.tenant, 50)).profiles.map((p) => p.name)).toEqual([final]);
  });

  it('a rename racing a create of the same name: one of them gets it, never both', async () => {
    const w = await world();
    await w.create('x');

    const outcomes = await Promise.allSettled([w.rename('x', 'taken'), w.create('taken')]);

    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    const names = (await listTenantProfiles(t.deps, w.tenant, 50)).profiles.map((p) => p.name);
    expect(names.filter((n) => n === 'taken')).toHaveLength(1);
  });
});

describe('a rename that stops half-way (crash between its writes)', () => {
  it('after the fence, before the claim: invisible; the old name works; renaming again succeeds', async () => {
    const w = await world();
    const token = await w.create('a');

    await expect(w.rename('a', 'b', crashingAt('claim'))).rejects.toThrow(/crashed|the process is gone/);

    expect((await w.metadata('a')).name).toBe('a');
    expect(await rejection(w.metadata('b'))).toMatchObject({ status: 404 });
    expect((await listTenantProfiles(t.deps, w.tenant, 50)).profiles.map((p) => p.name)).toEqual(['a']);
    await w.rename('a', 'b');
    expect((await openProfile(t.deps, w.tenant, 'bot', token)).item.name).toBe('b');
  });

  it('after the claim, before the name: invisible; the new name is free for a create, which cancels the stopped rename', async () => {
    const w = await world();
    const token = await w.create('a');

    await expect(w.rename('a', 'b', crashingAt('rename'))).rejects.toThrow(/crashed|the process is gone/);

    expect((await w.metadata('a')).name).toBe('a');
    expect(await rejection(w.metadata('b'))).toMatchObject({ status: 404 });
    const other = await w.create('b');
    expect((await openProfile(t.deps, w.tenant, 'bot', other)).item.name).toBe('b');
    expect((await openProfile(t.deps, w.tenant, 'bot', token)).item.name).toBe('a');
    expect((await listTenantProfiles(t.deps, w.tenant, 50)).profiles.map((p) => p.name)).toEqual(['a', 'b']);
  });

  it('after the claim, before the name: the same rename run again finishes it', async () => {
    const w = await world();
    const token = await w.create('a');
    await expect(w.rename('a', 'b', crashingAt('rename'))).rejects.toThrow(/crashed|the process is gone/);

    await w.rename('a', 'b');

    expect((await openProfile(t.deps, w.tenant, 'bot', token)).item.name).toBe('b');
    expect(await rejection(w.metadata('a'))).toMatchObject({ status: 404 });
  });

  it('after the name, before the old claim is released: done; the old name answers 404 and can be created again', async () => {
    const w = await world();
    const token = await w.create('a');

    await expect(w.rename('a', 'b', crashingAt('release'))).rejects.toThrow(/crashed|the process is gone/);

    expect((await openProfile(t.deps, w.tenant, 'bot', token)).item.name).toBe('b');
    expect((await w.metadata('b')).name).toBe('b');
    expect(await rejection(w.metadata('a'))).toMatchObject({ status: 404 });
    const again = await w.create('a');
    expect((await openProfile(t.deps, w.tenant, 'bot', again)).item.name).toBe('a');
    expect((await listTenantProfiles(t.deps, w.tenant, 50)).profiles.map((p) => p.name)).toEqual(['a', 'b']);
  });

  it('before anything (the fence write fails): nothing changes', async () => {
    const w = await world();
    await w.create('a');

    await expect(w.rename('a', 'b', crashingAt('markRename'))).rejects.toThrow(/crashed|the process is gone/);

    expect((await w.metadata('a')).name).toBe('a');
    expect((await t.deps.store.profiles.get(namedProfileRef(w.tenant, 'bot', 'a')))?.rename_to).toBeUndefined();
  });
});

describe('claims left by a create or delete that stopped half-way', () => {
  it('a delete that stopped before releasing the claim: the name can be created and renamed to again', async () => {
    const w = await world();
    await w.create('gone');
    await w.create('other');
    const s = t.deps.store;
    const noRelease = {
      ...t.deps,
      store: { ...s, profileNames: { ...s.profileNames, release: async () => Promise.reject(new Error('crashed')) } },
    };
    await expect(deleteProfile(noRelease, w.tenant, 'bot', 'gone')).rejects.toThrow(/crashed|the process is gone/);

    expect(await rejection(w.metadata('gone'))).toMatchObject({ status: 404 });
    await w.create('gone');
    await deleteProfile(t.deps, w.tenant, 'bot', 'gone');
    await w.rename('other', 'gone');
    expect((await w.metadata('gone')).name).toBe('gone');
  });

  it('a create that stopped after its claim: a rename to that name waits out the lease (409 conflict), a create goes through at once', async () => {
    const w = await world();
    await w.create('x');
    const s = t.deps.store;
    const noProfile = { ...t.deps, store: { ...s, profiles: { ...s.profiles, create: async () => Promise.reject(new Error('crashed')) } } };
    await expect(w.create('half', noProfile)).rejects.toThrow(/crashed|the process is gone/);

    expect(await rejection(w.rename('x', 'half'))).toMatchObject({ status: 409, code: 'conflict' });
    const later = { ...t.deps, now: () => new Date(Date.now() + UNBORN_CLAIM_LEASE_MS + 1000) };
    await expect(w.rename('x', 'half', later)).resolves.toMatchObject({ name: 'half' });
  });

  it('a create that stopped after its claim does not block a create of the same name', async () => {
    const w = await world();
    const s = t.deps.store;
    const noProfile = { ...t.deps, store: { ...s, profiles: { ...s.profiles, create: async () => Promise.reject(new Error('crashed')) } } };
    await expect(w.create('half', noProfile)).rejects.toThrow(/crashed|the process is gone/);

    const token = await w.create('half');

    expect((await openProfile(t.deps, w.tenant, 'bot', token)).item.name).toBe('half');
  });
});
