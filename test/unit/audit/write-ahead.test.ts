import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { createLocalDeps } from '#infra/local/deps';
import { queryAudit } from '#shared/audit/log';
import { loadConfig } from '#shared/config';
import { namedProfileRef } from '#shared/credentials/profile-keys';
import { authenticatePrincipal, createApiKey, listApiKeys, revokeApiKey } from '#shared/services/api-keys';
import { memoryStore } from '#test/support/memory-store';
import type { Store } from '#shared/store/types';
import { testCaller } from '#test/support/credentials';
import { captureLogger } from '#test/support/dynamo';
import {
  createAgent,
  createProfile,
  deleteProfileChecked,
  patchProfile,
  rotateProfile,
  shareProfile,
  unshareProfile,
  upsertProfile,
} from '#test/support/services';

/**
 * Write-ahead audit of changes (shared/audit/log.ts auditedChange): a change's record is written
 * before the change, so a record that cannot be written leaves the profile or key exactly as it
 * was (503 audit_unavailable), and a change that fails after its record leaves a second record
 * with its status and code. The in-memory store is wrapped so its audit write, or one of the
 * change's writes, can be made to fail.
 */

const TENANT = 'acme';
const AGENT = 'crm-bot';
const caller = testCaller(TENANT);

/** What the wrapped store does wrong: its audit write throws; its conditional writes lose (or throw). */
const faults = { audit: false, lose: false };

async function setup() {
  const mem = memoryStore();
  const err = () => Promise.reject(new Error('ThrottlingException'));
  const store: Store = {
    ...mem,
    audit: { ...mem.audit, write: (...a) => (faults.audit ? err() : mem.audit.write(...a)) },
    profiles: {
      ...mem.profiles,
      replace: (...a) => (faults.lose ? Promise.resolve(false) : mem.profiles.replace(...a)),
      rewrite: (...a) => (faults.lose ? Promise.resolve(false) : mem.profiles.rewrite(...a)),
      patchSettings: (...a) => (faults.lose ? Promise.resolve(undefined) : mem.profiles.patchSettings(...a)),
      delete: (...a) => (faults.lose ? Promise.resolve(false) : mem.profiles.delete(...a)),
    },
    apiKeys: {
      ...mem.apiKeys,
      put: (...a) => (faults.lose ? err() : mem.apiKeys.put(...a)),
      delete: (...a) => (faults.lose ? err() : mem.apiKeys.delete(...a)),
    },
  };
  const config = loadConfig({ VAULT_MODE: 'local', VAULT_DATA_DIR: mkdtempSync(join(tmpdir(), 'agent-vault-test-')) });
  const deps = await createLocalDeps(config, { store, log: captureLogger() });
  await createAgent(deps, TENANT, {
    agent_id: AGENT,
    name: 'CRM',
    input_args: [{ name: 'password', required: false, secret: true }],
    runner: { type: 'webhook', url: 'http://127.0.0.1:9/run' },
  });
  const { auth_token: token } = await createProfile(deps, TENANT, { name: 'main', agent_id: AGENT, auth_data: { password: 'p' } }, caller);
  const stored = () => mem.profiles.get(namedProfileRef(TENANT, AGENT, 'main'));
  /** The records of `action`, oldest first, as [status, result]. */
  const records = async (action: string) =>
    (await queryAudit(deps, { tenant: TENANT, actions: [action], limit: 50 })).records.map((r) => [r.status, r.result]).reverse();
  return { deps, token, stored, records };
}

let v: Awaited<ReturnType<typeof setup>>;

beforeEach(async () => {
  faults.audit = false;
  faults.lose = false;
  v = await setup();
});

/** Runs `change` with the audit write failing; expects 503 audit_unavailable. */
async function withoutAudit(change: () => Promise<unknown>): Promise<void> {
  faults.audit = true;
  try {
    await expect(change()).rejects.toMatchObject({ status: 503, code: 'audit_unavailable' });
  } finally {
    faults.audit = false;
  }
}

describe('a change whose audit record cannot be written does not happen', () => {
  it('create: no profile is stored', async () => {
    await withoutAudit(() => createProfile(v.deps, TENANT, { name: 'other', agent_id: AGENT, auth_data: { password: 'x' } }, caller));
    await expect(v.deps.store.profiles.get(namedProfileRef(TENANT, AGENT, 'other'))).resolves.toBeUndefined();
  });

  it('replace: the profile stays at its generation', async () => {
    await withoutAudit(() => upsertProfile(v.deps, TENANT, { name: 'main', agent_id: AGENT, auth_data: { password: 'q' } }, caller));
    expect(await v.stored()).toMatchObject({ generation: 1, record_version: 1 });
  });

  it('update in place: the profile keeps its record version', async () => {
    await withoutAudit(() => upsertProfile(v.deps, TENANT, { agent_id: AGENT, auth_token: v.token, auth_data: { password: 'q' } }, caller));
    expect(await v.stored()).toMatchObject({ generation: 1, record_version: 1 });
  });

  it('rotate: the profile stays at its generation', async () => {
    await withoutAudit(() => rotateProfile(v.deps, caller, AGENT, 'main', { auth_token: v.token }));
    expect(await v.stored()).toMatchObject({ generation: 1, record_version: 1 });
  });

  it('patch: the settings stay as they were', async () => {
    await withoutAudit(() => patchProfile(v.deps, caller, AGENT, 'main', { active: false }));
    expect(await v.stored()).toMatchObject({ active: true });
  });

  it('delete: the profile is still there', async () => {
    await withoutAudit(() => deleteProfileChecked(v.deps, caller, AGENT, 'main', true));
    expect(await v.stored()).toBeDefined();
  });

  it('share: no grant is added', async () => {
    await withoutAudit(() => shareProfile(v.deps, caller, AGENT, 'main', { principal: 'role:member', permission: 'read' }));
    expect((await v.stored())?.grants ?? []).toEqual([]);
  });

  it('unshare: the grant stays', async () => {
    await shareProfile(v.deps, caller, AGENT, 'main', { principal: 'role:member', permission: 'read' });
    await withoutAudit(() => unshareProfile(v.deps, caller, AGENT, 'main', 'role:member'));
    expect((await v.stored())?.grants).toEqual([{ principal: 'role:member', permission: 'read' }]);
  });

  it('API key create: no key is stored', async () => {
    await withoutAudit(() => createApiKey(v.deps, caller, { name: 'ci', role: 'member' }));
    expect((await listApiKeys(v.deps, caller, 10)).api_keys).toEqual([]);
  });

  it('API key revoke: the key still authenticates', async () => {
    const key = await createApiKey(v.deps, caller, { name: 'ci', role: 'member' });
    await withoutAudit(() => revokeApiKey(v.deps, caller, key.key_id));
    await expect(authenticatePrincipal(v.deps, key.api_key)).resolves.toMatchObject({ keyId: key.key_id });
  });
});

