import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Redactor } from '#shared/outbound/redact';
import { verifySignature } from '#shared/runs/signature';
import { callWebhookRunner, MAX_RUNNER_RESPONSE_BYTES, type RunnerCall } from '#shared/runs/webhook';
import { startTestRunner } from '#test/support/runner';

const SECRET = 'avs_unit-test-secret';
const NOW = Math.floor(Date.now() / 1000);

type Runner = Awaited<ReturnType<typeof startTestRunner>>;
let runner: Runner;
let other: Runner;

beforeAll(async () => {
  runner = await startTestRunner(() => ({ body: { output: 'ok' } }));
  other = await startTestRunner(() => ({ body: { output: 'followed' } }));
});

afterAll(async () => {
  await runner.close();
  await other.close();
});

afterEach(() => {
  runner.calls.length = 0;
  other.calls.length = 0;
  runner.setBehaviour(() => ({ body: { output: 'ok' } }));
});

const call = (over: Partial<RunnerCall> = {}): Promise<Awaited<ReturnType<typeof callWebhookRunner>>> =>
  callWebhookRunner({
    url: runner.url,
    signingSecret: SECRET,
    payload: { session_id: 's', agent_id: 'a', parameters: { q: 1 }, session: null },
    timeoutMs: 5_000,
    allowPrivate: true,
    nowSeconds: NOW,
    ...over,
  });

