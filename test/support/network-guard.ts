/**
 * Nothing in a test run may reach an address outside this machine: every test (and the vault
 * code it runs) talks to loopback servers only. This guard makes that a rule instead of a habit,
 * for the test process it is installed in (vitest.config.ts setupFiles, every worker; and the
 * main process, test/support/global-setup.ts):
 * - a TCP connection (net, tls, http, https, fetch: all go through net.Socket#connect) to an IP
 *   address that is not this machine's (loopback, unspecified, or one of its own interfaces)
 *   throws, before any packet is sent; to a name, the addresses its lookup answers with are
 *   checked the same way (a custom lookup's too: the outbound client pins one);
 * - a DNS lookup or query (dns.lookup, dns.resolve*, their promise forms, dns.Resolver) of any
 *   name but localhost throws (the callback forms) or rejects (the promise forms), before the
 *   resolver is asked — a DNS query is itself traffic to a server that may be off the machine.
 * Not covered: child processes (the admin CLI run by e2e tests, the browser of the console
 * tests, DynamoDB Local's JVM, which test/support/dynamodb-local.ts starts with
 * -disableTelemetry) and raw UDP (dgram), which no test uses.
 */
import dns from 'node:dns';
import dnsPromises from 'node:dns/promises';
import { syncBuiltinESMExports } from 'node:module';
import net, { type LookupFunction } from 'node:net';
import { networkInterfaces } from 'node:os';

/** Thrown (or passed to the callback) for a connection or lookup that would leave the machine. */
export class OffMachineError extends Error {
  override readonly name = 'OffMachineError';
  readonly code = 'ERR_TEST_OFF_MACHINE';
  constructor(what: string) {
    super(`test network guard: ${what} would leave this machine; tests talk to loopback servers only (test/support/network-guard.ts)`);
  }
}

/** This machine's own interface addresses (lower case, no zone). */
function ownAddresses(): Set<string> {
  const out = new Set<string>();
  for (const list of Object.values(networkInterfaces())) for (const i of list ?? []) out.add(i.address.toLowerCase().replace(/%.*$/, ''));
  return out;
}

/** Whether an IP address is on this machine: loopback, unspecified (0.0.0.0, ::) or an own interface's. */
export function isOnMachine(address: string): boolean {
  const a = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '').toLowerCase();
  if (net.isIPv4(a)) return a.startsWith('127.') || a === '0.0.0.0' || ownAddresses().has(a);
  if (!net.isIPv6(a)) return false;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (mapped) return isOnMachine(mapped[1] as string);
  return a === '::1' || a === '::' || ownAddresses().has(a);
}

/**
 * A name that resolves without asking a DNS server: an IP literal, a numeric form the resolver
 * parses itself (2130706433, 0x7f.1: inet_aton), or localhost (/etc/hosts). Where it resolves
 * to is checked when a connection is made.
 */
const resolvesLocally = (host: string) => {
  const h = host.toLowerCase().replace(/\.$/, '');
  return net.isIP(h.replace(/^\[|\]$/g, '')) !== 0 || /^(0x[0-9a-f]+|\d+)(\.(0x[0-9a-f]+|\d+)){0,3}$/.test(h) || h === 'localhost' || h.endsWith('.localhost');
};

/** A lookup that answers only with on-machine addresses (the error goes to the callback). */
function guardedLookup(lookup: LookupFunction, host: string): LookupFunction {
  return ((hostname: string, options: object, callback: (...a: unknown[]) => void) => {
    lookup(hostname, options as dns.LookupOptions, ((err: Error | null, address: string | dns.LookupAddress[], family?: number) => {
      if (err) return callback(err);
      const addresses = Array.isArray(address) ? address.map((a) => a.address) : [address];
      const off = addresses.find((a) => !isOnMachine(a));
      if (off !== undefined) return callback(new OffMachineError(`a connection to ${host} (${off})`));
      callback(null, address, family);
    }) as never);
  }) as LookupFunction;
}

const INSTALLED = Symbol.for('agent-vault.test.networkGuard');

/** Installs the guard in this process (idempotent). */
export function installNetworkGuard(): void {
  const g = globalThis as { [INSTALLED]?: boolean };
  if (g[INSTALLED]) return;
  g[INSTALLED] = true;

  const connect = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function guardedConnect(this: net.Socket, ...args: unknown[]) {
    const first = args[0];
    // net.connect() passes its normalized [options, callback] array; socket.connect() options, a port or an IPC path.
    const options = (Array.isArray(first) ? first[0] : typeof first === 'object' && first !== null ? first : undefined) as
      | { path?: string; host?: string; lookup?: LookupFunction }
      | undefined;
    const isPath = options ? options.path !== undefined : typeof first === 'string' && !/^\d+$/.test(first);
    if (!isPath) {
      const host = (options ? options.host : typeof args[1] === 'string' ? args[1] : undefined) ?? 'localhost';
      const bare = host.replace(/^\[|\]$/g, '');
      if (net.isIP(bare) !== 0) {
        if (!isOnMachine(bare)) throw new OffMachineError(`a connection to ${host}`);
      } else if (options) {
        // The name's addresses are checked as they come back (a custom lookup's too: the outbound client pins one).
        options.lookup = guardedLookup(options.lookup ?? dns.lookup, host);
      } else if (host.toLowerCase() !== 'localhost') {
        throw new OffMachineError(`a connection to ${host}`);
      }
    }
    return (connect as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof connect;

  const lookup = dns.lookup;
  dns.lookup = function guardedDnsLookup(hostname: string, ...rest: unknown[]) {
    if (!resolvesLocally(String(hostname))) throw new OffMachineError(`a DNS lookup of ${hostname}`);
    return (lookup as (...a: unknown[]) => unknown).call(dns, hostname, ...rest);
  } as typeof dns.lookup;
  const lookupAsync = dnsPromises.lookup;
  dnsPromises.lookup = function guardedDnsPromisesLookup(hostname: string, ...rest: unknown[]) {
    if (!resolvesLocally(String(hostname))) return Promise.reject(new OffMachineError(`a DNS lookup of ${hostname}`));
    return (lookupAsync as (...a: unknown[]) => unknown).call(dnsPromises, hostname, ...rest);
  } as typeof dnsPromises.lookup;

  // Queries to a DNS server (c-ares): refused for every name, before the server is asked.
  const refuseQueries = (target: Record<string, unknown>, promises: boolean) => {
    for (const name of Object.keys(target)) {
      if (!/^(resolve|reverse)/.test(name) || typeof target[name] !== 'function') continue;
      target[name] = (what: unknown) => {
        const err = new OffMachineError(`a DNS query (${name}) for ${String(what)}`);
        if (promises) return Promise.reject(err);
        throw err;
      };
    }
  };
  refuseQueries(dns as unknown as Record<string, unknown>, false);
  refuseQueries(dnsPromises as unknown as Record<string, unknown>, true);
  for (const [proto, promises] of [
    [dns.Resolver.prototype, false],
    [dnsPromises.Resolver.prototype, true],
  ] as const) {
    for (const n of Object.getOwnPropertyNames(proto).filter((name) => /^(resolve|reverse)/.test(name))) {
      Object.defineProperty(proto, n, {
        configurable: true,
        writable: true,
        value(what: unknown) {
          const err = new OffMachineError(`a DNS query (${n}) for ${String(what)}`);
          if (promises) return Promise.reject(err);
          throw err;
        },
      });
    }
  }
  // ESM named imports of node:dns and node:dns/promises (import { lookup } from …) see the guard too.
  syncBuiltinESMExports();
}
