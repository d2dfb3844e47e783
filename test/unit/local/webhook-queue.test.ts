import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createInProcessWebhookDispatcher } from '#infra/local/webhook-queue';
import { loadConfig } from '#shared/config';
import type { AttemptResult } from '#shared/webhooks/deliver';
import { retryDelayMs } from '#shared/webhooks/deliver';
import type { DeliveryRef } from '#shared/webhooks/dispatch';

const ref = (n: number): DeliveryRef => ({
  tenant: 't',
  webhookId: 'wh_AAAAAAAAAAAAAAAA',
  deliveryId: `dlv_${String(n).padStart(24, '0')}`,
});

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('createInProcessWebhookDispatcher', () => {
  it('runs a failed attempt again only after its backoff, then stops when it is delivered', async () => {
    const results: AttemptResult[] = [
      { result: 'retry', attempt: 1, outcome: 'http_error', retryInMs: 1_000 },
      { result: 'retry', attempt: 2, outcome: 'http_error', retryInMs: 2_000 },
      { result: 'delivered', attempt: 3, status: 200 },
    ];
    const attempt = vi.fn(async () => results.shift() as AttemptResult);
    const q = createInProcessWebhookDispatcher(attempt, () => {});

    await q.dispatch(ref(1));
    await vi.advanceTimersByTimeAsync(0);
    expect(attempt).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(999);
    expect(attempt).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(attempt).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(1_999);
    expect(attempt).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(attempt).toHaveBeenCalledTimes(3);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(attempt).toHaveBeenCalledTimes(3);
    expect(q.pending).toBe(0);
    await expect(q.drain()).resolves.toBeUndefined();
  });

  it('runs at most `concurrency` attempts at once', async () => {
    let active = 0;
    let maxActive = 0;
    const gates: Array<() => void> = [];
    const attempt = () => {
      active++;
      maxActive = Math.max(maxActive, active);
      return new Promise<AttemptResult>((resolve) =>
        gates.push(() => {
          active--;
          resolve({ result: 'delivered', attempt: 1, status: 200 });
        }),
      );
    };
    const q = createInProcessWebhookDispatcher(attempt, () => {}, { concurrency: 2 });
    for (let i = 0; i < 5; i++) await q.dispatch(ref(i));
    await vi.advanceTimersByTimeAsync(0);
    expect(maxActive).toBe(2);
    while (gates.length > 0) {
      gates.shift()?.();
      await vi.advanceTimersByTimeAsync(0);
    }
    expect(maxActive).toBe(2);
    await q.drain();
  });

  it('refuses deliveries beyond maxPending, and stop() cancels waiting retries', async () => {
    const attempt = async (): Promise<AttemptResult> => ({ result: 'retry', attempt: 1, outcome: 'timeout', retryInMs: 10_000 });
    const q = createInProcessWebhookDispatcher(attempt, () => {}, { maxPending: 2 });
    await q.dispatch(ref(1));
    await q.dispatch(ref(2));
    await expect(q.dispatch(ref(3))).rejects.toThrow(/too many webhook deliveries/);
    await vi.advanceTimersByTimeAsync(0);
    expect(q.pending).toBe(2);

    q.stop();

    expect(q.pending).toBe(0);
    await expect(q.drain()).resolves.toBeUndefined();
  });

  it('reports an attempt that throws and keeps going', async () => {
    const errors: unknown[] = [];
    const q = createInProcessWebhookDispatcher(
      () => Promise.reject(new Error('integrity')),
      (err) => errors.push(err),
    );
    await q.dispatch(ref(1));
    await vi.advanceTimersByTimeAsync(0);
    expect(errors).toHaveLength(1);
    expect(q.pending).toBe(0);
  });
});

describe('webhook settings', () => {
  it('defaults to 5 attempts 2 s apart and doubling locally, 3 a minute apart on AWS, and bounds them', () => {
    const local = loadConfig({ VAULT_MODE: 'local' });
    const aws = loadConfig({ VAULT_MODE: 'aws', VAULT_TABLE_NAME: 'v' });
    expect([local.webhookMaxAttempts, local.webhookRetryBaseMs, local.allowPrivateWebhooks]).toEqual([5, 2_000, true]);
    expect([aws.webhookMaxAttempts, aws.webhookRetryBaseMs, aws.allowPrivateWebhooks]).toEqual([3, 60_000, false]);
    expect([1, 2, 3, 4].map((n) => retryDelayMs(local, n))).toEqual([2_000, 4_000, 8_000, 16_000]);
    expect(retryDelayMs({ webhookRetryBaseMs: 3_600_000 }, 5)).toBe(3_600_000);
    expect(() => loadConfig({ VAULT_MODE: 'local', VAULT_WEBHOOK_MAX_ATTEMPTS: '11' })).toThrow(/VAULT_WEBHOOK_MAX_ATTEMPTS/);
    expect(loadConfig({ VAULT_MODE: 'local', VAULT_ALLOWED_WEBHOOK_HOSTS: ' Hooks.Example.com,' }).allowedWebhookHosts).toEqual([
      'hooks.example.com',
    ]);
  });
});
