import { sleep } from '../sleep.ts';

/**
 * Sends a DynamoDB batch request until nothing is left unprocessed: `send` gets the pending
 * requests and returns those the service left over; between rounds it backs off exponentially
 * (capped), and after `maxRounds` it gives up with an error (a 5xx for the caller). Used by the
 * BatchGetItem read of the profile context and the BatchWriteItem deletes of an agent's partition.
 */
export async function drainBatch<T>(
  initial: readonly T[],
  send: (pending: T[]) => Promise<T[]>,
  what: string,
  { baseDelayMs, maxDelayMs, maxRounds }: { baseDelayMs: number; maxDelayMs: number; maxRounds: number },
): Promise<void> {
  let pending = [...initial];
  for (let attempt = 0; pending.length > 0; attempt++) {
    if (attempt > 0) await sleep(Math.min(maxDelayMs, baseDelayMs * 2 ** attempt));
    if (attempt > maxRounds) throw new Error(`DynamoDB kept returning unprocessed ${what}`);
    pending = await send(pending);
  }
}
