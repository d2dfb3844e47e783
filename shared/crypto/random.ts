import { randomFillSync } from 'node:crypto';

/**
 * Random bytes for values that are stored in the clear next to the ciphertext (salts, nonces),
 * served from a pool filled by the CSPRNG 4 KiB at a time: one system call instead of two per
 * encrypted field. Each byte is handed out once and the slice is a copy, so a caller can never
 * see another's bytes. Secrets (token secrets, keys) do not come from here.
 */
const POOL_BYTES = 4096;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let offset = POOL_BYTES;

export function publicRandom(n: number): Buffer {
  if (n > POOL_BYTES) return randomFillSync(Buffer.allocUnsafe(n));
  if (offset + n > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const out = Buffer.from(pool.subarray(offset, offset + n));
  offset += n;
  return out;
}
