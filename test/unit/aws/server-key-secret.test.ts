import 'aws-sdk-client-mock-vitest/extend';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { clearServerKeyRingCache, loadServerKeyRingFromSecretsManager, ServerKeySecretError } from '#shared/aws/server-key-secret';
import { ServerKeyRingError } from '#shared/crypto/server-key';
import { ServiceUnavailableError } from '#shared/errors';

const SECRET_ID = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:ServerKey-abc123';
const MATERIAL = 'q8ZrT2v9WmX4yLk7Pd3Hs6Fj1Nc5Bg0Ra8Ue2Yo4Ti6Kw9Zx3Vb7Mn1Qp5Lh0Js2';
const RING = JSON.stringify({ current: 'k1', k1: MATERIAL });
const noWait = { sleep: async () => {}, random: () => 0.5 };

/** An SDK-shaped service error: what the client rejects with after a 4xx/5xx answer. */
function awsError(name: string, httpStatusCode: number): Error {
  return Object.assign(new Error(`${name} from the service`), {
    name,
    $fault: httpStatusCode >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode },
  });
}

const sm = mockClient(SecretsManagerClient);

beforeEach(() => {
  sm.reset();
  clearServerKeyRingCache();
});
afterEach(() => clearServerKeyRingCache());

describe('loadServerKeyRingFromSecretsManager', () => {
  it('parses the ring stored in the secret', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: RING });

    const ring = await loadServerKeyRingFromSecretsManager(SECRET_ID);

    expect(ring.current.name).toBe('k1');
    expect(ring.current.verifyKey).toHaveLength(32);
    expect(sm).toHaveReceivedCommandWith(GetSecretValueCommand, { SecretId: SECRET_ID });
  });

  it('reads the secret once per process and serves later calls from the cache', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: RING });

    const [a, b] = await Promise.all([loadServerKeyRingFromSecretsManager(SECRET_ID), loadServerKeyRingFromSecretsManager(SECRET_ID)]);
    const c = await loadServerKeyRingFromSecretsManager(SECRET_ID);

    expect(sm).toHaveReceivedCommandTimes(GetSecretValueCommand, 1);
    expect(b).toBe(a);
    expect(c).toBe(a);
  });

  it('uses the client it is given', async () => {
    const client = new SecretsManagerClient({ region: 'eu-west-1' });
    sm.on(GetSecretValueCommand).resolves({ SecretString: RING });

    await loadServerKeyRingFromSecretsManager(SECRET_ID, client);

    expect(sm.send.firstCall.thisValue).toBe(client);
  });

  it('retries a throttled read with backoff and then succeeds', async () => {
    const delays: number[] = [];
    sm.on(GetSecretValueCommand)
      .rejectsOnce(awsError('ThrottlingException', 400))
      .rejectsOnce(awsError('InternalServiceError', 500))
      .resolves({ SecretString: RING });

    const ring = await loadServerKeyRingFromSecretsManager(SECRET_ID, undefined, {
      sleep: async (ms) => {
        delays.push(ms);
      },
      random: () => 0.999,
    });

    expect(ring.current.name).toBe('k1');
    expect(sm).toHaveReceivedCommandTimes(GetSecretValueCommand, 3);
    expect(delays).toEqual([99, 199]); // full jitter under 100 ms, then under 200 ms
  });

  it('throws a 503 ServiceUnavailableError when throttling outlasts the retries', async () => {
    sm.on(GetSecretValueCommand).rejects(awsError('ThrottlingException', 400));

    const err = await loadServerKeyRingFromSecretsManager(SECRET_ID, undefined, noWait).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(ServiceUnavailableError);
    expect((err as ServiceUnavailableError).status).toBe(503);
    expect((err as ServiceUnavailableError).headers['retry-after']).toBe('1');
    expect(sm).toHaveReceivedCommandTimes(GetSecretValueCommand, 4);
  });

  it('forgets a failed read so that the next call tries again', async () => {
    sm.on(GetSecretValueCommand).rejectsOnce(awsError('ServiceUnavailable', 503)).resolves({ SecretString: RING });

    await expect(loadServerKeyRingFromSecretsManager(SECRET_ID, undefined, { ...noWait, maxAttempts: 1 })).rejects.toBeInstanceOf(
      ServiceUnavailableError,
    );
    const ring = await loadServerKeyRingFromSecretsManager(SECRET_ID, undefined, noWait);

    expect(ring.current.name).toBe('k1');
    expect(sm).toHaveReceivedCommandTimes(GetSecretValueCommand, 2);
  });

  it('does not retry access denied and rethrows it unchanged', async () => {
    sm.on(GetSecretValueCommand).rejects(awsError('AccessDeniedException', 400));

    const err = await loadServerKeyRingFromSecretsManager(SECRET_ID, undefined, noWait).catch((e: unknown) => e);

    expect((err as Error).name).toBe('AccessDeniedException');
    expect(sm).toHaveReceivedCommandTimes(GetSecretValueCommand, 1);
  });

  it('rejects a secret without a SecretString', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretBinary: new Uint8Array([1, 2, 3]) });

    await expect(loadServerKeyRingFromSecretsManager(SECRET_ID)).rejects.toBeInstanceOf(ServerKeySecretError);
  });

  it('never puts the key material in the error of a malformed ring', async () => {
    const short = 'tooShortMaterial';
    sm.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ current: 'k1', k1: short, k0: MATERIAL }) });

    const err = await loadServerKeyRingFromSecretsManager(SECRET_ID).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(ServerKeyRingError);
    const text = `${(err as Error).message} ${(err as Error).stack ?? ''} ${JSON.stringify(err)}`;
    expect(text).not.toContain(short);
    expect(text).not.toContain(MATERIAL);
  });

  it('never puts the secret string in the error of a ring that is not JSON', async () => {
    const notJson = `{"current":"k1","k1":"${MATERIAL}"`; // truncated
    sm.on(GetSecretValueCommand).resolves({ SecretString: notJson });

    const err = await loadServerKeyRingFromSecretsManager(SECRET_ID).catch((e: unknown) => e);

    expect((err as Error).message).not.toContain(MATERIAL.slice(0, 8));
  });
});
