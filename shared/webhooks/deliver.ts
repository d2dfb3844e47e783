import type { Config } from '../config.ts';
import type { Deps } from '../deps.ts';
import { ValidationError } from '../errors.ts';
import type { HostResolver } from '../outbound/address-policy.ts';
import { sendOutbound } from '../outbound/http-client.ts';
import { assertOutboundUrlAllowed } from '../outbound/runner-policy.ts';
import { SIGNATURE_HEADER, signPayload } from '../runs/signature.ts';
import type { WebhookDeliveryItem } from '../schemas/items.ts';
import type { DeliveryOutcome } from '../schemas/webhooks.ts';
import type { DeliveryRecord } from '../store/types.ts';
import type { DeliveryRef } from './dispatch.ts';
import { openWebhookSecret } from './secret.ts';

/** What sending a delivery needs (a subset of Deps). */
export type DeliveryDeps = Pick<Deps, 'config' | 'store' | 'serverKeys' | 'log' | 'now'>;

/** Headers of a delivery besides the signature (X-Agent-Vault-Signature, shared/runs/signature.ts). */
export const EVENT_HEADER = 'x-agent-vault-event';
export const EVENT_ID_HEADER = 'x-agent-vault-event-id';
export const DELIVERY_HEADER = 'x-agent-vault-delivery';
export const ATTEMPT_HEADER = 'x-agent-vault-attempt';

/** A receiver's answer is read up to this size, then dropped (only its status matters). */
const MAX_RECEIVER_RESPONSE_BYTES = 64 * 1024;
/** The longest backoff between two attempts, whatever the base and the attempt number. */
export const MAX_RETRY_DELAY_MS = 3_600_000;
/** How long an attempt holds its lease beyond its timeout before another worker may take it over. */
const LEASE_MARGIN_MS = 30_000;

/** How one call to attemptDelivery ended. */
export type AttemptResult =
  | { readonly result: 'delivered'; readonly attempt: number; readonly status: number }
  | { readonly result: 'failed'; readonly attempt: number; readonly outcome: DeliveryOutcome }
  /** Failed with attempts left: the next is due in `retryInMs` (the scheduler's job: a local timer, Lambda's retry on AWS). */
  | { readonly result: 'retry'; readonly attempt: number; readonly outcome: DeliveryOutcome; readonly retryInMs: number }
  /** Nothing to do: gone (expired or never written), finished already, or another attempt holds it. */
  | { readonly result: 'skipped'; readonly reason: 'gone' | 'finished' | 'busy' };

/**
 * The exponential backoff after attempt `attempt` (1-based) failed: base, 2·base, 4·base…,
 * capped at MAX_RETRY_DELAY_MS. No jitter: one delivery's attempts are already spread by
 * their own history, and a deterministic schedule is what the delivery log shows.
 */
export function retryDelayMs(config: Pick<Config, 'webhookRetryBaseMs'>, attempt: number): number {
  return Math.min(MAX_RETRY_DELAY_MS, config.webhookRetryBaseMs * 2 ** Math.max(0, attempt - 1));
}

/** The URL rules of a webhook (the runner rules, with the webhook settings): 400 naming `url`. */
export function assertWebhookUrlAllowed(config: Config, url: string): void {
  assertOutboundUrlAllowed(
    {
      mode: config.mode,
      allowPrivate: config.allowPrivateWebhooks,
      allowedHosts: config.allowedWebhookHosts,
      field: 'url',
      privateSetting: 'VAULT_ALLOW_PRIVATE_WEBHOOKS',
      what: 'webhook receivers',
    },
    url,
  );
}

const record = (d: WebhookDeliveryItem): DeliveryRecord => {
  const { pk: _pk, sk: _sk, entity: _e, ...r } = d;
  return r;
};

/**
 * One attempt of a delivery, the same code locally and on AWS:
 * 1. read the delivery (a durable item); nothing to do if it is gone, finished, or leased by a
 *    running attempt;
 * 2. take it: attempts + 1 and a lease, in one write conditioned on the version read (two
 *    workers handed the same delivery cannot both send; one whose attempt crashed is taken over
 *    once its lease has passed);
 * 3. read the webhook (deleted or switched off: the delivery fails, no retry), check its URL
 *    with the runner rules (a refusal is final), sign the stored body exactly as it is sent, POST
 *    it through the SSRF-guarded client (address pinned, no redirects, bounded answer);
 * 4. record the outcome: a 2xx is `delivered`; anything else is retried with exponential backoff
 *    until `max_attempts`, then `failed`.
 * The receiver's answer body is never stored or logged; the delivery log keeps its status.
 */
