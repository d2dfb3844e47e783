import type { KMSClient } from '@aws-sdk/client-kms';
import type { InvokeCommandOutput, LambdaClient } from '@aws-sdk/client-lambda';
import type { Config } from '../config.ts';
import { gcmOpen, gcmSeal, NONCE_BYTES, TAG_BYTES } from '../crypto/aead.ts';
import { lengthPrefixed } from '../crypto/encoding.ts';
import type { Store } from '../store/types.ts';
import type { RunDispatcher, RunJob } from '../runs/dispatch.ts';
import type { RunJobItem } from '../schemas/items.ts';
import { type RetryOptions, withDependencyRetry } from './retry.ts';

/**
 * AWS mode: how an accepted async run travels from the `runs` function to the worker function.
 *
 * The job carries the caller's auth token, so it must not rest anywhere in clear, and its sealed
 * form should rest no longer than the run needs it. The `runs` function seals it with envelope
 * encryption under the run payload KMS key:
 *
 *   data key  = KMS GenerateDataKey(AES_256, EncryptionContext {session_id, agent_id})
 *   sealed    = AES-256-GCM(data key, job JSON, AAD = "run-job/v1" ‖ tenant ‖ agent_id ‖ session_id)
 *
 * and stores {ids, encrypted data key, sealed job} as its own DynamoDB item (`RUN#<id>` / `JOB`)
 * with a TTL just past the run's deadline. The worker's event is only `{v, session_id, tenant}`:
 * Lambda's async queue, the on-failure SQS queue, its poison queue and CloudTrail carry no token
 * material, not even sealed. The worker reads the item, opens it (only its role may
 * `kms:Decrypt` under that key, by the key policy) and deletes it once the run is recorded; a
 * run that failed inside the worker leaves it for a retry until the TTL removes it.
 *
 * Envelope encryption rather than KMS `Encrypt` of the job itself: `Encrypt` takes at most
 * 4 096 bytes and a job's parameters can be larger. The `runs` function may only generate data
 * keys, never decrypt.
 */
export const RUN_EVENT_VERSION = 2;
/** Version of the sealed job format (AAD label, JSON shape). */
export const RUN_JOB_VERSION = 1;

/** What the worker function receives as its event: ids only. */
export interface RunEvent {
  readonly v: typeof RUN_EVENT_VERSION;
  readonly session_id: string;
  readonly tenant: string;
}

/** A sealed job: what the `runs` function stores and the worker opens. */
export interface SealedRunJob {
  readonly tenant: string;
  readonly agent_id: string;
  readonly session_id: string;
  /** The KMS-encrypted data key. */
  readonly encrypted_key: Uint8Array;
  /** nonce (12 B) ‖ AES-256-GCM ciphertext ‖ tag (16 B) of the job JSON. */
  readonly ciphertext: Uint8Array;
}

/** An event that is not a well-formed run event, or a sealed job that does not match its ids. */
export class InvalidRunPayloadError extends Error {
  override readonly name = 'InvalidRunPayloadError';
}

const AAD_LABEL = 'agent-vault/run-job/v1';
const MAX_ID_CHARS = 512;

const aadFor = (e: Pick<SealedRunJob, 'tenant' | 'agent_id' | 'session_id'>) =>
  lengthPrefixed(AAD_LABEL, e.tenant, e.agent_id, e.session_id);

/** The KMS encryption context: both ids, so a wrapped key opens only for the run it was made for. */
const encryptionContextFor = (e: Pick<SealedRunJob, 'agent_id' | 'session_id'>) => ({ session_id: e.session_id, agent_id: e.agent_id });

/**
 * The KMS and Lambda clients are loaded on first use, not at cold start: only an async run needs
 * them (infra/cdk/bundling.ts puts them in chunks of their own). One import per process.
 */
let kmsModule: Promise<typeof import('./kms-client.ts')> | undefined;
let lambdaModule: Promise<typeof import('./lambda-client.ts')> | undefined;
const loadKms = () => (kmsModule ??= import('./kms-client.ts'));
const loadLambda = () => (lambdaModule ??= import('./lambda-client.ts'));

