import { ApiKeyField, Timestamp, refuseFormatCharacters } from './common.ts';
import * as z from './zod.ts';
import { describe } from './zod.ts';

/**
 * Tenant webhooks (docs/api.md, "Webhooks"): request bodies (strict), answers, and the event
 * payload a receiver gets. Stored shapes are in items.ts.
 */

/** The events a webhook may subscribe to. */
export const WEBHOOK_EVENT_TYPES = [
  'connection.connected',
  'connection.needs_reauth',
  'connection.refresh_failed',
  'connection.recovered',
  'profile.deleted',
] as const;
export const WebhookEventType = z.enum(WEBHOOK_EVENT_TYPES, { error: `must be one of ${WEBHOOK_EVENT_TYPES.join(', ')}` });
export type WebhookEventType = z.infer<typeof WebhookEventType>;

/** The type of the event POST /v1/webhooks/{webhook_id}/test sends (to that webhook only, subscribed or not). */
export const TEST_EVENT_TYPE = 'webhook.test';

/** A webhook's id: `wh_` and 16 base64url characters (12 random bytes). */
export const WebhookId = z
  .string()
  .check(z.regex(/^wh_[A-Za-z0-9_-]{16}$/, 'webhook_id must be "wh_" followed by 16 base64url characters, as GET /v1/webhooks lists it'));
/** A delivery's id: `dlv_`, 12 hex digits of milliseconds and 12 random hex digits (time-ordered). */
export const DeliveryId = z.string().check(z.regex(/^dlv_[0-9a-f]{24}$/));

/** At most this many webhooks per tenant (each event is one delivery per subscribed webhook). */
export const MAX_WEBHOOKS_PER_TENANT = 20;

const WebhookUrl = describe(
  z.url({ protocol: /^https?$/, error: 'url must be an http(s) URL' }).check(z.maxLength(2048)),
  'Where events are POSTed: https when deployed; the same host rules as runner URLs (VAULT_ALLOWED_WEBHOOK_HOSTS, no loopback or private address when deployed)',
);

const Events = describe(
  z.array(WebhookEventType).check(
    z.minLength(1, 'events must name at least one event type'),
    z.maxLength(WEBHOOK_EVENT_TYPES.length),
    z.refine((e) => new Set(e).size === e.length, 'events must not repeat a type'),
  ),
  `The event types to deliver: a subset of ${WEBHOOK_EVENT_TYPES.join(', ')}`,
);

const Description = describe(
  z.string().check(z.superRefine(refuseFormatCharacters), z.maxLength(500, 'description is at most 500 characters')),
  'Free text for people; not a secret',
);

export const CreateWebhookBody = z.strictObject({
  url: WebhookUrl,
  events: Events,
  description: z.optional(Description),
  active: describe(z._default(z.boolean(), true), 'An inactive webhook gets no deliveries (default true)'),
  api_key: ApiKeyField,
});
export type CreateWebhookBody = z.infer<typeof CreateWebhookBody>;

export const UpdateWebhookBody = z
  .strictObject({
    url: z.optional(WebhookUrl),
    events: z.optional(Events),
    description: describe(z.optional(z.nullable(Description)), 'null removes it'),
    active: z.optional(z.boolean()),
    api_key: ApiKeyField,
  })
  .check(
    z.refine((b) => b.url !== undefined || b.events !== undefined || b.description !== undefined || b.active !== undefined, {
      message: 'send at least one of url, events, description, active',
    }),
  );
export type UpdateWebhookBody = z.infer<typeof UpdateWebhookBody>;

/** A webhook as the API shows it: never its signing secret. */
export const Webhook = z.object({
  webhook_id: WebhookId,
  url: z.string(),
  events: z.array(WebhookEventType),
  description: z.optional(z.string()),
  active: z.boolean(),
  created_by: describe(z.string(), 'key_id of the API key that created it'),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type Webhook = z.infer<typeof Webhook>;

export const CreatedWebhook = z.extend(Webhook, {
  signing_secret: describe(z.string(), 'Returned once (avw_…): verify X-Agent-Vault-Signature of every delivery with it'),
});

export const WebhookList = z.object({ webhooks: z.array(Webhook), next_cursor: z.optional(z.string()) });

export const WebhookSecret = z.object({
  webhook_id: WebhookId,
  signing_secret: describe(z.string(), 'The new secret, returned once; deliveries from now on are signed with it alone'),
});

export const DeliveriesQuery = z.strictObject({
  limit: z._default(z.coerce.number().check(z.int(), z.minimum(1), z.maximum(100)), 50),
  cursor: z.optional(z.string().check(z.maxLength(2048))),
});

/** How an attempt (or the delivery) ended. */
export const DELIVERY_OUTCOMES = [
  'delivered',
  'http_error',
  'timeout',
  'unreachable',
  'unresolvable',
  'response_too_large',
  'blocked',
  'webhook_deleted',
  'webhook_inactive',
  'not_queued',
  'worker_failed',
] as const;
export type DeliveryOutcome = (typeof DELIVERY_OUTCOMES)[number];

/** One entry of a webhook's delivery log: never the payload, never a secret. */
export const Delivery = z.object({
  delivery_id: DeliveryId,
  event_id: z.string(),
  event_type: z.string(),
  status: describe(
    z.enum(['pending', 'delivered', 'failed']),
    'pending: attempts are left (or one is running); delivered; failed: gave up',
  ),
  attempts: describe(z.int(), 'Attempts made so far'),
  max_attempts: z.int(),
  last_status_code: describe(z.optional(z.int()), 'HTTP status of the last answer, if the receiver answered'),
  outcome: describe(z.optional(z.enum(DELIVERY_OUTCOMES)), 'How the last attempt ended'),
  created_at: Timestamp,
  last_attempt_at: z.optional(Timestamp),
  next_attempt_at: describe(z.optional(Timestamp), 'When the next attempt is due (pending only)'),
  finished_at: z.optional(Timestamp),
});
export type Delivery = z.infer<typeof Delivery>;

export const DeliveryPage = z.object({
  deliveries: describe(z.array(Delivery), 'Newest first'),
  next_cursor: z.optional(z.string()),
});

export const TestEventResponse = z.object({
  event_id: z.string(),
  delivery_id: DeliveryId,
  status: z.literal('queued'),
});

/** What a receiver gets as the body of a delivery (JSON, signed as sent). */
export const WebhookPayload = z.object({
  id: describe(z.string(), 'Event id (evt_…): the same on every attempt and every webhook; deduplicate on it'),
  type: z.string(),
  occurred_at: Timestamp,
  agent_id: z.optional(z.string()),
  profile: describe(z.optional(z.string()), 'The auth profile name'),
  data: z.record(z.string(), z.unknown()),
});
export type WebhookPayload = z.infer<typeof WebhookPayload>;
