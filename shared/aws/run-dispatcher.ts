import { DecryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { InvokeCommand, type InvokeCommandOutput, LambdaClient } from '@aws-sdk/client-lambda';
import type { Config } from '../config.ts';
import { gcmOpen, gcmSeal, NONCE_BYTES, TAG_BYTES } from '../crypto/aead.ts';
import { lengthPrefixed } from '../crypto/encoding.ts';
import { PayloadTooLargeError } from '../errors.ts';
import type { RunDispatcher, RunJob } from '../runs/dispatch.ts';
import { type RetryOptions, withDependencyRetry } from './retry.ts';

/**
 * AWS mode: how an accepted async run travels from the `runs` function to the worker function.
 *
 * The job carries the caller's auth token, so it must not rest anywhere in clear: not in the
 * Lambda async queue, not in the on-failure SQS queue, not in CloudTrail. It is sealed with
 * envelope encryption under the run payload KMS key:
 *
 *   data key  = KMS GenerateDataKey(AES_256, EncryptionContext {session_id, agent_id})
 *   sealed    = AES-256-GCM(data key, job JSON, AAD = "run-job/v1" ‖ tenant ‖ agent_id ‖ session_id)
 *   envelope  = {v: 1, session_id, agent_id, tenant, encrypted_key, ciphertext}
 *
 * Envelope encryption rather than KMS `Encrypt` of the job itself: `Encrypt` takes at most
 * 4 096 bytes and a job's parameters can be larger. The guarantees are the same: only a
 * principal allowed to `kms:Decrypt` under that key *and* that encryption context (the worker)
 * can open the job; the context appears in CloudTrail, the job does not. The `runs` function may
 * only generate data keys, never decrypt.
 */
export const RUN_ENVELOPE_VERSION = 1;

/** What the worker function receives as its event. Nothing in it is secret. */
export interface RunEnvelope {
  readonly v: typeof RUN_ENVELOPE_VERSION;
  readonly session_id: string;
  readonly agent_id: string;
  readonly tenant: string;
  /** The KMS-encrypted data key, base64. */
  readonly encrypted_key: string;
  /** nonce (12 B) ‖ AES-256-GCM ciphertext ‖ tag (16 B) of the job JSON, base64. */
  readonly ciphertext: string;
}

/** An event that is not a well-formed run envelope, or whose sealed job does not match it. */
export class InvalidRunPayloadError extends Error {
  override readonly name = 'InvalidRunPayloadError';
}

const AAD_LABEL = 'agent-vault/run-job/v1';
const MAX_ID_CHARS = 512;

const aadFor = (e: Pick<RunEnvelope, 'tenant' | 'agent_id' | 'session_id'>) =>
  lengthPrefixed(AAD_LABEL, e.tenant, e.agent_id, e.session_id);

/** The KMS encryption context: both ids, so a wrapped key opens only for the run it was made for. */
const encryptionContextFor = (e: Pick<RunEnvelope, 'agent_id' | 'session_id'>) => ({ session_id: e.session_id, agent_id: e.agent_id });

/**
 * A RunDispatcher that seals each job under the run payload KMS key (`VAULT_RUN_PAYLOAD_KEY_ID`)
 * and invokes the worker function (`VAULT_RUN_WORKER_FUNCTION`) asynchronously with only the
 * envelope. Missing settings fail on the first dispatch, not at construction, so functions that
 * never dispatch need neither.
 *
 * Throttling and 5xx answers from KMS or Lambda are retried with bounded backoff and then surface
 * as a ServiceUnavailableError (503); an envelope over Lambda's async payload limit is a 413.
 *
 * @param config  the process configuration (region, key id, worker function name).
 * @param clients KMS and Lambda clients (tests); default to single-attempt clients of this module.
 * @param retry   backoff settings (tests).
 */
export function createLambdaRunDispatcher(
  config: Config,
  clients: { kms?: KMSClient; lambda?: LambdaClient } = {},
  retry?: RetryOptions,
): RunDispatcher {
  let kms = clients.kms;
  let lambda = clients.lambda;
  return {
    async dispatch(job: RunJob): Promise<void> {
      const keyId = config.runPayloadKeyId;
      const functionName = config.runWorkerFunctionName;
      if (!keyId || !functionName) {
        throw new Error(
          'async runs need VAULT_RUN_PAYLOAD_KEY_ID and VAULT_RUN_WORKER_FUNCTION (set by the CDK stack on the runs function)',
        );
      }
      kms ??= new KMSClient({ region: config.region, maxAttempts: 1 });
      lambda ??= new LambdaClient({ region: config.region, maxAttempts: 1 });
      const envelope = await sealRunJob(job, keyId, kms, retry);
      const invokeClient = lambda;
      let out: InvokeCommandOutput;
      try {
        out = await withDependencyRetry(
          () =>
            invokeClient.send(
              new InvokeCommand({
                FunctionName: functionName,
                InvocationType: 'Event',
                Payload: Buffer.from(JSON.stringify(envelope), 'utf8'),
              }),
            ),
          'The vault could not queue the run (AWS Lambda is throttling or unavailable); retry in a moment or use run_async: false.',
          retry,
        );
      } catch (err) {
        if (err instanceof Error && err.name === 'RequestEntityTooLargeException') {
          throw new PayloadTooLargeError(
            'The run is too large to queue as an async run (Lambda accepts at most 256 KB per async event, after encryption); send smaller parameters or use run_async: false.',
          );
        }
        throw err;
      }
      // An async invoke that was accepted answers 202; anything else means it was not queued.
      if (out.StatusCode !== 202) throw new Error(`the worker function did not accept the run (status ${String(out.StatusCode)})`);
    },
  };
}

/**
 * Seals a job into a RunEnvelope (exported for tests and for a future non-Lambda transport).
 *
 * @param job   the run to hand over; its auth token and parameters end up only in `ciphertext`.
 * @param keyId the run payload KMS key (id, ARN or alias).
 * @param kms   a KMS client allowed `kms:GenerateDataKey` on that key.
 */
export async function sealRunJob(job: RunJob, keyId: string, kms: KMSClient, retry?: RetryOptions): Promise<RunEnvelope> {
  const ids = { tenant: job.tenant, agent_id: job.agentId, session_id: job.sessionId };
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
      v: RUN_ENVELOPE_VERSION,
      ...ids,
      encrypted_key: Buffer.from(dataKey.CiphertextBlob).toString('base64'),
      ciphertext: Buffer.concat([sealed.nonce, sealed.ciphertext, sealed.tag]).toString('base64'),
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
function workerKmsClient(): KMSClient {
  defaultKms ??= new KMSClient({ maxAttempts: 1 });
  return defaultKms;
}

/**
 * The worker's side: validates the envelope's shape, decrypts its data key with KMS under the
 * same encryption context, opens the job and checks that the job's ids are the envelope's.
 * Throws InvalidRunPayloadError for anything malformed or mismatched (never retried: it cannot
 * get better), a ServiceUnavailableError when KMS stays throttled, and KMS's own error otherwise.
 *
 * @param payload the worker function's event.
 * @param kms     a KMS client allowed `kms:Decrypt` on the run payload key (default: this module's).
 * @param options `keyId`: the expected run payload key; KMS refuses a data key made under another.
 */
export async function unwrapRunJob(
  payload: unknown,
  kms?: KMSClient,
  options: { keyId?: string; retry?: RetryOptions } = {},
): Promise<RunJob> {
  const envelope = parseEnvelope(payload);
  const blob = Buffer.from(envelope.ciphertext, 'base64');
  if (blob.length < NONCE_BYTES + TAG_BYTES) throw new InvalidRunPayloadError('run envelope ciphertext is too short');
  const client = kms ?? workerKmsClient();
  const out = await withDependencyRetry(
    () =>
      client.send(
        new DecryptCommand({
          CiphertextBlob: Buffer.from(envelope.encrypted_key, 'base64'),
          EncryptionContext: encryptionContextFor(envelope),
          ...(options.keyId ? { KeyId: options.keyId } : {}),
        }),
      ),
    'The run could not be opened (AWS KMS is throttling or unavailable).',
    options.retry,
  ).catch((err: unknown) => {
    // KMS answers InvalidCiphertextException when the context (ids) or the key does not match.
    if (err instanceof Error && err.name === 'InvalidCiphertextException') {
      throw new InvalidRunPayloadError('run envelope data key does not open under its ids and the run payload key');
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
      aadFor(envelope),
    );
    return parseJob(json, envelope);
  } catch (err) {
    if (err instanceof InvalidRunPayloadError) throw err;
    throw new InvalidRunPayloadError('run envelope does not open under its data key (tampered or mismatched ids)');
  } finally {
    key.fill(0);
    out.Plaintext.fill(0);
    json?.fill(0);
  }
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

function parseEnvelope(payload: unknown): RunEnvelope {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw new InvalidRunPayloadError('run envelope must be a JSON object');
  }
  const p = payload as Record<string, unknown>;
  if (p.v !== RUN_ENVELOPE_VERSION) throw new InvalidRunPayloadError(`run envelope version must be ${RUN_ENVELOPE_VERSION}`);
  for (const field of ['session_id', 'agent_id', 'tenant'] as const) {
    const value = p[field];
    if (typeof value !== 'string' || value === '' || value.length > MAX_ID_CHARS) {
      throw new InvalidRunPayloadError(`run envelope field ${field} must be a non-empty string`);
    }
  }
  for (const field of ['encrypted_key', 'ciphertext'] as const) {
    const value = p[field];
    if (typeof value !== 'string' || !BASE64.test(value)) throw new InvalidRunPayloadError(`run envelope field ${field} must be base64`);
  }
  return p as unknown as RunEnvelope;
}

function parseJob(json: Buffer, envelope: RunEnvelope): RunJob {
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
    throw new InvalidRunPayloadError('sealed run job ids do not match its envelope');
  }
  if (j.authToken !== undefined && typeof j.authToken !== 'string')
    throw new InvalidRunPayloadError('sealed run job authToken must be a string');
  if (j.apiKeyId !== undefined && typeof j.apiKeyId !== 'string') throw new InvalidRunPayloadError('sealed run job apiKeyId must be a string');
  if (j.sourceIp !== undefined && typeof j.sourceIp !== 'string') throw new InvalidRunPayloadError('sealed run job sourceIp must be a string');
  if (j.requestId !== undefined && typeof j.requestId !== 'string') throw new InvalidRunPayloadError('sealed run job requestId must be a string');
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
    ...(j.authToken !== undefined ? { authToken: j.authToken as string } : {}),
    parameters: j.parameters as Record<string, unknown>,
  };
}
