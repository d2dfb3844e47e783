import { isConditionalCheckFailed } from '../errors.ts';

/**
 * Runs a conditional write: true if it was applied, false if its condition failed (someone else
 * wrote first). Any other failure propagates.
 */
export async function conditional(write: () => Promise<unknown>): Promise<boolean> {
  try {
    await write();
    return true;
  } catch (err) {
    if (isConditionalCheckFailed(err)) return false;
    throw err;
  }
}
