import type { KMSClient } from '@aws-sdk/client-kms';
import type { Deps } from '../context.ts';
import { discardRunJob, executeRunJob, markRunFailed } from '../services/runs.ts';
import type { RetryOptions } from './retry.ts';
import { loadSealedRunJob, parseRunEvent, unwrapRunJob } from './run-dispatcher.ts';

/** What the caller sees when a run's sealed job was gone before the worker could start it. */
export const JOB_EXPIRED_MESSAGE = 'the run was not started in time (its queued job expired); run the agent again';

/**
 * The worker function's work (AWS mode): reads the event's ids, loads the sealed job from the
 * table, opens it with KMS, executes it, and deletes the sealed job once the outcome is recorded.
 *
 * - A job that is gone (its TTL passed, or a duplicate delivery after it finished) fails the run
 *   only if it is still `queued`; a run another delivery is executing is left alone.
 * - If executing throws, the sealed job is kept so that a retry can still open it until its TTL;
 *   the error propagates to Lambda and so to the on-failure destination.
 * - A duplicate delivery that finds the run already started does not delete the job: the
 *   delivery that runs it does.
 *
 * @returns what happened, for the handler's log line.
 */
export async function runQueuedJob(
  deps: Deps,
  event: unknown,
  options: { kms?: KMSClient; retry?: RetryOptions } = {},
): Promise<'executed' | 'duplicate' | 'expired'> {
  const ids = parseRunEvent(event);
  const sealed = await loadSealedRunJob(deps.store, ids, Math.floor(deps.now().getTime() / 1000));
  if (!sealed) {
    await markRunFailed(deps, ids.session_id, JOB_EXPIRED_MESSAGE, ['queued']);
    return 'expired';
  }
  const job = await unwrapRunJob(sealed, options.kms, {
    ...(deps.config.runPayloadKeyId ? { keyId: deps.config.runPayloadKeyId } : {}),
    ...(options.retry ? { retry: options.retry } : {}),
  });
  if (!(await executeRunJob(deps, job))) return 'duplicate';
  await discardRunJob(deps, ids.session_id);
  return 'executed';
}
