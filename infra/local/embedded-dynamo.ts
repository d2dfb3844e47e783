import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import dynalite from 'dynalite';
import type { StoreRequestHandler } from '#shared/clients';

/**
 * Longest Unix socket path this module will bind. Linux allows 107 bytes (sun_path is 108 with
 * the NUL), macOS 103: the lower one, so a data folder that works here works there too.
 */
export const MAX_SOCKET_PATH = 103;

/** File name of the store's socket inside the data folder. */
export const STORE_SOCKET = 'store.sock';

export interface EmbeddedStore {
  /**
   * The Unix socket dynalite listens on (mode 0600, inside a 0700 folder): the only way in.
   * Pass it to `createDb({ storeSocket })`.
   */
  readonly socketPath: string;
  /**
   * The same store for this process without the socket: calls are messages to the store's
   * thread (batched per event-loop turn), which hands each to dynalite's request listener
   * directly (no HTTP on either side).
   * Pass it to `createDb({ storeHandler })`.
   */
  readonly handler: StoreRequestHandler;
  /** The worker thread dynalite runs in (never the caller's). */
  readonly threadId: number;
  close(): Promise<void>;
}

type StoreRequest = Parameters<StoreRequestHandler['handle']>[0];
type StoreAnswer = Awaited<ReturnType<StoreRequestHandler['handle']>>;

/**
 * The store thread's URL (infra/local/store-thread.js): next to this module when it runs from
 * source (tsx, vitest).
 */
const STORE_THREAD = new URL('./store-thread.js', import.meta.url);

/** Request headers as dynalite reads them (lower-case names), built without per-call allocation. */
function lowerCaseHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name in headers) out[name.toLowerCase()] = headers[name] as string;
  return out;
}

/**
 * The request body for the store thread: a string as is; bytes copied into a buffer of their own
 * and transferred (the SDK's Uint8Array may be a view into a larger pooled buffer, which a
 * structured clone would copy whole).
 */
function bodyForThread(body: unknown): { body: string | Uint8Array | undefined; transfer: ArrayBuffer[] } {
  if (body === undefined || typeof body === 'string') return { body, transfer: [] };
  if (body instanceof Uint8Array) {
    const own = body.slice();
    return { body: own, transfer: [own.buffer] };
  }
  throw new TypeError('embedded store: unsupported request body');
}

/** The store thread as its owner sees it (see startStoreThread). */
export interface StoreThread {
  readonly thread: Worker;
  /** Settles once the socket listens (mode 0600), or with the reason it could not. */
  readonly ready: Promise<void>;
  /** Calls posted in batches (one message per event-loop turn); refused with an error, never left pending, once the thread has failed or ended. */
  readonly handler: StoreRequestHandler;
  /** Stops the socket, lets dynalite finish its pending writes and close its files, waits for the thread to end. */
  close(): Promise<void>;
}

/**
 * Starts dynalite in a thread of its own (infra/local/store-thread.js), persisted under `path`
 * (in memory when undefined) and listening on the Unix socket `socketPath`.
 */
export function startStoreThread(options: { path?: string; socketPath: string }): StoreThread {
  // The thread runs plain JavaScript: no loader flags (tsx's --import) are passed on to it.
  const thread = new Worker(STORE_THREAD, { workerData: { path: options.path, socketPath: options.socketPath }, execArgv: [] });
  const pending = new Map<number, { resolve: (a: StoreAnswer) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  let failure: Error | undefined;
  let onReady: { resolve: () => void; reject: (e: Error) => void } | undefined;
  let onClosed: (() => void) | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    onReady = { resolve, reject };
  });
  const fail = (err: Error) => {
    failure ??= err;
    for (const p of pending.values()) p.reject(failure);
    pending.clear();
    onReady?.reject(failure);
    onReady = undefined;
  };
  const answer = (id: number, statusCode: number, headers: Record<string, string>, body: string) => {
    const p = pending.get(id);
    if (!p) return;
    pending.delete(id);
    p.resolve({ response: { statusCode, headers, body: Buffer.from(body, 'utf8') } });
  };
  thread.on('message', (msg: unknown[]) => {
    const [id, a, b] = msg;
    if (id === 'answers') {
      for (const one of a as [number, number, Record<string, string>, string][]) answer(one[0], one[1], one[2], one[3]);
    } else if (id === 'ready') {
      onReady?.resolve();
      onReady = undefined;
    } else if (id === 'error') {
      fail(Object.assign(new Error(`embedded store: ${a as string}`), { code: b }));
    } else if (id === 'closed') {
      onClosed?.();
    }
  });
  thread.on('error', (err) => fail(new Error(`embedded store thread failed: ${err.message}`)));
  const exited = new Promise<void>((resolve) =>
    thread.once('exit', (code) => {
      fail(new Error(`embedded store thread ended (exit code ${code})`));
      resolve();
    }),
  );

  // Calls are posted in batches: every call made until this turn of the event loop ends goes in
  // one message (setImmediate), and the thread answers in batches alike. Waking a thread that
  // went idle costs far more than the message (a system call and, on a virtual machine, an
  // interrupt to another CPU); under load many requests make calls in the same turn.
  let queued: unknown[][] = [];
  let queuedTransfer: ArrayBuffer[] = [];
  let flushScheduled = false;
  const flush = () => {
    flushScheduled = false;
    if (queued.length === 0) return;
    const batch = queued;
    const transfer = queuedTransfer;
    queued = [];
    queuedTransfer = [];
    // After a failure every pending call was refused already (fail): nothing to post.
    if (!failure) thread.postMessage(['requests', batch], transfer);
  };

  const handler: StoreRequestHandler = {
    handle(request: StoreRequest) {
      if (failure) return Promise.reject(failure);
      const id = nextId++;
      const query =
        request.query && Object.keys(request.query).length ? `?${new URLSearchParams(request.query as Record<string, string>)}` : '';
      const { body, transfer } = bodyForThread(request.body);
      return new Promise<StoreAnswer>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        queued.push([id, request.method, `${request.path}${query}`, lowerCaseHeaders(request.headers), body]);
        for (const t of transfer) queuedTransfer.push(t);
        if (!flushScheduled) {
          flushScheduled = true;
          setImmediate(flush);
        }
      });
    },
  };

  let closing: Promise<void> | undefined;
  return {
    thread,
    ready,
    handler,
    close: () => {
      closing ??= (async () => {
        if (!failure) {
          const closed = new Promise<void>((resolve) => {
            onClosed = resolve;
          });
          // The calls taken before close go first: the thread answers every one of them.
          flush();
          thread.postMessage('close');
          await Promise.race([closed, exited]);
        }
        await exited;
      })();
      return closing;
    },
  };
}

