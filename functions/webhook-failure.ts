import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { getDeps } from '#shared/context';
import { markDeliveryFailed } from '#shared/webhooks/deliver';
import { parseWebhookDeliveryEvent } from '#shared/aws/webhook-dispatcher';

/**
 * Consumes the delivery worker's on-failure destination (SQS): each message is a Lambda async
 * failure record whose `requestPayload` is the worker's event (ids only). The delivery, if still
 * pending (the worker crashed or timed out on its last try, or the event grew too old), is marked
 * `failed` with outcome `worker_failed`, so the delivery log never shows it pending forever. A
 * record that cannot be processed for a transient reason is reported back for redelivery; after
 * 5 receives it lands in the poison queue (alarmed).
 */
export const handler = async (event: SQSEvent): Promise<SQSBatchResponse> => {
  const deps = await getDeps();
  const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
  for (const record of event.Records) {
    let ref: ReturnType<typeof parseWebhookDeliveryEvent>;
    try {
      ref = parseWebhookDeliveryEvent((JSON.parse(record.body) as { requestPayload?: unknown }).requestPayload);
    } catch {
      deps.log.log('error', 'unreadable webhook failure record dropped', { message_id: record.messageId });
      continue;
    }
    try {
      const marked = await markDeliveryFailed(deps, ref, 'worker_failed');
      deps.log.log('warn', 'webhook delivery worker failed', {
        tenant: ref.tenant,
        webhook_id: ref.webhookId,
        delivery_id: ref.deliveryId,
        marked,
      });
    } catch (err) {
      deps.log.log('error', 'could not mark webhook delivery failed', {
        delivery_id: ref.deliveryId,
        error_name: err instanceof Error ? err.name : typeof err,
      });
      batchItemFailures.push({ itemIdentifier: record.messageId });
    }
  }
  return { batchItemFailures };
};
