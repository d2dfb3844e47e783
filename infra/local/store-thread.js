// The embedded store's own thread (infra/local/embedded-dynamo.ts, openEmbeddedStore): dynalite
// runs here, off the thread that serves the vault's HTTP requests, so the local server uses two
// cores as a store in its own process would. Plain JavaScript: a worker thread starts without the
// TypeScript loader (tsx under `npm start`, vite-node under vitest), and dynalite is JavaScript.
//
// workerData: { path?: string, socketPath: string }. The thread
// - listens on the Unix socket `socketPath` (made 0600; the caller made its folder 0700): the way
//   in for the admin CLI and other processes, never a TCP port;
// - answers the owning thread's requests, posted in batches as ["requests", [[id, method, url,
//   headers, body], …]], with batches ["answers", [[id, statusCode, headers, body], …]] after
//   handing each to dynalite's request listener directly (no HTTP on either side): the answers
//   ready in one turn of this thread's event loop go in one message (waking the owning thread
//   costs more than the message);
// - on "close", refuses what comes after it, answers every request taken before it, then stops
//   the socket and closes the store (dynalite's server.close), answers "closed" and ends.
import { chmodSync } from 'node:fs';
import { EventEmitter } from 'node:events';
import { parentPort, workerData } from 'node:worker_threads';
import dynalite from 'dynalite';

const port = parentPort;
if (!port) throw new Error('store-thread.js runs as a worker thread');
const { path, socketPath } = workerData;

const server = dynalite({ ...(path ? { path } : {}), createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
const listener = server.listeners('request')[0];

// Requests taken and not yet answered, from the owning thread and from the socket. dynalite's own
// shutdown waits only for the database operations pending at that moment, and a write is several
// of them (a read of the old item, then the put): closing between two steps would fail a request
// that was taken before "close". So "close" first refuses anything new, then waits until every
// request taken has been answered, and only then closes dynalite.
let inFlight = 0;
let closing = false;
let onIdle;
const REFUSED = [
  500,
  {},
  JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#InternalFailure', message: 'the embedded store is closing' }),
];
// Answers ready in this turn of the event loop, posted together (setImmediate).
let answers = [];
let flushScheduled = false;
function flushAnswers() {
  flushScheduled = false;
  if (answers.length === 0) return;
  const batch = answers;
  answers = [];
  port.postMessage(['answers', batch]);
}
function reply(id, statusCode, headers, body) {
  answers.push([id, statusCode, headers, body]);
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flushAnswers);
  }
}
function begin() {
  inFlight++;
}
function done() {
  inFlight--;
  if (inFlight === 0 && onIdle) onIdle();
}
server.removeListener('request', listener);
server.on('request', (req, res) => {
  if (closing) {
    res.statusCode = REFUSED[0];
    res.end(REFUSED[2]);
    return;
  }
  begin();
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    done();
  };
  res.once('finish', finish);
  res.once('close', finish);
  listener(req, res);
});

/**
 * The request listener reads `method`, `url`, `headers` and the body's data/end events, and
 * answers with `statusCode`, `setHeader` and `end` (node_modules/dynalite/index.js, httpHandler).
 */
function handle(id, method, url, headers, body) {
  if (closing) {
    reply(id, ...REFUSED);
    return;
  }
  begin();
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
      reply(id, res.statusCode, answerHeaders, answer ?? '');
      done();
    },
  };
  try {
    listener(req, res);
    if (body !== undefined && body.length > 0)
      req.emit('data', typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body.buffer, body.byteOffset, body.byteLength));
    req.emit('end');
  } catch (err) {
    reply(id, 500, {}, JSON.stringify({ __type: 'InternalFailure', message: String(err?.message ?? err) }));
    done();
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
    closing = true;
    const shut = () => {
      onIdle = undefined;
      server.close((err) => {
        flushAnswers(); // every answer before "closed"
        port.postMessage(['closed', err ? String(err.message ?? err) : undefined]);
        port.close();
      });
    };
    if (inFlight === 0) shut();
    else onIdle = shut;
    return;
  }
  if (msg[0] === 'requests') for (const r of msg[1]) handle(r[0], r[1], r[2], r[3], r[4]);
});
