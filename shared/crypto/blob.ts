import { createCipheriv } from 'node:crypto';
import { DecryptionError, NONCE_BYTES, TAG_BYTES, gcmOpen } from './aead.ts';
import { publicRandomInto } from './random.ts';
import { SERVER_KEY_ID_BYTES } from './server-key.ts';

/** Stored blob: version ‖ server key id ‖ salt ‖ nonce ‖ ciphertext ‖ tag (docs/architecture.md, "Crypto and tokens"). */
export const BLOB_VERSION = 1;
export const SALT_BYTES = 16;
const SALT_AT = 1 + SERVER_KEY_ID_BYTES;
const NONCE_AT = SALT_AT + SALT_BYTES;
const HEADER = NONCE_AT + NONCE_BYTES;
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
 * The blob is one buffer: salt and nonce are drawn into it together (shared/crypto/random.ts), the
 * AES-256-GCM ciphertext and tag copied in behind them. `keyFor` must return a 32-byte key.
 */
export function sealBlob(keyId: Uint8Array, keyFor: (salt: Buffer) => Buffer, plaintext: Uint8Array, aad: Uint8Array): Buffer {
  if (keyId.length !== SERVER_KEY_ID_BYTES) throw new RangeError('server key id must be 8 bytes');
  const blob = Buffer.allocUnsafe(BLOB_OVERHEAD + plaintext.length); // every byte is written below
  blob[0] = BLOB_VERSION;
  blob.set(keyId, 1);
  publicRandomInto(blob, SALT_AT, SALT_BYTES + NONCE_BYTES);
  const key = keyFor(blob.subarray(SALT_AT, NONCE_AT));
  if (key.length !== 32) throw new RangeError('blob keys must be 32 bytes');
  const cipher = createCipheriv('aes-256-gcm', key, blob.subarray(NONCE_AT, HEADER), { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const head = cipher.update(plaintext);
  head.copy(blob, HEADER);
  const tail = cipher.final(); // GCM's final() yields no bytes
  tail.copy(blob, HEADER + head.length);
  cipher.getAuthTag().copy(blob, HEADER + head.length + tail.length);
  return blob;
}

/** Splits a blob by position (views into it); throws DecryptionError for a short blob or an unknown version. */
export function parseBlob(blob: Uint8Array): BlobParts {
  if (blob.length < BLOB_OVERHEAD || blob[0] !== BLOB_VERSION) throw new DecryptionError();
  const b = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  const tagAt = b.length - TAG_BYTES;
  return {
    keyId: b.subarray(1, SALT_AT),
    salt: b.subarray(SALT_AT, NONCE_AT),
    nonce: b.subarray(NONCE_AT, HEADER),
    ciphertext: b.subarray(HEADER, tagAt),
    tag: b.subarray(tagAt),
  };
}

/** Opens a blob: the key id must be `expectedKeyId`, then AES-GCM must authenticate. */
export function openBlob(blob: Uint8Array, expectedKeyId: Uint8Array, keyFor: (salt: Buffer) => Buffer, aad: Uint8Array): Buffer {
  const p = parseBlob(blob);
  if (!p.keyId.equals(expectedKeyId)) throw new DecryptionError();
  return gcmOpen(keyFor(p.salt), p.nonce, p.ciphertext, p.tag, aad);
}
