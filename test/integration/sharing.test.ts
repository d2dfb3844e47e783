import { randomBytes } from 'node:crypto';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { slotFor } from '#shared/credentials/profile-keys';
import { openForUse } from '#shared/credentials/gate';
import { queryAudit, verifyAuditLog } from '#shared/audit/log';
import { ConflictError, ForbiddenError, NotFoundError, ProfileNotFoundError } from '#shared/errors';
import { keys } from '#shared/keys';

import { createApiKey } from '#shared/services/api-keys';



import { testCaller } from '#test/support/credentials';
import { signerOf, useTestStore } from '#test/support/dynamo';
import { signUnsignedItems } from '#shared/store/dynamodb';
import { createAgent, createProfile, deleteProfile, deleteProfileChecked, getProfileMetadata, listProfiles, patchProfile, profileUsage, rotateProfile, shareProfile, unshareProfile, upsertProfile } from '#test/support/services';
import { profileRef } from '#shared/store/profile-ref';

const TENANT = 'acme';
const admin = testCaller(TENANT, 'aaaaaaaaaaaaaaaa', 'admin');
const t = useTestStore();

/** A member key that exists in the tenant (grants must name real keys). */
async function member() {
  const created = await createApiKey(t.deps, admin, { name: 'm', role: 'member' });
  return testCaller(TENANT, created.key_id, 'member');
}

async function agentWithProfile(owner = admin) {
  const agentId = `bot-${randomBytes(4).toString('hex')}`;
  await createAgent(t.deps, TENANT, { agent_id: agentId, name: 'bot', input_args: [{ name: 'username', required: false, secret: true }], runner: { type: 'webhook', url: 'http://127.0.0.1:9/run' } });
  const { auth_token } = await createProfile(t.deps, TENANT, { name: 'main', agent_id: agentId, auth_data: { username: 'ann' } }, owner);
  const slot = slotFor(TENANT, agentId, 'main').toString('hex');
  return { agentId, token: auth_token, slot };
}

/**
 * Deps whose first settings write (patchSettings) lets `meanwhile` land just before it: the
 * interleaving of two requests that read the same version.
 */
function racing(meanwhile: () => Promise<unknown>) {
  const state = { interleaved: false };
  const profiles = t.deps.store.profiles;
  const store = {
    ...t.deps.store,
    profiles: {
      ...profiles,
      patchSettings: async (...args: Parameters<typeof profiles.patchSettings>) => {
        if (!state.interleaved) {
          state.interleaved = true;
          await meanwhile();
        }
        return profiles.patchSettings(...args);
      },
    },
  };
  return { deps: { ...t.deps, store }, state };
}

describe('ownership', () => {
  it('a new profile is owned by its creator, private, with no grants', async () => {
    const m = await member();
    const { agentId } = await agentWithProfile(m);

    await expect(getProfileMetadata(t.deps, TENANT, agentId, 'main', m)).resolves.toMatchObject({ owner: m.apiKeyId, visibility: 'private', grants: [] });
  });

  it('a profile from before principals (no owner) is for admins only', async () => {
    const m = await member();
    const { agentId, token, slot } = await agentWithProfile();
    await t.store.db.doc.send(
      new UpdateCommand({ TableName: t.store.db.tableName, Key: keys.profile(profileRef(TENANT, agentId, slot)), UpdateExpression: 'REMOVE #o, visibility, grants, mac, mac_key_id, mac_format', ExpressionAttributeNames: { '#o': 'owner' } }),
    );
    // As an older vault wrote it (no MAC), then signed by the operator's sign-items after the upgrade.
    await signUnsignedItems(t.store.db, signerOf(t.deps));

    await expect(getProfileMetadata(t.deps, TENANT, agentId, 'main', admin)).resolves.toMatchObject({ visibility: 'private', grants: [] });
    await expect(getProfileMetadata(t.deps, TENANT, agentId, 'main', m)).rejects.toBeInstanceOf(NotFoundError);
    await expect(openForUse(t.deps, m, { kind: 'token', agentId, token }, 'run')).rejects.toBeInstanceOf(ProfileNotFoundError);
    await expect(openForUse(t.deps, admin, { kind: 'token', agentId, token }, 'run')).resolves.toBeDefined();
  });
});

