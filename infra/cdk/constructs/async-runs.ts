import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { AnyPrincipal, Effect, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { handlerEntry } from '../paths.ts';
import type { VaultData } from './vault-data.ts';
import { VaultFunction } from './vault-function.ts';

/** Properties of AsyncRuns. */
export interface AsyncRunsProps {
  /** Deployment stage; part of the KMS alias (`alias/agent-vault/<stage>/run-payload`). */
  readonly stage: string;
  /** The table and server key the worker and the failure handler use. */
  readonly data: VaultData;
  /** Retention of the functions' log groups. */
  readonly logRetention: RetentionDays;
  /** Run settings (`VAULT_RUN_RETENTION_DAYS`, runner host policy) shared with the API functions. */
  readonly environment: Readonly<Record<string, string>>;
  /**
   * Reserved concurrency of the worker: at most this many runs execute at once (more wait in
   * Lambda's async queue, up to the maximum event age), and this many are always available to
   * runs whatever the API functions use. 0 or unset reserves nothing.
   */
  readonly workerReservedConcurrency?: number;
}

/** A worker may run as long as a runner may take (agent `timeout_ms` ≤ 900 000) — Lambda's maximum. */
const WORKER_TIMEOUT = Duration.minutes(15);
const FAILURE_HANDLER_TIMEOUT = Duration.seconds(30);
/** An async run that could not start within this time is failed rather than started late. */
export const MAX_RUN_EVENT_AGE = Duration.hours(1);
/** Slack on top of the latest possible end of a run before its sealed job may disappear. */
const RUN_JOB_TTL_MARGIN = Duration.minutes(15);
/**
 * How long a sealed job waits in the table (DynamoDB TTL, also checked on read): the latest a
 * worker can start it (maximum event age; the worker is not retried) plus the longest it can run,
 * plus a margin. A job is normally deleted by the worker within seconds of its end.
 */
export const RUN_JOB_TTL = Duration.seconds(MAX_RUN_EVENT_AGE.toSeconds() + WORKER_TIMEOUT.toSeconds() + RUN_JOB_TTL_MARGIN.toSeconds());
/**
 * On-failure records hold ids only, and their consumer reads them within seconds; one older than
 * 15 minutes raises an alarm. A day covers a consumer outage far longer than that alarm's answer.
 */
export const FAILURE_QUEUE_RETENTION = Duration.days(1);
/**
 * Poison messages wait for an operator (the poison-queue alarm): 4 days spans a long weekend.
 * SQS counts a dead-letter message's age from its first enqueue, so this must exceed the
 * on-failure queue's retention. Nothing in either queue is secret; shorter is still less to keep.
 */
export const POISON_QUEUE_RETENTION = Duration.days(4);

/**
 * A worker's on-failure queue (encrypted, TLS only, drained by a Lambda failure handler whose
 * timeout is `handlerTimeout`) and the poison queue behind it: the pair async runs and webhook
 * deliveries (./webhook-deliveries.ts) both use.
 */
export function failureQueues(
  scope: Construct,
  ids: { readonly failures: string; readonly poison: string },
  handlerTimeout: Duration,
): { failureQueue: Queue; poisonQueue: Queue } {
  const poisonQueue = new Queue(scope, ids.poison, {
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: POISON_QUEUE_RETENTION,
  });
  const failureQueue = new Queue(scope, ids.failures, {
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: FAILURE_QUEUE_RETENTION,
    // AWS's guidance for Lambda consumers: at least six times the consumer's timeout.
    visibilityTimeout: Duration.seconds(handlerTimeout.toSeconds() * 6),
    deadLetterQueue: { queue: poisonQueue, maxReceiveCount: 5 },
  });
  return { failureQueue, poisonQueue };
}

/** What opens a sealed run job: only the worker role may, by the run payload key's policy. */
export const PAYLOAD_DECRYPT_ACTIONS = ['kms:Decrypt', 'kms:ReEncryptFrom'] as const;

/** IAM condition: the run payload key may only be used with both ids in the encryption context. */
const requireRunEncryptionContext = {
  Null: { 'kms:EncryptionContext:session_id': 'false', 'kms:EncryptionContext:agent_id': 'false' },
};

/**
 * Asynchronous runs on AWS. The `runs` function seals each accepted run under the run payload
 * KMS key (encryption context {session_id, agent_id}), stores the sealed job in the table with a
 * short TTL, and invokes the worker asynchronously with the session id and tenant only. A failed
 * or expired invocation goes to the on-failure queue (SQS, encrypted), whose consumer marks the
 * run `failed`; a message that consumer cannot handle after 5 receives lands in the
 * poison-message queue (alarmed). Neither queue ever holds token material, sealed or not.
 */
export class AsyncRuns extends Construct {
  /** Wraps async run payloads; `runs` may only generate data keys, the worker may only decrypt. */
  readonly payloadKey: Key;
  readonly worker: VaultFunction;
  /** Lambda's on-failure destination for the worker. */
  readonly failureQueue: Queue;
  /** Failure records the failure handler could not process. */
  readonly poisonQueue: Queue;
  readonly failureHandler: VaultFunction;

  constructor(scope: Construct, id: string, props: AsyncRunsProps) {
    super(scope, id);

    this.payloadKey = new Key(this, 'RunPayloadKey', {
      description: 'agent-vault: wraps async run payloads (auth token + parameters) between the runs function and the worker',
      alias: `alias/agent-vault/${props.stage}/run-payload`,
      enableKeyRotation: true,
      // Only in-flight runs (minutes) depend on it; keeping it after the stack is gone buys nothing.
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });

    ({ failureQueue: this.failureQueue, poisonQueue: this.poisonQueue } = failureQueues(
      this,
      { failures: 'RunFailures', poison: 'RunFailurePoison' },
      FAILURE_HANDLER_TIMEOUT,
    ));

    this.worker = new VaultFunction(this, 'Worker', {
      entry: handlerEntry('run-worker'),
      description: 'Executes accepted async runs (opens the KMS-sealed job, calls the runner, records the outcome)',
      logRetention: props.logRetention,
      timeout: WORKER_TIMEOUT,
      environment: { ...props.environment, VAULT_RUN_PAYLOAD_KEY_ID: this.payloadKey.keyArn },
      onFailure: new SqsDestination(this.failureQueue),
      // A retry would call the runner a second time for the same run; a failure is recorded
      // instead and the caller decides whether to run again.
      retryAttempts: 0,
      maxEventAge: MAX_RUN_EVENT_AGE,
      ...(props.workerReservedConcurrency ? { reservedConcurrentExecutions: props.workerReservedConcurrency } : {}),
    });
    this.worker.bindTable(props.data.table, 'RW');
    this.worker.bindServerKey(props.data.serverKey);
    this.worker.executionRole.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['kms:Decrypt'],
        resources: [this.payloadKey.keyArn],
        conditions: requireRunEncryptionContext,
      }),
    );
    // In the key policy too, not only in IAM: an identity policy can be granted by anyone who
    // administers IAM, a key policy deny cannot be overridden by one. Nobody but the worker role
    // — no administrator, not the runs function — can open a sealed run job.
    this.payloadKey.addToResourcePolicy(
      new PolicyStatement({
        sid: 'OnlyTheRunWorkerDecrypts',
        effect: Effect.DENY,
        principals: [new AnyPrincipal()],
        actions: [...PAYLOAD_DECRYPT_ACTIONS],
        resources: ['*'],
        conditions: { ArnNotEquals: { 'aws:PrincipalArn': this.worker.executionRole.roleArn } },
      }),
    );

    this.failureHandler = new VaultFunction(this, 'FailureHandler', {
      entry: handlerEntry('run-failure'),
      description: 'Marks async runs failed when the worker failed or never started (on-failure destination consumer)',
      logRetention: props.logRetention,
      timeout: FAILURE_HANDLER_TIMEOUT,
      environment: props.environment,
    });
    this.failureHandler.bindTable(props.data.table, 'RW');
    // markRunFailed seals the failure message under the server key, like every run result.
    this.failureHandler.bindServerKey(props.data.serverKey);
    this.failureHandler.addEventSource(new SqsEventSource(this.failureQueue, { batchSize: 10, reportBatchItemFailures: true }));
  }

  /**
   * Lets an API function hand runs to the worker: generate data keys under the run payload key
   * (only with the run encryption context) and invoke the worker function, nothing else. Sets
   * `VAULT_RUN_PAYLOAD_KEY_ID`, `VAULT_RUN_WORKER_FUNCTION` and `VAULT_RUN_JOB_TTL_SECONDS`.
   */
  grantDispatch(fn: VaultFunction): void {
    fn.executionRole.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['kms:GenerateDataKey'],
        resources: [this.payloadKey.keyArn],
        conditions: requireRunEncryptionContext,
      }),
    );
    // The function ARN only: `grantInvoke` would add `<arn>:*` (every version and alias).
    fn.executionRole.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [this.worker.functionArn] }),
    );
    fn.addEnvironment('VAULT_RUN_PAYLOAD_KEY_ID', this.payloadKey.keyArn);
    fn.addEnvironment('VAULT_RUN_WORKER_FUNCTION', this.worker.functionName);
    fn.addEnvironment('VAULT_RUN_JOB_TTL_SECONDS', String(RUN_JOB_TTL.toSeconds()));
  }
}
