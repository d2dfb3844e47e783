import { createDb } from './clients.ts';
import { type Config, loadConfig } from './config.ts';
import type { Deps } from './deps.ts';
import { createLogger } from './log.ts';
import { emfMetrics, setMetricsSink } from './metrics.ts';
import { traced } from './tracing.ts';
import type { RunDispatcher } from './runs/dispatch.ts';
import { dynamoStore } from './store/dynamodb.ts';
import { itemSigner } from './store/signer.ts';
import type { Store } from './store/types.ts';
import type { WebhookDispatcher } from './webhooks/dispatch.ts';

export type { Caller, Deps } from './deps.ts';

let current: Promise<Deps> | undefined;

/**
 * How this function hands async runs on (AWS mode). Only the `runs` function installs one, so
 * the KMS and Lambda clients are bundled into it alone, not into every function.
 */
let runDispatcherFactory: ((config: Config, store: Store) => RunDispatcher) | undefined;

/** Installs how this function dispatches async runs (the AWS `runs` function; local mode needs none). */
export function setRunDispatcherFactory(factory: (config: Config, store: Store) => RunDispatcher): void {
  runDispatcherFactory = factory;
}

/**
 * How this function hands webhook deliveries to the delivery worker (AWS mode). Installed by the
 * functions that publish events (profiles, webhooks, and any that will publish connection
 * events), so the Lambda client is bundled only where it is needed; elsewhere Deps.webhooks is
 * absent and a delivery enqueued there is recorded as `not_queued` (shared/webhooks/publish.ts).
 */
let webhookDispatcherFactory: ((config: Config) => WebhookDispatcher) | undefined;

/** Installs how this function dispatches webhook deliveries (AWS functions that publish events; local mode needs none). */
export function setWebhookDispatcherFactory(factory: (config: Config) => WebhookDispatcher): void {
  webhookDispatcherFactory = factory;
}

const noDispatcher: RunDispatcher = {
  dispatch: () => Promise.reject(new Error('this function does not dispatch async runs')),
};

/** Installs the dependencies (local server, tests). */
export function setDeps(deps: Deps | Promise<Deps>): void {
  current = Promise.resolve(deps);
}

/** Forgets installed dependencies (tests). */
export function resetDeps(): void {
  current = undefined;
}

/** The process's dependencies, built from the environment on first use. */
export function getDeps(): Promise<Deps> {
  if (!current) {
    current = buildDepsFromEnv().catch((err: unknown) => {
      current = undefined; // a failed cold start (e.g. throttled secret read) is retried next request
      throw err;
    });
  }
  return current;
}

async function buildDepsFromEnv(): Promise<Deps> {
  const config = loadConfig();
  const log = createLogger();
  if (config.mode === 'aws') {
    const { loadServerKeyRingFromSecretsManager } = await import('./aws/server-key-secret.ts');
    if (!config.serverKeySecretId) throw new Error('VAULT_SERVER_KEY_SECRET_ID is required in aws mode');
    const serverKeys = await loadServerKeyRingFromSecretsManager(config.serverKeySecretId);
    // Metrics go out as CloudWatch EMF lines (shared/metrics.ts), flushed after each invocation.
    setMetricsSink(emfMetrics({ functionName: process.env.AWS_LAMBDA_FUNCTION_NAME }));
    // The signed store MACs every item it writes and verifies every item it reads with the ring.
    const db = createDb(config);
    await traced(db.client);
    const store = dynamoStore(db, itemSigner(serverKeys, log));
    const dispatcher = runDispatcherFactory?.(config, store) ?? noDispatcher;
    const webhooks = webhookDispatcherFactory?.(config);
    return { config, store, serverKeys, dispatcher, ...(webhooks ? { webhooks } : {}), log, now: () => new Date() };
  }
  // Local mode is wired by infra/local (the server, admin CLI, tests and bench call setDeps), so
  // no Lambda bundle carries the key-ring file loader or the in-process queue.
  throw new Error('local-mode dependencies are installed by infra/local (createLocalDeps + setDeps); set VAULT_MODE=aws in Lambda');
}
