import { describe, expect, it } from 'vitest';
import { BlockedRunnerError, isBlockedAddress, resolveRunnerAddress } from '#shared/outbound/address-policy';

describe('isBlockedAddress', () => {
  it.each([
    ['0.0.0.0/8 ("this" network)', '0.0.0.0'],
    ['0.0.0.0/8, not only its first address', '0.1.2.3'],
    ['10.0.0.0/8 (private)', '10.0.0.1'],
    ['10.0.0.0/8, last address', '10.255.255.255'],
    ['100.64.0.0/10 (carrier-grade NAT)', '100.64.0.1'],
    ['100.64.0.0/10, last address', '100.127.255.254'],
    ['127.0.0.0/8 (loopback)', '127.0.0.1'],
    ['127.0.0.0/8, not only 127.0.0.1', '127.45.6.7'],
    ['169.254.169.254 (cloud metadata)', '169.254.169.254'],
    ['169.254.0.0/16 (link-local)', '169.254.1.1'],
    ['172.16.0.0/12 (private)', '172.16.0.1'],
    ['172.16.0.0/12, last address', '172.31.255.255'],
    ['192.168.0.0/16 (private)', '192.168.1.1'],
    ['198.18.0.0/15 (benchmarking)', '198.18.0.1'],
    ['198.18.0.0/15, second /16', '198.19.255.1'],
    ['224.0.0.0/4 (multicast)', '224.0.0.1'],
    ['224.0.0.0/4, last multicast address', '239.255.255.255'],
    ['240.0.0.0/4 (reserved)', '240.0.0.1'],
    ['255.255.255.255 (broadcast)', '255.255.255.255'],
  ])('blocks IPv4 %s: %s', (_label, address) => {
    expect(isBlockedAddress(address)).toBe(true);
  });

  it.each([
    [':: (unspecified)', '::'],
    ['::1 (loopback)', '::1'],
    ['fc00::/7 (unique local, fc)', 'fc00::1'],
    ['fc00::/7 (unique local, fd)', 'fd12:3456:789a::1'],
    ['fe80::/10 (link-local)', 'fe80::1'],
    ['fe80::/10 with a zone id', 'fe80::1%eth0'],
    ['fe80::/10, upper end', 'febf::1'],
    ['ff00::/8 (multicast)', 'ff02::1'],
    ['ff00::/8, global multicast', 'ff0e::1'],
    ['IPv4-mapped loopback, dotted', '::ffff:127.0.0.1'],
    ['IPv4-mapped loopback, hex', '::ffff:7f00:1'],
    ['IPv4-mapped metadata address', '::ffff:169.254.169.254'],
    ['IPv4-mapped metadata address, hex', '::ffff:a9fe:a9fe'],
    ['IPv4-mapped private address, upper case', '::FFFF:10.0.0.1'],
    ['IPv4-mapped loopback written in full', '0:0:0:0:0:ffff:7f00:1'],
    ['NAT64 metadata address', '64:ff9b::a9fe:a9fe'],
    ['NAT64 loopback, dotted', '64:ff9b::127.0.0.1'],
    ['IPv4-compatible loopback', '::127.0.0.1'],
    ['bracketed loopback (URL hostname form)', '[::1]'],
  ])('blocks IPv6 %s: %s', (_label, address) => {
    expect(isBlockedAddress(address)).toBe(true);
  });

  it.each([
    ['NAT64 without :: compression', '64:ff9b:0:0:0:0:a9fe:a9fe'],
    ['NAT64 with leading zeros', '0064:ff9b:0000::a9fe:a9fe'],
    ['IPv4-compatible written in full', '0:0:0:0:0:0:7f00:1'],
    ['IPv4-translated (::ffff:0:0:0/96)', '::ffff:0:7f00:1'],
    ['6to4 wrapping 127.0.0.1', '2002:7f00:1::1'],
    ['6to4 wrapping the metadata address', '2002:a9fe:a9fe::'],
  ])('blocks loopback or metadata hidden in IPv6 spelled another way: %s (%s)', (_label, address) => {
    expect(isBlockedAddress(address)).toBe(true);
  });

  it('blocks the local-use NAT64 prefix 64:ff9b:1::/48 (RFC 8215, not globally reachable)', () => {
    expect(isBlockedAddress('64:ff9b:1::a9fe:a9fe')).toBe(true);
  });

  it.each([
    ['a public IPv4 address', '8.8.8.8'],
    ['a public IPv4 address next to 172.16.0.0/12', '172.32.0.1'],
    ['a public IPv4 address next to 100.64.0.0/10', '100.128.0.1'],
    ['a public IPv4 address next to 198.18.0.0/15', '198.20.0.1'],
    ['a public IPv6 address', '2606:4700::1111'],
    ['a bracketed public IPv6 address', '[2606:4700::1111]'],
    ['an IPv4-mapped public address', '::ffff:8.8.8.8'],
    ['a NAT64 public address', '64:ff9b::808:808'],
    ['a 6to4 address wrapping a public address', '2002:808:808::1'],
  ])('allows %s: %s', (_label, address) => {
    expect(isBlockedAddress(address)).toBe(false);
  });

  it('blocks something that is not an IP address at all', () => {
    expect(isBlockedAddress('runner.example.com')).toBe(true);
  });

  it.each([
    ['decimal', 'http://2130706433/'],
    ['octal', 'http://0177.0.0.1/'],
    ['hex, short form', 'http://0x7f.1/'],
    ['hex, dotted', 'http://0x7f.0x0.0x0.0x1/'],
    ['IPv4-mapped in brackets', 'http://[::ffff:127.0.0.1]/'],
    ['NAT64 written in full in brackets', 'http://[64:ff9b:0:0:0:0:a9fe:a9fe]/'],
  ])('blocks loopback written in %s form once the URL parser has read it (%s)', (_form, url) => {
    expect(isBlockedAddress(new URL(url).hostname)).toBe(true);
  });
});

