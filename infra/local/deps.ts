import type { Db } from '#shared/clients';
import type { Config } from '#shared/config';
import type { Deps } from '#shared/deps';
import type { Logger } from '#shared/log';
import { executeRunJob } from '#shared/services/runs';
import { dynamoStore } from '#shared/store/dynamodb';
import { itemSigner } from '#shared/store/signer';
import type { Store } from '#shared/store/types';
import { type InProcessDispatcher, createInProcessDispatcher } from './in-process-queue.ts';
import { loadOrCreateLocalKeyRing } from './key-ring-file.ts';
import { attemptDelivery } from '#shared/webhooks/deliver';
import { type InProcessWebhookDispatcher, createInProcessWebhookDispatcher } from './webhook-queue.ts';

/** Local-mode dependencies: Deps with the in-process queues (runs, webhook deliveries). */
export type LocalDeps = Deps & { dispatcher: InProcessDispatcher; webhooks: InProcessWebhookDispatcher };

type Parts = { log: Logger; now?: () => Date };

/**
 * Local-mode dependencies: the server key ring from the data folder and an in-process queue for
 * async runs, over a DynamoDB-compatible table (`db`: dynalite, DynamoDB Local; the Db is kept
 * on the result for tools and tests that read the table; the store is signed with the ring:
 * shared/store/signer.ts) or any Store (`store`, e.g. test/support/memory-store.ts, signed with
 * its own ring). The local server, the admin CLI, the bench and the tests build their
 * dependencies with this and install them with setDeps; no Lambda bundle imports it
 * (test/infra/bundle-contents).
 */
export async function createLocalDeps(config: Config, parts: Parts & { db: Db }): Promise<LocalDeps & { db: Db }>;
export async function createLocalDeps(config: Config, parts: Parts & { store: Store }): Promise<LocalDeps>;
export async function createLocalDeps(config: Config, parts: Parts & ({ db: Db } | { store: Store })): Promise<LocalDeps & { db?: Db }> {
  const serverKeys = await loadOrCreateLocalKeyRing(config.dataDir);
  const db = 'db' in parts ? parts.db : undefined;
  const deps: LocalDeps & { db?: Db } = {
    config,
    store: 'store' in parts ? parts.store : dynamoStore(parts.db, itemSigner(serverKeys, parts.log)),
    ...(db ? { db } : {}),
    serverKeys,
    log: parts.log,
    now: parts.now ?? (() => new Date()),
    dispatcher: createInProcessDispatcher(
      async (job) => {
        await executeRunJob(deps, job);
      },
      (err, job) =>
        parts.log.log('error', 'async run crashed', {
          session_id: job.sessionId,
          error_name: err instanceof Error ? err.name : typeof err,
        }),
    ),
    webhooks: createInProcessWebhookDispatcher(
      (ref) => attemptDelivery(deps, ref),
      (err, ref) =>
        parts.log.log('error', 'webhook delivery attempt crashed', {
          delivery_id: ref.deliveryId,
          error_name: err instanceof Error ? err.name : typeof err,
        }),
    ),
  };
  return deps;
}
