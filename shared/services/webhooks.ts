import { randomBytes } from 'node:crypto';
import { auditedChange } from '../audit/log.ts';
import { type AuditEventInput, eventBy } from '../audit/record.ts';
import type { Caller, Deps } from '../deps.ts';
import { ConflictError, NotFoundError, ServiceUnavailableError, ValidationError } from '../errors.ts';
import type { WebhookDeliveryItem, WebhookItem } from '../schemas/items.ts';
import {
  type CreateWebhookBody,
  type Delivery,
  type DeliveryOutcome,
  MAX_WEBHOOKS_PER_TENANT,
  TEST_EVENT_TYPE,
  type UpdateWebhookBody,
  type Webhook,
  type WebhookEventType,
} from '../schemas/webhooks.ts';
import type { WebhookRecord } from '../store/types.ts';
import { assertWebhookUrlAllowed } from '../webhooks/deliver.ts';
import { enqueueDelivery, eventBody, newEventId } from '../webhooks/publish.ts';
import { newWebhookSecret } from '../webhooks/secret.ts';

/**
 * Tenant webhooks (admin: the route table's permission): create (the signing secret answered
 * once), list, read, PATCH, delete, rotate the secret, read the delivery log, send a test event.
 * Every change is audited before it is made (write-ahead, shared/audit/log.ts), in the tenant
 * view, with the webhook id as its `principal`.
 */

const webhookNotFound = (id: string) =>
  new NotFoundError(`No webhook "${id}" in this tenant; list them with GET /v1/webhooks`, 'webhook_not_found');

function toWebhook(w: WebhookRecord): Webhook {
  return {
    webhook_id: w.webhook_id,
    url: w.url,
    events: w.events as WebhookEventType[],
    ...(w.description !== undefined ? { description: w.description } : {}),
    active: w.active,
    created_by: w.created_by,
    created_at: w.created_at,
    updated_at: w.updated_at,
  };
}

function toDelivery(d: WebhookDeliveryItem): Delivery {
  return {
    delivery_id: d.delivery_id,
    event_id: d.event_id,
    event_type: d.event_type,
    status: d.status,
    attempts: d.attempts,
    max_attempts: d.max_attempts,
    ...(d.last_status_code !== undefined ? { last_status_code: d.last_status_code } : {}),
    ...(d.outcome !== undefined ? { outcome: d.outcome as DeliveryOutcome } : {}),
    created_at: d.created_at,
    ...(d.last_attempt_at !== undefined ? { last_attempt_at: d.last_attempt_at } : {}),
    ...(d.status === 'pending' && d.next_attempt_at !== undefined ? { next_attempt_at: d.next_attempt_at } : {}),
    ...(d.finished_at !== undefined ? { finished_at: d.finished_at } : {}),
  };
}

const webhookEvent = (caller: Caller, action: AuditEventInput['action'], webhookId: string, status: number) =>
  eventBy(caller, action, status, { principal: webhookId });

async function requireWebhook(deps: Deps, tenant: string, webhookId: string): Promise<WebhookItem> {
  const w = await deps.store.webhooks.get(tenant, webhookId);
  if (!w) throw webhookNotFound(webhookId);
  return w;
}

const recordOf = (w: WebhookItem): WebhookRecord => {
  const { pk: _pk, sk: _sk, entity: _e, ...r } = w;
  return r;
};

/** POST /v1/webhooks: a new webhook; its signing secret is in this answer only. */
export async function createWebhook(deps: Deps, caller: Caller, body: CreateWebhookBody) {
  assertWebhookUrlAllowed(deps.config, body.url);
  const existing = await deps.store.webhooks.list(caller.tenant, MAX_WEBHOOKS_PER_TENANT);
  if (existing.items.length >= MAX_WEBHOOKS_PER_TENANT) {
    throw new ConflictError(
      `This tenant has ${MAX_WEBHOOKS_PER_TENANT} webhooks, the most it may have; delete one first (DELETE /v1/webhooks/{webhook_id})`,
      'webhook_limit_reached',
    );
  }
  const webhookId = `wh_${randomBytes(12).toString('base64url')}`;
  const now = deps.now().toISOString();
  const { secret, sealed } = newWebhookSecret(deps.serverKeys, caller.tenant, webhookId);
  const record: WebhookRecord = {
    tenant: caller.tenant,
    webhook_id: webhookId,
    url: body.url,
    events: [...body.events],
    ...(body.description !== undefined ? { description: body.description } : {}),
    active: body.active,
    signing_secret: sealed,
    created_by: caller.apiKeyId,
    version: 1,
    created_at: now,
    updated_at: now,
  };
  await auditedChange(deps, webhookEvent(caller, 'webhook_create', webhookId, 201), async () => {
    if (!(await deps.store.webhooks.create(record))) throw new Error('webhook id collision'); // 96 random bits
  });
  return { ...toWebhook(record), signing_secret: secret };
}

/** GET /v1/webhooks: one page of the tenant's webhooks (never a secret). */
export async function listWebhooks(deps: Deps, caller: Caller, limit: number, cursor?: string) {
  const page = await deps.store.webhooks.list(caller.tenant, limit, cursor);
  return { webhooks: page.items.map(toWebhook), ...(page.next ? { next_cursor: page.next } : {}) };
}

