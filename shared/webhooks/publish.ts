import { randomBytes } from 'node:crypto';
import type { Deps } from '../deps.ts';
import type { WebhookItem } from '../schemas/items.ts';
import { type DeliveryRecord, MAX_BATCH_WRITE } from '../store/types.ts';
import { MAX_WEBHOOKS_PER_TENANT, type WebhookEventType, type WebhookPayload } from '../schemas/webhooks.ts';
import { markDeliveryFailed } from './deliver.ts';
import type { DeliveryRef } from './dispatch.ts';

export type { WebhookEventType } from '../schemas/webhooks.ts';

/** What publishing needs (a subset of Deps: the dispatcher is optional, see Deps.webhooks). */
export type PublishDeps = Pick<Deps, 'config' | 'store' | 'serverKeys' | 'log' | 'now' | 'webhooks'>;

/** An event as the domain publishes it: ids and names of the tenant's own things, never a credential. */
export interface WebhookEvent {
  readonly type: WebhookEventType;
  readonly agent_id: string;
  /** The auth profile's name. */
  readonly profile: string;
  /** Event details (ids, states, codes, times): no secret, no token, no auth_data value. */
  readonly data?: Record<string, unknown>;
}

/** A new event id: `evt_` and 22 base64url characters (16 random bytes). */
export const newEventId = () => `evt_${randomBytes(16).toString('base64url')}`;

/** A time-ordered delivery id: 12 hex digits of milliseconds, 12 random hex digits. */
export const newDeliveryId = (at: Date) => `dlv_${at.getTime().toString(16).padStart(12, '0')}${randomBytes(6).toString('hex')}`;

/** The exact body every delivery of an event sends (and signs). */
export function eventBody(payload: WebhookPayload): string {
  return JSON.stringify(payload);
}

let enqueueFailures = 0;

/** Events (or deliveries) this process could not enqueue since it started: logged and counted, never a failed request. */
export function webhookEnqueueFailures(): number {
  return enqueueFailures;
}

/**
 * Writes one delivery of `body` to `webhook` (the durable job and its log entry) and hands it to
 * the dispatcher. Throws if the item cannot be written; a dispatcher that refuses (or none)
 * leaves the delivery marked `failed` / `not_queued` in the log and throws too.
 */
export async function enqueueDelivery(
  deps: PublishDeps,
  webhook: Pick<WebhookItem, 'tenant' | 'webhook_id'>,
  event: { readonly id: string; readonly type: string; readonly body: string },
): Promise<DeliveryRef> {
  const now = deps.now();
  const deliveryId = newDeliveryId(now);
  const created = await deps.store.webhooks.createDelivery({
    tenant: webhook.tenant,
    webhook_id: webhook.webhook_id,
    delivery_id: deliveryId,
    event_id: event.id,
    event_type: event.type,
    body: event.body,
    status: 'pending',
    attempts: 0,
    max_attempts: deps.config.webhookMaxAttempts,
    created_at: now.toISOString(),
    version: 1,
    expires_at: Math.floor(now.getTime() / 1000) + deps.config.webhookDeliveryRetentionSeconds,
  });
  // 48 random bits within one millisecond: a collision is a broken RNG.
  if (!created) throw new Error('a webhook delivery with this id exists already');
  const ref: DeliveryRef = { tenant: webhook.tenant, webhookId: webhook.webhook_id, deliveryId };
  await handOver(deps, ref);
  return ref;
}

/** Hands a written delivery to the dispatcher; one it refuses (or none) is marked `failed` / `not_queued`, and this throws. */
async function handOver(deps: PublishDeps, ref: DeliveryRef): Promise<void> {
  try {
    if (!deps.webhooks) throw new Error('this process has no webhook dispatcher');
    await deps.webhooks.dispatch(ref);
  } catch (err) {
    await markDeliveryFailed(deps, ref, 'not_queued').catch(() => false);
    throw err;
  }
}

/** The tenant's active webhooks (creating refuses past MAX_WEBHOOKS_PER_TENANT, so one page; a race of creates could make it two). */
async function activeWebhooks(deps: PublishDeps, tenant: string): Promise<WebhookItem[]> {
  const active: WebhookItem[] = [];
  let cursor: string | undefined;
  do {
    const page = await deps.store.webhooks.list(tenant, MAX_WEBHOOKS_PER_TENANT, cursor);
    active.push(...page.items.filter((w) => w.active));
    cursor = page.next;
  } while (cursor);
  return active;
}

/** The payload every delivery of an event carries. */
const payloadOf = (deps: PublishDeps, id: string, event: WebhookEvent): WebhookPayload => ({
  id,
  type: event.type,
  occurred_at: deps.now().toISOString(),
  agent_id: event.agent_id,
  profile: event.profile,
  data: event.data ?? {},
});

