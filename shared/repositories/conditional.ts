import type { MacAttributes } from '../store/signer.ts';
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

/** The SET clauses of a partial write's MAC attributes (values from macValues). */
export const MAC_SET = ['mac = :mac', 'mac_key_id = :mac_key_id', 'mac_format = :mac_format'] as const;

/** ExpressionAttributeValues of a MAC's attributes, for MAC_SET. */
export function macValues(m: MacAttributes): Record<string, unknown> {
  return { ':mac': m.mac, ':mac_key_id': m.mac_key_id, ':mac_format': m.mac_format };
}