/** Options of createLambdaRunDispatcher (tests inject clients, backoff and a clock). */
export interface LambdaRunDispatcherOptions {
  readonly kms?: KMSClient;
  readonly lambda?: LambdaClient;
  readonly retry?: RetryOptions;
  readonly now?: () => Date;
}

/**
 * A RunDispatcher that seals each job under the run payload KMS key (`VAULT_RUN_PAYLOAD_KEY_ID`),
 * stores it in the table with a TTL of `VAULT_RUN_JOB_TTL_SECONDS`, and invokes the worker
 * function (`VAULT_RUN_WORKER_FUNCTION`) asynchronously with the ids alone. Missing settings fail
 * on the first dispatch, not at construction, so functions that never dispatch need neither.
 *
 * Throttling and 5xx answers from KMS or Lambda are retried with bounded backoff and then surface
 * as a ServiceUnavailableError (503); DynamoDB faults surface as the SDK reports them (mapped to
 * 503 by the HTTP layer). A job that could not be handed to the worker is deleted again.
 *
 * @param config  the process configuration (region, key id, worker function name, job TTL).
 * @param store   where the sealed job is stored (its runJobs).
 * @param options clients, backoff and clock (tests); default to single-attempt clients of this module.
 */
export function createLambdaRunDispatcher(config: Config, store: Pick<Store, 'runJobs'>, options: LambdaRunDispatcherOptions = {}): RunDispatcher {
  let kms = options.kms;
  let lambda = options.lambda;
  const now = options.now ?? (() => new Date());
  const jobs = store.runJobs;
  return {
    async dispatch(job: RunJob): Promise<void> {
      const keyId = config.runPayloadKeyId;
      const functionName = config.runWorkerFunctionName;
      if (!keyId || !functionName) {
        throw new Error(
          'async runs need VAULT_RUN_PAYLOAD_KEY_ID and VAULT_RUN_WORKER_FUNCTION (set by the CDK stack on the runs function)',
        );
      }
      const [{ KMSClient }, { InvokeCommand, LambdaClient }] = await Promise.all([loadKms(), loadLambda()]);
      kms ??= new KMSClient({ region: config.region, maxAttempts: 1 });
      lambda ??= new LambdaClient({ region: config.region, maxAttempts: 1 });
      const sealed = await sealRunJob(job, keyId, kms, options.retry);
      const stored = await jobs.create({
        v: RUN_JOB_VERSION,
        ...sealed,
        expires_at: Math.floor(now().getTime() / 1000) + config.runJobTtlSeconds,
      });
      // Session ids are fresh random UUIDs: an existing job means a bug, not a race to lose.
      if (!stored) throw new Error('a sealed job for this session exists already');
      const event: RunEvent = { v: RUN_EVENT_VERSION, session_id: job.sessionId, tenant: job.tenant };
      const invokeClient = lambda;
      let out: InvokeCommandOutput;
      try {
        out = await withDependencyRetry(
          () =>
            invokeClient.send(
              new InvokeCommand({
                FunctionName: functionName,
                InvocationType: 'Event',
                Payload: Buffer.from(JSON.stringify(event), 'utf8'),
              }),
            ),
          'The vault could not queue the run (AWS Lambda is throttling or unavailable); retry in a moment or use run_async: false.',
          options.retry,
        );
        // An async invoke that was accepted answers 202; anything else means it was not queued.
        if (out.StatusCode !== 202) throw new Error(`the worker function did not accept the run (status ${String(out.StatusCode)})`);
      } catch (err) {
        // Nobody will open it: do not leave the sealed job waiting for its TTL.
        await jobs.delete(job.sessionId).catch(() => undefined);
        throw err;
      }
    },
  };
}

/**
 * Seals a job with a fresh KMS data key (exported for tests).
 *
 * @param job   the run to hand over; its auth token and parameters end up only in `ciphertext`.
 * @param keyId the run payload KMS key (id, ARN or alias).
 * @param kms   a KMS client allowed `kms:GenerateDataKey` on that key.
 */
