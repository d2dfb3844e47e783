import { randomBytes } from 'node:crypto';
import { QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it, vi } from 'vitest';
import { namedProfileRef, SESSION_FIELD } from '#shared/credentials/profile-keys';
import { formatToken, parseToken } from '#shared/crypto/token';
import { ConflictError, NotFoundError, PayloadTooLargeError, ProfileNotFoundError, ValidationError } from '#shared/errors';
import { keys } from '#shared/keys';
import { profileRepository } from '#shared/repositories/profiles';
import { sessionRepository } from '#shared/repositories/sessions';

import { decryptAuthData, openProfile } from '#test/support/credentials';
import { useTestStore, signerOf } from '#test/support/dynamo';
import { createAgent, createProfile, deleteProfile, getProfileMetadata, listProfiles, upsertProfile, upsertProfileRecord } from '#test/support/services';
import { profileRef } from '#shared/store/profile-ref';

const TENANT = 'acme';
const OTHER_TENANT = 'globex';

const t = useTestStore();

let agentSeq = 0;
/** Registers a fresh agent (unique id per test) declaring `args`. */
async function newAgent(
  args: readonly string[] = ['username', 'password', 'otp_seed'],
  tenant = TENANT,
  agentId = `agent-${++agentSeq}-${randomBytes(3).toString('hex')}`,
) {
  await createAgent(t.deps, tenant, {
    agent_id: agentId,
    name: `Agent ${agentId}`,
    input_args: args.map((name) => ({ name, required: false, secret: true })),
    runner: { type: 'webhook', url: 'http://127.0.0.1:9/run' },
  });
  return agentId;
}

/** What a promise rejected with (fails the test if it resolved). */
async function rejectionOf(p: Promise<unknown>): Promise<Error> {
  const outcome = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(outcome instanceof Error)) throw new Error('expected the call to fail, it succeeded');
  return outcome;
}

const valuesOf = async (agentId: string, token: string, tenant = TENANT) =>
  decryptAuthData(await openProfile(t.deps, tenant, agentId, token));

const storedItem = async (agentId: string, name: string, tenant = TENANT) =>
  profileRepository(t.store.db, signerOf(t.deps)).get(namedProfileRef(tenant, agentId, name));

describe('createProfile', () => {
  it('returns a token that opens the stored values', async () => {
    const agent = await newAgent();

    const { auth_token } = await createProfile(t.deps, TENANT, {
      name: 'main',
      agent_id: agent,
      auth_data: { username: 'ann', password: 'pw-1' },
    });

    expect(await valuesOf(agent, auth_token)).toEqual({ username: 'ann', password: 'pw-1' });
  });

  it('answers 409 profile_exists for a name the agent already has, and keeps the first profile', async () => {
    const agent = await newAgent();
    const first = await createProfile(t.deps, TENANT, { name: 'main', agent_id: agent, auth_data: { password: 'pw-1' } });

    const err = await rejectionOf(createProfile(t.deps, TENANT, { name: 'main', agent_id: agent, auth_data: { password: 'pw-2' } }));

    expect(err).toBeInstanceOf(ConflictError);
    expect(err).toMatchObject({ status: 409, code: 'profile_exists' });
    expect(await valuesOf(agent, first.auth_token)).toEqual({ password: 'pw-1' });
  });

  it('lets exactly one of 20 parallel creates of one name win; the others get 409', async () => {
    const agent = await newAgent();

    const outcomes = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        createProfile(t.deps, TENANT, { name: 'contested', agent_id: agent, auth_data: { password: `pw-${i}` } }),
      ),
    );

    const winners = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [{ i, token: o.value.auth_token }] : []));
    const losers = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason] : []));
    expect(winners).toHaveLength(1);
    expect(losers).toHaveLength(19);
    for (const err of losers) expect(err).toMatchObject({ status: 409, code: 'profile_exists' });
    const [winner] = winners;
    expect(await valuesOf(agent, winner?.token as string)).toEqual({ password: `pw-${winner?.i}` });
  });

  it('answers 404 agent_not_found for an agent that does not exist', async () => {
    const err = await rejectionOf(
      createProfile(t.deps, TENANT, { name: 'main', agent_id: 'no-such-agent', auth_data: { password: 'pw' } }),
    );

    expect(err).toBeInstanceOf(NotFoundError);
    expect(err).toMatchObject({ code: 'agent_not_found' });
  });

  it('answers 400 naming the unknown auth_data keys and listing the declared ones', async () => {
    const agent = await newAgent(['username', 'password']);

    const err = await rejectionOf(
      createProfile(t.deps, TENANT, { name: 'main', agent_id: agent, auth_data: { password: 'pw', otp: '1', pin: '2' } }),
    );

    expect(err).toBeInstanceOf(ValidationError);
    expect(err).toMatchObject({ status: 400, code: 'unknown_input_args' });
    expect(err.message).toContain('"otp", "pin"');
    expect(err.message).toContain('declared: username, password');
    expect(await storedItem(agent, 'main')).toBeUndefined();
  });
});

