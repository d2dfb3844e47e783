/**
 * How an enqueued webhook delivery reaches the code that sends it (docs/architecture.md,
 * "Webhooks"). The delivery itself is a durable item in the table (the job and its log entry);
 * a dispatcher only says "this one is due": locally an in-process queue with timers for the
 * backoff (infra/local/webhook-queue.ts), on AWS an asynchronous invocation of the delivery
 * worker function, whose retries are Lambda's (shared/aws/webhook-dispatcher.ts).
 */
export interface DeliveryRef {
  readonly tenant: string;
  readonly webhookId: string;
  readonly deliveryId: string;
}

export interface WebhookDispatcher {
  /** Hands the delivery on for its first attempt; rejects if it could not be handed over. */
  dispatch(ref: DeliveryRef): Promise<void>;
}