describe('a change that fails after its record leaves a second record', () => {
  it('create of an existing name: refused by the name lookup before any change, so no record', async () => {
    await expect(
      createProfile(v.deps, TENANT, { name: 'main', agent_id: AGENT, auth_data: { password: 'x' } }, caller),
    ).rejects.toMatchObject({ status: 409 });
    expect(await v.records('create')).toEqual([
      [200, 'ok'], // the profile of setup()
    ]);
  });

  it('replace that keeps losing its conditional write: replace ok, then replace 409', async () => {
    faults.lose = true;
    await expect(
      upsertProfile(v.deps, TENANT, { name: 'main', agent_id: AGENT, auth_data: { password: 'q' } }, caller),
    ).rejects.toMatchObject({ status: 409 });
    expect(await v.records('replace')).toEqual([
      [200, 'ok'],
      [409, 'conflict'],
    ]);
  });

  it('update in place that loses its conditional write: update ok, then update 409', async () => {
    faults.lose = true;
    await expect(
      upsertProfile(v.deps, TENANT, { agent_id: AGENT, auth_token: v.token, auth_data: { password: 'q' } }, caller),
    ).rejects.toMatchObject({ status: 409 });
    expect(await v.records('update')).toEqual([
      [200, 'ok'],
      [409, 'conflict'],
    ]);
  });

  it('rotate that loses its conditional write: rotate ok, then rotate 409', async () => {
    faults.lose = true;
    await expect(rotateProfile(v.deps, caller, AGENT, 'main', { auth_token: v.token })).rejects.toMatchObject({ status: 409 });
    expect(await v.records('rotate')).toEqual([
      [200, 'ok'],
      [409, 'conflict'],
    ]);
  });

  it('patch that keeps losing its conditional write: patch ok, then patch 409', async () => {
    faults.lose = true;
    await expect(patchProfile(v.deps, caller, AGENT, 'main', { active: false })).rejects.toMatchObject({ status: 409 });
    expect(await v.records('patch')).toEqual([
      [200, 'ok'],
      [409, 'conflict'],
    ]);
  });

  it('delete of a profile gone meanwhile: delete ok, then delete 404', async () => {
    faults.lose = true;
    await expect(deleteProfileChecked(v.deps, caller, AGENT, 'main', true)).rejects.toMatchObject({ status: 404 });
    expect(await v.records('delete')).toEqual([
      [204, 'ok'],
      [404, 'profile_not_found'],
    ]);
  });

  it('share that loses its conditional write: share ok, then share 409', async () => {
    faults.lose = true;
    await expect(shareProfile(v.deps, caller, AGENT, 'main', { principal: 'role:member', permission: 'read' })).rejects.toMatchObject({
      status: 409,
    });
    expect(await v.records('share')).toEqual([
      [200, 'ok'],
      [409, 'conflict'],
    ]);
  });

  it('unshare that loses its conditional write: unshare ok, then unshare 409', async () => {
    await shareProfile(v.deps, caller, AGENT, 'main', { principal: 'role:member', permission: 'read' });
    faults.lose = true;
    await expect(unshareProfile(v.deps, caller, AGENT, 'main', 'role:member')).rejects.toMatchObject({ status: 409 });
    expect(await v.records('unshare')).toEqual([
      [200, 'ok'],
      [409, 'conflict'],
    ]);
  });

  it('API key create whose store write fails: api_key_create ok, then api_key_create 500 failed', async () => {
    faults.lose = true;
    await expect(createApiKey(v.deps, caller, { name: 'ci', role: 'member' })).rejects.toThrow();
    expect(await v.records('api_key_create')).toEqual([
      [201, 'ok'],
      [500, 'failed'],
    ]);
  });

  it('API key revoke whose delete fails: api_key_revoke ok, then api_key_revoke 500 failed', async () => {
    const key = await createApiKey(v.deps, caller, { name: 'ci', role: 'member' });
    faults.lose = true;
    await expect(revokeApiKey(v.deps, caller, key.key_id)).rejects.toThrow();
    expect(await v.records('api_key_revoke')).toEqual([
      [204, 'ok'],
      [500, 'failed'],
    ]);
  });
});