describe('auth_data limits', () => {
  const manyArgs = (n: number) => Array.from({ length: n }, (_, i) => `k${i}`);
  const dataOf = (n: number, value: (i: number) => string) => Object.fromEntries(manyArgs(n).map((k, i) => [k, value(i)]));
  const KiB = 1024;

  it('accepts 64 keys', async () => {
    const agent = await newAgent(manyArgs(64));

    await expect(
      createProfile(t.deps, TENANT, { name: 'main', agent_id: agent, auth_data: dataOf(64, () => 'v') }),
    ).resolves.toHaveProperty('auth_token');
  });

  it('answers 400 for 65 keys, saying at most 64 are allowed', async () => {
    // The agent schema caps input_args at 64; the service is called directly to reach the auth_data limit itself.
    const agent = await newAgent(manyArgs(65));

    const err = await rejectionOf(createProfile(t.deps, TENANT, { name: 'main', agent_id: agent, auth_data: dataOf(65, () => 'v') }));

    expect(err).toBeInstanceOf(ValidationError);
    expect(err.message).toContain('at most 64');
    expect(await storedItem(agent, 'main')).toBeUndefined();
  });

  it('accepts a value of exactly 16 KiB', async () => {
    const agent = await newAgent();

    await expect(
      createProfile(t.deps, TENANT, { name: 'main', agent_id: agent, auth_data: { password: 'x'.repeat(16 * KiB) } }),
    ).resolves.toHaveProperty('auth_token');
  });

  it('answers 413 for a value of 16 KiB + 1 byte, explaining the item size limit', async () => {
    const agent = await newAgent();

    const err = await rejectionOf(
      createProfile(t.deps, TENANT, { name: 'main', agent_id: agent, auth_data: { password: 'x'.repeat(16 * KiB + 1) } }),
    );

    expect(err).toBeInstanceOf(PayloadTooLargeError);
    expect(err).toMatchObject({ status: 413 });
    expect(err.message).toContain('400 KB');
    expect(err.message).toContain('password');
  });

  it('counts a value in UTF-8 bytes', async () => {
    const agent = await newAgent();

    const err = await rejectionOf(
      createProfile(t.deps, TENANT, { name: 'main', agent_id: agent, auth_data: { password: 'é'.repeat(8 * KiB + 1) } }),
    );

    expect(err).toBeInstanceOf(PayloadTooLargeError);
  });

  it('accepts exactly 64 KiB in all', async () => {
    const agent = await newAgent(manyArgs(4));

    const { auth_token } = await createProfile(t.deps, TENANT, {
      name: 'main',
      agent_id: agent,
      auth_data: dataOf(4, () => 'x'.repeat(16 * KiB)),
    });

    expect(Object.values(await valuesOf(agent, auth_token)).map((s) => s.length)).toEqual([16 * KiB, 16 * KiB, 16 * KiB, 16 * KiB]);
  });

  it('answers 413 for more than 64 KiB in all', async () => {
    const agent = await newAgent(manyArgs(5));

    const err = await rejectionOf(
      createProfile(t.deps, TENANT, { name: 'main', agent_id: agent, auth_data: dataOf(5, (i) => 'x'.repeat(i === 4 ? 1 : 16 * KiB)) }),
    );

    expect(err).toBeInstanceOf(PayloadTooLargeError);
    expect(err.message).toContain('64 KiB');
  });

  it('answers 400 for an empty value', async () => {
    const agent = await newAgent();

    const err = await rejectionOf(
      createProfile(t.deps, TENANT, { name: 'main', agent_id: agent, auth_data: { username: 'ann', password: '' } }),
    );

    expect(err).toBeInstanceOf(ValidationError);
    expect(err.message).toContain('auth_data.password');
  });

  it('answers 400 for an empty auth_data', async () => {
    const agent = await newAgent();

    await expect(createProfile(t.deps, TENANT, { name: 'main', agent_id: agent, auth_data: {} })).rejects.toBeInstanceOf(ValidationError);
  });

  it('applies the limits to the merged values of an update', async () => {
    const agent = await newAgent(manyArgs(5));
    const { auth_token } = await createProfile(t.deps, TENANT, {
      name: 'main',
      agent_id: agent,
      auth_data: dataOf(4, () => 'x'.repeat(16 * KiB)),
    });

    const err = await rejectionOf(upsertProfile(t.deps, TENANT, { agent_id: agent, auth_token, auth_data: { k4: 'y' } }));

    expect(err).toBeInstanceOf(PayloadTooLargeError);
    expect((await storedItem(agent, 'main'))?.record_version).toBe(1);
  });
});