/**
 * Publishes an event to the tenant's webhooks: one delivery (a durable item, then a dispatch) per
 * active webhook subscribed to `event.type`. Deliveries are sent later, at least once, with
 * bounded retries (shared/webhooks/deliver.ts).
 *
 * Never throws into the caller's flow: the event describes something that already happened (a
 * profile was deleted, a connection changed), and failing the user's request because a
 * notification could not be queued would misreport that change — or tempt a retry that repeats
 * it. A failure to list the webhooks, write a delivery or dispatch it is logged at error (tenant,
 * type, event id, error name: no payload) and counted (webhookEnqueueFailures); a delivery whose
 * dispatch failed shows as `failed` / `not_queued` in its webhook's delivery log.
 */
export async function publishEvent(deps: PublishDeps, tenant: string, event: WebhookEvent): Promise<void> {
  const id = newEventId();
  try {
    const targets = (await activeWebhooks(deps, tenant)).filter((w) => w.events.includes(event.type));
    if (targets.length === 0) return;
    const body = eventBody(payloadOf(deps, id, event));
    const outcomes = await Promise.allSettled(targets.map((w) => enqueueDelivery(deps, w, { id, type: event.type, body })));
    outcomes.forEach((o, i) => {
      if (o.status === 'rejected') failed(deps, tenant, event.type, id, o.reason, targets[i]?.webhook_id);
    });
  } catch (err) {
    failed(deps, tenant, event.type, id, err);
  }
}

/**
 * Publishes many events at once (an agent deleted with its profiles: one `profile.deleted` per
 * profile), as publishEvent does each — one delivery per active subscribed webhook, never a
 * throw into the caller's flow, a failure logged and counted — but with the webhooks listed once
 * and the deliveries written MAX_BATCH_WRITE per BatchWriteItem (store.webhooks.createDeliveries),
 * each batch's written deliveries dispatched together before the next batch is written. A
 * delivery DynamoDB did not take is logged and counted; one whose batch failed outright may
 * have been written: it is marked `failed` / `not_queued` where it was.
 */
export async function publishEvents(deps: PublishDeps, tenant: string, events: readonly WebhookEvent[]): Promise<void> {
  if (events.length === 0) return;
  const ids = events.map(() => newEventId());
  let webhooks: WebhookItem[];
  try {
    webhooks = await activeWebhooks(deps, tenant);
  } catch (err) {
    events.forEach((e, i) => {
      failed(deps, tenant, e.type, ids[i] as string, err);
    });
    return;
  }
  const now = deps.now();
  const expiresAt = Math.floor(now.getTime() / 1000) + deps.config.webhookDeliveryRetentionSeconds;
  const deliveryIds = new Set<string>();
  const deliveries: DeliveryRecord[] = [];
  events.forEach((event, i) => {
    const targets = webhooks.filter((w) => w.events.includes(event.type));
    if (targets.length === 0) return;
    const id = ids[i] as string;
    const body = eventBody(payloadOf(deps, id, event));
    for (const w of targets) {
      // Distinct within the batch (a BatchWriteItem refuses two requests for one key); 48 random bits make a repeat a broken RNG.
      let deliveryId = newDeliveryId(now);
      while (deliveryIds.has(deliveryId)) deliveryId = newDeliveryId(now);
      deliveryIds.add(deliveryId);
      deliveries.push({
        tenant,
        webhook_id: w.webhook_id,
        delivery_id: deliveryId,
        event_id: id,
        event_type: event.type,
        body,
        status: 'pending',
        attempts: 0,
        max_attempts: deps.config.webhookMaxAttempts,
        created_at: now.toISOString(),
        version: 1,
        expires_at: expiresAt,
      });
    }
  });
  const refOf = (d: DeliveryRecord): DeliveryRef => ({ tenant, webhookId: d.webhook_id, deliveryId: d.delivery_id });
  for (let i = 0; i < deliveries.length; i += MAX_BATCH_WRITE) {
    const batch = deliveries.slice(i, i + MAX_BATCH_WRITE);
    let left: DeliveryRecord[];
    try {
      left = await deps.store.webhooks.createDeliveries(batch);
    } catch (err) {
      for (const d of batch) failed(deps, tenant, d.event_type, d.event_id, err, d.webhook_id);
      await Promise.allSettled(batch.map((d) => markDeliveryFailed(deps, refOf(d), 'not_queued')));
      continue;
    }
    const notTaken = new Set(left);
    for (const d of left)
      failed(deps, tenant, d.event_type, d.event_id, new Error('DynamoDB kept returning unprocessed deliveries'), d.webhook_id);
    const written = batch.filter((d) => !notTaken.has(d));
    const outcomes = await Promise.allSettled(written.map((d) => handOver(deps, refOf(d))));
    outcomes.forEach((o, j) => {
      const d = written[j] as DeliveryRecord;
      if (o.status === 'rejected') failed(deps, tenant, d.event_type, d.event_id, o.reason, d.webhook_id);
    });
  }
}

function failed(deps: PublishDeps, tenant: string, type: string, eventId: string, err: unknown, webhookId?: string): void {
  enqueueFailures++;
  deps.log.log('error', 'webhook event not enqueued', {
    tenant,
    event_type: type,
    event_id: eventId,
    webhook_id: webhookId,
    error_name: err instanceof Error ? err.name : typeof err,
    metric: 'webhook_enqueue_failed',
  });
}
