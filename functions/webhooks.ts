import { createLambdaWebhookDispatcher } from '#shared/aws/webhook-dispatcher';
import { setWebhookDispatcherFactory } from '#shared/context';
import { routeGroupHandler } from '#shared/http/handler';
import { created, json, noContent, ok } from '#shared/http/responses';
import {
  createWebhook,
  deleteWebhook,
  getWebhook,
  listDeliveries,
  listWebhooks,
  rotateWebhookSecret,
  sendTestEvent,
  updateWebhook,
} from '#shared/services/webhooks';

// On AWS a delivery is handed to the delivery worker function (local mode: an in-process queue).
setWebhookDispatcherFactory(createLambdaWebhookDispatcher);

/** Tenant webhooks (admin only: the route table's permission), their delivery log and test sends. */
export const handler = routeGroupHandler('webhooks', {
  'POST /v1/webhooks': async ({ deps, caller, body }) => created(await createWebhook(deps, caller, body)),
  'GET /v1/webhooks': async ({ deps, caller, query }) => ok(await listWebhooks(deps, caller, query.limit, query.cursor)),
  'GET /v1/webhooks/{webhook_id}': async ({ deps, caller, params }) => ok(await getWebhook(deps, caller, params.webhook_id as string)),
  'PATCH /v1/webhooks/{webhook_id}': async ({ deps, caller, params, body }) =>
    ok(await updateWebhook(deps, caller, params.webhook_id as string, body)),
  'DELETE /v1/webhooks/{webhook_id}': async ({ deps, caller, params }) => {
    await deleteWebhook(deps, caller, params.webhook_id as string);
    return noContent();
  },
  'POST /v1/webhooks/{webhook_id}/rotate-secret': async ({ deps, caller, params }) =>
    ok(await rotateWebhookSecret(deps, caller, params.webhook_id as string)),
  'GET /v1/webhooks/{webhook_id}/deliveries': async ({ deps, caller, params, query }) =>
    ok(await listDeliveries(deps, caller, params.webhook_id as string, query.limit, query.cursor)),
  'POST /v1/webhooks/{webhook_id}/test': async ({ deps, caller, params }) =>
    json(202, await sendTestEvent(deps, caller, params.webhook_id as string)),
});