describe('the gate (POLICY callerMayUse)', () => {
  it('refuses a member without a grant with the unknown-token 404, before decrypting', async () => {
    const m = await member();
    const { agentId, token } = await agentWithProfile();

    await expect(openForUse(t.deps, m, { kind: 'token', agentId, token }, 'proxy')).rejects.toBeInstanceOf(ProfileNotFoundError);

    await shareProfile(t.deps, admin, agentId, 'main', { principal: m.apiKeyId, permission: 'read' });
    const use = await openForUse(t.deps, m, { kind: 'token', agentId, token }, 'proxy');
    expect(use.secret).toEqual({ username: 'ann' });
  });
});

describe('writes by permission', () => {
  it('update in place with the token: 404 without access, 403 with read, allowed with read_write', async () => {
    const m = await member();
    const { agentId, token } = await agentWithProfile();
    const update = () => upsertProfile(t.deps, TENANT, { agent_id: agentId, auth_token: token, auth_data: { username: 'bob' } }, m);

    await expect(update()).rejects.toBeInstanceOf(ProfileNotFoundError);
    await shareProfile(t.deps, admin, agentId, 'main', { principal: m.apiKeyId, permission: 'read' });
    await expect(update()).rejects.toBeInstanceOf(ForbiddenError);
    await shareProfile(t.deps, admin, agentId, 'main', { principal: m.apiKeyId, permission: 'read_write' });
    await expect(update()).resolves.toMatchObject({ type: 'update' });
    await expect(getProfileMetadata(t.deps, TENANT, agentId, 'main', m)).resolves.toMatchObject({ grants: [{ principal: m.apiKeyId, permission: 'read_write' }] });
  });

  it('list shows a member only what it may read', async () => {
    const m = await member();
    const { agentId } = await agentWithProfile();
    await createProfile(t.deps, TENANT, { name: 'mine', agent_id: agentId, auth_data: { username: 'x' } }, m);

    const page = await listProfiles(t.deps, TENANT, agentId, 50, undefined, m);
    expect(page.profiles.map((p) => p.name)).toEqual(['mine']);
    expect((await listProfiles(t.deps, TENANT, agentId, 50, undefined, admin)).profiles).toHaveLength(2);
  });

  it('delete by a member is refused 409 when the grants changed after its check', async () => {
    const m = await member();
    const { agentId, slot } = await agentWithProfile();
    await shareProfile(t.deps, admin, agentId, 'main', { principal: m.apiKeyId, permission: 'read_write' });
    const repo = t.deps.store.profiles;
    const read = await repo.get(profileRef(TENANT, agentId, slot));
    await unshareProfile(t.deps, admin, agentId, 'main', m.apiKeyId);

    // The delete conditioned on the version whose permission was checked fails.
    await expect(repo.delete(profileRef(TENANT, agentId, slot), read)).resolves.toBe(false);
    await expect(deleteProfile(t.deps, TENANT, agentId, 'main', true, m)).rejects.toBeInstanceOf(NotFoundError);
    await expect(getProfileMetadata(t.deps, TENANT, agentId, 'main', admin)).resolves.toBeDefined();
  });
});

