import 'aws-sdk-client-mock-vitest/extend';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { formatToken, parseToken } from '#shared/crypto/token';
import { PayloadTooLargeError, ProfileNotFoundError, ValidationError } from '#shared/errors';
import { keys } from '#shared/keys';
import { ProfileItem } from '#shared/schemas/items';
import { assertDeclaredKeys, toMetadata } from '#shared/services/profiles';
import { decryptAuthData, openProfile } from '#test/support/credentials';
import { parseTokenOrThrow } from '#shared/credentials/sealed-profile';
import {
  AGENT_ID,
  agentItem,
  lastPutItem,
  type MockedVault,
  mockedVault,
  profileKey,
  stageDefaults,
  TENANT,
} from '../handlers/mocked-deps.ts';
import { createProfile, upsertProfile } from '#test/support/services';

let v: MockedVault;

beforeAll(async () => {
  v = await mockedVault();
});

afterAll(() => v.ddb.restore());

beforeEach(() => stageDefaults(v.ddb, v.apiKey));

/** Creates a profile against the stub and makes later reads of its slot find the written item. */
async function stored(name: string, authData: Record<string, string>) {
  const { auth_token } = await createProfile(v.deps, TENANT, { name, agent_id: AGENT_ID, auth_data: authData });
  const item = lastPutItem(v.ddb);
  stageDefaults(v.ddb, v.apiKey);
  v.ddb.on(GetCommand, { Key: profileKey(name) }).resolves({ Item: item });
  return { token: auth_token, item: ProfileItem.parse(item) };
}

describe('assertDeclaredKeys', () => {
  const agent = agentItem(['username', 'password']) as unknown as Parameters<typeof assertDeclaredKeys>[0];

  it('accepts declared keys', () => {
    expect(() => assertDeclaredKeys(agent, ['password'])).not.toThrow();
  });

  it('names one unknown key and lists the declared ones', () => {
    expect(() => assertDeclaredKeys(agent, ['password', 'otp'])).toThrow(
      'auth_data key "otp" is not an input argument of agent "crm-bot" (declared: username, password)',
    );
  });

  it('names every unknown key', () => {
    expect(() => assertDeclaredKeys(agent, ['otp', 'pin'])).toThrow(
      'auth_data keys "otp", "pin" are not input arguments of agent "crm-bot"',
    );
  });

  it('says "none" for an agent that declares no input arguments', () => {
    const bare = agentItem([]) as unknown as Parameters<typeof assertDeclaredKeys>[0];

    expect(() => assertDeclaredKeys(bare, ['otp'])).toThrow('(declared: none)');
  });
});

describe('parseTokenOrThrow', () => {
  it('maps a malformed token to a 400 invalid_auth_token', () => {
    const err = (() => {
      try {
        parseTokenOrThrow('avt_nope');
      } catch (e) {
        return e;
      }
    })();

    expect(err).toBeInstanceOf(ValidationError);
    expect(err).toMatchObject({ status: 400, code: 'invalid_auth_token' });
  });
});

describe('createProfile', () => {
  it('stores no plaintext value and not the token', async () => {
    const { auth_token } = await createProfile(v.deps, TENANT, {
      name: 'main',
      agent_id: AGENT_ID,
      auth_data: { username: 'canary-user-store', password: 'canary-pw-store' },
    });

    const item = lastPutItem(v.ddb);
    const flat = JSON.stringify(item, (_k, val) => (val instanceof Uint8Array ? Buffer.from(val).toString('latin1') : val));
    expect(flat).not.toContain('canary-');
    expect(flat).not.toContain(auth_token);
    expect(flat).not.toContain(parseToken(auth_token).secret.toString('latin1'));
  });

  it('answers 413 for an oversized value before writing', async () => {
    await expect(
      createProfile(v.deps, TENANT, { name: 'main', agent_id: AGENT_ID, auth_data: { password: 'x'.repeat(16 * 1024 + 1) } }),
    ).rejects.toBeInstanceOf(PayloadTooLargeError);

    expect(v.ddb).not.toHaveReceivedCommand(PutCommand);
  });
});

