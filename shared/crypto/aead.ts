import { createCipheriv, createDecipheriv } from 'node:crypto';
import { publicRandom } from './random.ts';

export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;

/** Thrown for every failed decryption; it says nothing about why (tag, key, nonce or AAD). */
export class DecryptionError extends Error {
  override readonly name = 'DecryptionError';
  constructor() {
    super('decryption failed');
  }
}

function algorithmFor(key: Uint8Array): 'aes-128-gcm' | 'aes-192-gcm' | 'aes-256-gcm' {
  switch (key.length) {
    case 16:
      return 'aes-128-gcm';
    case 24:
      return 'aes-192-gcm';
    case 32:
      return 'aes-256-gcm';
    default:
      throw new RangeError('AES key must be 16, 24 or 32 bytes');
  }
}

/** update() ‖ final(): GCM's final() yields no bytes, so usually update()'s buffer as it is, without a copy. */
const joined = (head: Buffer, tail: Buffer): Buffer => (tail.length === 0 ? head : Buffer.concat([head, tail]));

export interface Sealed {
  readonly nonce: Buffer;
  readonly ciphertext: Buffer;
  readonly tag: Buffer;
}

/**
 * AES-GCM encryption with a 12-byte nonce (random unless given: the explicit form exists for
 * published test vectors) and a 16-byte tag. The vault itself always uses 32-byte keys.
 */
export function gcmSeal(
  key: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
  nonce: Uint8Array = publicRandom(NONCE_BYTES),
): Sealed {
  if (nonce.length !== NONCE_BYTES) throw new RangeError('GCM nonce must be 12 bytes');
  const cipher = createCipheriv(algorithmFor(key), key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const ciphertext = joined(cipher.update(plaintext), cipher.final());
  return { nonce: Buffer.from(nonce), ciphertext, tag: cipher.getAuthTag() };
}

/**
 * AES-GCM decryption. Any nonce that is not 12 bytes, any tag that is not 16 bytes, and any
 * authentication failure throws DecryptionError.
 */
export function gcmOpen(
  key: Uint8Array,
  nonce: Uint8Array,
  ciphertext: Uint8Array,
  tag: Uint8Array,
  aad: Uint8Array,
): Buffer {
  if (nonce.length !== NONCE_BYTES || tag.length !== TAG_BYTES) throw new DecryptionError();
  try {
    const decipher = createDecipheriv(algorithmFor(key), key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad);
    decipher.setAuthTag(tag);
    return joined(decipher.update(ciphertext), decipher.final());
  } catch {
    throw new DecryptionError();
  }
}
