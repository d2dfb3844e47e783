import 'aws-sdk-client-mock-vitest/extend';
import { createHash } from 'node:crypto';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { UnauthorizedError, ValidationError } from '#shared/errors';
import { keys } from '#shared/keys';
import { authenticateApiKey, ensureApiKey, hashApiKey, isWellFormedApiKey, mintApiKey } from '#shared/services/api-keys';
import { newApiKey } from '#test/support/vault';
import { dynamoErrors, type MockedVault, mockedVault, stageApiKey, stageDefaults, TENANT } from '../handlers/mocked-deps.ts';

let v: MockedVault;

beforeAll(async () => {
  v = await mockedVault();
});

afterAll(() => v.ddb.restore());

beforeEach(() => stageDefaults(v.ddb, v.apiKey));

describe('hashApiKey', () => {
  it('is the hex SHA-256 of the key', () => {
    expect(hashApiKey('avk_x')).toBe(createHash('sha256').update('avk_x').digest('hex'));
  });
});

describe('isWellFormedApiKey', () => {
  it('accepts avk_ followed by 43 base64url characters', () => {
    expect(isWellFormedApiKey(newApiKey())).toBe(true);
  });

  it.each([
    ['avk_'],
    [`avt_${'a'.repeat(43)}`],
    [`avk_${'a'.repeat(42)}`],
    [`avk_${'a'.repeat(44)}`],
    [`avk_${'+'.repeat(43)}`],
    [` ${newApiKey()}`],
  ])('refuses %j', (key) => {
    expect(isWellFormedApiKey(key)).toBe(false);
  });
});

describe('authenticateApiKey', () => {
  it('returns the tenant owning the key', async () => {
    await expect(authenticateApiKey(v.deps, v.apiKey)).resolves.toBe(TENANT);
  });

  it('looks the key up by its hash only', async () => {
    const key = newApiKey();
    stageApiKey(v.ddb, key);

    await authenticateApiKey(v.deps, key);

    expect(v.ddb).toHaveReceivedCommandWith(GetCommand, { Key: keys.apiKey(hashApiKey(key)) });
    expect(JSON.stringify(v.ddb.calls().map((c) => c.args[0].input))).not.toContain(key);
  });

  it('throws UnauthorizedError for a missing key', async () => {
    await expect(authenticateApiKey(v.deps, undefined)).rejects.toBeInstanceOf(UnauthorizedError);
    await expect(authenticateApiKey(v.deps, '')).rejects.toBeInstanceOf(UnauthorizedError);
  });

  it('throws UnauthorizedError for a malformed key without a lookup', async () => {
    await expect(authenticateApiKey(v.deps, 'avk_short')).rejects.toBeInstanceOf(UnauthorizedError);

    expect(v.ddb).not.toHaveReceivedCommand(GetCommand);
  });

  it('throws UnauthorizedError for an unknown key', async () => {
    await expect(authenticateApiKey(v.deps, newApiKey())).rejects.toBeInstanceOf(UnauthorizedError);
  });

  it('lets a throttled lookup through as a dependency fault, not a 401', async () => {
    v.ddb.on(GetCommand).rejects(dynamoErrors.provisionedThroughputExceeded());

    await expect(authenticateApiKey(v.deps, newApiKey())).rejects.toMatchObject({ name: 'ProvisionedThroughputExceededException' });
  });

  it('does not cache an unknown key: it is looked up again next time', async () => {
    const key = newApiKey();
    await expect(authenticateApiKey(v.deps, key)).rejects.toBeInstanceOf(UnauthorizedError);
    stageApiKey(v.ddb, key, 'late');

    await expect(authenticateApiKey(v.deps, key)).resolves.toBe('late');
  });
});

describe('mintApiKey', () => {
  it('returns a well-formed key and stores only its hash', async () => {
    const key = await mintApiKey(v.deps, 'beta', 'ci');

    expect(isWellFormedApiKey(key)).toBe(true);
    expect(v.ddb).toHaveReceivedCommandWith(PutCommand, {
      Item: expect.objectContaining({ ...keys.apiKey(hashApiKey(key)), tenant: 'beta', label: 'ci' }),
      ConditionExpression: 'attribute_not_exists(pk)',
    });
    expect(JSON.stringify(v.ddb.calls().map((c) => c.args[0].input))).not.toContain(key);
  });

  it.each([[''], ['-lead'], ['a b'], ['t'.repeat(65)]])('refuses the tenant %j before writing', async (tenant) => {
    await expect(mintApiKey(v.deps, tenant)).rejects.toBeInstanceOf(ValidationError);

    expect(v.ddb).not.toHaveReceivedCommand(PutCommand);
  });
});

describe('ensureApiKey', () => {
  it('creates the key when it is new', async () => {
    await expect(ensureApiKey(v.deps, newApiKey(), 'beta')).resolves.toBe('created');
  });

  it('accepts a key that already belongs to the same tenant', async () => {
    v.ddb.on(PutCommand).rejects(dynamoErrors.conditionalCheckFailed());

    await expect(ensureApiKey(v.deps, v.apiKey, TENANT)).resolves.toBe('exists');
  });

  it('refuses a key that belongs to another tenant', async () => {
    v.ddb.on(PutCommand).rejects(dynamoErrors.conditionalCheckFailed());

    await expect(ensureApiKey(v.deps, v.apiKey, 'beta')).rejects.toThrow(/another tenant/);
  });

  it('replaces an item that fails its integrity check, conditioned on the item read', async () => {
    const key = newApiKey();
    v.ddb.on(PutCommand, { ConditionExpression: 'attribute_not_exists(pk)' }).rejects(dynamoErrors.conditionalCheckFailed());
    v.ddb.on(GetCommand, { Key: keys.apiKey(hashApiKey(key)) }).resolves({
      Item: { ...keys.apiKey(hashApiKey(key)), tenant: 'mallory', created_at: '2026-01-01T00:00:00.000Z' },
    });

    await expect(ensureApiKey(v.deps, key, TENANT)).resolves.toBe('replaced');

    expect(v.ddb).toHaveReceivedCommandWith(PutCommand, {
      ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(mac)',
      Item: expect.objectContaining({ tenant: TENANT, mac: expect.any(Buffer) }),
    });
  });

  it('refuses a malformed key without writing, and does not quote it', async () => {
    const err = await ensureApiKey(v.deps, 'avk_canary-malformed', TENANT).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(ValidationError);
    expect((err as Error).message).not.toContain('canary-malformed');
    expect(v.ddb).not.toHaveReceivedCommand(PutCommand);
  });
});
