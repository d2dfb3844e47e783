import { type ClientRequest, Agent as HttpAgent, type IncomingHttpHeaders, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, type RequestOptions, request as httpsRequest } from 'node:https';
import { type LookupFunction, type Socket, isIP } from 'node:net';
import { BlockedRunnerError, type HostResolver, pinnedLiteral, resolveRunnerAddress } from './address-policy.ts';

/**
 * The vault's one outbound HTTP client (webhook runner calls, the proxy and "test profile", token
 * endpoints, tenant webhooks). The host is resolved once per request and checked against the SSRF
 * guard (address-policy.ts), and the connection is pinned to exactly that address, so a DNS answer
 * that changes between check and connect (rebinding) cannot reach a blocked one. No redirects are
 * followed; the answer is bounded in time and size.
 *
 * Connections are kept alive and reused, but only under the key of what this request checked
 * (docs/architecture.md, "The credential gate"): the validated host and port, the very address
 * the guard pinned, and the caller's connection scope. A socket opened for one pinned address is
 * never handed to a request whose guard pinned another (a name that now resolves elsewhere gets a
 * new connection to the new, checked address), and a socket carries the requests of one scope only
 * (the proxy: one profile), so no connection-bound state (NTLM-style authentication, a desync)
 * passes between profiles or tenants.
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
  /**
   * Who may share a kept-alive connection with this request, besides the same host, port and
   * pinned address: e.g. the profile whose credentials the request carries. Unset: the pool of
   * unscoped calls.
   */
  readonly connectionScope?: string;
  /**
   * Called once the request is on the wire (body written), while the answer is awaited: work the
   * answer needs but the request does not (the redactor of a run or a proxied call) overlaps the
   * round trip instead of following it. Must not throw.
   */
  readonly onSent?: () => void;
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

/** An address the guard allowed, and the family to connect with. */
interface Pinned {
  readonly address: string;
  readonly family: 4 | 6;
}

/** What the pool keys a connection on, besides Node's own (host, port, TLS options). */
interface PoolOptions {
  readonly pinnedAddress: string;
  readonly pinnedFamily: 4 | 6;
  readonly connectionScope: string;
}

/**
 * A kept-alive socket idle longer than this is not reused but closed: below the 5 s keep-alive
 * timeout most servers (Node's default included) use, measured by the wall clock, so a socket
 * left in the pool while a Lambda environment was frozen (no timer ran) is not picked after it
 * thaws, when its server has long closed it.
 */
export const MAX_IDLE_MS = 4_000;
/** Idle connections kept per pool key (host, port, pinned address, scope). */
const MAX_FREE_SOCKETS = 8;

const idleSince = new WeakMap<Socket, number>();

/**
 * Node's keep-alive agent with the pool key extended by the pinned address and the connection
 * scope, and a wall-clock bound on how long a socket may sit idle before it is reused.
 */
function pinnedAgent<A extends typeof HttpAgent | typeof HttpsAgent>(Base: A): InstanceType<A> {
  class PinnedAgent extends (Base as typeof HttpAgent) {
    override getName(options: Parameters<HttpAgent['getName']>[0] = {}): string {
      const o = options as unknown as Partial<PoolOptions>;
      // Every request of this client sets all three; a key without them is never shared with one that has them.
      return `${super.getName(options)}|${o.pinnedFamily ?? '-'}|${o.pinnedAddress ?? '-'}|${o.connectionScope ?? '-'}`;
    }

    override keepSocketAlive(socket: Socket): boolean {
      // Node's own returns whether the socket may be kept (typed void in @types/node).
      const kept = (super.keepSocketAlive as unknown as (s: Socket) => boolean)(socket) !== false;
      if (kept) idleSince.set(socket, Date.now());
      return kept;
    }

    /** Closes the idle sockets of the request's pool key that sat unused for more than MAX_IDLE_MS. */
    addRequest(req: ClientRequest, options: Parameters<HttpAgent['getName']>[0] = {}): void {
      // The key Node's addRequest computes next: this agent's own options name no host, port or
      // TLS setting, and https requests name their servername, so Node derives none.
      const free = this.freeSockets[this.getName(options)] as Socket[] | undefined;
      if (free !== undefined && free.length > 0) {
        const now = Date.now();
        for (let i = free.length - 1; i >= 0; i--) {
          const socket = free[i] as Socket;
          if (now - (idleSince.get(socket) ?? 0) > MAX_IDLE_MS) {
            free.splice(i, 1);
            socket.destroy();
          }
        }
      }
      (HttpAgent.prototype as unknown as { addRequest: (r: ClientRequest, o: unknown) => void }).addRequest.call(this, req, options);
    }
  }
  // `timeout` closes a socket left idle in the pool (Node's own bound, and its server's Keep-Alive hint).
  return new PinnedAgent({ keepAlive: true, scheduling: 'lifo', timeout: 5_000, maxFreeSockets: MAX_FREE_SOCKETS }) as InstanceType<A>;
}

