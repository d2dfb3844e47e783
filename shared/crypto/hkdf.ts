import { createHmac } from 'node:crypto';

const HASH_LEN = 32;
const ONE = Uint8Array.of(1);
/** RFC 5869: L ≤ 255 · HashLen. */
export const HKDF_MAX_OUTPUT = 255 * HASH_LEN;

/** HKDF-Extract (RFC 5869 §2.2) with SHA-256. An empty salt means HashLen zero bytes. */
export function hkdfExtract(salt: Uint8Array, ikm: Uint8Array): Buffer {
  return createHmac('sha256', salt.length > 0 ? salt : Buffer.alloc(HASH_LEN))
    .update(ikm)
    .digest();
}

/** HKDF-Expand (RFC 5869 §2.3) with SHA-256; throws when `length` is out of range. */
export function hkdfExpand(prk: Uint8Array, info: Uint8Array, length: number): Buffer {
  if (!Number.isInteger(length) || length < 0 || length > HKDF_MAX_OUTPUT) {
    throw new RangeError(`HKDF output length must be 0..${HKDF_MAX_OUTPUT} bytes`);
  }
  if (prk.length < HASH_LEN) throw new RangeError('HKDF PRK must be at least 32 bytes');
  // One block (every key the vault derives): T(1) = HMAC(PRK, info ‖ 0x01), without T(0) or a copy.
  if (length > 0 && length <= HASH_LEN) {
    const t1 = createHmac('sha256', prk).update(info).update(ONE).digest();
    return length === HASH_LEN ? t1 : t1.subarray(0, length);
  }
  const out = Buffer.alloc(length);
  let previous: Buffer = Buffer.alloc(0);
  let written = 0;
  for (let counter = 1; written < length; counter++) {
    previous = createHmac('sha256', prk)
      .update(previous)
      .update(info)
      .update(Uint8Array.of(counter))
      .digest();
    written += previous.copy(out, written);
  }
  return out;
}

/** Extract-then-expand in one call. */
export function hkdf(salt: Uint8Array, ikm: Uint8Array, info: Uint8Array, length: number): Buffer {
  return hkdfExpand(hkdfExtract(salt, ikm), info, length);
}
