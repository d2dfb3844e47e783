import { createHash, createHmac } from 'node:crypto';
import { DecryptionError } from '../crypto/aead.ts';
import { SALT_BYTES, openBlob, sealBlob } from '../crypto/blob.ts';
import { lengthPrefixed } from '../crypto/encoding.ts';
import { hkdfExpand, hkdfExtract } from '../crypto/hkdf.ts';
import type { ServerKey } from '../crypto/server-key.ts';
import { SLOT_BYTES } from '../crypto/token.ts';
import { type ProfileRef, profileRef } from '../store/profile-ref.ts';

/**
 * The profile-key crypto (docs/architecture.md, "Crypto and tokens"): a profile's keys derive from the server key and the
 * secret half of its token, bound to where the profile lives. Owned by shared/credentials.
 */

/** Where a profile's blobs live; every part is bound into AAD, verifier and commitment. */
export interface ProfileBinding {
  readonly tenant: string;
  readonly agentId: string;
  readonly slot: Buffer;
  readonly generation: number;
}

const FORMAT = 'v1';
/** lengthPrefixed("enc/v1", ·16-byte salt·, ·aad·) up to the salt: "enc/v1"'s length and bytes, the salt's length. */
const ENC_HEAD = lengthPrefixed('enc/v1', Buffer.alloc(SALT_BYTES)).subarray(0, 4 + 6 + 4);
const SALT_AT = ENC_HEAD.length;
/** Where the AAD starts in a value's key input (after the salt and the AAD's length). */
const AAD_AT = SALT_AT + SALT_BYTES + 4;
/** The AAD inside a value's key input (valueInput): between its length and the trailing 0x01. */
const aadOf = (input: Buffer): Buffer => input.subarray(AAD_AT, input.length - 1);
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

/** The ref of the profile named `name` of agent `agentId` of `tenant` (its slot: slotFor). */
export function namedProfileRef(tenant: string, agentId: string, name: string): ProfileRef {
  return profileRef(tenant, agentId, slotFor(tenant, agentId, name).toString('hex'));
}

/** HMAC-SHA256(verify_key, "verify/v1" ‖ tenant ‖ agent ‖ slot ‖ generation ‖ secret); verify_key is the server key's `verify` subkey. */
export function computeVerifier(serverKey: ServerKey, b: ProfileBinding, secret: Uint8Array): Buffer {
  return createHmac('sha256', serverKey.verifyKey)
    .update(lengthPrefixed('verify/v1', b.tenant, b.agentId, b.slot, b.generation, secret))
    .digest();
}

/**
 * The keys of one profile, all derived from one root per request:
 * prk = HKDF-Extract(salt = the server key's `profile-extract` subkey, ikm = token secret).
 */
export class ProfileKeys {
  private readonly prk: Buffer;
  /** The AAD parts every field of the record shares, encoded once per request. */
  private readonly aadPrefix: Buffer;
  private committed: Buffer | undefined;

  constructor(
    readonly serverKey: ServerKey,
    readonly binding: ProfileBinding,
    secret: Uint8Array,
  ) {
    this.prk = hkdfExtract(serverKey.profileExtractKey, secret);
    this.aadPrefix = lengthPrefixed(FORMAT, binding.tenant, binding.agentId, binding.slot, binding.generation);
  }

  /**
   * AAD of one value: length-prefixed {format, tenant, agent_id, slot, generation, field, record
   * version} (the shared prefix is encoded once; length-prefixing concatenates).
   */
  aad(field: string, recordVersion: number): Buffer {
    return aadOf(this.valueInput(field, recordVersion));
  }

  /**
   * The HKDF-Expand input of one value's key with its AAD inside, in one buffer:
   * lengthPrefixed("enc/v1", salt, aad) ‖ 0x01 — the one-block T(1) of shared/crypto/hkdf.ts —
   * with the salt's 16 bytes left for valueKey to write.
   */
  private valueInput(field: string, recordVersion: number): Buffer {
    if (!field.isWellFormed()) throw new RangeError('string parts must be well-formed Unicode');
    if (!Number.isSafeInteger(recordVersion) || recordVersion < 0) throw new RangeError('parts must be non-negative integers');
    const fieldBytes = Buffer.byteLength(field, 'utf8');
    const aadBytes = this.aadPrefix.length + 4 + fieldBytes + 4 + 8;
    const out = Buffer.allocUnsafe(AAD_AT + aadBytes + 1); // every byte but the salt's is written here, the salt's by valueKey
    ENC_HEAD.copy(out, 0);
    let off = out.writeUInt32BE(aadBytes, AAD_AT - 4);
    off += this.aadPrefix.copy(out, off);
    off = out.writeUInt32BE(fieldBytes, off);
    off += out.write(field, off, 'utf8');
    off = out.writeUInt32BE(8, off);
    off = out.writeUInt32BE(Math.floor(recordVersion / 0x1_0000_0000), off);
    off = out.writeUInt32BE(recordVersion >>> 0, off);
    out[off] = 1;
    return out;
  }

  /** One value's key: HKDF-Expand(prk, "enc/v1" ‖ salt ‖ aad, 32), length-prefixed, as one HMAC over `input` with `salt` written in. */
  private valueKey(input: Buffer, salt: Buffer): Buffer {
    if (salt.length !== SALT_BYTES) throw new DecryptionError();
    salt.copy(input, SALT_AT);
    return createHmac('sha256', this.prk).update(input).digest();
  }

  /** 32-byte key commitment: GCM does not commit to its key, so this is checked before decrypting. */
  commitment(): Buffer {
    // Derived once per instance (checked on open, written again by an update in place); a copy each time.
    if (!this.committed) {
      const b = this.binding;
      this.committed = hkdfExpand(this.prk, lengthPrefixed('commit/v1', b.tenant, b.agentId, b.slot, b.generation), 32);
    }
    return Buffer.from(this.committed);
  }

  /**
   * 32-byte tag over the runner origin (and, since delivery modes were bound, the credential
   * delivery) the token holder approved for this record version:
   * HKDF-Expand(prk, "runner-approval/v2" ‖ tenant ‖ agent ‖ slot ‖ generation ‖ record version ‖ origin ‖ delivery),
   * or the v1 label without the delivery for approvals made before (`delivery` undefined).
   * Only a token holder can make one, so a table writer can neither approve another runner nor
   * switch a proxy agent's profile to handing out its values.
   */
  runnerApproval(recordVersion: number, origin: string, delivery?: string): Buffer {
    const b = this.binding;
    const info =
      delivery === undefined
        ? lengthPrefixed('runner-approval/v1', b.tenant, b.agentId, b.slot, b.generation, recordVersion, origin)
        : lengthPrefixed('runner-approval/v2', b.tenant, b.agentId, b.slot, b.generation, recordVersion, origin, delivery);
    return hkdfExpand(this.prk, info, 32);
  }

  seal(field: string, recordVersion: number, plaintext: Uint8Array): Buffer {
    const input = this.valueInput(field, recordVersion);
    return sealBlob(this.serverKey.id, (salt) => this.valueKey(input, salt), plaintext, aadOf(input));
  }

  open(field: string, recordVersion: number, blob: Uint8Array): Buffer {
    const input = this.valueInput(field, recordVersion);
    return openBlob(blob, this.serverKey.id, (salt) => this.valueKey(input, salt), aadOf(input));
  }
}