describe('share races', () => {
  it('two shares from the same read: one lands, the other is a conflict (nothing lost silently)', async () => {
    const { agentId, slot } = await agentWithProfile();
    const repo = t.deps.store.profiles;
    const read = await repo.get(profileRef(TENANT, agentId, slot));
    if (!read) throw new Error('no profile');

    const [a, b] = await Promise.all([
      repo.patchSettings(profileRef(TENANT, agentId, slot), { grants: [{ principal: 'role:member', permission: 'read' }], visibility: 'shared' }, read, 'now'),
      repo.patchSettings(profileRef(TENANT, agentId, slot), { grants: [{ principal: 'role:member', permission: 'read_write' }], visibility: 'shared' }, read, 'now'),
    ]);

    expect([a, b].filter((x) => x !== undefined)).toHaveLength(1);
  });

  it('a replace that read before a share does not wipe the grant: it retries on the new version', async () => {
    const m = await member();
    const { agentId, slot } = await agentWithProfile();
    const repo = t.deps.store.profiles;
    const before = await repo.get(profileRef(TENANT, agentId, slot));
    await shareProfile(t.deps, admin, agentId, 'main', { principal: m.apiKeyId, permission: 'read' });

    // A put conditioned on the pre-share read fails …
    if (!before) throw new Error('no profile');
    await expect(repo.replace({ ...before, grants: [] } as never, before)).resolves.toBe(false);
    // … and the service's replace keeps the grant.
    await upsertProfile(t.deps, TENANT, { agent_id: agentId, name: 'main', auth_data: { username: 'new' } }, admin);
    await expect(getProfileMetadata(t.deps, TENANT, agentId, 'main', m)).resolves.toMatchObject({ grants: [{ principal: m.apiKeyId, permission: 'read' }], generation: 2 });
  });

  it('shareProfile answers 409 conflict when another share lands between its read and its write', async () => {
    const { agentId } = await agentWithProfile();
    const race = racing(() => shareProfile(t.deps, admin, agentId, 'main', { principal: 'role:member', permission: 'read' }));

    const err = await shareProfile(race.deps, admin, agentId, 'main', { principal: 'role:member', permission: 'read_write' }).catch((e: unknown) => e);

    expect(race.state.interleaved).toBe(true);
    expect(err).toBeInstanceOf(ConflictError);
    await expect(getProfileMetadata(t.deps, TENANT, agentId, 'main')).resolves.toMatchObject({ grants: [{ principal: 'role:member', permission: 'read' }] });
  });
});

describe('one settings version for settings and access', () => {
  it('a share that read before a PATCH answers 409 (the PATCH bumped the version it read)', async () => {
    const { agentId } = await agentWithProfile();
    const race = racing(() => patchProfile(t.deps, admin, agentId, 'main', { description: 'patched meanwhile' }));

    const err = await shareProfile(race.deps, admin, agentId, 'main', { principal: 'role:member', permission: 'read' }).catch((e: unknown) => e);

    expect(race.state.interleaved).toBe(true);
    expect(err).toBeInstanceOf(ConflictError);
    await expect(getProfileMetadata(t.deps, TENANT, agentId, 'main')).resolves.toMatchObject({ description: 'patched meanwhile', grants: [], visibility: 'private' });
  });

  it('a PATCH that read before a share re-reads and keeps the grant', async () => {
    const m = await member();
    const { agentId } = await agentWithProfile();
    const race = racing(() => shareProfile(t.deps, admin, agentId, 'main', { principal: m.apiKeyId, permission: 'read' }));

    await patchProfile(race.deps, admin, agentId, 'main', { active: false });

    await expect(getProfileMetadata(t.deps, TENANT, agentId, 'main', m)).resolves.toMatchObject({ active: false, grants: [{ principal: m.apiKeyId, permission: 'read' }] });
  });

  it('rotate keeps owner and grants', async () => {
    const m = await member();
    const { agentId, token } = await agentWithProfile(m);
    await shareProfile(t.deps, m, agentId, 'main', { principal: 'role:member', permission: 'read' });

    await rotateProfile(t.deps, m, agentId, 'main', { auth_token: token });

    await expect(getProfileMetadata(t.deps, TENANT, agentId, 'main')).resolves.toMatchObject({ owner: m.apiKeyId, generation: 2, grants: [{ principal: 'role:member', permission: 'read' }] });
  });
});

