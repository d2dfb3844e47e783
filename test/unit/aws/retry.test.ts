import { describe, expect, it, vi } from 'vitest';
import { isRetryable, withDependencyRetry } from '#shared/aws/retry';
import { ServiceUnavailableError } from '#shared/errors';

function awsError(name: string, httpStatusCode: number): Error {
  return Object.assign(new Error(`${name} from the service`), { name, $metadata: { httpStatusCode } });
}

describe('withDependencyRetry', () => {
  it('returns the first successful result without waiting', async () => {
    const sleep = vi.fn(async () => {});

    await expect(withDependencyRetry(async () => 42, 'unavailable', { sleep })).resolves.toBe(42);
    expect(sleep).not.toHaveBeenCalled();
  });

  it('backs off exponentially with full jitter, capped at maxDelayMs', async () => {
    const delays: number[] = [];
    const op = vi.fn(async () => {
      throw awsError('ThrottlingException', 400);
    });

    await expect(
      withDependencyRetry(op, 'unavailable', {
        maxAttempts: 6,
        baseDelayMs: 100,
        maxDelayMs: 300,
        random: () => 0.5,
        sleep: async (ms) => {
          delays.push(ms);
        },
      }),
    ).rejects.toBeInstanceOf(ServiceUnavailableError);
    expect(op).toHaveBeenCalledTimes(6);
    expect(delays).toEqual([50, 100, 150, 150, 150]);
  });

  it('keeps the last SDK error as the cause of the 503 and its message for the caller', async () => {
    const throttled = awsError('ThrottlingException', 400);

    const err = (await withDependencyRetry(
      async () => {
        throw throttled;
      },
      'KMS is throttling; retry in a moment.',
      { maxAttempts: 2, sleep: async () => {} },
    ).catch((e: unknown) => e)) as ServiceUnavailableError;

    expect(err.message).toBe('KMS is throttling; retry in a moment.');
    expect(err.cause).toBe(throttled);
    expect(Object.keys(err)).not.toContain('cause'); // not serialised into logs by accident
  });

  it('rethrows a non-transient error at once', async () => {
    const denied = awsError('AccessDeniedException', 400);
    const op = vi.fn(async () => {
      throw denied;
    });

    await expect(withDependencyRetry(op, 'unavailable', { sleep: async () => {} })).rejects.toBe(denied);
    expect(op).toHaveBeenCalledTimes(1);
  });
});

describe('isRetryable', () => {
  it.each([
    ['ThrottlingException', 400, true],
    ['TooManyRequestsException', 429, true],
    ['ServiceException', 500, true],
    ['KMSInternalException', 500, true],
    ['AccessDeniedException', 400, false],
    ['ResourceNotFoundException', 404, false],
    ['InvalidCiphertextException', 400, false],
  ])('classifies %s (%i) as retryable: %s', (name, status, expected) => {
    expect(isRetryable(awsError(name, status))).toBe(expected);
  });
});
