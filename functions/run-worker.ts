import { unwrapRunJob } from '#shared/aws/run-dispatcher';
import { getDeps } from '#shared/context';
import { executeRunJob } from '#shared/services/runs';

/**
 * The async-run worker (AWS mode). Its event is the sealed envelope the `runs` function queued
 * (see `shared/aws/run-dispatcher.ts`): it opens the job with KMS and executes it. The run's
 * outcome is recorded by `executeRunJob`; if this function throws, Lambda's on-failure
 * destination (SQS) hands the envelope to `run-failure`, which marks the run `failed`.
 */
export const handler = async (event: unknown): Promise<void> => {
  const deps = await getDeps();
  const job = await unwrapRunJob(event, undefined, { keyId: deps.config.runPayloadKeyId });
  deps.log.log('info', 'async run started', { session_id: job.sessionId, agent_id: job.agentId });
  await executeRunJob(deps, job);
};
