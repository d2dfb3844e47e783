import { DecryptionError, NONCE_BYTES, TAG_BYTES, gcmOpen, gcmSeal } from './aead.ts';
import { publicRandom } from './random.ts';
import { SERVER_KEY_ID_BYTES } from './server-key.ts';

/** Stored blob: version ‖ server key id ‖ salt ‖ nonce ‖ ciphertext ‖ tag (docs/architecture.md, "Crypto and tokens"). */
export const BLOB_VERSION = 1;
export const SALT_BYTES = 16;
const HEADER = 1 + SERVER_KEY_ID_BYTES + SALT_BYTES + NONCE_BYTES;
export const BLOB_OVERHEAD = HEADER + TAG_BYTES;

export interface BlobParts {
  readonly keyId: Buffer;
  readonly salt: Buffer;
  readonly nonce: Buffer;
  readonly ciphertext: Buffer;
  readonly tag: Buffer;
}

/**
 * Encrypts `plaintext` under a key derived from a fresh 16-byte salt (by `keyFor`) and writes
 * the blob. `aad` is authenticated, not stored: the reader must rebuild it from where the blob is.
 */
export function sealBlob(
  keyId: Uint8Array,
  keyFor: (salt: Buffer) => Buffer,
  plaintext: Uint8Array,
  aad: Uint8Array,
): Buffer {
  if (keyId.length !== SERVER_KEY_ID_BYTES) throw new RangeError('server key id must be 8 bytes');
  const salt = publicRandom(SALT_BYTES);
  const { nonce, ciphertext, tag } = gcmSeal(keyFor(salt), plaintext, aad);
  return Buffer.concat([Uint8Array.of(BLOB_VERSION), keyId, salt, nonce, ciphertext, tag]);
}

/** Splits a blob by position; throws DecryptionError for a short blob or an unknown version. */
export function parseBlob(blob: Uint8Array): BlobParts {
  if (blob.length < BLOB_OVERHEAD || blob[0] !== BLOB_VERSION) throw new DecryptionError();
  const b = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  let off = 1;
  const take = (n: number) => {
    const part = b.subarray(off, off + n);
    off += n;
    return part;
  };
  const keyId = take(SERVER_KEY_ID_BYTES);
  const salt = take(SALT_BYTES);
  const nonce = take(NONCE_BYTES);
  const ciphertext = take(b.length - off - TAG_BYTES);
  const tag = take(TAG_BYTES);
  return { keyId, salt, nonce, ciphertext, tag };
}

/** Opens a blob: the key id must be `expectedKeyId`, then AES-GCM must authenticate. */
export function openBlob(
  blob: Uint8Array,
  expectedKeyId: Uint8Array,
  keyFor: (salt: Buffer) => Buffer,
  aad: Uint8Array,
): Buffer {
  const p = parseBlob(blob);
  if (!p.keyId.equals(expectedKeyId)) throw new DecryptionError();
  return gcmOpen(keyFor(p.salt), p.nonce, p.ciphertext, p.tag, aad);
}
