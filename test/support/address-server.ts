import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';

/** A loopback server that answers every request with the address it was reached at, and counts its connections. */
export interface AddressServer {
  readonly server: Server | HttpsServer;
  readonly port: number;
  /** Every connection the server took (for TLS: completed its handshake), in order. */
  readonly connections: Socket[];
  /** For each request, the index in `connections` of the connection it came over. */
  readonly requests: number[];
  close(): Promise<void>;
}

/**
 * Starts it on `host` (port 0: any free one), over TLS when `tls` gives a key and certificate.
 * Used by the outbound client's connection-reuse tests (test/unit/outbound/http-client*.test.ts).
 */
export async function startAddressServer(host: string, port = 0, tls?: { key: Buffer; cert: Buffer }): Promise<AddressServer> {
  const connections: Socket[] = [];
  const requests: number[] = [];
  const answer = (req: IncomingMessage, res: ServerResponse) => {
    requests.push(connections.indexOf(req.socket));
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(req.socket.localAddress);
    });
  };
  const server: Server | HttpsServer = tls ? createHttpsServer(tls, answer) : createHttpServer(answer);
  // Longer than any test: the server never closes a kept-alive connection on its own.
  server.keepAliveTimeout = 60_000;
  server.on(tls ? 'secureConnection' : 'connection', (s: Socket) => connections.push(s));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    connections,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
