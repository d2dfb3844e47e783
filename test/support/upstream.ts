import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the echo upstream saw of one request. */
export interface SeenRequest {
  readonly method: string;
  readonly path: string;
  readonly query: Record<string, string[]>;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

export interface EchoUpstream {
  readonly url: string;
  readonly port: number;
  readonly seen: SeenRequest[];
  close(): Promise<void>;
}

/**
 * A loopback API for proxy tests. By default it answers 200 with JSON echoing everything it
 * received (so a test sees both what was injected and that the echo is redacted). Special paths:
 * `/status/<n>` answers n, `/redirect` answers 302 to /elsewhere, `/slow` never answers,
 * `/big` answers 2 MiB, `/binary` echoes the Authorization header inside non-UTF-8 bytes,
 * `/gzip` answers the echo gzip-compressed.
 */
export async function startEchoUpstream(): Promise<EchoUpstream> {
  const seen: SeenRequest[] = [];
  const { gzipSync } = await import('node:zlib');
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://upstream.local');
      const query: Record<string, string[]> = {};
      for (const [k, v] of url.searchParams) query[k] = [...(query[k] ?? []), v];
      const entry: SeenRequest = { method: req.method ?? '', path: url.pathname, query, headers: { ...req.headers }, body: Buffer.concat(chunks).toString('utf8') };
      seen.push(entry);
      const echo = JSON.stringify(entry);
      const status = /^\/status\/(\d{3})$/.exec(url.pathname);
      if (status) {
        res.writeHead(Number(status[1]), { 'content-type': 'application/json', 'x-echo-auth': String(req.headers.authorization ?? '') });
        res.end(echo);
      } else if (url.pathname === '/redirect') {
        res.writeHead(302, { location: 'http://127.0.0.1:9/elsewhere' });
        res.end();
      } else if (url.pathname === '/slow') {
        // never answers
      } else if (url.pathname === '/big') {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.end(Buffer.alloc(2 * 1024 * 1024, 97));
      } else if (url.pathname === '/binary') {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.end(Buffer.concat([Buffer.from([0xff, 0xfe, 0x00]), Buffer.from(String(req.headers.authorization ?? ''), 'utf8'), Buffer.from([0xff])]));
      } else if (url.pathname === '/gzip') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
        res.end(gzipSync(echo));
      } else {
        res.writeHead(200, { 'content-type': 'application/json', 'x-echo-auth': String(req.headers.authorization ?? '') });
        res.end(echo);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
