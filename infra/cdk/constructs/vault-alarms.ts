import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import { Alarm, ComparisonOperator, type IMetric, MathExpression, Metric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { type ITopic, Topic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRIC, METRIC_NAMESPACE, METRIC_SERVICE } from '#shared/metrics';

/** Properties of VaultAlarms. */
export interface VaultAlarmsProps {
  /** Deployment stage; part of the alarm names. */
  readonly stage: string;
  readonly api: HttpApi;
  /** Every function of the stack, by a short name used in the alarm names. */
  readonly functions: Readonly<Record<string, IFunction>>;
  readonly table: ITable;
  /** The worker's on-failure queue (drained by the failure handler). */
  readonly failureQueue: IQueue;
  /** Failure records the failure handler gave up on. */
  readonly poisonQueue: IQueue;
  /** The webhook delivery worker's on-failure queue and its poison queue (infra/cdk/constructs/webhook-deliveries.ts). */
  readonly webhookFailureQueue?: IQueue;
  readonly webhookPoisonQueue?: IQueue;
  /** Notify this existing topic; unset creates an encrypted topic in the stack. */
  readonly alarmTopicArn?: string;
}

const PERIOD = Duration.minutes(5);

/** Thresholds, named so that docs/security.md ("What a security review will find") can quote them. */
export const ALARM_THRESHOLDS = {
  /** Percentage of requests answered 5xx, over 2 of 3 five-minute periods, with ≥ 20 requests. */
  api5xxPercent: 5,
  api5xxMinRequests: 20,
  /** Any unhandled function error or throttle in five minutes. */
  lambdaErrors: 1,
  lambdaThrottles: 1,
  /** Throttled DynamoDB reads + writes in five minutes (the SDK retries a few on its own). */
  dynamoThrottleEvents: 5,
  /** Any message in the poison queue. */
  poisonMessages: 1,
  /** A failure record waiting this long means the failure handler is not draining its queue. */
  failureQueueAgeSeconds: 900,
  /** Any audit record that could not be written (the requests were refused: fail-closed). */
  auditWriteFailures: 1,
  /** Wrong tokens presented for existing profiles in five minutes (guessing, or a leaked slot). */
  credentialGuesses: 20,
  /** OAuth2 token-endpoint calls that gave no token, in five minutes. */
  oauth2FetchFailures: 5,
} as const;

/** A metric the functions write as CloudWatch EMF (shared/metrics.ts), with its service dimension. */
export function vaultMetric(name: string, dimensions: Record<string, string> = {}): Metric {
  return new Metric({
    namespace: METRIC_NAMESPACE,
    metricName: name,
    dimensionsMap: { service: METRIC_SERVICE, ...dimensions },
    period: PERIOD,
    statistic: 'Sum',
  });
}

/**
 * CloudWatch alarms on what needs a human: API 5xx rate, function errors and throttles,
 * DynamoDB throttling, stuck async-run failures, and the vault's own metrics (EMF, written by
 * shared/metrics.ts): audit write failures, wrong tokens for existing profiles, OAuth2 token failures. Each alarm notifies the SNS topic on ALARM
 * and on OK. Without a topic ARN in context, the stack creates one (KMS-encrypted, TLS only) and
 * outputs its ARN for subscriptions.
 */
export class VaultAlarms extends Construct {
  readonly topic: ITopic;
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: VaultAlarmsProps) {
    super(scope, id);
    this.topic = props.alarmTopicArn ? Topic.fromTopicArn(this, 'Topic', props.alarmTopicArn) : this.createTopic();
    const action = new SnsAction(this.topic);
    const add = (name: string, metric: IMetric, threshold: number, description: string, evaluation = { periods: 1, datapoints: 1 }) => {
      const alarm = new Alarm(this, name, {
        alarmName: `agent-vault-${props.stage}-${name}`,
        alarmDescription: description,
        metric,
        threshold,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: evaluation.periods,
        datapointsToAlarm: evaluation.datapoints,
        // No traffic is not an outage: missing data points do not alarm.
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      alarm.addAlarmAction(action);
      alarm.addOkAction(action);
      this.alarms.push(alarm);
    };

    add(
      'Api5xxRate',
      new MathExpression({
        expression: `IF(requests >= ${ALARM_THRESHOLDS.api5xxMinRequests}, 100 * errors / requests, 0)`,
        usingMetrics: {
          errors: props.api.metricServerError({ period: PERIOD, statistic: 'Sum' }),
          requests: props.api.metricCount({ period: PERIOD, statistic: 'Sum' }),
        },
        label: 'API 5xx (% of requests)',
        period: PERIOD,
      }),
      ALARM_THRESHOLDS.api5xxPercent,
      `At least ${ALARM_THRESHOLDS.api5xxPercent}% of API requests answered 5xx (faults of the vault or its dependencies). Check the functions' logs by request id.`,
      { periods: 3, datapoints: 2 },
    );

    for (const [name, fn] of Object.entries(props.functions)) {
      add(
        `${name}Errors`,
        fn.metricErrors({ period: PERIOD, statistic: 'Sum' }),
        ALARM_THRESHOLDS.lambdaErrors,
        `The ${name} function failed with an unhandled error or a timeout.`,
      );
      add(
        `${name}Throttles`,
        fn.metricThrottles({ period: PERIOD, statistic: 'Sum' }),
        ALARM_THRESHOLDS.lambdaThrottles,
        `The ${name} function was throttled: the account's Lambda concurrency is exhausted.`,
      );
    }

    add(
      'DynamoThrottles',
      new MathExpression({
        expression: 'reads + writes',
        usingMetrics: {
          reads: props.table.metric('ReadThrottleEvents', { period: PERIOD, statistic: 'Sum' }),
          writes: props.table.metric('WriteThrottleEvents', { period: PERIOD, statistic: 'Sum' }),
        },
        label: 'DynamoDB throttle events',
        period: PERIOD,
      }),
      ALARM_THRESHOLDS.dynamoThrottleEvents,
      'The vault table throttled reads or writes (on-demand tables throttle above twice their previous peak).',
    );

    add(
      'RunFailurePoisonDepth',
      props.poisonQueue.metricApproximateNumberOfMessagesVisible({ period: PERIOD, statistic: 'Maximum' }),
      ALARM_THRESHOLDS.poisonMessages,
      'Async run failures could not be recorded: these runs stay queued/running. Inspect the poison queue, fix the cause, then redrive it to the failure queue.',
    );
    add(
      'RunFailureQueueAge',
      props.failureQueue.metricApproximateAgeOfOldestMessage({ period: PERIOD, statistic: 'Maximum' }),
      ALARM_THRESHOLDS.failureQueueAgeSeconds,
      'Failed async runs are not being marked failed: the failure handler is not draining its queue.',
    );

    add(
      'AuditWriteFailures',
      vaultMetric(METRIC.auditWriteFailure),
      ALARM_THRESHOLDS.auditWriteFailures,
      "Audit records could not be written, so the vault refused those requests (503 audit_unavailable). Check DynamoDB (throttling, permissions) and the functions' logs.",
    );
    add(
      'CredentialGuesses',
      vaultMetric(METRIC.credentialRefusal, { code: 'profile_not_found' }),
      ALARM_THRESHOLDS.credentialGuesses,
      'Many uses of existing profiles presented a wrong token: someone may be guessing, or an agent holds a stale token. The audit log names the profiles and source IPs.',
    );
    add(
      'OAuth2TokenFailures',
      vaultMetric(METRIC.oauth2FetchFailure),
      ALARM_THRESHOLDS.oauth2FetchFailures,
      "OAuth2 token endpoints gave no token: uses of those profiles fail. The profiles' last_error and the warn logs name them.",
    );
    if (props.webhookPoisonQueue) {
      add(
        'WebhookFailurePoisonDepth',
        props.webhookPoisonQueue.metricApproximateNumberOfMessagesVisible({ period: PERIOD, statistic: 'Maximum' }),
        ALARM_THRESHOLDS.poisonMessages,
        'Webhook deliveries whose worker failed could not be marked failed: they stay pending in their delivery log. Inspect the poison queue, fix the cause, then redrive it.',
      );
    }
    if (props.webhookFailureQueue) {
      add(
        'WebhookFailureQueueAge',
        props.webhookFailureQueue.metricApproximateAgeOfOldestMessage({ period: PERIOD, statistic: 'Maximum' }),
        ALARM_THRESHOLDS.failureQueueAgeSeconds,
        'Failed webhook deliveries are not being marked failed: their failure handler is not draining its queue.',
      );
    }
  }

  private createTopic(): Topic {
    const key = new Key(this, 'TopicKey', {
      description: 'agent-vault: encrypts the alarm topic',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    // CloudWatch publishes alarm notifications to the encrypted topic with this key. (The
    // AWS-managed aws/sns key cannot be used: its policy cannot grant CloudWatch.)
    key.addToResourcePolicy(
      new PolicyStatement({
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
      }),
    );
    const topic = new Topic(this, 'Topic', {
      displayName: 'agent-vault alarms',
      masterKey: key,
      enforceSSL: true,
    });
    topic.addToResourcePolicy(
      new PolicyStatement({
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [topic.topicArn],
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
    );
    return topic;
  }
}
