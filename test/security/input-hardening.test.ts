import { describe, expect, it } from 'vitest';
import { ValidationError } from '#shared/errors';
import { isBlockedAddress } from '#shared/outbound/address-policy';
import { assertRunnerUrlAllowed } from '#shared/outbound/runner-policy';
import { AgentId, ProfileName, parseInput } from '#shared/schemas/common';
import { slotFor } from '#shared/credentials/profile-keys';
import type { Config } from '#shared/config';

describe('profile names and agent ids', () => {
  it('NFC-normalises a profile name, so both spellings of "é" name the same profile', () => {
    const decomposed = parseInput(ProfileName, 'cafe\u0301', 'name');
    const composed = parseInput(ProfileName, 'caf\u00e9', 'name');

    expect(decomposed).toBe('caf\u00e9');
    expect(slotFor('t', 'a', decomposed).equals(slotFor('t', 'a', composed))).toBe(true);
  });

  it.each([
    ['"."', '.', /must not be "." or "\.\."/],
    ['".."', '..', /must not be "." or "\.\."/],
    ['a zero-width space', 'ad\u200bmin', /invisible or direction-changing/],
    ['a zero-width joiner', 'ad\u200dmin', /invisible or direction-changing/],
    ['a BOM', '\ufeffadmin', /invisible or direction-changing/],
    ['a right-to-left override', 'invoice\u202etxt.exe', /invisible or direction-changing/],
    ['a bidi isolate', 'a\u2066b\u2069', /invisible or direction-changing/],
    ['a line separator', 'a\u2028b', /invisible or direction-changing/],
    ['a C1 control (NEL)', 'a\u0085b', /control characters/],
    ['a NUL', 'a\u0000b', /control characters/],
  ])('refuses a profile name with %s (400 saying why)', (_, name, message) => {
    expect(() => parseInput(ProfileName, name, 'profile name')).toThrow(ValidationError);
    expect(() => parseInput(ProfileName, name, 'profile name')).toThrow(message);
  });

  it.each(['.', '..', 'a\u200bb', 'a\u202eb', 'caf\u00e9'])('refuses agent id %j', (id) => {
    expect(() => parseInput(AgentId, id, 'agent_id')).toThrow(ValidationError);
  });
});

const config = { mode: 'local', allowPrivateRunners: false, allowedRunnerHosts: [] } as unknown as Config;

describe('runner URL registration', () => {
  it.each(['http://localhost./run', 'http://LOCALHOST./run', 'http://LocalHost../run', 'http://api.localhost./run'])(
    'refuses %s (a trailing dot is the same host)',
    async (url) => {
      await expect(assertRunnerUrlAllowed(config, url)).rejects.toThrow(/loopback, private or link-local/);
    },
  );

  it('refuses credentials in the userinfo, saying why', async () => {
    await expect(assertRunnerUrlAllowed(config, 'https://bob:hunter2@runner.example.com/run')).rejects.toThrow(/must not contain credentials/);
  });

  it.each(['?api_key=abc', '?token=abc', '?X-Amz-Signature=abc', '?client_secret=x&a=1', '?password=x', '?access_token=x', '?auth=x'])(
    'refuses credentials in the query string (%s), saying why',
    async (query) => {
      const err = await assertRunnerUrlAllowed(config, `https://runner.example.com/run${query}`).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as Error).message).toMatch(/must not carry credentials in its query string/);
    },
  );

  it('accepts a query string without credentials', async () => {
    await expect(assertRunnerUrlAllowed(config, 'https://runner.example.com/run?agent=crm&v=2')).resolves.toBeUndefined();
  });
});

describe('address policy: all of ::/8', () => {
  it.each(['::2', '::1:2', '::ff:1', '::8.8.8.8', '::808:808', '0:0:1::1', 'ff::1', '1::', '::1'])('blocks %s', (ip) => {
    expect(isBlockedAddress(ip)).toBe(true);
  });

  it.each(['::ffff:8.8.8.8', '64:ff9b::808:808', '2606:4700::1111'])(
    'still judges IPv4-carrying forms by their IPv4 address, and allows public IPv6: %s',
    (ip) => {
      expect(isBlockedAddress(ip)).toBe(false);
    },
  );
});
