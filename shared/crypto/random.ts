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
  return publicRandomInto(Buffer.allocUnsafe(n), 0, n);
}

/**
 * Writes `n` fresh bytes from the same pool into `target` at `at` (a blob's salt ‖ nonce, without
 * a buffer of their own); returns `target`. The bytes are the pool's next ones, as publicRandom's.
 */
export function publicRandomInto<T extends Uint8Array>(target: T, at: number, n: number): T {
  if (!Number.isInteger(at) || !Number.isInteger(n) || at < 0 || n < 0 || at + n > target.length) {
    throw new RangeError('publicRandomInto: range outside the target');
  }
  if (n > POOL_BYTES) {
    randomFillSync(target, at, n);
    return target;
  }
  if (offset + n > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  pool.copy(target, at, offset, offset + n);
  offset += n;
  return target;
}
