import { type IncomingHttpHeaders, type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedCall {
  readonly headers: IncomingHttpHeaders;
  readonly rawBody: string;
  readonly body: any;
}

export type RunnerBehaviour = (call: ReceivedCall) => Promise<{ status?: number; body?: string | object; delayMs?: number; headers?: Record<string, string> }> | { status?: number; body?: string | object; delayMs?: number; headers?: Record<string, string> };

/** A webhook runner on loopback for tests: records every call, answers as `behaviour` says. */
export async function startTestRunner(behaviour: RunnerBehaviour) {
  const calls: ReceivedCall[] = [];
  let current = behaviour;
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const rawBody = Buffer.concat(chunks).toString('utf8');
    let body: unknown;
    try {
      body = JSON.parse(rawBody);
    } catch {
      body = undefined;
    }
    const call = { headers: req.headers, rawBody, body };
    calls.push(call);
    const answer = await current(call);
    if (answer.delayMs) await new Promise((r) => setTimeout(r, answer.delayMs));
    if (res.destroyed) return;
    const text = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body ?? {});
    res.writeHead(answer.status ?? 200, { 'content-type': 'application/json', ...(answer.headers ?? {}) });
    res.end(text);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/run`,
    calls,
    setBehaviour(b: RunnerBehaviour) {
      current = b;
    },
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