describe('upsertProfile', () => {
  it('creates a profile under a new name', async () => {
    const agent = await newAgent();

    const res = await upsertProfile(t.deps, TENANT, { agent_id: agent, name: 'main', auth_data: { password: 'pw-1' } });

    expect(res).toMatchObject({ name: 'main', type: 'create' });
    expect(await valuesOf(agent, res.auth_token)).toEqual({ password: 'pw-1' });
  });

  it('answers 400 without auth_token and without name', async () => {
    const agent = await newAgent();

    const err = await rejectionOf(upsertProfile(t.deps, TENANT, { agent_id: agent, auth_data: { password: 'pw' } }));

    expect(err).toBeInstanceOf(ValidationError);
    expect(err.message).toContain('name');
  });

  it('replaces an existing name with a new token and only the new values', async () => {
    const agent = await newAgent();
    const first = await createProfile(t.deps, TENANT, { name: 'main', agent_id: agent, auth_data: { username: 'ann', password: 'pw-1' } });

    const res = await upsertProfile(t.deps, TENANT, { agent_id: agent, name: 'main', auth_data: { password: 'pw-2' } });

    expect(res).toMatchObject({ name: 'main', type: 'replace' });
    expect(res.auth_token).not.toBe(first.auth_token);
    expect(await valuesOf(agent, res.auth_token)).toEqual({ password: 'pw-2' });
    expect(await storedItem(agent, 'main')).toMatchObject({ generation: 2 });
  });

  it('kills the replaced token at once', async () => {
    const agent = await newAgent();
    const first = await createProfile(t.deps, TENANT, { name: 'main', agent_id: agent, auth_data: { password: 'pw-1' } });
    await upsertProfile(t.deps, TENANT, { agent_id: agent, name: 'main', auth_data: { password: 'pw-2' } });

    const opened = await rejectionOf(openProfile(t.deps, TENANT, agent, first.auth_token));
    const updated = await rejectionOf(
      upsertProfile(t.deps, TENANT, { agent_id: agent, auth_token: first.auth_token, auth_data: { password: 'pw-3' } }),
    );

    expect(opened).toBeInstanceOf(ProfileNotFoundError);
    expect(updated).toBeInstanceOf(ProfileNotFoundError);
  });

  it('updates in place: keeps the token and merges the new keys into the stored values', async () => {
    const agent = await newAgent();
    const { auth_token } = await createProfile(t.deps, TENANT, {
      name: 'main',
      agent_id: agent,
      auth_data: { username: 'ann', password: 'pw-1' },
    });

    const res = await upsertProfile(t.deps, TENANT, { agent_id: agent, auth_token, auth_data: { password: 'pw-2', otp_seed: 'seed' } });

    expect(res).toEqual({ auth_token, name: 'main', type: 'update' });
    expect(await valuesOf(agent, auth_token)).toEqual({ username: 'ann', password: 'pw-2', otp_seed: 'seed' });
    expect(await storedItem(agent, 'main')).toMatchObject({ generation: 1, record_version: 2 });
  });

  it('keeps the token valid across several updates', async () => {
    const agent = await newAgent();
    const { auth_token } = await createProfile(t.deps, TENANT, { name: 'main', agent_id: agent, auth_data: { password: 'pw-0' } });

    for (let i = 1; i <= 3; i++) await upsertProfile(t.deps, TENANT, { agent_id: agent, auth_token, auth_data: { password: `pw-${i}` } });

    expect(await valuesOf(agent, auth_token)).toEqual({ password: 'pw-3' });
    expect(await storedItem(agent, 'main')).toMatchObject({ record_version: 4 });
  });

  it('answers 400 when the name given does not match the profile of the token', async () => {
    const agent = await newAgent();
    const { auth_token } = await createProfile(t.deps, TENANT, { name: 'main', agent_id: agent, auth_data: { password: 'pw-1' } });

    const err = await rejectionOf(
      upsertProfile(t.deps, TENANT, { agent_id: agent, auth_token, name: 'other', auth_data: { password: 'pw-2' } }),
    );

    expect(err).toBeInstanceOf(ValidationError);
    expect(await valuesOf(agent, auth_token)).toEqual({ password: 'pw-1' });
  });

  it('answers 404 profile_not_found for a token in another format (the compatible upsert; docs/api.md, "Kura drop-in")', async () => {
    const agent = await newAgent();

    const err = await rejectionOf(
      upsertProfile(t.deps, TENANT, { agent_id: agent, auth_token: 'avt_not-a-token', auth_data: { password: 'pw' } }),
    );

    expect(err).toMatchObject({ status: 404, code: 'profile_not_found' });
  });

  it('answers 400 invalid_auth_token for a malformed token on the native upsert', async () => {
    const agent = await newAgent();

    const err = await rejectionOf(
      upsertProfileRecord(t.deps, TENANT, { agent_id: agent, auth_token: 'avt_not-a-token', auth_data: { password: 'pw' } }),
    );

    expect(err).toMatchObject({ status: 400, code: 'invalid_auth_token' });
  });

  it('answers the identical 404 for an unknown, a replaced, a deleted, another agent’s and another tenant’s token', async () => {
    const agent = await newAgent();
    const otherAgent = await newAgent();
    const sameIdElsewhere = await newAgent(['username', 'password', 'otp_seed'], OTHER_TENANT, agent);
    const live = await createProfile(t.deps, TENANT, { name: 'main', agent_id: agent, auth_data: { password: 'pw' } });
    const replaced = await createProfile(t.deps, TENANT, { name: 'rotated', agent_id: agent, auth_data: { password: 'pw' } });
    await upsertProfile(t.deps, TENANT, { agent_id: agent, name: 'rotated', auth_data: { password: 'pw-new' } });
    const deleted = await createProfile(t.deps, TENANT, { name: 'gone', agent_id: agent, auth_data: { password: 'pw' } });
    await deleteProfile(t.deps, TENANT, agent, 'gone');
    const unknown = formatToken(randomBytes(16), randomBytes(32));
    const update = (tenant: string, agentId: string, token: string) =>
      rejectionOf(upsertProfile(t.deps, tenant, { agent_id: agentId, auth_token: token, auth_data: { password: 'x' } }));

    const errors = await Promise.all([
      update(TENANT, agent, unknown),
      update(TENANT, agent, replaced.auth_token),
      update(TENANT, agent, deleted.auth_token),
      update(TENANT, otherAgent, live.auth_token),
      update(OTHER_TENANT, sameIdElsewhere, live.auth_token),
    ]);

    for (const err of errors) {
      expect(err).toBeInstanceOf(ProfileNotFoundError);
      expect({ status: (err as ProfileNotFoundError).status, code: (err as ProfileNotFoundError).code, message: err.message }).toEqual({
        status: 404,
        code: 'profile_not_found',
        message: new ProfileNotFoundError().message,
      });
    }
    expect(await valuesOf(agent, live.auth_token)).toEqual({ password: 'pw' });
  });

  it('never loses one of 20 parallel updates silently: each succeeds or gets 409, and the last writer wins', async () => {
    const agent = await newAgent();
    const { auth_token } = await createProfile(t.deps, TENANT, {
      name: 'main',
      agent_id: agent,
      auth_data: { username: 'ann', password: 'initial' },
    });
    const initial = (await storedItem(agent, 'main'))!;
    // Record every conditional update that reached the store, to map record versions to values.
    const applied: { next: number; fields: Record<string, Uint8Array>; approval: Uint8Array }[] = [];
    const send = t.deps.db.doc.send.bind(t.deps.db.doc) as (cmd: unknown) => Promise<unknown>;
    const spy = vi.spyOn(t.deps.db.doc, 'send').mockImplementation((async (cmd: unknown) => {
      const out = await send(cmd);
      if (cmd instanceof UpdateCommand) {
        const values = cmd.input.ExpressionAttributeValues ?? {};
        applied.push({
          next: values[':next'] as number,
          fields: values[':fields'] as Record<string, Uint8Array>,
          approval: values[':approval'] as Uint8Array,
        });
      }
      return out;
    }) as never);

    let outcomes: PromiseSettledResult<unknown>[];
    try {
      outcomes = await Promise.allSettled(
        // Five waves of four: writers in a wave overlap (and conflict), later waves follow (and win in turn).
        Array.from({ length: 20 }, async (_, i) => {
          await new Promise((r) => setTimeout(r, (i % 5) * 25));
          return upsertProfile(t.deps, TENANT, { agent_id: agent, auth_token, auth_data: { password: `value-${i}` } });
        }),
      );
    } finally {
      spy.mockRestore();
    }

    const succeeded = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [`value-${i}`] : []));
    for (const o of outcomes) {
      if (o.status === 'rejected') expect(o.reason).toMatchObject({ status: 409, code: 'conflict' });
    }
    expect(succeeded.length).toBeGreaterThan(0);
    const decryptWrite = async (w: (typeof applied)[number]) =>
      decryptAuthData(
        await openProfile(t.deps, TENANT, agent, auth_token, {
          ...initial,
          fields: w.fields,
          record_version: w.next,
          runner_approval: w.approval,
        }),
      ).password;
    const writes = await Promise.all(applied.map(async (w) => ({ next: w.next, value: await decryptWrite(w) })));
    writes.sort((a, b) => a.next - b.next);
    expect(writes.map((w) => w.next)).toEqual(succeeded.map((_, i) => initial.record_version + 1 + i));
    expect(writes.map((w) => w.value).sort()).toEqual([...succeeded].sort());
    const final = await storedItem(agent, 'main');
    expect(final?.record_version).toBe(initial.record_version + succeeded.length);
    expect(await valuesOf(agent, auth_token)).toEqual({ username: 'ann', password: writes.at(-1)?.value });
  });

  it('leaves exactly one live token after 10 parallel replaces of one name', async () => {
    const agent = await newAgent();
    await createProfile(t.deps, TENANT, { name: 'main', agent_id: agent, auth_data: { password: 'initial' } });

    const outcomes = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) =>
        upsertProfile(t.deps, TENANT, { agent_id: agent, name: 'main', auth_data: { password: `value-${i}` } }),
      ),
    );

    const tokens = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value.auth_token] : []));
    for (const o of outcomes) {
      if (o.status === 'rejected') expect(o.reason).toMatchObject({ status: 409, code: 'conflict' });
      else expect(o.value.type).toBe('replace');
    }
    const live = (
      await Promise.all(
        tokens.map((t) =>
          valuesOf(agent, t).then(
            () => t,
            () => undefined,
          ),
        ),
      )
    ).filter(Boolean);
    expect(live).toHaveLength(1);
    expect((await storedItem(agent, 'main'))?.generation).toBe(1 + tokens.length);
  });
});

