/**
 * Preload (`node --import tsx --import ./test/support/no-network-preload.ts <cli>`) for the tools
 * the tests run as child processes (the OpenAPI linters and generator: test/infra/openapi-tools.test.ts),
 * which the in-process guard does not reach: every TCP connection and DNS lookup the child
 * attempts is appended to the file named by NETWORK_ATTEMPTS_LOG, and then refused by the network
 * guard if it would leave the machine (test/support/network-guard.ts). The test asserts the log
 * stays empty: the tools make no network call at all.
 */
import { appendFileSync } from 'node:fs';
import dns from 'node:dns';
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';
import { installNetworkGuard } from './network-guard.ts';

installNetworkGuard();

const log = process.env.NETWORK_ATTEMPTS_LOG;
const record = (what: string) => {
  if (log) appendFileSync(log, `${what}\n`);
};

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function recordedConnect(this: net.Socket, ...args: unknown[]) {
  const first = args[0];
  const options = (Array.isArray(first) ? first[0] : typeof first === 'object' && first !== null ? first : undefined) as { path?: string; host?: string; port?: unknown } | undefined;
  const isPath = options ? options.path !== undefined : typeof first === 'string' && !/^\d+$/.test(first);
  if (!isPath) record(`connect ${options?.host ?? (typeof args[1] === 'string' ? args[1] : 'localhost')}:${String(options?.port ?? first)}`);
  return (connect as (...a: unknown[]) => net.Socket).apply(this, args);
} as typeof connect;

const lookup = dns.lookup;
dns.lookup = function recordedLookup(hostname: string, ...rest: unknown[]) {
  record(`lookup ${hostname}`);
  return (lookup as (...a: unknown[]) => unknown).call(dns, hostname, ...rest);
} as typeof dns.lookup;
syncBuiltinESMExports();
