import type { Deps } from '../deps.ts';
import type { HostResolver } from '../outbound/address-policy.ts';
import { type AttemptResult, attemptDelivery } from '../webhooks/deliver.ts';
import { parseWebhookDeliveryEvent } from './webhook-dispatcher.ts';

/**
 * Thrown after an attempt that failed with attempts left, so that Lambda retries the invocation
 * (its asynchronous retries are the backoff on AWS: shared/aws/webhook-dispatcher.ts). Carries
 * ids and the outcome code only.
 */
export class WebhookRetryError extends Error {
  override readonly name = 'WebhookRetryError';
}

/**
 * The delivery worker's work (AWS mode): one attempt of the delivery the event names, the same
 * attemptDelivery as local mode. A failed attempt with attempts left throws WebhookRetryError
 * (Lambda invokes again later); the last attempt marks the delivery `failed` and returns.
 */
export async function deliverFromEvent(deps: Deps, event: unknown, options: { resolveHost?: HostResolver } = {}): Promise<AttemptResult> {
  const ref = parseWebhookDeliveryEvent(event);
  const result = await attemptDelivery(deps, ref, options);
  if (result.result === 'retry') {
    throw new WebhookRetryError(
      `webhook delivery ${ref.deliveryId} attempt ${result.attempt} failed (${result.outcome}); Lambda retries it`,
    );
  }
  return result;
}