describe('getProfileMetadata', () => {
  it('returns metadata with field names and no values', async () => {
    const agent = await newAgent();
    await createProfile(t.deps, TENANT, {
      name: 'main',
      agent_id: agent,
      auth_data: { username: 'canary-user-md', password: 'canary-pw-md' },
    });

    const meta = await getProfileMetadata(t.deps, TENANT, agent, 'main');

    expect(meta).toMatchObject({
      agent_id: agent,
      name: 'main',
      fields: ['password', 'username'],
      generation: 1,
      record_version: 1,
      use_count: 0,
    });
    expect(JSON.stringify(meta)).not.toContain('canary-');
  });

  it('answers 404 profile_not_found for an unknown name', async () => {
    const agent = await newAgent();

    await expect(getProfileMetadata(t.deps, TENANT, agent, 'nope')).rejects.toMatchObject({ status: 404, code: 'profile_not_found' });
  });
});

describe('deleteProfile', () => {
  it('deletes the profile and its saved session; its token answers 404', async () => {
    const agent = await newAgent();
    const { auth_token } = await createProfile(t.deps, TENANT, { name: 'main', agent_id: agent, auth_data: { password: 'pw' } });
    const slotHex = parseToken(auth_token).slot.toString('hex');
    const opened = await openProfile(t.deps, TENANT, agent, auth_token);
    await sessionRepository(t.store.db, signerOf(t.deps)).save(
      profileRef(TENANT, agent, slotHex),
      {
        generation: 1,
        version: 1,
        blob: opened.keys.seal(SESSION_FIELD, 1, Buffer.from('{"cookie":"c"}')),
        updated_at: new Date().toISOString(),
      },
      undefined,
    );

    await deleteProfile(t.deps, TENANT, agent, 'main');

    const left = await t.store.db.doc.send(
      new QueryCommand({
        TableName: t.store.db.tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': keys.agentPartition(TENANT, agent) },
      }),
    );
    expect(left.Items).toEqual([]);
    await expect(upsertProfile(t.deps, TENANT, { agent_id: agent, auth_token, auth_data: { password: 'x' } })).rejects.toBeInstanceOf(
      ProfileNotFoundError,
    );
  });

  it('answers 404 for a name that does not exist', async () => {
    const agent = await newAgent();

    await expect(deleteProfile(t.deps, TENANT, agent, 'nope')).rejects.toMatchObject({ status: 404, code: 'profile_not_found' });
  });

  it('lets the name be created again afresh', async () => {
    const agent = await newAgent();
    const old = await createProfile(t.deps, TENANT, { name: 'main', agent_id: agent, auth_data: { password: 'pw-old' } });
    await deleteProfile(t.deps, TENANT, agent, 'main');

    const fresh = await createProfile(t.deps, TENANT, { name: 'main', agent_id: agent, auth_data: { password: 'pw-new' } });

    expect(await valuesOf(agent, fresh.auth_token)).toEqual({ password: 'pw-new' });
    await expect(openProfile(t.deps, TENANT, agent, old.auth_token)).rejects.toBeInstanceOf(ProfileNotFoundError);
  });
});