describe('lifecycle endpoints by permission', () => {
  it('without read: rotate, PATCH, usage, delete, share and unshare all answer the unknown-profile 404', async () => {
    const m = await member();
    const { agentId, token } = await agentWithProfile();

    for (const attempt of [
      () => rotateProfile(t.deps, m, agentId, 'main', { auth_token: token }),
      () => patchProfile(t.deps, m, agentId, 'main', { active: false }),
      () => profileUsage(t.deps, m, agentId, 'main'),
      () => deleteProfileChecked(t.deps, m, agentId, 'main', true),
      () => shareProfile(t.deps, m, agentId, 'main', { principal: 'role:member', permission: 'read' }),
      () => unshareProfile(t.deps, m, agentId, 'main', 'role:member'),
    ]) {
      const err = await attempt().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NotFoundError);
      expect((err as NotFoundError).code).toBe('profile_not_found');
    }
    await expect(getProfileMetadata(t.deps, TENANT, agentId, 'main')).resolves.toMatchObject({ active: true, generation: 1 });
  });

  it('with read: usage and metadata answer; rotate, PATCH, delete and share are 403 forbidden', async () => {
    const m = await member();
    const { agentId, token } = await agentWithProfile();
    await shareProfile(t.deps, admin, agentId, 'main', { principal: m.apiKeyId, permission: 'read' });

    await expect(profileUsage(t.deps, m, agentId, 'main')).resolves.toMatchObject({ uses: [] });
    for (const attempt of [
      () => rotateProfile(t.deps, m, agentId, 'main', { auth_token: token }),
      () => patchProfile(t.deps, m, agentId, 'main', { active: false }),
      () => deleteProfileChecked(t.deps, m, agentId, 'main', true),
      () => shareProfile(t.deps, m, agentId, 'main', { principal: 'role:member', permission: 'read' }),
    ]) {
      await expect(attempt()).rejects.toBeInstanceOf(ForbiddenError);
    }
  });

  it('with read_write: a member rotates, patches and deletes', async () => {
    const m = await member();
    const { agentId, token } = await agentWithProfile();
    await shareProfile(t.deps, admin, agentId, 'main', { principal: 'role:member', permission: 'read_write' });

    await patchProfile(t.deps, m, agentId, 'main', { description: 'by a member' });
    await rotateProfile(t.deps, m, agentId, 'main', { auth_token: token });
    await deleteProfileChecked(t.deps, m, agentId, 'main', true);

    await expect(getProfileMetadata(t.deps, TENANT, agentId, 'main')).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('audit records of sharing', () => {
  it('records share and unshare in the profile view with the grantee and permission; a share that lost its race is recorded before its write and again as 409', async () => {
    const m = await member();
    const { agentId, slot } = await agentWithProfile();
    await shareProfile(t.deps, admin, agentId, 'main', { principal: m.apiKeyId, permission: 'read_write' });
    await unshareProfile(t.deps, admin, agentId, 'main', m.apiKeyId);
    const race = racing(() => shareProfile(t.deps, admin, agentId, 'main', { principal: 'role:member', permission: 'read' }));
    await expect(shareProfile(race.deps, admin, agentId, 'main', { principal: 'role:member', permission: 'read_write' })).rejects.toBeInstanceOf(ConflictError);

    const { records } = await queryAudit(t.deps, { tenant: TENANT, agentId, slot, limit: 10 });

    expect(records.map((r) => [r.action, r.principal, r.permission, r.key_id, r.status])).toEqual([
      ['share', 'role:member', 'read_write', admin.apiKeyId, 409],
      ['share', 'role:member', 'read', admin.apiKeyId, 200],
      ['share', 'role:member', 'read_write', admin.apiKeyId, 200],
      ['unshare', m.apiKeyId, undefined, admin.apiKeyId, 200],
      ['share', m.apiKeyId, 'read_write', admin.apiKeyId, 200],
      ['create', undefined, undefined, admin.apiKeyId, 200],
    ]);
    expect(await verifyAuditLog(t.deps, TENANT)).toMatchObject({ problems: [] });
  });
});