describe('callWebhookRunner', () => {
  it('POSTs the payload as JSON with a signature over the exact body', async () => {
    await call();

    const [received] = runner.calls;
    expect(received?.headers['content-type']).toBe('application/json');
    expect(received?.body).toEqual({ session_id: 's', agent_id: 'a', parameters: { q: 1 }, session: null });
    expect(
      verifySignature(SECRET, received?.rawBody ?? '', received?.headers['x-agent-vault-signature'] as string, { nowSeconds: NOW }),
    ).toBe(true);
  });

  it('returns output, session and error of a 2xx JSON answer', async () => {
    runner.setBehaviour(() => ({ status: 201, body: { output: { a: 1 }, session: { n: 2 }, error: 'partial' } }));

    await expect(call()).resolves.toEqual({ ok: true, output: { a: 1 }, session: { n: 2 }, error: 'partial' });
  });

  it('treats a null error as no error', async () => {
    runner.setBehaviour(() => ({ body: { output: 1, error: null } }));

    await expect(call()).resolves.toEqual({ ok: true, output: 1, session: undefined, error: undefined });
  });

  it('fails on a non-2xx status, naming it', async () => {
    runner.setBehaviour(() => ({ status: 503, body: { error: 'down' } }));

    await expect(call()).resolves.toEqual({ ok: false, error: 'runner answered HTTP 503' });
  });

  it('does not follow a redirect and says so', async () => {
    runner.setBehaviour(() => ({ status: 302, headers: { location: other.url }, body: {} }));

    const result = await call();

    expect(result).toEqual({ ok: false, error: expect.stringMatching(/HTTP 302.*redirects are not followed/) });
    expect(other.calls).toHaveLength(0);
  });

  it('fails on a body that is not JSON', async () => {
    runner.setBehaviour(() => ({ body: '<html>oops</html>' }));

    await expect(call()).resolves.toEqual({ ok: false, error: expect.stringContaining('not JSON') });
  });

  it.each([
    ['an array', '[1,2]'],
    ['a string', '"text"'],
    ['null', 'null'],
  ])('fails on JSON that is %s instead of an object', async (_label, text) => {
    runner.setBehaviour(() => ({ body: text }));

    await expect(call()).resolves.toEqual({ ok: false, error: expect.stringContaining('not an object') });
  });

  it('fails on a non-string error field', async () => {
    runner.setBehaviour(() => ({ body: { error: { code: 1 } } }));

    await expect(call()).resolves.toEqual({ ok: false, error: expect.stringContaining('non-string "error"') });
  });

  it('fails on an answer larger than 1 MiB', async () => {
    runner.setBehaviour(() => ({ body: { output: 'x'.repeat(MAX_RUNNER_RESPONSE_BYTES) } }));

    await expect(call()).resolves.toEqual({ ok: false, error: expect.stringContaining('1 MiB') });
  });

  it('accepts an answer just under 1 MiB', async () => {
    const filler = 'x'.repeat(MAX_RUNNER_RESPONSE_BYTES - 20);
    runner.setBehaviour(() => ({ body: { output: filler } }));

    const result = await call();

    expect(result.ok).toBe(true);
  });

  it('fails when the runner does not answer in time, naming the timeout', async () => {
    runner.setBehaviour(() => ({ delayMs: 1_000, body: {} }));

    await expect(call({ timeoutMs: 150 })).resolves.toEqual({ ok: false, error: 'runner did not answer within 150 ms' });
  });

  it('fails when the runner sends headers and part of a body and then stalls', async () => {
    const stalled = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"output": "half');
    });
    await new Promise<void>((r) => stalled.listen(0, '127.0.0.1', () => r()));
    const { port } = stalled.address() as AddressInfo;
    try {
      await expect(call({ url: `http://127.0.0.1:${port}/run`, timeoutMs: 150 })).resolves.toEqual({
        ok: false,
        error: 'runner did not answer within 150 ms',
      });
    } finally {
      stalled.closeAllConnections();
      await new Promise((r) => stalled.close(r));
    }
  });

  it('fails when nothing listens on the port', async () => {
    const closed = await startTestRunner(() => ({}));
    await closed.close();

    const { port } = new URL(closed.url);
    await expect(call({ url: closed.url })).resolves.toEqual({ ok: false, error: `runner could not be reached: ECONNREFUSED 127.0.0.1:${port}` });
  });

  it('fails on an invalid URL without throwing', async () => {
    await expect(call({ url: 'not a url' })).resolves.toEqual({ ok: false, error: 'runner url is invalid' });
  });

  it('refuses a loopback runner when private runners are not allowed, without calling it', async () => {
    const result = await call({ allowPrivate: false });

    expect(result).toEqual({ ok: false, error: expect.stringContaining('loopback, private or link-local') });
    expect(runner.calls).toHaveLength(0);
  });

  it('refuses localhost when private runners are not allowed, without calling it', async () => {
    const result = await call({ url: runner.url.replace('127.0.0.1', 'localhost'), allowPrivate: false });

    expect(result.ok).toBe(false);
    expect(runner.calls).toHaveLength(0);
  });

  it('connects to the resolved address while keeping the host name in the Host header', async () => {
    const url = runner.url.replace('127.0.0.1', 'localhost');

    const result = await call({ url });

    expect(result.ok).toBe(true);
    expect(runner.calls[0]?.headers.host).toMatch(/^localhost:\d+$/);
  });

  it('builds a redactor given as a function while the runner works, before its answer arrives', async () => {
    let built = false;
    let builtBeforeAnswer: boolean | undefined;
    // The runner answers only once the redactor exists, or after 2 s: a redactor built after the answer is too late.
    runner.setBehaviour(async () => {
      for (let waited = 0; !built && waited < 2_000; waited += 10) await new Promise((r) => setTimeout(r, 10));
      builtBeforeAnswer = built;
      return { body: { output: 'the secret is hunter2-secret' } };
    });

    const result = await call({
      redactor: () => {
        built = true;
        return new Redactor(['hunter2-secret']);
      },
    });

    expect(builtBeforeAnswer).toBe(true);
    expect(result).toEqual({ ok: true, output: 'the secret is [REDACTED]', session: undefined, error: undefined });
  });

  it('does not build a redactor given as a function when no answer comes', async () => {
    const closed = await startTestRunner(() => ({}));
    await closed.close();
    let built = 0;

    const result = await call({
      url: closed.url,
      redactor: () => {
        built++;
        return new Redactor(['x-secret']);
      },
    });

    expect(result.ok).toBe(false);
    expect(built).toBe(0);
  });
});
