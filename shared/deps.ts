/**
 * The types every layer passes around, and nothing else: no value is exported, so importing this
 * module never pulls code in. shared/context.ts builds a `Deps`; services, the credential gate
 * and the http layer only receive one — which is what breaks the old import circle between
 * context.ts and the services.
 */
import type { Config } from './config.ts';
import type { ServerKeyRing } from './crypto/server-key.ts';
import type { Logger } from './log.ts';
import type { RunDispatcher } from './runs/dispatch.ts';
import type { Store } from './store/types.ts';
import type { WebhookDispatcher } from './webhooks/dispatch.ts';

/**
 * Everything a handler needs from the outside world, built once per process (Lambda cold start,
 * local server start) and passed explicitly to the domain code.
 */
export interface Deps {
  readonly config: Config;
  /** Persistence (store/types.ts): DynamoDB in Lambda and the local server, in memory in unit tests and the bench. */
  readonly store: Store;
  readonly serverKeys: ServerKeyRing;
  readonly dispatcher: RunDispatcher;
  /**
   * How webhook deliveries reach the code that sends them (shared/webhooks/dispatch.ts): in
   * process locally, the delivery worker function on AWS. Absent in a function that publishes no
   * events: a delivery enqueued there is recorded as `not_queued`.
   */
  readonly webhooks?: WebhookDispatcher;
  readonly log: Logger;
  readonly now: () => Date;
}

/**
 * Who is making a request, built once per request by the http layer (shared/http/caller.ts) and
 * passed to the services and to the credential gate (for policy and audit).
 */
export interface Caller {
  readonly tenant: string;
  /** Short, non-secret id of the API key used: the first 16 hex digits of its SHA-256. */
  readonly apiKeyId: string;
  /**
   * The key's role in its tenant (docs/api.md, "Principals and sharing"): an admin manages API
   * keys and sees every profile; a member sees the profiles it owns or was granted.
   */
  readonly role: 'admin' | 'member';
  /** API Gateway's requestContext.http.sourceIp — never X-Forwarded-For, which a client can forge. */
  readonly sourceIp?: string;
  readonly requestId?: string;
}
