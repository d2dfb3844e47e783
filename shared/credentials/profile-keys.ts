import { createHash, createHmac } from 'node:crypto';
import { openBlob, sealBlob } from '../crypto/blob.ts';
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
    return Buffer.concat([this.aadPrefix, lengthPrefixed(field, recordVersion)]);
  }

  /** 32-byte key commitment: GCM does not commit to its key, so this is checked before decrypting. */
  commitment(): Buffer {
    const b = this.binding;
    return hkdfExpand(this.prk, lengthPrefixed('commit/v1', b.tenant, b.agentId, b.slot, b.generation), 32);
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
