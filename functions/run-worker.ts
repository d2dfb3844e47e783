import { parseRunEvent } from '#shared/aws/run-dispatcher';
import { runQueuedJob } from '#shared/aws/run-worker';
import { createLambdaWebhookDispatcher } from '#shared/aws/webhook-dispatcher';
import { getDeps, setWebhookDispatcherFactory } from '#shared/context';
import { flushMetrics } from '#shared/metrics';

// An async run that refreshes a delegated OAuth profile's token publishes connection events (webhooks).
setWebhookDispatcherFactory(createLambdaWebhookDispatcher);

/**
 * The async-run worker (AWS mode). Its event is `{v, session_id, tenant}` — ids only: the sealed
 * job waits in the table (see `shared/aws/run-dispatcher.ts`). It opens the job with KMS,
 * executes it and deletes the sealed job. If this function throws, Lambda's on-failure
 * destination (SQS) hands the same ids to `run-failure`, which marks the run `failed`.
 */
export const handler = async (event: unknown): Promise<void> => {
  const deps = await getDeps();
  const { session_id } = parseRunEvent(event);
  deps.log.log('info', 'async run started', { session_id });
  try {
    const result = await runQueuedJob(deps, event);
    deps.log.log(result === 'expired' ? 'warn' : 'info', 'async run handled', { session_id, result });
  } finally {
    // The run's metrics (its use, OAuth2 fetches, audit failures) as EMF (shared/metrics.ts).
    flushMetrics();
  }
};
