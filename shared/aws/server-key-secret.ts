import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { parseServerKeyRing, type ServerKeyRing } from '../crypto/server-key.ts';
import { type RetryOptions, withDependencyRetry } from './retry.ts';

/**
 * AWS mode: the server key ring lives in a Secrets Manager secret generated at deploy time
 * (`{"current":"k1","k1":"<64 random characters>"}`, see `infra/cdk/`). It is read once per
 * process (Lambda cold start) and cached: the ring changes only on a rotation, and a rotation
 * keeps old entries, so a cached ring stays valid for everything it already holds.
 */

/** Cached per secret id; the promise is cached so concurrent first calls share one read. */
const rings = new Map<string, Promise<ServerKeyRing>>();

let defaultClient: SecretsManagerClient | undefined;

/** Retries are ours (see withDependencyRetry), so the SDK client makes a single attempt. */
function secretsManager(): SecretsManagerClient {
  defaultClient ??= new SecretsManagerClient({ maxAttempts: 1 });
  return defaultClient;
}

/** A secret that exists but cannot hold a key ring (binary, empty): a deployment fault, not a 503. */
export class ServerKeySecretError extends Error {
  override readonly name = 'ServerKeySecretError';
}

/**
 * Loads the server key ring from Secrets Manager, once per process and secret id.
 *
 * Throttling and 5xx answers are retried with bounded backoff; when the attempts are spent it
 * throws a ServiceUnavailableError (503 + Retry-After) and forgets the failed read, so the next
 * request tries again. Access denied, a missing secret or a malformed ring throw at once. No error
 * carries the secret's value: parse errors name only the entry at fault.
 *
 * @param secretId ARN or name of the secret (`VAULT_SERVER_KEY_SECRET_ID`).
 * @param client   a Secrets Manager client (tests); defaults to a module-scope client.
 * @param retry    backoff settings (tests).
 */
export async function loadServerKeyRingFromSecretsManager(
  secretId: string,
  client?: SecretsManagerClient,
  retry?: RetryOptions,
): Promise<ServerKeyRing> {
  let ring = rings.get(secretId);
  if (!ring) {
    ring = readRing(secretId, client ?? secretsManager(), retry);
    rings.set(secretId, ring);
    const pending = ring;
    // A failed read is forgotten so that the next request (next getDeps) tries again.
    pending.catch(() => {
      if (rings.get(secretId) === pending) rings.delete(secretId);
    });
  }
  return ring;
}

async function readRing(secretId: string, client: SecretsManagerClient, retry?: RetryOptions): Promise<ServerKeyRing> {
  const out = await withDependencyRetry(
    () => client.send(new GetSecretValueCommand({ SecretId: secretId })),
    'The vault could not load its server key (Secrets Manager is throttling or unavailable); retry in a moment.',
    retry,
  );
  if (typeof out.SecretString !== 'string' || out.SecretString === '') {
    throw new ServerKeySecretError(`secret ${secretId} has no SecretString; the server key ring must be a JSON string`);
  }
  return parseServerKeyRing(out.SecretString);
}

/** Forgets every cached ring (tests). */
export function clearServerKeyRingCache(): void {
  rings.clear();
}
