import ipaddr from 'ipaddr.js';
import { ValidationError } from '../errors.ts';
import { MAX_ALLOWED_SOURCE_IPS } from '../schemas/policy.ts';

/** At most this many entries per profile: the list is stored in clear on the profile item. */
export { MAX_ALLOWED_SOURCE_IPS };

/**
 * The caller-IP allow-list of a profile (`allowed_source_ips`): addresses and CIDR ranges, IPv4
 * and IPv6. Matching is ipaddr.js's (a maintained library), not hand-written ranges. An
 * IPv4-mapped IPv6 address (`::ffff:203.0.113.7`, what a dual-stack socket reports for an IPv4
 * client) is treated as the IPv4 address it carries, on both sides, so `203.0.113.0/24` admits it.
 */


type Address = ipaddr.IPv4 | ipaddr.IPv6;
type Range = [Address, number];

/** An IPv4-mapped IPv6 address becomes its IPv4 address; anything else is unchanged. */
function unmap(addr: Address): Address {
  return addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress() ? (addr as ipaddr.IPv6).toIPv4Address() : addr;
}

/**
 * Parses one entry strictly: IPv4 only in dotted four-part decimal (ipaddr.js alone would also
 * accept `127.1` or `0x7f.0.0.1`, which nobody means in an allow-list), IPv6 without a zone id.
 * Returns the entry as a range (a bare address is a /32 or /128) or undefined if invalid.
 */
function parseEntry(entry: string): Range | undefined {
  const text = entry.trim();
  const [addrText, prefixText, ...rest] = text.split('/');
  if (rest.length > 0 || addrText === undefined || addrText === '' || addrText.includes('%')) return undefined;
  let addr: Address;
  if (ipaddr.IPv4.isValidFourPartDecimal(addrText)) addr = ipaddr.IPv4.parse(addrText);
  else if (ipaddr.IPv6.isValid(addrText)) addr = ipaddr.IPv6.parse(addrText);
  else return undefined;
  const max = addr.kind() === 'ipv4' ? 32 : 128;
  let bits = max;
  if (prefixText !== undefined) {
    if (!/^\d{1,3}$/.test(prefixText)) return undefined;
    bits = Number(prefixText);
    if (bits > max) return undefined;
  }
  // A mapped IPv6 range ::ffff:a.b.c.d/n (n ≥ 96) is the IPv4 range a.b.c.d/(n − 96).
  if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()) {
    if (bits < 96) return [addr, bits];
    return [(addr as ipaddr.IPv6).toIPv4Address(), bits - 96];
  }
  return [addr, bits];
}

/** The canonical text of a range: network address (host bits cleared) and prefix length. */
function canonical([addr, bits]: Range): string {
  const network =
    addr.kind() === 'ipv4'
      ? ipaddr.IPv4.networkAddressFromCIDR(`${addr.toString()}/${bits}`).toString()
      : ipaddr.IPv6.networkAddressFromCIDR(`${addr.toString()}/${bits}`).toRFC5952String();
  const max = addr.kind() === 'ipv4' ? 32 : 128;
  return bits === max ? network : `${network}/${bits}`;
}

/**
 * Validates and normalises an allow-list (PATCH / create). Every invalid entry is named in one
 * 400; duplicates after normalisation are dropped. An empty list means "no restriction".
 */
export function normalizeAllowedSourceIps(entries: readonly string[]): string[] {
  if (entries.length > MAX_ALLOWED_SOURCE_IPS) {
    throw new ValidationError(`allowed_source_ips has ${entries.length} entries; at most ${MAX_ALLOWED_SOURCE_IPS} are allowed (use CIDR ranges)`, 'invalid_source_ips');
  }
  const bad: number[] = [];
  const out: string[] = [];
  for (const [i, entry] of entries.entries()) {
    const range = parseEntry(entry);
    if (!range) {
      bad.push(i);
      continue;
    }
    const text = canonical(range);
    if (!out.includes(text)) out.push(text);
  }
  if (bad.length > 0) {
    // Entries are named by position, not echoed: whatever a caller typed there stays out of the answer.
    const list = bad.map((i) => `allowed_source_ips[${i}]`).join(', ');
    throw new ValidationError(
      `${list} ${bad.length > 1 ? 'are' : 'is'} not an IP address or CIDR range; ` +
        'use e.g. "203.0.113.7", "198.51.100.0/24", "2001:db8::1" or "2001:db8::/32" (IPv4 in dotted decimal, no zone id)',
      'invalid_source_ips',
    );
  }
  return out;
}

/** Parses a caller's source address (socket or API Gateway); undefined if it is not an IP. */
export function parseSourceIp(text: string | undefined): Address | undefined {
  if (!text) return undefined;
  const bare = text.replace(/%.*$/, ''); // a link-local zone id says nothing about who is calling
  if (!ipaddr.isValid(bare)) return undefined;
  return unmap(ipaddr.parse(bare));
}

/**
 * True if `sourceIp` is inside one of the (normalised) `allowed` entries. An empty list allows
 * everyone; an unknown or unparsable source address is allowed by no list.
 */
export function isSourceIpAllowed(allowed: readonly string[] | undefined, sourceIp: string | undefined): boolean {
  if (!allowed || allowed.length === 0) return true;
  const addr = parseSourceIp(sourceIp);
  if (!addr) return false;
  for (const entry of allowed) {
    const range = parseEntry(entry);
    if (range && range[0].kind() === addr.kind() && addr.match(range)) return true;
  }
  return false;
}