/**
 * Opens the embedded store the local server uses: dynalite (a DynamoDB-compatible server in pure
 * JS) persisted under `<dataDir>/dynamodb`, or in memory when `dataDir` is undefined, in a thread
 * of its own (startStoreThread), so the thread serving HTTP does not also run the store: reachable
 * only through a Unix socket — never a TCP port — and, for this process, through `handler`
 * (messages to that thread). dynalite accepts any SigV4 signature and answers every Origin
 * with `Access-Control-Allow-Origin: *`, so on a loopback port any local process or web page could
 * write API keys or rewrite runner URLs. A socket file with mode 0600 inside a 0700 folder is
 * reachable only by this user.
 *
 * The socket is `<socketDir>/store.sock` (socketDir defaults to dataDir; the caller makes it 0700)
 * when that path is short enough for a socket address (see MAX_SOCKET_PATH), else `store.sock` in
 * a fresh 0700 folder under the system temp folder; the lock file records which, so the admin CLI
 * can find it. `close()` waits for the store's pending writes and removes the socket.
 */
export async function openEmbeddedStore(options: { dataDir?: string; socketDir?: string } = {}): Promise<EmbeddedStore> {
  const { dataDir } = options;
  let socketDir = options.socketDir ?? dataDir;
  let privateDir: string | undefined;
  if (dataDir) mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if (!socketDir || join(socketDir, STORE_SOCKET).length > MAX_SOCKET_PATH) {
    privateDir = mkdtempSync(join(tmpdir(), 'agent-vault-')); // mkdtemp creates it 0700
    socketDir = privateDir;
  }
  const socketPath = join(socketDir, STORE_SOCKET);
  // A socket file left by a crash would make listen fail with EADDRINUSE; the caller holds the
  // data folder's lock, so nobody else is serving on it.
  rmSync(socketPath, { force: true });
  const store = startStoreThread({ path: dataDir ? join(dataDir, 'dynamodb') : undefined, socketPath });
  try {
    await store.ready;
  } catch (err) {
    await store.thread.terminate();
    if (privateDir) rmSync(privateDir, { recursive: true, force: true });
    throw err;
  }
  return {
    socketPath,
    threadId: store.thread.threadId,
    handler: store.handler,
    close: async () => {
      await store.close();
      rmSync(privateDir ?? socketPath, { recursive: true, force: true });
    },
  };
}

function startDynalite(dataDir: string | undefined) {
  return dynalite({
    ...(dataDir ? { path: join(dataDir, 'dynamodb') } : {}),
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
}

export interface EmbeddedDynamo {
  /** http://127.0.0.1:<port> */
  readonly endpoint: string;
  close(): Promise<void>;
}

/**
 * Tests and benchmarks only: dynalite on a free loopback TCP port, for tests that put a fault
 * proxy in front of the store or compare engines by endpoint. The local server never uses this
 * (see openEmbeddedStore).
 */
export async function startEmbeddedDynamo(dataDir?: string): Promise<EmbeddedDynamo> {
  if (dataDir) mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const server = startDynalite(dataDir);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
      }),
  };
}