export async function attemptDelivery(
  deps: DeliveryDeps,
  ref: DeliveryRef,
  options: { resolveHost?: HostResolver } = {},
): Promise<AttemptResult> {
  const repo = deps.store.webhooks;
  const startedAt = deps.now();
  const nowMs = startedAt.getTime();
  const read = await repo.getDelivery(ref.tenant, ref.webhookId, ref.deliveryId, Math.floor(nowMs / 1000));
  if (!read) return { result: 'skipped', reason: 'gone' };
  if (read.status !== 'pending') return { result: 'skipped', reason: 'finished' };
  if (read.lease_until !== undefined && read.lease_until > nowMs) return { result: 'skipped', reason: 'busy' };

  const attempt = read.attempts + 1;
  const { next_attempt_at: _due, ...rest } = record(read);
  const leased: DeliveryRecord = {
    ...rest,
    attempts: attempt,
    lease_until: nowMs + deps.config.webhookTimeoutMs + LEASE_MARGIN_MS,
    last_attempt_at: startedAt.toISOString(),
    version: read.version + 1,
  };
  if (!(await repo.replaceDelivery(leased, read.version))) return { result: 'skipped', reason: 'busy' };

  const webhook = await repo.get(ref.tenant, ref.webhookId);
  let outcome: DeliveryOutcome;
  let statusCode: number | undefined;
  let final = false;
  if (!webhook) {
    outcome = 'webhook_deleted';
    final = true;
  } else if (!webhook.active) {
    outcome = 'webhook_inactive';
    final = true;
  } else {
    const sent = await send(
      deps,
      webhook.url,
      openWebhookSecret(deps.serverKeys, ref.tenant, ref.webhookId, webhook.signing_secret),
      read,
      attempt,
      options.resolveHost,
    );
    outcome = sent.outcome;
    statusCode = sent.status;
    final = sent.outcome === 'blocked';
  }

  const finishedAt = deps.now();
  const { lease_until: _lease, last_status_code: _code, ...base } = leased;
  const after: DeliveryRecord = {
    ...base,
    outcome,
    ...(statusCode !== undefined ? { last_status_code: statusCode } : {}),
    version: leased.version + 1,
  };
  let result: AttemptResult;
  if (outcome === 'delivered') {
    Object.assign(after, { status: 'delivered', finished_at: finishedAt.toISOString() });
    result = { result: 'delivered', attempt, status: statusCode as number };
  } else if (final || attempt >= read.max_attempts) {
    Object.assign(after, { status: 'failed', finished_at: finishedAt.toISOString() });
    result = { result: 'failed', attempt, outcome };
  } else {
    const retryInMs = retryDelayMs(deps.config, attempt);
    Object.assign(after, { next_attempt_at: new Date(finishedAt.getTime() + retryInMs).toISOString() });
    result = { result: 'retry', attempt, outcome, retryInMs };
  }
  // Conditioned on our own lease write: if it fails, another worker took the delivery over after
  // our lease passed, and its outcome is the one that stands.
  if (!(await repo.replaceDelivery(after, leased.version))) return { result: 'skipped', reason: 'busy' };
  deps.log.log(result.result === 'delivered' ? 'info' : 'warn', 'webhook delivery attempt', {
    tenant: ref.tenant,
    webhook_id: ref.webhookId,
    delivery_id: ref.deliveryId,
    event_type: read.event_type,
    attempt,
    outcome,
    status_code: statusCode,
    result: result.result,
  });
  return result;
}

/** Sends one signed attempt; how it ended, and the receiver's status if it answered. */
async function send(
  deps: DeliveryDeps,
  url: string,
  secret: string,
  d: WebhookDeliveryItem,
  attempt: number,
  resolveHost: HostResolver | undefined,
): Promise<{ outcome: DeliveryOutcome; status?: number }> {
  try {
    // Checked again at send time: the settings may have changed since the webhook was saved.
    assertWebhookUrlAllowed(deps.config, url);
  } catch (err) {
    if (err instanceof ValidationError) return { outcome: 'blocked' };
    throw err;
  }
  const res = await sendOutbound({
    url: new URL(url),
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(d.body),
      'user-agent': 'agent-vault',
      [SIGNATURE_HEADER]: signPayload(secret, d.body, Math.floor(deps.now().getTime() / 1000)),
      [EVENT_HEADER]: d.event_type,
      [EVENT_ID_HEADER]: d.event_id,
      [DELIVERY_HEADER]: d.delivery_id,
      [ATTEMPT_HEADER]: String(attempt),
    },
    body: d.body,
    timeoutMs: deps.config.webhookTimeoutMs,
    maxResponseBytes: MAX_RECEIVER_RESPONSE_BYTES,
    allowPrivate: deps.config.allowPrivateWebhooks,
    // A kept-alive connection to the receiver carries this webhook's deliveries only.
    connectionScope: JSON.stringify(['webhook', d.tenant, d.webhook_id]),
    ...(resolveHost ? { resolveHost } : {}),
  });
  if (res.ok) return { outcome: res.status >= 200 && res.status <= 299 ? 'delivered' : 'http_error', status: res.status };
  switch (res.reason) {
    case 'blocked':
      return { outcome: 'blocked' };
    case 'unresolvable':
      return { outcome: 'unresolvable' };
    case 'timeout':
    case 'dns_timeout':
      return { outcome: 'timeout' };
    case 'too_large':
      return { outcome: 'response_too_large' };
    case 'read_failed':
    case 'unreachable':
      return { outcome: 'unreachable' };
  }
}

/**
 * Marks a delivery that is still pending as failed with `outcome` (its job could not be queued,
 * or the worker failed for good); false if it had finished or is gone. Used by the publisher and
 * the AWS failure handler.
 */
export async function markDeliveryFailed(deps: DeliveryDeps, ref: DeliveryRef, outcome: DeliveryOutcome): Promise<boolean> {
  const repo = deps.store.webhooks;
  for (let i = 0; i < 3; i++) {
    const now = deps.now();
    const read = await repo.getDelivery(ref.tenant, ref.webhookId, ref.deliveryId, Math.floor(now.getTime() / 1000));
    if (read?.status !== 'pending') return false;
    const { lease_until: _l, next_attempt_at: _n, ...rest } = record(read);
    if (
      await repo.replaceDelivery(
        { ...rest, status: 'failed', outcome, finished_at: now.toISOString(), version: read.version + 1 },
        read.version,
      )
    )
      return true;
  }
  return false;
}