const httpAgent = pinnedAgent(HttpAgent);
const httpsAgent = pinnedAgent(HttpsAgent);

/** The address the guard allows for this host: at once for an IP literal, else by one DNS lookup bounded by timeoutMs. */
async function pin(call: OutboundCall): Promise<Pinned | OutboundFailure> {
  let dnsTimer: NodeJS.Timeout | undefined;
  try {
    // An IP literal needs no lookup (and no timer): it is checked as it is.
    const literal = pinnedLiteral(call.url.hostname, call.allowPrivate);
    if (literal) return literal;
    // timeoutMs covers the whole call, the DNS lookup included: a slow (or hostile) resolver must
    // not hold a run, or a queue slot, beyond it. (The lookup itself cannot be cancelled; it is
    // abandoned.)
    const outcome = await Promise.race([
      resolveRunnerAddress(call.url.hostname, call.allowPrivate, call.resolveHost),
      new Promise<'timeout'>((resolve) => {
        dnsTimer = setTimeout(() => resolve('timeout'), call.timeoutMs);
      }),
    ]);
    return outcome === 'timeout' ? { ok: false, reason: 'dns_timeout' } : outcome;
  } catch (err) {
    return err instanceof BlockedRunnerError
      ? { ok: false, reason: 'blocked', message: err.message }
      : { ok: false, reason: 'unresolvable' };
  } finally {
    clearTimeout(dnsTimer);
  }
}

/** Sends one request; never throws for network faults (they come back as an OutboundFailure). */
export async function sendOutbound(call: OutboundCall): Promise<OutboundResponse | OutboundFailure> {
  const startedAt = performance.now();
  const pinned = await pin(call);
  if ('ok' in pinned) return pinned;
  const remainingMs = Math.max(0, call.timeoutMs - (performance.now() - startedAt));
  // A new connection dials the pinned address whatever the name resolves to now.
  const lookup: LookupFunction = (_host, options, cb) => {
    if ((options as { all?: boolean }).all) {
      (cb as unknown as (e: null, a: Pinned[]) => void)(null, [pinned]);
    } else {
      cb(null, pinned.address, pinned.family);
    }
  };
  const { url } = call;
  const https = url.protocol === 'https:';
  const send = https ? httpsRequest : httpRequest;
  const pool: PoolOptions = { pinnedAddress: pinned.address, pinnedFamily: pinned.family, connectionScope: call.connectionScope ?? '' };
  const options: RequestOptions & PoolOptions = {
    method: call.method,
    lookup,
    headers: call.headers,
    agent: https ? httpsAgent : httpAgent,
    ...pool,
  };
  if (https) {
    // What Node would derive (no Host header is ever set here): the host name for SNI and the
    // certificate check, none for an IP literal. Named here so the pool key is known up front.
    const bare = url.hostname.replace(/^\[|\]$/g, '');
    options.servername = isIP(bare) ? '' : bare;
  }
  return new Promise((resolve) => {
    let settled = false;
    const finish = (r: OutboundResponse | OutboundFailure) => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        resolve(r);
      }
    };
    const req = send(url, options, (res) => {
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
      res.on('end', () =>
        finish({
          ok: true,
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size),
        }),
      );
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
    if (call.onSent) req.once('finish', call.onSent);
    req.end(call.body);
  });
}