describe('listProfiles', () => {
  it('pages through 7 profiles 3 at a time with a cursor', async () => {
    const agent = await newAgent();
    const names = Array.from({ length: 7 }, (_, i) => `profile-${i}`);
    for (const name of names) await createProfile(t.deps, TENANT, { name, agent_id: agent, auth_data: { password: 'pw' } });

    const pages: { profiles: { name: string }[]; next_cursor?: string }[] = [];
    let cursor: string | undefined;
    do {
      const page = await listProfiles(t.deps, TENANT, agent, 3, cursor);
      pages.push(page);
      cursor = page.next_cursor;
    } while (cursor && pages.length < 10);

    expect(pages.map((p) => p.profiles.length)).toEqual([3, 3, 1]);
    expect(pages.flatMap((p) => p.profiles.map((m) => m.name)).sort()).toEqual(names);
    expect(pages.at(-1)?.next_cursor).toBeUndefined();
  });

  it('lists metadata only, never values or ciphertext', async () => {
    const agent = await newAgent();
    await createProfile(t.deps, TENANT, { name: 'main', agent_id: agent, auth_data: { password: 'canary-pw-list' } });

    const page = await listProfiles(t.deps, TENANT, agent, 50);

    expect(page.profiles).toHaveLength(1);
    expect(page.profiles[0]).not.toHaveProperty('fields.password');
    expect(JSON.stringify(page)).not.toContain('canary-pw-list');
    expect(Object.values(page.profiles[0] ?? {}).some((x) => x instanceof Uint8Array)).toBe(false);
  });

  it('answers 400 for a cursor from another agent', async () => {
    const agent = await newAgent();
    const other = await newAgent();
    for (const name of ['a', 'b']) {
      await createProfile(t.deps, TENANT, { name, agent_id: agent, auth_data: { password: 'pw' } });
      await createProfile(t.deps, TENANT, { name, agent_id: other, auth_data: { password: 'pw' } });
    }
    const { next_cursor } = await listProfiles(t.deps, TENANT, other, 1);

    const err = await rejectionOf(listProfiles(t.deps, TENANT, agent, 1, next_cursor));

    expect(next_cursor).toBeDefined();
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.message).toContain('cursor');
  });

  it('answers 400 for a cursor from another tenant’s agent of the same id', async () => {
    const agent = await newAgent();
    await newAgent(['password'], OTHER_TENANT, agent);
    for (const name of ['a', 'b']) await createProfile(t.deps, OTHER_TENANT, { name, agent_id: agent, auth_data: { password: 'pw' } });
    const { next_cursor } = await listProfiles(t.deps, OTHER_TENANT, agent, 1);

    await expect(listProfiles(t.deps, TENANT, agent, 1, next_cursor)).rejects.toBeInstanceOf(ValidationError);
  });

  it.each([['garbage'], [Buffer.from('{"pk":1}').toString('base64url')], [Buffer.from('[]').toString('base64url')]])(
    'answers 400 for the malformed cursor %s',
    async (cursor) => {
      const agent = await newAgent();

      await expect(listProfiles(t.deps, TENANT, agent, 3, cursor)).rejects.toBeInstanceOf(ValidationError);
    },
  );

  it('does not list saved sessions as profiles', async () => {
    const agent = await newAgent();
    const { auth_token } = await createProfile(t.deps, TENANT, { name: 'main', agent_id: agent, auth_data: { password: 'pw' } });
    const opened = await openProfile(t.deps, TENANT, agent, auth_token);
    await sessionRepository(t.store.db, signerOf(t.deps)).save(
      profileRef(TENANT, agent, parseToken(auth_token).slot.toString('hex')),
      { generation: 1, version: 1, blob: opened.keys.seal(SESSION_FIELD, 1, Buffer.from('{}')), updated_at: new Date().toISOString() },
      undefined,
    );

    const page = await listProfiles(t.deps, TENANT, agent, 50);

    expect(page.profiles.map((p) => p.name)).toEqual(['main']);
  });
});

