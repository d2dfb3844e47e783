import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

/**
 * Where a runner may not be: loopback, private, link-local (cloud metadata at 169.254.169.254),
 * shared, documentation, multicast and reserved ranges, for IPv4 and IPv6, including IPv4 written
 * inside IPv6 (mapped ::ffff:a.b.c.d, compatible ::a.b.c.d, NAT64 64:ff9b::/96).
 */
const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  blocked.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  // ::/8 as a whole is checked in isBlockedAddress: Node's BlockList would also match every
  // IPv4 address against it (it sees them as ::ffff:a.b.c.d).
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001:db8::', 32],
  ['2001::', 23],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const) {
  blocked.addSubnet(net, prefix, 'ipv6');
}

/** The canonical (RFC 5952, compressed, hex) text of an IPv6 address, via the WHATWG URL parser. */
function canonicalIpv6(v6: string): string {
  try {
    return new URL(`http://[${v6}]/`).hostname.slice(1, -1);
  } catch {
    return v6.toLowerCase();
  }
}

const hexPairToIpv4 = (hiHex: string, loHex: string) => {
  const hi = Number.parseInt(hiHex, 16);
  const lo = Number.parseInt(loHex, 16);
  return [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.');
};

/**
 * The IPv4 address embedded in an IPv6 address — mapped (::ffff:0:0/96), translated
 * (::ffff:0:0:0/96), compatible (::/96), NAT64 (64:ff9b::/96) or 6to4 (2002::/16) — if any.
 * The address is canonicalised first, so every spelling of the same address is caught.
 */
function embeddedIpv4(v6: string): string | undefined {
  const c = canonicalIpv6(v6);
  const tail = /^(?:::ffff:|::ffff:0:|::|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(c);
  if (tail) return hexPairToIpv4(tail[1] as string, tail[2] as string);
  const sixToFour = /^2002:([0-9a-f]{1,4}):([0-9a-f]{1,4})(?::|$)/.exec(c);
  if (sixToFour) return hexPairToIpv4(sixToFour[1] as string, sixToFour[2] as string);
  return undefined;
}

/** IPv4-mapped (::ffff:0:0/96), -translated (::ffff:0:0:0/96) and NAT64 (64:ff9b::/96) addresses, canonical form. */
const IPV4_CARRIER = /^(?:::ffff:(?:0:)?|64:ff9b::)[0-9a-f]{1,4}:[0-9a-f]{1,4}$/;

/** True if a runner must not be called at this literal IP address. */
export function isBlockedAddress(address: string): boolean {
  const ip = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const family = isIP(ip);
  if (family === 4) return blocked.check(ip, 'ipv4');
  if (family === 6) {
    const c = canonicalIpv6(ip);
    const v4 = embeddedIpv4(ip);
    if (v4 !== undefined && IPV4_CARRIER.test(c)) return blocked.check(v4, 'ipv4');
    // All of ::/8 (RFC 4291 "reserved by IETF"): unspecified, loopback, the deprecated
    // IPv4-compatible ::a.b.c.d, and whatever else is carved from it. Only the IPv4-mapped,
    // -translated and NAT64 (64:ff9b::/96) addresses inside it are judged by the IPv4 address
    // they carry (above).
    if (c.startsWith('::') || Number.parseInt(c.split(':')[0] as string, 16) < 0x100) return true;
    if (v4 !== undefined) return blocked.check(v4, 'ipv4');
    return blocked.check(ip, 'ipv6');
  }
  return true; // not an IP address at all: refuse rather than guess
}

/** Resolves a host name to every address it has (the system resolver unless a test injects one). */
export type HostResolver = (host: string) => Promise<ReadonlyArray<{ address: string; family: number }>>;

const systemResolver: HostResolver = (host) => lookup(host, { all: true, verbatim: true });

export class BlockedRunnerError extends Error {
  override readonly name = 'BlockedRunnerError';
}

const blockedMessage = (host: string) =>
  `runner host ${host} resolves to a loopback, private or link-local address, which is refused (set VAULT_ALLOW_PRIVATE_RUNNERS=true only for local development)`;

/**
 * The address to connect to when `host` is an IP literal (checked as resolveRunnerAddress checks
 * it, without a lookup), or undefined for a name, which needs resolveRunnerAddress.
 */
export function pinnedLiteral(host: string, allowPrivate: boolean): { address: string; family: 4 | 6 } | undefined {
  const bare = host.replace(/^\[|\]$/g, '');
  const family = isIP(bare);
  if (family === 0) return undefined;
  if (!allowPrivate && isBlockedAddress(bare)) throw new BlockedRunnerError(blockedMessage(host));
  return { address: bare, family: family === 6 ? 6 : 4 };
}

/**
 * Resolves a runner host and returns the address to connect to. Every address the name resolves
 * to must be allowed (a name with one private answer is refused), unless private targets are
 * allowed. The caller connects to exactly this address, so DNS cannot change between check and use.
 */
export async function resolveRunnerAddress(
  host: string,
  allowPrivate: boolean,
  resolve: HostResolver = systemResolver,
): Promise<{ address: string; family: 4 | 6 }> {
  const bare = host.replace(/^\[|\]$/g, '');
  const literal = isIP(bare);
  const answers = literal ? [{ address: bare, family: literal }] : await resolve(bare);
  if (answers.length === 0) throw new BlockedRunnerError(`runner host ${host} does not resolve`);
  if (!allowPrivate) {
    for (const a of answers) {
      if (isBlockedAddress(a.address)) {
        throw new BlockedRunnerError(blockedMessage(host));
      }
    }
  }
  const first = answers[0] as { address: string; family: number };
  return { address: first.address, family: first.family === 6 ? 6 : 4 };
}