export async function sealRunJob(job: RunJob, keyId: string, kms: KMSClient, retry?: RetryOptions): Promise<SealedRunJob> {
  const ids = { tenant: job.tenant, agent_id: job.agentId, session_id: job.sessionId };
  const { GenerateDataKeyCommand } = await loadKms();
  const dataKey = await withDependencyRetry(
    () => kms.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256', EncryptionContext: encryptionContextFor(ids) })),
    'The vault could not queue the run (AWS KMS is throttling or unavailable); retry in a moment or use run_async: false.',
    retry,
  );
  if (!dataKey.Plaintext || !dataKey.CiphertextBlob) throw new Error('KMS GenerateDataKey returned no key');
  const key = Buffer.from(dataKey.Plaintext);
  const plaintext = Buffer.from(JSON.stringify(job), 'utf8');
  try {
    const sealed = gcmSeal(key, plaintext, aadFor(ids));
    return {
      ...ids,
      encrypted_key: Buffer.from(dataKey.CiphertextBlob),
      ciphertext: Buffer.concat([sealed.nonce, sealed.ciphertext, sealed.tag]),
    };
  } finally {
    // Best effort: the buffers we own do not outlive the call (JS strings cannot be wiped).
    key.fill(0);
    dataKey.Plaintext.fill(0);
    plaintext.fill(0);
  }
}

let defaultKms: KMSClient | undefined;

/** The worker's KMS client: one per process, a single attempt (retries are withDependencyRetry's). */
async function workerKmsClient(): Promise<KMSClient> {
  const { KMSClient } = await loadKms();
  defaultKms ??= new KMSClient({ maxAttempts: 1 });
  return defaultKms;
}

/**
 * Reads the worker's event: `{v: 2, session_id, tenant}` and nothing else that matters. Throws
 * InvalidRunPayloadError for anything else (never retried: it cannot get better).
 */
export function parseRunEvent(payload: unknown): RunEvent {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw new InvalidRunPayloadError('run event must be a JSON object');
  }
  const p = payload as Record<string, unknown>;
  if (p.v !== RUN_EVENT_VERSION) throw new InvalidRunPayloadError(`run event version must be ${RUN_EVENT_VERSION}`);
  for (const field of ['session_id', 'tenant'] as const) {
    const value = p[field];
    if (typeof value !== 'string' || value === '' || value.length > MAX_ID_CHARS) {
      throw new InvalidRunPayloadError(`run event field ${field} must be a non-empty string`);
    }
  }
  return { v: RUN_EVENT_VERSION, session_id: p.session_id as string, tenant: p.tenant as string };
}

/**
 * Loads the sealed job an event names: undefined when it is gone (finished and deleted, or past
 * its TTL). A stored job of another tenant than the event's is refused.
 */
export async function loadSealedRunJob(store: Pick<Store, 'runJobs'>, event: RunEvent, nowEpochSeconds: number): Promise<RunJobItem | undefined> {
  const item = await store.runJobs.get(event.session_id, nowEpochSeconds);
  if (item && item.tenant !== event.tenant) throw new InvalidRunPayloadError('sealed run job belongs to another tenant than its event');
  return item;
}

/**
 * The worker's side: decrypts the sealed job's data key with KMS under the same encryption
 * context, opens the job and checks that its ids are the sealed record's. Throws
 * InvalidRunPayloadError for anything malformed or mismatched, a ServiceUnavailableError when
 * KMS stays throttled, and KMS's own error otherwise.
 *
 * @param sealed  the stored job (ids, encrypted data key, ciphertext).
 * @param kms     a KMS client allowed `kms:Decrypt` on the run payload key (default: this module's).
 * @param options `keyId`: the expected run payload key; KMS refuses a data key made under another.
 */