describe('DynamoDB round trips of the compatible writes', () => {
  /** Names of the DynamoDB operations sent while `fn` runs (a middleware on the real client). */
  async function operationsOf(fn: () => Promise<unknown>): Promise<string[]> {
    const names: string[] = [];
    const name = 'count-operations';
    t.store.db.client.middlewareStack.add(
      (next, context) => async (args) => {
        names.push(String(context.commandName).replace(/Command$/, ''));
        return next(args);
      },
      { step: 'initialize', name },
    );
    try {
      await fn();
    } finally {
      t.store.db.client.middlewareStack.remove(name);
    }
    return names;
  }

  it('creates with one batch read (agent, name claim, home slot), the claim, the audit record, then one conditional put', async () => {
    const agent = await newAgent();
    const ops = await operationsOf(() => createProfile(t.deps, TENANT, { name: 'rt', agent_id: agent, auth_data: { password: 'pw' } }));
    // The name's claim (docs/architecture.md, "Renaming a profile") comes with the agent read and is written before the record.
    expect(ops).toEqual(['BatchGetItem', 'PutItem', 'BatchWriteItem', 'PutItem']);
  });

  it('updates in place with one batch read (agent + profile), the audit record, then one conditional update', async () => {
    const agent = await newAgent();
    const { auth_token } = await createProfile(t.deps, TENANT, { name: 'rt', agent_id: agent, auth_data: { password: 'pw' } });
    const ops = await operationsOf(() => upsertProfile(t.deps, TENANT, { agent_id: agent, auth_token, auth_data: { password: 'pw2' } }));
    expect(ops).toEqual(['BatchGetItem', 'BatchWriteItem', 'UpdateItem']);
  });

  it('replaces with one batch read (agent + profile), the audit record, then one conditional put', async () => {
    const agent = await newAgent();
    await createProfile(t.deps, TENANT, { name: 'rt', agent_id: agent, auth_data: { password: 'pw' } });
    const ops = await operationsOf(() => upsertProfile(t.deps, TENANT, { agent_id: agent, name: 'rt', auth_data: { password: 'pw2' } }));
    expect(ops).toEqual(['BatchGetItem', 'BatchWriteItem', 'PutItem']);
  });
});
