import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { openForUse } from '#shared/credentials/gate';
import { NotFoundError, ProfileNotFoundError, ValidationError } from '#shared/errors';
import { profileRepository } from '#shared/repositories/profiles';
import type { ProfileRecord } from '#shared/store/types';
import { parseToken } from '#shared/crypto/token';


import { testCaller } from '#test/support/credentials';
import { useTestStore, signerOf } from '#test/support/dynamo';
import { createAgent, createProfile, deleteAgent } from '#test/support/services';
import { profileRef } from '#shared/store/profile-ref';

const TENANT = 'acme';
const caller = testCaller(TENANT);
const t = useTestStore();

async function agentWithProfile(values: Record<string, string> = { username: 'ann', password: 'pw-1' }) {
  const agentId = `bot-${randomBytes(4).toString('hex')}`;
  await createAgent(t.deps, TENANT, {
    agent_id: agentId,
    name: 'CRM bot',
    input_args: [{ name: 'username', required: false, secret: false }, { name: 'password', required: false, secret: true }],
    runner: { type: 'webhook', url: 'http://127.0.0.1:9/run' },
  });
  const { auth_token } = await createProfile(t.deps, TENANT, { name: 'main', agent_id: agentId, auth_data: values });
  return { agentId, token: auth_token };
}

const useCount = async (agentId: string, token: string) =>
  (await profileRepository(t.store.db, signerOf(t.deps)).get(profileRef(TENANT, agentId, parseToken(token).slot.toString('hex'))))?.use_count;

describe('openForUse', () => {
  it('verifies the token and hands the use its agent, type and decrypted values', async () => {
    const { agentId, token } = await agentWithProfile();

    const use = await openForUse(t.deps, caller, { kind: 'token', agentId, token }, 'run');

    expect(use.agent.agent_id).toBe(agentId);
    expect(use.type.name).toBe('custom');
    expect({ ...use.secret }).toEqual({ username: 'ann', password: 'pw-1' });
    expect(use.purpose).toBe('run');
    expect(use.caller).toBe(caller);
  });

  it('counts a use only when the use is recorded', async () => {
    const { agentId, token } = await agentWithProfile();

    const use = await openForUse(t.deps, caller, { kind: 'token', agentId, token }, 'run');
    expect(await useCount(agentId, token)).toBe(0);
    await use.recordUse();

    expect(await useCount(agentId, token)).toBe(1);
  });

  it('refuses a malformed token with 400 before reading anything', async () => {
    await expect(openForUse(t.deps, caller, { kind: 'token', agentId: 'any', token: 'avt_nope' }, 'run')).rejects.toBeInstanceOf(ValidationError);
  });

  it('reads a malformed token as an unknown one when asked (the compatible routes): the unknown-profile 404', async () => {
    const { agentId } = await agentWithProfile();

    const err = await openForUse(t.deps, caller, { kind: 'token', agentId, token: 'avt_nope', unknownIfMalformed: true }, 'run').catch((e: unknown) => e);

    expect(err).toBeInstanceOf(ProfileNotFoundError);
  });

  it('answers 404 agent_not_found for an unknown agent', async () => {
    const { token } = await agentWithProfile();

    const err = await openForUse(t.deps, caller, { kind: 'token', agentId: 'no-such-bot', token }, 'run').catch((e: unknown) => e);

    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as NotFoundError).code).toBe('agent_not_found');
  });

  it('refuses another tenant as an unknown profile', async () => {
    const { agentId, token } = await agentWithProfile();
    await createAgent(t.deps, 'other', { agent_id: agentId, name: 'x', input_args: [], runner: { type: 'webhook', url: 'http://127.0.0.1:9/run' } });

    await expect(openForUse(t.deps, testCaller('other'), { kind: 'token', agentId, token }, 'run')).rejects.toBeInstanceOf(ProfileNotFoundError);
  });

  it('applies the binding policy: a profile of an earlier registration of the agent does not open', async () => {
    const { agentId, token } = await agentWithProfile();
    // Keep the profile item, re-register the agent under the same id (a new incarnation).
    const item = await profileRepository(t.store.db, signerOf(t.deps)).get(profileRef(TENANT, agentId, parseToken(token).slot.toString('hex')));
    await deleteAgent(t.deps, TENANT, agentId, true);
    await createAgent(t.deps, TENANT, { agent_id: agentId, name: 'again', input_args: [], runner: { type: 'webhook', url: 'http://127.0.0.1:9/run' } });
    const { pk: _pk, sk: _sk, entity: _e, ...record } = item as NonNullable<typeof item>;
    await profileRepository(t.store.db, signerOf(t.deps)).create(record as ProfileRecord);

    await expect(openForUse(t.deps, caller, { kind: 'token', agentId, token }, 'run')).rejects.toBeInstanceOf(ProfileNotFoundError);
  });
});