describe('openProfile', () => {
  it('opens a profile with its token and decrypts its values', async () => {
    const { token } = await stored('main', { username: 'ann', password: 'pw-1' });

    const opened = await openProfile(v.deps, TENANT, AGENT_ID, token);

    expect(decryptAuthData(opened)).toEqual({ username: 'ann', password: 'pw-1' });
  });

  it('answers the same ProfileNotFoundError for a wrong secret, another agent, another tenant and an absent item', async () => {
    const { token, item } = await stored('main', { password: 'pw-1' });
    const { slot } = parseToken(token);
    const wrongSecret = formatToken(slot, Buffer.alloc(32, 7));

    const outcomes = await Promise.all([
      openProfile(v.deps, TENANT, AGENT_ID, wrongSecret, item).catch((e: unknown) => e),
      openProfile(v.deps, TENANT, 'other-bot', token, item).catch((e: unknown) => e),
      openProfile(v.deps, 'other-tenant', AGENT_ID, token, item).catch((e: unknown) => e),
      openProfile(v.deps, TENANT, AGENT_ID, token, null).catch((e: unknown) => e),
    ]);

    for (const err of outcomes) {
      expect(err).toBeInstanceOf(ProfileNotFoundError);
      expect(err).toMatchObject({ status: 404, code: 'profile_not_found', message: new ProfileNotFoundError().message });
    }
  });

  it('refuses an item whose commitment does not match, and logs it without the token', async () => {
    const { token, item } = await stored('main', { password: 'pw-1' });
    v.deps.logs.length = 0;
    const tampered = { ...item, commitment: new Uint8Array(32) };

    await expect(openProfile(v.deps, TENANT, AGENT_ID, token, tampered)).rejects.toBeInstanceOf(ProfileNotFoundError);

    expect(v.deps.logs.join('\n')).toContain('commitment mismatch');
    expect(v.deps.logs.join('\n')).not.toContain(token);
  });
});

describe('upsertProfile (update)', () => {
  it('merges the new keys into the stored values and re-seals every field', async () => {
    const { token, item } = await stored('main', { username: 'ann', password: 'pw-1' });

    await upsertProfile(v.deps, TENANT, { agent_id: AGENT_ID, auth_token: token, auth_data: { password: 'pw-2' } });

    const input = v.ddb.commandCalls(UpdateCommand)[0]?.args[0].input;
    const fields = input?.ExpressionAttributeValues?.[':fields'] as Record<string, Uint8Array>;
    expect(Object.keys(fields).sort()).toEqual(['password', 'username']);
    expect(Buffer.from(fields.username as Uint8Array).equals(Buffer.from(item.fields.username as Uint8Array))).toBe(false);
    const runner_approval = input?.ExpressionAttributeValues?.[':approval'] as Uint8Array;
    const reopened = await openProfile(v.deps, TENANT, AGENT_ID, token, { ...item, fields, record_version: 2, runner_approval });
    expect(decryptAuthData(reopened)).toEqual({ username: 'ann', password: 'pw-2' });
  });

  it('answers 413 and writes nothing when the merged values exceed 64 KiB in all', async () => {
    v.ddb.on(GetCommand, { Key: keys.agent(TENANT, AGENT_ID) }).resolves({ Item: agentItem(['a', 'b', 'c', 'd', 'e']) });
    const big = 'x'.repeat(16 * 1024);
    const { auth_token } = await createProfile(v.deps, TENANT, {
      name: 'full',
      agent_id: AGENT_ID,
      auth_data: { a: big, b: big, c: big, d: big },
    });
    v.ddb.on(GetCommand, { Key: profileKey('full') }).resolves({ Item: lastPutItem(v.ddb) });

    const err = await upsertProfile(v.deps, TENANT, { agent_id: AGENT_ID, auth_token, auth_data: { e: 'y' } }).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(PayloadTooLargeError);
    expect((err as Error).message).toContain('65537 bytes');
    expect(v.ddb).not.toHaveReceivedCommand(UpdateCommand);
  });
});

describe('toMetadata', () => {
  it('lists field names, sorted, and no value or ciphertext', async () => {
    const { item } = await stored('main', { username: 'ann', password: 'pw' });

    const meta = toMetadata(item, new Date());

    expect(meta.fields).toEqual(['password', 'username']);
    expect(Object.values(meta).some((x) => x instanceof Uint8Array)).toBe(false);
    expect(meta).not.toHaveProperty('verifier');
    expect(meta).not.toHaveProperty('commitment');
  });
});
