/**
 * Issue 8 item 2: the server key plays several roles (verifier HMAC, profile extract salt,
 * server-seal PRK, item MACs). Each role gets its own HKDF subkey, so material computed for one
 * role is useless in another — and in particular nothing computed under the raw server key (the
 * layout before this change) verifies or opens any more.
 */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DecryptionError } from '../../shared/crypto/aead.ts';
import { sealBlob } from '../../shared/crypto/blob.ts';
import { lengthPrefixed } from '../../shared/crypto/encoding.ts';
import { hkdf, hkdfExpand, hkdfExtract } from '../../shared/crypto/hkdf.ts';
import { ProfileKeys, computeVerifier } from '../../shared/credentials/profile-keys.ts';
import { openWithServerKey } from '../../shared/crypto/server-seal.ts';
import { SUBKEY_ROLES, deriveSubkey, parseServerKeyRing } from '../../shared/crypto/server-key.ts';
import { binding, material, secretOf } from '../unit/crypto/helpers.ts';

const NAME = 'k1';
const MATERIAL = material('subkeys');
const ring = parseServerKeyRing(JSON.stringify({ current: NAME, [NAME]: MATERIAL }));
const serverKey = ring.current;
/** The 32-byte server key as the ring derives it (restated here: the ring no longer exposes it). */
const rawKey = hkdf(Buffer.from('agent-vault/server-key/v1'), Buffer.from(MATERIAL, 'utf8'), Buffer.from(NAME), 32);
const secret = secretOf('subkeys');

describe('server key subkeys', () => {
  it('gives every role its own key, none equal to the server key', () => {
    // Arrange
    const roleKeys = [serverKey.verifyKey, serverKey.profileExtractKey, serverKey.sealKey, serverKey.macKey, serverKey.auditMacKey];

    // Act
    const distinct = new Set([rawKey, ...roleKeys].map((k) => k.toString('hex')));

    // Assert
    expect(roleKeys.every((k) => k.length === 32)).toBe(true);
    expect(distinct.size).toBe(SUBKEY_ROLES.length + 1);
  });

  it('derives each role key as HKDF-Expand(server key, "agent-vault/subkey/v1" ‖ role, 32)', () => {
    // Arrange
    const expected = (role: string) => hkdfExpand(rawKey, lengthPrefixed('agent-vault/subkey/v1', role), 32);

    // Act / Assert
    expect(serverKey.verifyKey.equals(expected('verify'))).toBe(true);
    expect(serverKey.profileExtractKey.equals(expected('profile-extract'))).toBe(true);
    expect(serverKey.sealKey.equals(expected('server-seal'))).toBe(true);
    expect(serverKey.macKey.equals(expected('mac'))).toBe(true);
    expect(serverKey.auditMacKey.equals(expected('audit-mac'))).toBe(true);
    expect(deriveSubkey(rawKey, 'mac').equals(serverKey.macKey)).toBe(true);
  });

  it('no longer accepts a verifier computed under the raw server key', () => {
    // Arrange
    const b = binding();
    const rawVerifier = createHmac('sha256', rawKey)
      .update(lengthPrefixed('verify/v1', b.tenant, b.agentId, b.slot, b.generation, secret))
      .digest();

    // Act
    const verifier = computeVerifier(serverKey, b, secret);

    // Assert
    expect(verifier.equals(rawVerifier)).toBe(false);
  });

  it('roots profile keys in the extract subkey, not the raw server key', () => {
    // Arrange
    const b = binding();
    const rawPrk = hkdfExtract(rawKey, secret);
    const rawCommitment = hkdfExpand(rawPrk, lengthPrefixed('commit/v1', b.tenant, b.agentId, b.slot, b.generation), 32);

    // Act
    const commitment = new ProfileKeys(serverKey, b, secret).commitment();

    // Assert
    expect(commitment.equals(rawCommitment)).toBe(false);
  });

  it('does not open a server-sealed blob made with the raw server key', () => {
    // Arrange
    const aad = lengthPrefixed('v1', 'run-result', 'tenant-1', 'session-1');
    const blob = sealBlob(serverKey.id, (salt) => hkdfExpand(rawKey, lengthPrefixed('server-seal/v1', salt, aad), 32), Buffer.from('{}'), aad);

    // Act
    const open = () => openWithServerKey(ring, 'run-result', ['tenant-1', 'session-1'], blob);

    // Assert
    expect(open).toThrow(DecryptionError);
  });
});
