import type { IncomingHttpHeaders } from 'node:http';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { BlockedRunnerError, type HostResolver, resolveRunnerAddress } from './address-policy.ts';

/**
 * The vault's one outbound HTTP client (webhook runner calls; the proxy and "test profile" next).
 * The host is resolved once and checked against the SSRF guard (address-policy.ts), and the
 * connection is pinned to exactly that address, so a DNS answer that changes between check and
 * connect (rebinding) cannot reach a blocked one. No redirects are followed; the answer is
 * bounded in time and size.
 */
export interface OutboundCall {
  readonly url: URL;
  readonly method: string;
  readonly headers: Readonly<Record<string, string | number>>;
  readonly body?: string | Buffer;
  readonly timeoutMs: number;
  readonly maxResponseBytes: number;
  /** Allow loopback / private / link-local addresses (local mode, tests). */
  readonly allowPrivate: boolean;
  /** The DNS resolver (tests inject a slow one); the system resolver by default. */
  readonly resolveHost?: HostResolver;
}

export interface OutboundResponse {
  readonly ok: true;
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** Why a call produced no response; `message` comes from the guard for `blocked`, else is empty. */
export type OutboundFailure =
  | { readonly ok: false; readonly reason: 'blocked'; readonly message: string }
  | {
      readonly ok: false;
      readonly reason: 'unresolvable' | 'dns_timeout' | 'timeout' | 'too_large' | 'read_failed';
      readonly message?: undefined;
    }
  | {
      readonly ok: false;
      readonly reason: 'unreachable';
      /** The errno and the address it was dialled at, e.g. `ECONNREFUSED 127.0.0.1:4999` (already policy-checked). */
      readonly message?: string;
    };

/** Sends one request; never throws for network faults (they come back as an OutboundFailure). */
export async function sendOutbound(call: OutboundCall): Promise<OutboundResponse | OutboundFailure> {
  // timeoutMs covers the whole call, the DNS lookup included: a slow (or hostile) resolver must
  // not hold a run, or a queue slot, beyond it. (The lookup itself cannot be cancelled; it is
  // abandoned.)
  const startedAt = performance.now();
  let pinned: { address: string; family: 4 | 6 };
  let dnsTimer: NodeJS.Timeout | undefined;
  try {
    const outcome = await Promise.race([
      resolveRunnerAddress(call.url.hostname, call.allowPrivate, call.resolveHost),
      new Promise<'timeout'>((resolve) => {
        dnsTimer = setTimeout(() => resolve('timeout'), call.timeoutMs);
      }),
    ]);
    if (outcome === 'timeout') return { ok: false, reason: 'dns_timeout' };
    pinned = outcome;
  } catch (err) {
    return err instanceof BlockedRunnerError ? { ok: false, reason: 'blocked', message: err.message } : { ok: false, reason: 'unresolvable' };
  } finally {
    clearTimeout(dnsTimer);
  }
  const remainingMs = Math.max(0, call.timeoutMs - (performance.now() - startedAt));
  const lookup: LookupFunction = (_host, options, cb) => {
    if ((options as { all?: boolean }).all) {
      (cb as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [pinned]);
    } else {
      cb(null, pinned.address, pinned.family);
    }
  };
  const send = call.url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (r: OutboundResponse | OutboundFailure) => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        resolve(r);
      }
    };
    const req = send(call.url, { method: call.method, lookup, headers: call.headers }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > call.maxResponseBytes) {
          finish({ ok: false, reason: 'too_large' });
          req.destroy();
          return;
        }
        chunks.push(c);
      });
      res.on('error', () => finish({ ok: false, reason: 'read_failed' }));
      res.on('end', () => finish({ ok: true, status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    const timer = setTimeout(() => {
      finish({ ok: false, reason: 'timeout' });
      req.destroy();
    }, remainingMs);
    req.on('error', (err: NodeJS.ErrnoException & { address?: string; port?: number }) => {
      // What a person needs to fix a target that is down; the address is the one the policy allowed.
      const where = err.address ? ` ${err.address.includes(':') ? `[${err.address}]` : err.address}${err.port ? `:${err.port}` : ''}` : '';
      finish({ ok: false, reason: 'unreachable', message: err.code ? `${err.code}${where}` : undefined });
    });
    req.end(call.body);
  });
}