export async function unwrapRunJob(
  sealed: SealedRunJob,
  kms?: KMSClient,
  options: { keyId?: string; retry?: RetryOptions } = {},
): Promise<RunJob> {
  const blob = Buffer.from(sealed.ciphertext);
  if (blob.length < NONCE_BYTES + TAG_BYTES) throw new InvalidRunPayloadError('sealed run job ciphertext is too short');
  const { DecryptCommand } = await loadKms();
  const client = kms ?? (await workerKmsClient());
  const out = await withDependencyRetry(
    () =>
      client.send(
        new DecryptCommand({
          CiphertextBlob: sealed.encrypted_key,
          EncryptionContext: encryptionContextFor(sealed),
          ...(options.keyId ? { KeyId: options.keyId } : {}),
        }),
      ),
    'The run could not be opened (AWS KMS is throttling or unavailable).',
    options.retry,
  ).catch((err: unknown) => {
    // KMS answers InvalidCiphertextException when the context (ids) or the key does not match.
    if (err instanceof Error && err.name === 'InvalidCiphertextException') {
      throw new InvalidRunPayloadError('sealed run job data key does not open under its ids and the run payload key');
    }
    throw err;
  });
  if (!out.Plaintext) throw new Error('KMS Decrypt returned no key');
  const key = Buffer.from(out.Plaintext);
  let json: Buffer | undefined;
  try {
    json = gcmOpen(
      key,
      blob.subarray(0, NONCE_BYTES),
      blob.subarray(NONCE_BYTES, blob.length - TAG_BYTES),
      blob.subarray(blob.length - TAG_BYTES),
      aadFor(sealed),
    );
    return parseJob(json, sealed);
  } catch (err) {
    if (err instanceof InvalidRunPayloadError) throw err;
    throw new InvalidRunPayloadError('sealed run job does not open under its data key (tampered or mismatched ids)');
  } finally {
    key.fill(0);
    out.Plaintext.fill(0);
    json?.fill(0);
  }
}

function parseJob(json: Buffer, envelope: SealedRunJob): RunJob {
  let job: unknown;
  try {
    job = JSON.parse(json.toString('utf8'));
  } catch {
    throw new InvalidRunPayloadError('sealed run job is not JSON');
  }
  if (typeof job !== 'object' || job === null) throw new InvalidRunPayloadError('sealed run job must be an object');
  const j = job as Record<string, unknown>;
  // The AAD already binds the ids; checking them again keeps a future change to the AAD honest.
  if (j.tenant !== envelope.tenant || j.agentId !== envelope.agent_id || j.sessionId !== envelope.session_id) {
    throw new InvalidRunPayloadError('sealed run job ids do not match its stored record');
  }
  if (j.authToken !== undefined && typeof j.authToken !== 'string')
    throw new InvalidRunPayloadError('sealed run job authToken must be a string');
  if (j.apiKeyId !== undefined && typeof j.apiKeyId !== 'string') throw new InvalidRunPayloadError('sealed run job apiKeyId must be a string');
  if (j.sourceIp !== undefined && typeof j.sourceIp !== 'string') throw new InvalidRunPayloadError('sealed run job sourceIp must be a string');
  if (j.requestId !== undefined && typeof j.requestId !== 'string') throw new InvalidRunPayloadError('sealed run job requestId must be a string');
  if (j.proxyUrl !== undefined && typeof j.proxyUrl !== 'string') throw new InvalidRunPayloadError('sealed run job proxyUrl must be a string');
  if (j.inFlightUntil !== undefined && typeof j.inFlightUntil !== 'string') throw new InvalidRunPayloadError('sealed run job inFlightUntil must be a string');
  if (j.apiKeyRole !== undefined && j.apiKeyRole !== 'admin' && j.apiKeyRole !== 'member')
    throw new InvalidRunPayloadError('sealed run job apiKeyRole must be "admin" or "member"');
  if (typeof j.parameters !== 'object' || j.parameters === null || Array.isArray(j.parameters)) {
    throw new InvalidRunPayloadError('sealed run job parameters must be an object');
  }
  return {
    tenant: envelope.tenant,
    agentId: envelope.agent_id,
    sessionId: envelope.session_id,
    ...(j.apiKeyId !== undefined ? { apiKeyId: j.apiKeyId as string } : {}),
    ...(j.sourceIp !== undefined ? { sourceIp: j.sourceIp as string } : {}),
    ...(j.requestId !== undefined ? { requestId: j.requestId as string } : {}),
    ...(j.apiKeyRole !== undefined ? { apiKeyRole: j.apiKeyRole as 'admin' | 'member' } : {}),
    ...(j.authToken !== undefined ? { authToken: j.authToken as string } : {}),
    ...(j.proxyUrl !== undefined ? { proxyUrl: j.proxyUrl as string } : {}),
    ...(j.inFlightUntil !== undefined ? { inFlightUntil: j.inFlightUntil as string } : {}),
    parameters: j.parameters as Record<string, unknown>,
  };
}
