// The embedded store's own thread (infra/local/embedded-dynamo.ts, openEmbeddedStore): dynalite
// runs here, off the thread that serves the vault's HTTP requests, so the local server uses two
// cores as a store in its own process would. Plain JavaScript: a worker thread starts without the
// TypeScript loader (tsx under `npm start`, vite-node under vitest), and dynalite is JavaScript.
//
// workerData: { path?: string, socketPath: string }. The thread
// - listens on the Unix socket `socketPath` (made 0600; the caller made its folder 0700): the way
//   in for the admin CLI and other processes, never a TCP port;
// - answers the owning thread's requests, posted as [id, method, url, headers, body], with
//   [id, statusCode, headers, body] after handing each to dynalite's request listener directly
//   (no HTTP on either side);
// - on "close", stops the socket and closes the store after its pending writes
//   (dynalite's server.close), answers "closed" and ends.
import { chmodSync } from 'node:fs';
import { EventEmitter } from 'node:events';
import { parentPort, workerData } from 'node:worker_threads';
import dynalite from 'dynalite';

const port = parentPort;
if (!port) throw new Error('store-thread.js runs as a worker thread');
const { path, socketPath } = workerData;

const server = dynalite({ ...(path ? { path } : {}), createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
const listener = server.listeners('request')[0];

/**
 * The request listener reads `method`, `url`, `headers` and the body's data/end events, and
 * answers with `statusCode`, `setHeader` and `end` (node_modules/dynalite/index.js, httpHandler).
 */
function handle(id, method, url, headers, body) {
  const req = new EventEmitter();
  req.method = method;
  req.url = url;
  req.headers = headers;
  const answerHeaders = {};
  const res = {
    statusCode: 200,
    setHeader(name, value) {
      answerHeaders[name.toLowerCase()] = String(value);
    },
    end(answer) {
      port.postMessage([id, res.statusCode, answerHeaders, answer ?? '']);
    },
  };
  try {
    listener(req, res);
    if (body !== undefined && body.length > 0)
      req.emit('data', typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body.buffer, body.byteOffset, body.byteLength));
    req.emit('end');
  } catch (err) {
    port.postMessage([id, 500, {}, JSON.stringify({ __type: 'InternalFailure', message: String(err?.message ?? err) })]);
  }
}

server.once('error', (err) => port.postMessage(['error', String(err?.message ?? err), err?.code]));
server.listen(socketPath, () => {
  try {
    chmodSync(socketPath, 0o600);
  } catch (err) {
    port.postMessage(['error', String(err?.message ?? err), err?.code]);
    return;
  }
  port.postMessage(['ready']);
});

port.on('message', (msg) => {
  if (msg === 'close') {
    server.close((err) => {
      port.postMessage(['closed', err ? String(err.message ?? err) : undefined]);
      port.close();
    });
    return;
  }
  handle(msg[0], msg[1], msg[2], msg[3], msg[4]);
});
