import type { Db } from '#shared/clients';
import type { Config } from '#shared/config';
import type { Deps } from '#shared/deps';
import type { Logger } from '#shared/log';
import { executeRunJob } from '#shared/services/runs';
import { type InProcessDispatcher, createInProcessDispatcher } from './in-process-queue.ts';
import { loadOrCreateLocalKeyRing } from './key-ring-file.ts';

/**
 * Local-mode dependencies: the server key ring from the data folder and an in-process queue for
 * async runs. The local server, the admin CLI, the bench and the tests build their dependencies
 * with this and install them with setDeps; no Lambda bundle imports it (test/infra/bundle-contents).
 */
export async function createLocalDeps(
  config: Config,
  parts: { db: Db; log: Logger; now?: () => Date },
): Promise<Deps & { dispatcher: InProcessDispatcher }> {
  const serverKeys = await loadOrCreateLocalKeyRing(config.dataDir);
  const deps: Deps & { dispatcher: InProcessDispatcher } = {
    config,
    db: parts.db,
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
  };
  return deps;
}