/** GET /v1/webhooks/{webhook_id}. */
export async function getWebhook(deps: Deps, caller: Caller, webhookId: string): Promise<Webhook> {
  return toWebhook(await requireWebhook(deps, caller.tenant, webhookId));
}

/** PATCH /v1/webhooks/{webhook_id}: the fields sent (description null removes it); 409 on a concurrent change. */
export async function updateWebhook(deps: Deps, caller: Caller, webhookId: string, body: UpdateWebhookBody): Promise<Webhook> {
  if (body.url !== undefined) assertWebhookUrlAllowed(deps.config, body.url);
  const current = await requireWebhook(deps, caller.tenant, webhookId);
  const { description: _d, ...kept } = recordOf(current);
  const description = body.description === undefined ? current.description : (body.description ?? undefined);
  const next: WebhookRecord = {
    ...kept,
    ...(body.url !== undefined ? { url: body.url } : {}),
    ...(body.events !== undefined ? { events: [...body.events] } : {}),
    ...(body.active !== undefined ? { active: body.active } : {}),
    ...(description !== undefined ? { description } : {}),
    version: current.version + 1,
    updated_at: deps.now().toISOString(),
  };
  await auditedChange(deps, webhookEvent(caller, 'webhook_update', webhookId, 200), async () => {
    if (!(await deps.store.webhooks.replace(next, current.version))) {
      throw new ConflictError(`Webhook "${webhookId}" was changed or deleted by another request; read it again and retry`);
    }
  });
  return toWebhook(next);
}

/**
 * DELETE /v1/webhooks/{webhook_id}: no more deliveries (a pending one fails as
 * `webhook_deleted` at its next attempt); its delivery log expires with its TTL.
 */
export async function deleteWebhook(deps: Deps, caller: Caller, webhookId: string): Promise<void> {
  await requireWebhook(deps, caller.tenant, webhookId);
  await auditedChange(deps, webhookEvent(caller, 'webhook_delete', webhookId, 204), async () => {
    if (!(await deps.store.webhooks.delete(caller.tenant, webhookId))) throw webhookNotFound(webhookId);
  });
}

/** POST /v1/webhooks/{webhook_id}/rotate-secret: a new signing secret (answered once); the old one signs nothing from now on. */
export async function rotateWebhookSecret(deps: Deps, caller: Caller, webhookId: string) {
  const current = await requireWebhook(deps, caller.tenant, webhookId);
  const { secret, sealed } = newWebhookSecret(deps.serverKeys, caller.tenant, webhookId);
  await auditedChange(deps, webhookEvent(caller, 'webhook_rotate_secret', webhookId, 200), async () => {
    const ok = await deps.store.webhooks.replace(
      { ...recordOf(current), signing_secret: sealed, version: current.version + 1, updated_at: deps.now().toISOString() },
      current.version,
    );
    if (!ok) throw new ConflictError(`Webhook "${webhookId}" was changed or deleted by another request; retry`);
  });
  return { webhook_id: webhookId, signing_secret: secret };
}

/** GET /v1/webhooks/{webhook_id}/deliveries: the delivery log, newest first (never the payload). */
export async function listDeliveries(deps: Deps, caller: Caller, webhookId: string, limit: number, cursor?: string) {
  await requireWebhook(deps, caller.tenant, webhookId);
  const page = await deps.store.webhooks.listDeliveries(caller.tenant, webhookId, limit, cursor, Math.floor(deps.now().getTime() / 1000));
  return { deliveries: page.items.map(toDelivery), ...(page.next ? { next_cursor: page.next } : {}) };
}

/**
 * POST /v1/webhooks/{webhook_id}/test: queues one `webhook.test` event to this webhook (active or
 * not subscribed alike: an inactive one records `webhook_inactive`), through the same delivery
 * path as real events. Unlike publishEvent, a failure to queue it is this request's answer (503).
 */
export async function sendTestEvent(deps: Deps, caller: Caller, webhookId: string) {
  const webhook = await requireWebhook(deps, caller.tenant, webhookId);
  const id = newEventId();
  const body = eventBody({ id, type: TEST_EVENT_TYPE, occurred_at: deps.now().toISOString(), data: { webhook_id: webhookId } });
  const ref = await auditedChange(deps, webhookEvent(caller, 'webhook_test', webhookId, 202), async () => {
    try {
      return await enqueueDelivery(deps, webhook, { id, type: TEST_EVENT_TYPE, body });
    } catch (err) {
      if (err instanceof ValidationError || err instanceof ServiceUnavailableError) throw err;
      deps.log.log('error', 'webhook test event not queued', {
        tenant: caller.tenant,
        webhook_id: webhookId,
        error_name: err instanceof Error ? err.name : typeof err,
      });
      throw new ServiceUnavailableError(
        'The test event could not be queued right now; retry in a moment (its delivery log shows it as not_queued).',
      );
    }
  });
  return { event_id: id, delivery_id: ref.deliveryId, status: 'queued' as const };
}
