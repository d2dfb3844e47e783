import { describe, expect, it } from 'vitest';
import { ValidationError } from '#shared/errors';
import { MAX_ALLOWED_SOURCE_IPS, isSourceIpAllowed, normalizeAllowedSourceIps } from '#shared/credentials/source-ip';

describe('normalizeAllowedSourceIps', () => {
  it('keeps addresses and CIDRs of both families in canonical form', () => {
    expect(normalizeAllowedSourceIps(['203.0.113.7', ' 198.51.100.0/24 ', '2001:DB8:0:0::1', '2001:db8::/32'])).toEqual([
      '203.0.113.7',
      '198.51.100.0/24',
      '2001:db8::1',
      '2001:db8::/32',
    ]);
  });

  it('clears host bits of a range and drops duplicates', () => {
    expect(normalizeAllowedSourceIps(['10.1.2.3/8', '10.0.0.0/8', '10.9.9.9/32'])).toEqual(['10.0.0.0/8', '10.9.9.9']);
  });

  it('turns an IPv4-mapped IPv6 entry into its IPv4 form', () => {
    expect(normalizeAllowedSourceIps(['::ffff:203.0.113.7', '::ffff:198.51.100.0/120'])).toEqual(['203.0.113.7', '198.51.100.0/24']);
  });

  it('refuses shorthand IPv4, host names, bad prefixes and zone ids in one 400 naming them', () => {
    const bad = ['127.1', 'example.com', '10.0.0.0/33', '2001:db8::/129', 'fe80::1%eth0', '1.2.3.4/8/9', '', '0x7f.0.0.1'];
    let err: unknown;
    try {
      normalizeAllowedSourceIps(['10.0.0.1', ...bad]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    const { message, code } = err as ValidationError;
    expect(code).toBe('invalid_source_ips');
    expect(message).toContain(`allowed_source_ips[1], allowed_source_ips[2], allowed_source_ips[3], allowed_source_ips[4], allowed_source_ips[5], allowed_source_ips[6], allowed_source_ips[7], allowed_source_ips[8] are not`);
    expect(message).not.toContain('allowed_source_ips[0]');
    expect(message).not.toContain('example.com'); // entries are named by position, never echoed
    expect(message).toContain('2001:db8::/32');
  });

  it(`refuses more than ${MAX_ALLOWED_SOURCE_IPS} entries`, () => {
    const many = Array.from({ length: MAX_ALLOWED_SOURCE_IPS + 1 }, (_v, i) => `10.0.${i >> 8}.${i & 255}`);
    expect(() => normalizeAllowedSourceIps(many)).toThrow(/at most 64/);
  });
});

describe('isSourceIpAllowed', () => {
  const list = normalizeAllowedSourceIps(['203.0.113.7', '198.51.100.0/24', '2001:db8::/32']);

  it('allows everyone when the list is empty or absent', () => {
    expect(isSourceIpAllowed([], '192.0.2.1')).toBe(true);
    expect(isSourceIpAllowed(undefined, undefined)).toBe(true);
  });

  it('matches single addresses and CIDR ranges of both families', () => {
    expect(isSourceIpAllowed(list, '203.0.113.7')).toBe(true);
    expect(isSourceIpAllowed(list, '198.51.100.250')).toBe(true);
    expect(isSourceIpAllowed(list, '2001:db8:ffff::1')).toBe(true);
    expect(isSourceIpAllowed(list, '203.0.113.8')).toBe(false);
    expect(isSourceIpAllowed(list, '198.51.101.1')).toBe(false);
    expect(isSourceIpAllowed(list, '2001:db9::1')).toBe(false);
  });

  it('treats an IPv4-mapped IPv6 source (dual-stack socket) as its IPv4 address', () => {
    expect(isSourceIpAllowed(list, '::ffff:198.51.100.9')).toBe(true);
    expect(isSourceIpAllowed(list, '::ffff:192.0.2.1')).toBe(false);
  });

  it('does not let an IPv6 source match an IPv4 range by its bits', () => {
    // ::c633:6409 has the same low 32 bits as 198.51.100.9 but is not an IPv4-mapped address.
    expect(isSourceIpAllowed(list, '::c633:6409')).toBe(false);
  });

  it('refuses an unknown or unparsable source when a list is set', () => {
    expect(isSourceIpAllowed(list, undefined)).toBe(false);
    expect(isSourceIpAllowed(list, 'not-an-ip')).toBe(false);
    expect(isSourceIpAllowed(list, '203.0.113.7, 10.0.0.1')).toBe(false);
  });
});
