/**
 * Shared tools of the reliability suite: table snapshots, a bounded-concurrency pool, free
 * loopback ports, a fault-injecting proxy in front of a DynamoDB endpoint, and the encodings a
 * leaked secret could take.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { Db } from '#shared/clients';

/** True when the long variants should run (`VAULT_LONG_TESTS=1`). */
export const LONG = process.env.VAULT_LONG_TESTS === '1';

/** Every item of the table (consistent, paginated Scan). Tests may scan; the product never does. */
export async function scanAll(db: Db): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await db.doc.send(new ScanCommand({ TableName: db.tableName, ConsistentRead: true, ExclusiveStartKey: start }));
    items.push(...((page.Items ?? []) as Record<string, unknown>[]));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

/** A canonical JSON form of a value: keys sorted, binary as hex, sets as sorted arrays. */
export function canonical(value: unknown): string {
  const walk = (v: unknown): unknown => {
    if (v instanceof Uint8Array) return { $bin: Buffer.from(v).toString('hex') };
    if (v instanceof Set) return { $set: [...v].map(walk).sort() };
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(v).sort()) out[k] = walk((v as Record<string, unknown>)[k]);
      return out;
    }
    return v;
  };
  return JSON.stringify(walk(value));
}

/** The table as one comparable string per item, sorted by key. */
export async function tableSnapshot(db: Db): Promise<string[]> {
  return (await scanAll(db)).map(canonical).sort();
}

/** Runs `task(i)` for i in [0, count) with at most `concurrency` in flight; results in order. */
export async function pool<T>(count: number, concurrency: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results = new Array<T>(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      results[i] = await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return results;
}

export { freePort } from '#test/support/net';

/** How the fault proxy answers one DynamoDB request. */
export type Fault =
  /** Pass the request on and return DynamoDB's answer. */
  | 'pass'
  /** Answer 500 InternalServerError without passing the request on. */
  | 'error500'
  /** Answer 400 ThrottlingException without passing the request on. */
  | 'throttle'
  /** Pass the request on (it is applied), then answer 500 as if the response was lost. */
  | 'applyThen500'
  /** Never answer (the connection stays open until the proxy closes). */
  | 'hang';

export interface ProxyRequest {
  /** The DynamoDB operation, e.g. `GetItem` (from X-Amz-Target). */
  readonly op: string;
  readonly body: string;
}

/**
 * A loopback HTTP proxy in front of a DynamoDB endpoint that answers each request as `decide`
 * says, and records every request it received (attempts, including SDK retries).
 */
export async function startFaultProxy(target: string) {
  const received: (ProxyRequest & { at: number; fault: Fault })[] = [];
  let decide: (req: ProxyRequest, index: number) => Fault = () => 'pass';
  const hanging = new Set<ServerResponse>();
  const forward = (req: IncomingMessage, body: Buffer) =>
    new Promise<{ status: number; headers: Record<string, string>; body: Buffer }>((resolve, reject) => {
      const headers = { ...req.headers } as Record<string, string>;
      delete headers.host;
      const out = httpRequest(new URL(req.url ?? '/', target), { method: req.method, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const h: Record<string, string> = {};
          for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') h[k] = v;
          resolve({ status: res.statusCode ?? 500, headers: h, body: Buffer.concat(chunks) });
        });
        res.on('error', reject);
      });
      out.on('error', reject);
      out.end(body);
    });
  const awsError = (res: ServerResponse, status: number, type: string, message: string) => {
    const text = JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${type}`, message });
    res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': `proxy-${received.length}` });
    res.end(text);
  };
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const op = String(req.headers['x-amz-target'] ?? '').split('.').pop() ?? '';
    const index = received.length;
    const fault = decide({ op, body: body.toString('utf8') }, index);
    received.push({ op, body: body.toString('utf8'), at: performance.now(), fault });
    try {
      if (fault === 'error500') return awsError(res, 500, 'InternalServerError', 'Internal server error (injected)');
      if (fault === 'throttle') return awsError(res, 400, 'ThrottlingException', 'Rate of requests exceeds the allowed throughput (injected)');
      if (fault === 'hang') {
        hanging.add(res);
        res.on('close', () => hanging.delete(res));
        return;
      }
      const answer = await forward(req, body);
      if (fault === 'applyThen500') return awsError(res, 500, 'InternalServerError', 'Internal server error after applying (injected)');
      res.writeHead(answer.status, answer.headers);
      res.end(answer.body);
    } catch {
      if (!res.headersSent) awsError(res, 500, 'InternalServerError', 'proxy could not reach the target');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    /** Sets the fault policy (and forgets what was received). */
    setPolicy(policy: (req: ProxyRequest, index: number) => Fault) {
      decide = policy;
      received.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A policy that applies `fault` to the first `times` requests of operation `op`, then passes. */
export function failFirst(op: string, times: number, fault: Fault): (req: ProxyRequest) => Fault {
  let left = times;
  return (req) => {
    if (req.op === op && left > 0) {
      left--;
      return fault;
    }
    return 'pass';
  };
}

/**
 * The forms a secret could leak in: raw, hex (both cases), base64 and base64url, the latter at
 * every byte alignment (a secret inside a larger encoded blob is encoded differently depending on
 * where it starts, so the stable middle of each alignment is searched).
 */
export function leakNeedles(secret: string | Buffer): string[] {
  const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret;
  const needles = new Set<string>();
  if (typeof secret === 'string') needles.add(secret);
  needles.add(bytes.toString('hex'));
  needles.add(bytes.toString('hex').toUpperCase());
  needles.add(bytes.toString('latin1'));
  for (let shift = 0; shift < 3; shift++) {
    const padded = Buffer.concat([Buffer.alloc(shift), bytes]);
    for (const enc of ['base64', 'base64url'] as const) {
      const text = padded.toString(enc).replace(/=+$/, '');
      // Drop the characters that mix in the padding bytes before, and the last partial group.
      const core = text.slice(Math.ceil((shift * 4) / 3), text.length - 4);
      if (core.length >= 16) needles.add(core);
    }
  }
  return [...needles];
}

/** Which needles of `secrets` occur in `haystack` (a string, or bytes searched as latin1). */
export function findLeaks(haystack: string | Buffer, secrets: Readonly<Record<string, string | Buffer>>): string[] {
  const texts = typeof haystack === 'string' ? [haystack, Buffer.from(haystack, 'utf8').toString('latin1')] : [haystack.toString('latin1'), haystack.toString('utf8')];
  const hits: string[] = [];
  for (const [label, secret] of Object.entries(secrets)) {
    for (const needle of leakNeedles(secret)) {
      if (texts.some((t) => t.includes(needle))) hits.push(`${label} (as ${JSON.stringify(needle.slice(0, 24))}…)`);
    }
  }
  return hits;
}
