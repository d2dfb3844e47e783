import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** What the mock token endpoint saw of one request. */
export interface TokenRequestSeen {
  readonly method: string;
  readonly path: string;
  readonly authorization?: string;
  readonly contentType?: string;
  readonly form: Record<string, string>;
  /** The index in `connections` of the TCP connection the request came over. */
  readonly connection: number;
}

/** How the mock answers the next requests (changeable between requests). */
export interface TokenServerBehaviour {
  status: number;
  /** The JSON (or raw text) body; `access_token` gets a counter appended when `fresh` is set. */
  body: unknown;
  /** Milliseconds to wait before answering (lets parallel uses pile up behind one fetch). */
  delayMs: number;
  /** Give every answer a new access token: tok-1, tok-2, … */
  fresh: boolean;
}

export interface MockTokenServer {
  readonly url: string;
  readonly host: string;
  readonly seen: TokenRequestSeen[];
  /** Every TCP connection the server accepted, in order. */
  readonly connections: Socket[];
  readonly behaviour: TokenServerBehaviour;
  close(): Promise<void>;
}

/**
 * A loopback OAuth2 token endpoint (RFC 6749 §4.4) that counts its requests. By default it
 * answers 200 `{access_token: "tok-<n>", token_type: "Bearer", expires_in: 3600}` after 50 ms.
 */
export async function startTokenServer(overrides: Partial<TokenServerBehaviour> = {}): Promise<MockTokenServer> {
  const seen: TokenRequestSeen[] = [];
  const connections: Socket[] = [];
  const behaviour: TokenServerBehaviour = {
    status: 200,
    body: { token_type: 'Bearer', expires_in: 3600 },
    delayMs: 50,
    fresh: true,
    ...overrides,
  };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const form = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
      seen.push({
        method: req.method ?? '',
        path: req.url ?? '',
        authorization: req.headers.authorization,
        contentType: req.headers['content-type'],
        form,
        connection: connections.indexOf(req.socket),
      });
      const n = seen.length;
      setTimeout(() => {
        const body = behaviour.fresh && typeof behaviour.body === 'object' && behaviour.body !== null ? { access_token: `tok-${n}`, ...behaviour.body } : behaviour.body;
        res.writeHead(behaviour.status, { 'content-type': 'application/json' });
        res.end(typeof body === 'string' ? body : JSON.stringify(body));
      }, behaviour.delayMs);
    });
  });
  server.on('connection', (socket: Socket) => connections.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/oauth/token`,
    host: `127.0.0.1:${port}`,
    seen,
    connections,
    behaviour,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
