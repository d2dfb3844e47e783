import { EventEmitter } from 'node:events';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import type { RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
   * The same store for this process without the socket: each call goes to dynalite's request
   * listener directly (no HTTP on either side). Pass it to `createDb({ storeHandler })`.
   */
  readonly handler: StoreRequestHandler;
  close(): Promise<void>;
}

/**
 * An SDK request handler that hands each request to dynalite's request listener in this process:
 * the listener reads `method`, `url`, `headers` and the body's data/end events, and answers with
 * `statusCode`, `setHeader` and `end` (node_modules/dynalite/index.js, httpHandler).
 */
function inProcessHandler(listener: RequestListener): StoreRequestHandler {
  return {
    handle(request) {
      return new Promise((resolve, reject) => {
        const req = Object.assign(new EventEmitter(), {
          method: request.method,
          url: `${request.path}${request.query && Object.keys(request.query).length ? `?${new URLSearchParams(request.query as Record<string, string>)}` : ''}`,
          headers: Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k.toLowerCase(), v])),
        });
        const headers: Record<string, string> = {};
        const res = {
          statusCode: 200,
          setHeader(name: string, value: unknown) {
            headers[name.toLowerCase()] = String(value);
          },
          end(body?: string | Uint8Array) {
            resolve({
              response: {
                statusCode: res.statusCode,
                headers,
                body: body === undefined ? new Uint8Array() : typeof body === 'string' ? Buffer.from(body, 'utf8') : body,
              },
            });
          },
        };
        try {
          listener(req as never, res as never);
          const body = request.body as string | Uint8Array | undefined;
          // The SDK's JSON body is a Uint8Array that warns when used as a string: viewed, not converted.
          if (body !== undefined && body.length > 0) {
            req.emit(
              'data',
              typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body.buffer, body.byteOffset, body.byteLength),
            );
          }
          req.emit('end');
        } catch (err) {
          reject(err);
        }
      });
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

/**
 * Opens the embedded store the local server uses: dynalite (a DynamoDB-compatible server in pure
 * JS) persisted under `<dataDir>/dynamodb`, or in memory when `dataDir` is undefined, reachable
 * only through a Unix socket — never a TCP port. dynalite accepts any SigV4 signature and answers
 * every Origin with `Access-Control-Allow-Origin: *`, so on a loopback port any local process or
 * web page could write API keys or rewrite runner URLs. A socket file with mode 0600 inside a 0700
 * folder is reachable only by this user.
 *
 * The socket is `<socketDir>/store.sock` (socketDir defaults to dataDir; the caller makes it 0700)
 * when that path is short enough for a socket address (see MAX_SOCKET_PATH), else `store.sock` in
 * a fresh 0700 folder under the system temp folder; the lock file records which, so the admin CLI
 * can find it.
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
  const server = startDynalite(dataDir);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => resolve());
    });
    chmodSync(socketPath, 0o600);
  } catch (err) {
    if (privateDir) rmSync(privateDir, { recursive: true, force: true });
    throw err;
  }
  const listener = server.listeners('request')[0] as RequestListener;
  return {
    socketPath,
    handler: inProcessHandler(listener),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          rmSync(privateDir ?? socketPath, { recursive: true, force: true });
          resolve();
        });
      }),
  };
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
