import { timingSafeEqual } from 'node:crypto';
import { DecryptionError } from './aead.ts';
import { openBlob, parseBlob, sealBlob } from './blob.ts';
import { lengthPrefixed } from './encoding.ts';
import { hkdfExpand } from './hkdf.ts';
import type { ServerKey, ServerKeyRing } from './server-key.ts';

const FORMAT = 'v1';

/** Constant-time equality of two byte strings (false for different lengths). */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The server key a blob was written under (DecryptionError if it left the ring). */
export function serverKeyOfBlob(ring: ServerKeyRing, blob: Uint8Array): ServerKey {
  const key = ring.byId(parseBlob(blob).keyId);
  if (!key) throw new DecryptionError();
  return key;
}

/**
 * Seals data under the server key alone (runner signing secrets, run outputs): defence in depth
 * for values the vault must be able to read without a caller's token. The per-value key is
 * HKDF-Expand(the server key's `server-seal` subkey, "server-seal/v1" ‖ salt ‖ AAD, 32).
 */
export function sealWithServerKey(ring: ServerKeyRing, purpose: string, context: string[], plaintext: Uint8Array): Buffer {
  const key = ring.current;
  const aad = lengthPrefixed(FORMAT, purpose, ...context);
  return sealBlob(key.id, (salt) => hkdfExpand(key.sealKey, lengthPrefixed('server-seal/v1', salt, aad), 32), plaintext, aad);
}

/** Opens a blob sealed by sealWithServerKey under the same purpose and context (DecryptionError otherwise). */
export function openWithServerKey(ring: ServerKeyRing, purpose: string, context: string[], blob: Uint8Array): Buffer {
  const key = serverKeyOfBlob(ring, blob);
  const aad = lengthPrefixed(FORMAT, purpose, ...context);
  return openBlob(blob, key.id, (salt) => hkdfExpand(key.sealKey, lengthPrefixed('server-seal/v1', salt, aad), 32), aad);
}