describe('resolveRunnerAddress', () => {
  it.each([
    ['decimal', 'http://2130706433/'],
    ['octal', 'http://0177.0.0.1/'],
    ['hex', 'http://0x7f.1/'],
    ['IPv6 loopback', 'http://[::1]/'],
    ['IPv4-mapped metadata', 'http://[::ffff:169.254.169.254]/'],
    ['NAT64 metadata', 'http://[64:ff9b::a9fe:a9fe]/'],
  ])('refuses a %s loopback or metadata host (%s)', async (_form, url) => {
    await expect(resolveRunnerAddress(new URL(url).hostname, false)).rejects.toBeInstanceOf(BlockedRunnerError);
  });

  it('refuses the metadata address 169.254.169.254', async () => {
    await expect(resolveRunnerAddress('169.254.169.254', false)).rejects.toBeInstanceOf(BlockedRunnerError);
  });

  it('says in the refusal which setting allows private runners', async () => {
    await expect(resolveRunnerAddress('127.0.0.1', false)).rejects.toThrow(/VAULT_ALLOW_PRIVATE_RUNNERS/);
  });

  it('refuses localhost after resolving it (it resolves to loopback)', async () => {
    await expect(resolveRunnerAddress('localhost', false)).rejects.toBeInstanceOf(BlockedRunnerError);
  });

  it('refuses a raw decimal host name, which the resolver reads as 127.0.0.1', async () => {
    await expect(resolveRunnerAddress('2130706433', false)).rejects.toBeInstanceOf(BlockedRunnerError);
  });

  it('allows loopback when private runners are allowed', async () => {
    await expect(resolveRunnerAddress('127.0.0.1', true)).resolves.toEqual({ address: '127.0.0.1', family: 4 });
  });

  it('allows localhost when private runners are allowed, pinning a loopback address', async () => {
    const pinned = await resolveRunnerAddress('localhost', true);

    expect(['127.0.0.1', '::1']).toContain(pinned.address);
  });

  it('returns a bracketed IPv6 literal without brackets and with family 6', async () => {
    await expect(resolveRunnerAddress('[::1]', true)).resolves.toEqual({ address: '::1', family: 6 });
  });

  it('allows a public IPv4 literal without any DNS lookup', async () => {
    await expect(resolveRunnerAddress('8.8.8.8', false)).resolves.toEqual({ address: '8.8.8.8', family: 4 });
  });

  it('allows a public IPv6 literal', async () => {
    await expect(resolveRunnerAddress(new URL('http://[2606:4700::1111]/').hostname, false)).resolves.toEqual({
      address: '2606:4700::1111',
      family: 6,
    });
  });
});
