import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostResolver } from '#shared/outbound/address-policy';
import { callWebhookRunner } from '#shared/runs/webhook';
import { startTestRunner } from '#test/support/runner';

let runner: Awaited<ReturnType<typeof startTestRunner>>;
let port: string;

beforeAll(async () => {
  runner = await startTestRunner(() => ({ body: { output: 'ok' } }));
  port = new URL(runner.url).port;
});
afterAll(async () => {
  await runner.close();
});

/** A resolver that answers 127.0.0.1 after `ms` (never, for Infinity). */
const slowResolver =
  (ms: number): HostResolver =>
  () =>
    new Promise((resolve) => {
      if (Number.isFinite(ms)) setTimeout(() => resolve([{ address: '127.0.0.1', family: 4 }]), ms);
    });

const call = (timeoutMs: number, resolveHost: HostResolver) =>
  callWebhookRunner({
    url: `http://runner.test:${port}/run`,
    signingSecret: 'avs_dns',
    payload: {},
    timeoutMs,
    allowPrivate: true,
    nowSeconds: Math.floor(Date.now() / 1000),
    resolveHost,
  });

describe('the runner DNS lookup counts inside timeout_ms', () => {
  it('ends the run at the timeout when the resolver never answers', async () => {
    const result = await call(300, slowResolver(Number.POSITIVE_INFINITY));

    expect(result).toEqual({ ok: false, error: 'runner did not answer within 300 ms (resolving its host runner.test took too long)' });
  });

  it('gives the HTTP exchange only what the lookup left of the timeout', async () => {
    // Lookup 500 ms + answer after 500 ms = 1000 ms > 750 ms: a timer started after the lookup
    // (at 500 ms, ending at 1250 ms) would wait for the answer.
    runner.setBehaviour(() => ({ delayMs: 500, body: { output: 'too late' } }));

    const result = await call(750, slowResolver(500));

    expect(result).toEqual({ ok: false, error: 'runner did not answer within 750 ms' });
  });

  it('connects to the address the injected resolver returned when there is time', async () => {
    runner.setBehaviour(() => ({ body: { output: 'ok' } }));

    await expect(call(5000, slowResolver(10))).resolves.toMatchObject({ ok: true, output: 'ok' });
  });
});
