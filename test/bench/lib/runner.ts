import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface BenchRunner {
  /** Answers `{"output":"ok"}`. */
  readonly url: string;
  /** Answers `{"output":"ok","session":{…}}` (for runs that save a session). */
  readonly sessionUrl: string;
  calls: number;
  close(): Promise<void>;
}

const OK = Buffer.from('{"output":"ok"}');
const WITH_SESSION = Buffer.from('{"output":"ok","session":{"cookie":"bench-session-cookie","n":1}}');

/**
 * The smallest webhook runner: reads the body (without parsing or verifying it) and answers a
 * constant JSON document. Keep-alive, loopback only.
 */
export async function startBenchRunner(): Promise<BenchRunner> {
  const state = { calls: 0 };
  const server: Server = createServer((req, res) => {
    state.calls++;
    const body = req.url === '/session' ? WITH_SESSION : OK;
    req.on('data', () => {});
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/run`,
    sessionUrl: `http://127.0.0.1:${port}/session`,
    get calls() {
      return state.calls;
    },
    set calls(n: number) {
      state.calls = n;
    },
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
