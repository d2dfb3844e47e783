import type { InvokeCommandOutput, LambdaClient } from '@aws-sdk/client-lambda';
import type { Config } from '../config.ts';
import type { DeliveryRef, WebhookDispatcher } from '../webhooks/dispatch.ts';
import { type RetryOptions, withDependencyRetry } from './retry.ts';

let lambdaModule: Promise<typeof import('./lambda-client.ts')> | undefined;
const loadLambda = () => (lambdaModule ??= import('./lambda-client.ts'));

/**
 * AWS mode: how a webhook delivery reaches the delivery worker — the pattern of async runs
 * (shared/aws/run-dispatcher.ts). The delivery is already a durable item in the table (its exact
 * body, attempts, lease); the worker is invoked asynchronously with its ids only. Its retries
 * are Lambda's own asynchronous retries (two, the first about a minute after a failure, the
 * second about two minutes after that: exponential), driven by the worker throwing after an
 * attempt that failed with attempts left — no timer in any process. An invocation that fails for
 * good (a crash, or too old) reaches the on-failure queue, whose consumer marks the delivery
 * `failed` (functions/webhook-failure.ts). Nothing secret is in the event: the body is in the
 * item and the signing secret is sealed in the webhook's.
 */
export const WEBHOOK_EVENT_VERSION = 1;

/** What the delivery worker receives: ids only. */
export interface WebhookDeliveryEvent {
  readonly v: typeof WEBHOOK_EVENT_VERSION;
  readonly tenant: string;
  readonly webhook_id: string;
  readonly delivery_id: string;
}

/** An event that is not a well-formed delivery event: never retried (it cannot get better). */
export class InvalidWebhookEventError extends Error {
  override readonly name = 'InvalidWebhookEventError';
}

/** Options of createLambdaWebhookDispatcher (tests inject the client and the backoff). */
export interface LambdaWebhookDispatcherOptions {
  readonly lambda?: LambdaClient;
  readonly retry?: RetryOptions;
}

/**
 * A WebhookDispatcher that invokes the delivery worker (`VAULT_WEBHOOK_WORKER_FUNCTION`)
 * asynchronously with the delivery's ids. Throttling and 5xx answers are retried with bounded
 * backoff, then surface as a ServiceUnavailableError; a missing setting fails on the first
 * dispatch. The publisher records a delivery it could not hand over as `not_queued`.
 */
export function createLambdaWebhookDispatcher(config: Config, options: LambdaWebhookDispatcherOptions = {}): WebhookDispatcher {
  let lambda = options.lambda;
  return {
    async dispatch(ref: DeliveryRef): Promise<void> {
      const functionName = config.webhookWorkerFunctionName;
      if (!functionName)
        throw new Error(
          'webhook deliveries need VAULT_WEBHOOK_WORKER_FUNCTION (set by the CDK stack on the functions that publish events)',
        );
      // Loaded on the first dispatch, not at cold start (shared/aws/lambda-client.ts).
      const { InvokeCommand, LambdaClient } = await loadLambda();
      lambda ??= new LambdaClient({ region: config.region, maxAttempts: 1 });
      const client = lambda;
      const event: WebhookDeliveryEvent = {
        v: WEBHOOK_EVENT_VERSION,
        tenant: ref.tenant,
        webhook_id: ref.webhookId,
        delivery_id: ref.deliveryId,
      };
      const out: InvokeCommandOutput = await withDependencyRetry(
        () =>
          client.send(
            new InvokeCommand({ FunctionName: functionName, InvocationType: 'Event', Payload: Buffer.from(JSON.stringify(event), 'utf8') }),
          ),
        'The vault could not queue a webhook delivery (AWS Lambda is throttling or unavailable).',
        options.retry,
      );
      // An accepted async invoke answers 202; anything else means it was not queued.
      if (out.StatusCode !== 202) throw new Error(`the webhook worker did not accept the delivery (status ${String(out.StatusCode)})`);
    },
  };
}

const ID = /^[A-Za-z0-9_-]{1,128}$/;

/** Reads the worker's event: `{v: 1, tenant, webhook_id, delivery_id}`; InvalidWebhookEventError otherwise. */
export function parseWebhookDeliveryEvent(payload: unknown): DeliveryRef {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload))
    throw new InvalidWebhookEventError('webhook delivery event must be a JSON object');
  const p = payload as Record<string, unknown>;
  if (p.v !== WEBHOOK_EVENT_VERSION) throw new InvalidWebhookEventError(`webhook delivery event version must be ${WEBHOOK_EVENT_VERSION}`);
  for (const field of ['tenant', 'webhook_id', 'delivery_id'] as const) {
    const value = p[field];
    if (typeof value !== 'string' || !ID.test(value))
      throw new InvalidWebhookEventError(`webhook delivery event field ${field} is malformed`);
  }
  return { tenant: p.tenant as string, webhookId: p.webhook_id as string, deliveryId: p.delivery_id as string };
}
