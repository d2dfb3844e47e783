import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
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
}

/** A worker may run as long as a runner may take (agent `timeout_ms` ≤ 900 000) — Lambda's maximum. */
const WORKER_TIMEOUT = Duration.minutes(15);
const FAILURE_HANDLER_TIMEOUT = Duration.seconds(30);
/** An async run that could not start within this time is failed rather than started late. */
const MAX_RUN_EVENT_AGE = Duration.hours(1);

/** IAM condition: the run payload key may only be used with both ids in the encryption context. */
const requireRunEncryptionContext = {
  Null: { 'kms:EncryptionContext:session_id': 'false', 'kms:EncryptionContext:agent_id': 'false' },
};

/**
 * Asynchronous runs on AWS. The `runs` function seals each accepted run under the run payload
 * KMS key (encryption context {session_id, agent_id}) and invokes the worker asynchronously with
 * ciphertext only. A failed or expired invocation goes to the on-failure queue (SQS, encrypted),
 * whose consumer marks the run `failed`; a message that consumer cannot handle after 5 receives
 * lands in the poison-message queue (alarmed).
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

    this.poisonQueue = new Queue(this, 'RunFailurePoison', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.failureQueue = new Queue(this, 'RunFailures', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      // AWS's guidance for Lambda consumers: at least six times the consumer's timeout.
      visibilityTimeout: Duration.seconds(FAILURE_HANDLER_TIMEOUT.toSeconds() * 6),
      deadLetterQueue: { queue: this.poisonQueue, maxReceiveCount: 5 },
    });

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
   * `VAULT_RUN_PAYLOAD_KEY_ID` and `VAULT_RUN_WORKER_FUNCTION`.
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
  }
}
