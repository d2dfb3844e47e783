import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { DecryptionError } from './aead.ts';
import { openBlob, parseBlob, sealBlob } from './blob.ts';
import { lengthPrefixed } from './encoding.ts';
import { hkdfExpand, hkdfExtract } from './hkdf.ts';
import type { ServerKey, ServerKeyRing } from './server-key.ts';
import { SLOT_BYTES } from './token.ts';

/** Where a profile's blobs live; every part is bound into AAD, verifier and commitment. */
export interface ProfileBinding {
  readonly tenant: string;
  readonly agentId: string;
  readonly slot: Buffer;
  readonly generation: number;
}

const FORMAT = 'v1';
/** Field name under which a saved session is sealed; `$` cannot start an input argument name. */
export const SESSION_FIELD = '$session';

/** slot = first 16 B of SHA-256("slot/v1" ‖ length-prefixed tenant, agent_id, name). */
export function slotFor(tenant: string, agentId: string, name: string): Buffer {
  return createHash('sha256')
    .update('slot/v1')
    .update(lengthPrefixed(tenant, agentId, name))
    .digest()
    .subarray(0, SLOT_BYTES);
}

/** AAD: length-prefixed {format, tenant, agent_id, slot, generation, field, record version}. */
export function valueAad(b: ProfileBinding, field: string, recordVersion: number): Buffer {
  return lengthPrefixed(FORMAT, b.tenant, b.agentId, b.slot, b.generation, field, recordVersion);
}

/** HMAC-SHA256(verify_key, "verify/v1" ‖ tenant ‖ agent ‖ slot ‖ generation ‖ secret); verify_key is the server key's `verify` subkey. */
export function computeVerifier(serverKey: ServerKey, b: ProfileBinding, secret: Uint8Array): Buffer {
  return createHmac('sha256', serverKey.verifyKey)
    .update(lengthPrefixed('verify/v1', b.tenant, b.agentId, b.slot, b.generation, secret))
    .digest();
}

/** Constant-time equality of two byte strings (false for different lengths). */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The keys of one profile, all derived from one root per request:
 * prk = HKDF-Extract(salt = the server key's `profile-extract` subkey, ikm = token secret).
 */
export class ProfileKeys {
  private readonly prk: Buffer;
  /** The AAD parts every field of the record shares, encoded once per request. */
  private readonly aadPrefix: Buffer;

  constructor(
    readonly serverKey: ServerKey,
    readonly binding: ProfileBinding,
    secret: Uint8Array,
  ) {
    this.prk = hkdfExtract(serverKey.profileExtractKey, secret);
    this.aadPrefix = lengthPrefixed(FORMAT, binding.tenant, binding.agentId, binding.slot, binding.generation);
  }

  /** Same bytes as valueAad(binding, field, recordVersion): length-prefixing concatenates. */
  private aad(field: string, recordVersion: number): Buffer {
    return Buffer.concat([this.aadPrefix, lengthPrefixed(field, recordVersion)]);
  }

  /** 32-byte key commitment: GCM does not commit to its key, so this is checked before decrypting. */
  commitment(): Buffer {
    const b = this.binding;
    return hkdfExpand(this.prk, lengthPrefixed('commit/v1', b.tenant, b.agentId, b.slot, b.generation), 32);
  }

  private keyFor(aad: Buffer) {
    return (salt: Buffer) => hkdfExpand(this.prk, lengthPrefixed('enc/v1', salt, aad), 32);
  }

  seal(field: string, recordVersion: number, plaintext: Uint8Array): Buffer {
    const aad = this.aad(field, recordVersion);
    return sealBlob(this.serverKey.id, this.keyFor(aad), plaintext, aad);
  }

  open(field: string, recordVersion: number, blob: Uint8Array): Buffer {
    const aad = this.aad(field, recordVersion);
    return openBlob(blob, this.serverKey.id, this.keyFor(aad), aad);
  }
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

export function openWithServerKey(ring: ServerKeyRing, purpose: string, context: string[], blob: Uint8Array): Buffer {
  const key = serverKeyOfBlob(ring, blob);
  const aad = lengthPrefixed(FORMAT, purpose, ...context);
  return openBlob(blob, key.id, (salt) => hkdfExpand(key.sealKey, lengthPrefixed('server-seal/v1', salt, aad), 32), aad);
}
