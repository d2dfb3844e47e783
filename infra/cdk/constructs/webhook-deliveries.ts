import { Duration } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { handlerEntry } from '../paths.ts';
import { failureQueues } from './async-runs.ts';
import type { VaultData } from './vault-data.ts';
import { VaultFunction } from './vault-function.ts';

/** Properties of WebhookDeliveries. */
export interface WebhookDeliveriesProps {
  /** The table (deliveries, webhooks) and server key (sealed signing secrets) the worker uses. */
  readonly data: VaultData;
  readonly logRetention: RetentionDays;
  /** The vault settings shared with the API functions (webhook host policy, attempts, backoff). */
  readonly environment: Readonly<Record<string, string>>;
}

/**
 * Lambda's asynchronous retries: two, about one and then two minutes after a failed attempt. With
 * the first attempt, three in all: VAULT_WEBHOOK_MAX_ATTEMPTS on AWS, so the delivery log's
 * attempt count and give-up match what Lambda does.
 */
export const WEBHOOK_RETRY_ATTEMPTS = 2;
export const WEBHOOK_MAX_ATTEMPTS = WEBHOOK_RETRY_ATTEMPTS + 1;
/** Lambda's first retry comes about a minute after a failure, doubling after: the delivery log's next_attempt_at uses the same base. */
export const WEBHOOK_RETRY_BASE_MS = 60_000;
/** One attempt waits at most VAULT_WEBHOOK_TIMEOUT_MS (10 s by default) for the receiver. */
const WORKER_TIMEOUT = Duration.seconds(30);
const FAILURE_HANDLER_TIMEOUT = Duration.seconds(30);
/** A delivery event not started within this time is given up (recorded by the failure handler). */
export const MAX_WEBHOOK_EVENT_AGE = Duration.hours(1);

/**
 * Tenant webhook deliveries on AWS, the pattern of AsyncRuns: a function that publishes an event
 * writes one delivery item per subscribed webhook (the durable job: exact body, attempts, lease)
 * and invokes the delivery worker asynchronously with its ids only. One attempt per invocation;
 * a failed attempt with attempts left throws, and Lambda's asynchronous retries (with their
 * exponential spacing) invoke the worker again. An invocation that fails for good goes to the
 * on-failure queue, whose consumer marks the delivery `failed`; a record it cannot handle after
 * 5 receives lands in the poison queue (alarmed). No queue holds a payload or a secret.
 */
export class WebhookDeliveries extends Construct {
  readonly worker: VaultFunction;
  readonly failureQueue: Queue;
  readonly poisonQueue: Queue;
  readonly failureHandler: VaultFunction;

  constructor(scope: Construct, id: string, props: WebhookDeliveriesProps) {
    super(scope, id);
    ({ failureQueue: this.failureQueue, poisonQueue: this.poisonQueue } = failureQueues(
      this,
      { failures: 'Failures', poison: 'FailurePoison' },
      FAILURE_HANDLER_TIMEOUT,
    ));

    this.worker = new VaultFunction(this, 'Worker', {
      entry: handlerEntry('webhook-worker'),
      description: 'Delivers tenant webhook events (one signed attempt per invocation; Lambda retries failed attempts)',
      logRetention: props.logRetention,
      timeout: WORKER_TIMEOUT,
      memorySize: 256,
      environment: props.environment,
      onFailure: new SqsDestination(this.failureQueue),
      retryAttempts: WEBHOOK_RETRY_ATTEMPTS,
      maxEventAge: MAX_WEBHOOK_EVENT_AGE,
    });
    this.worker.bindTable(props.data.table, 'RW');
    this.worker.bindServerKey(props.data.serverKey);

    this.failureHandler = new VaultFunction(this, 'FailureHandler', {
      entry: handlerEntry('webhook-failure'),
      description: 'Marks webhook deliveries failed when their worker failed for good (on-failure destination consumer)',
      logRetention: props.logRetention,
      timeout: FAILURE_HANDLER_TIMEOUT,
      memorySize: 256,
      environment: props.environment,
    });
    // Reads and rewrites delivery items (signed: the server key makes their MAC).
    this.failureHandler.bindTable(props.data.table, 'RW');
    this.failureHandler.bindServerKey(props.data.serverKey);
    this.failureHandler.addEventSource(new SqsEventSource(this.failureQueue, { batchSize: 10, reportBatchItemFailures: true }));
  }

  /**
   * Lets a function publish events: invoke the delivery worker (its ARN only, no version or
   * alias wildcard), nothing else. Sets `VAULT_WEBHOOK_WORKER_FUNCTION`.
   */
  grantPublish(fn: VaultFunction): void {
    fn.executionRole.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [this.worker.functionArn] }),
    );
    fn.addEnvironment('VAULT_WEBHOOK_WORKER_FUNCTION', this.worker.functionName);
  }
}
