import { deliverFromEvent } from '#shared/aws/webhook-worker';
import { getDeps } from '#shared/context';

/**
 * The webhook delivery worker (AWS mode). Its event is `{v, tenant, webhook_id, delivery_id}` —
 * ids only: the delivery (its exact body) waits in the table, the signing secret sealed in the
 * webhook's item. One attempt per invocation; a failed attempt with attempts left throws, and
 * Lambda's asynchronous retries invoke it again later (shared/aws/webhook-dispatcher.ts).
 */
export const handler = async (event: unknown): Promise<void> => {
  const deps = await getDeps();
  const result = await deliverFromEvent(deps, event);
  deps.log.log('info', 'webhook delivery handled', { result: result.result, ...('reason' in result ? { reason: result.reason } : {}) });
};
