import { describe, expect, it } from 'vitest';
import { drainBatch } from '#shared/repositories/batch';

const fast = { baseDelayMs: 0, maxDelayMs: 0, maxRounds: 3 };

describe('drainBatch', () => {
  it('sends what the service left unprocessed again until nothing is left', async () => {
    const sent: number[][] = [];

    await drainBatch([1, 2, 3], async (pending) => {
      sent.push(pending);
      return pending.slice(1);
    }, 'keys', fast);

    expect(sent).toEqual([[1, 2, 3], [2, 3], [3]]);
  });

  it('gives up with an error naming what stayed unprocessed', async () => {
    await expect(drainBatch([1], async (p) => p, 'deletes', fast)).rejects.toThrow('DynamoDB kept returning unprocessed deletes');
  });
});
