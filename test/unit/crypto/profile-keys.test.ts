import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DecryptionError } from '../../../shared/crypto/aead.ts';
import { BLOB_OVERHEAD, parseBlob } from '../../../shared/crypto/blob.ts';
import {
  type ProfileBinding,
  ProfileKeys,
  SESSION_FIELD,
  computeVerifier,
  slotFor,
} from '../../../shared/credentials/profile-keys.ts';
import { constantTimeEqual, openWithServerKey, sealWithServerKey, serverKeyOfBlob } from '../../../shared/crypto/server-seal.ts';
import { type ServerKey, parseServerKeyRing, rotateServerKeyRingJson } from '../../../shared/crypto/server-key.ts';
import { binding, ring, ringJson, secretOf, slotOf, valueAad } from './helpers.ts';

const serverKey = ring('a').current;
const otherServerKey = ring('b').current;
const secret = secretOf('s1');
const keys = new ProfileKeys(serverKey, binding(), secret);
const FIELD = 'password';
const RV = 3;
const value = Buffer.from('hunter2');

/** True when `open` throws DecryptionError; false when it returns or throws anything else. */
function rejects(open: () => unknown): boolean {
  try {
    open();
    return false;
  } catch (err) {
    return err instanceof DecryptionError;
  }
}

/** A 4-byte big-endian length followed by the bytes: an independent re-statement of the format. */
function lp(bytes: Uint8Array): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(bytes.length);
  return Buffer.concat([len, bytes]);
}

describe('ProfileKeys', () => {
  it('opens what it sealed', () => {
    // Arrange
    const blob = keys.seal(FIELD, RV, value);

    // Act
    const opened = keys.open(FIELD, RV, blob);

    // Assert
    expect(opened.equals(value)).toBe(true);
  });

  it('opens what another instance with the same server key, binding and secret sealed', () => {
    // Arrange
    const blob = keys.seal(FIELD, RV, value);
    const again = new ProfileKeys(ring('a').current, binding(), secretOf('s1'));

    // Act
    const opened = again.open(FIELD, RV, blob);

    // Assert
    expect(opened.equals(value)).toBe(true);
  });

  it('round-trips an empty value and the session field', () => {
    // Arrange
    const blob = keys.seal(SESSION_FIELD, RV, Buffer.alloc(0));

    // Act
    const opened = keys.open(SESSION_FIELD, RV, blob);

    // Assert
    expect(blob).toHaveLength(BLOB_OVERHEAD);
    expect(opened).toHaveLength(0);
  });

  it('writes the server key id into the blob', () => {
    // Arrange / Act
    const blob = keys.seal(FIELD, RV, value);

    // Assert
    expect(parseBlob(blob).keyId.equals(serverKey.id)).toBe(true);
  });

  it('gives two encryptions of one value different salts, nonces and ciphertexts', () => {
    // Arrange / Act
    const a = parseBlob(keys.seal(FIELD, RV, value));
    const b = parseBlob(keys.seal(FIELD, RV, value));

    // Assert
    expect(a.salt.equals(b.salt)).toBe(false);
    expect(a.nonce.equals(b.nonce)).toBe(false);
    expect(a.ciphertext.equals(b.ciphertext)).toBe(false);
    expect(a.tag.equals(b.tag)).toBe(false);
  });

  it('rejects every single-bit flip of a stored blob', () => {
    // Arrange
    const blob = keys.seal(FIELD, RV, Buffer.from('abc'));
    const accepted: number[] = [];

    // Act
    for (let bit = 0; bit < blob.length * 8; bit++) {
      const flipped = Buffer.from(blob);
      flipped[bit >> 3] = (flipped[bit >> 3] as number) ^ (1 << (bit & 7));
      if (!rejects(() => keys.open(FIELD, RV, flipped))) accepted.push(bit);
    }

    // Assert
    expect(blob.length * 8).toBe((BLOB_OVERHEAD + 3) * 8);
    expect(accepted).toEqual([]);
  });

  it('rejects every truncation of a stored blob', () => {
    // Arrange
    const blob = keys.seal(FIELD, RV, Buffer.from('abc'));

    // Act
    const accepted = Array.from({ length: blob.length }, (_, n) => n).filter(
      (n) => !rejects(() => keys.open(FIELD, RV, blob.subarray(0, n))),
    );

    // Assert
    expect(accepted).toEqual([]);
  });

  it('rejects a blob with its first bytes removed', () => {
    // Arrange
    const blob = keys.seal(FIELD, RV, Buffer.from('abc'));

    // Act
    const accepted = [1, 2, 9, 25].filter((n) => !rejects(() => keys.open(FIELD, RV, blob.subarray(n))));

    // Assert
    expect(accepted).toEqual([]);
  });

  it.each([
    ['one zero byte', Buffer.alloc(1)],
    ['sixteen zero bytes', Buffer.alloc(16)],
    ['a copy of its own tag', null],
  ])('rejects a stored blob extended by %s', (_label, suffix) => {
    // Arrange
    const blob = keys.seal(FIELD, RV, Buffer.from('abc'));
    const extended = Buffer.concat([blob, suffix ?? blob.subarray(-16)]);

    // Act
    const rejected = rejects(() => keys.open(FIELD, RV, extended));

    // Assert
    expect(rejected).toBe(true);
  });

  it.each<[string, Partial<ProfileBinding>, string, number]>([
    ['another field', {}, 'username', RV],
    ['the session field', {}, SESSION_FIELD, RV],
    ['another record version', {}, FIELD, RV + 1],
    ['another profile (slot)', { slot: slotOf('profile-2') }, FIELD, RV],
    ['another agent', { agentId: 'agent-2' }, FIELD, RV],
    ['another tenant', { tenant: 'tenant-2' }, FIELD, RV],
    ['another generation', { generation: 2 }, FIELD, RV],
  ])('rejects a value moved to %s', (_label, change, field, recordVersion) => {
    // Arrange
    const blob = keys.seal(FIELD, RV, value);
    const elsewhere = new ProfileKeys(serverKey, binding(change), secret);

    // Act
    const rejected = rejects(() => elsewhere.open(field, recordVersion, blob));

    // Assert
    expect(rejected).toBe(true);
  });

  it('rejects a value opened with a wrong secret', () => {
    // Arrange
    const blob = keys.seal(FIELD, RV, value);
    const wrong = new ProfileKeys(serverKey, binding(), secretOf('s2'));

    // Act
    const rejected = rejects(() => wrong.open(FIELD, RV, blob));

    // Assert
    expect(rejected).toBe(true);
  });

  it('rejects a value opened under another server key', () => {
    // Arrange
    const blob = keys.seal(FIELD, RV, value);
    const wrong = new ProfileKeys(otherServerKey, binding(), secret);

    // Act
    const rejected = rejects(() => wrong.open(FIELD, RV, blob));

    // Assert
    expect(rejected).toBe(true);
  });

  it('rejects a value opened under a server key that shares the id but not the key', () => {
    // Arrange
    const blob = keys.seal(FIELD, RV, value);
    const impostor: ServerKey = { ...serverKey, profileExtractKey: otherServerKey.profileExtractKey };
    const wrong = new ProfileKeys(impostor, binding(), secret);

    // Act
    const rejected = rejects(() => wrong.open(FIELD, RV, blob));

    // Assert
    expect(rejected).toBe(true);
  });

  // Buffer.from(field, 'utf8') maps every lone surrogate to U+FFFD, so valueAad (and the key
  // derived from it) is the same for "\uD800" and "\uDFFF": the value opens under the other
  // field. Root cause in shared/crypto/encoding.ts (partBytes, string branch).
  it('rejects a value moved to a field whose name differs only in a lone surrogate', () => {
    // Arrange
    let blob: Buffer | null = null;
    try {
      blob = keys.seal('\uD800', RV, value);
    } catch {
      // refusing ill-formed field names is an acceptable fix
    }

    // Act
    const rejected = blob === null || rejects(() => keys.open('\uDFFF', RV, blob as Buffer));

    // Assert
    expect(rejected).toBe(true);
  });
});

describe('ProfileKeys.commitment', () => {
  it('is 32 bytes and the same for the same server key, binding and secret', () => {
    // Arrange / Act
    const a = keys.commitment();
    const b = new ProfileKeys(serverKey, binding(), secretOf('s1')).commitment();

    // Assert
    expect(a).toHaveLength(32);
    expect(a.equals(b)).toBe(true);
  });

  it.each<[string, () => ProfileKeys]>([
    ['secret', () => new ProfileKeys(serverKey, binding(), secretOf('s2'))],
    ['generation', () => new ProfileKeys(serverKey, binding({ generation: 2 }), secret)],
    ['tenant', () => new ProfileKeys(serverKey, binding({ tenant: 'tenant-2' }), secret)],
    ['agent', () => new ProfileKeys(serverKey, binding({ agentId: 'agent-2' }), secret)],
    ['slot', () => new ProfileKeys(serverKey, binding({ slot: slotOf('profile-2') }), secret)],
    ['server key', () => new ProfileKeys(otherServerKey, binding(), secret)],
  ])('differs for another %s', (_label, other) => {
    // Arrange / Act
    const theirs = other().commitment();

    // Assert
    expect(theirs.equals(keys.commitment())).toBe(false);
  });
});

describe('valueAad', () => {
  it('is length-prefixed {format, tenant, agent, slot, generation, field, record version}', () => {
    // Arrange
    const b = binding();
    const u64 = (n: number) => {
      const x = Buffer.alloc(8);
      x.writeBigUInt64BE(BigInt(n));
      return x;
    };

    // Act
    const aad = valueAad(b, FIELD, RV);

    // Assert
    const expected = Buffer.concat([
      lp(Buffer.from('v1')),
      lp(Buffer.from(b.tenant)),
      lp(Buffer.from(b.agentId)),
      lp(b.slot),
      lp(u64(b.generation)),
      lp(Buffer.from(FIELD)),
      lp(u64(RV)),
    ]);
    expect(aad.equals(expected)).toBe(true);
  });

  it('differs when one boundary between tenant and agent moves', () => {
    // Arrange / Act
    const a = valueAad(binding({ tenant: 'ab', agentId: 'c' }), FIELD, RV);
    const b = valueAad(binding({ tenant: 'a', agentId: 'bc' }), FIELD, RV);

    // Assert
    expect(a.equals(b)).toBe(false);
  });
});

describe('computeVerifier', () => {
  const base = computeVerifier(serverKey, binding(), secret);

  it('is a 32-byte HMAC that is the same for the same inputs', () => {
    // Arrange / Act
    const again = computeVerifier(ring('a').current, binding(), secretOf('s1'));

    // Assert
    expect(base).toHaveLength(32);
    expect(again.equals(base)).toBe(true);
  });

  it.each<[string, () => Buffer]>([
    ['tenant', () => computeVerifier(serverKey, binding({ tenant: 'tenant-2' }), secret)],
    ['agent', () => computeVerifier(serverKey, binding({ agentId: 'agent-2' }), secret)],
    ['slot', () => computeVerifier(serverKey, binding({ slot: slotOf('profile-2') }), secret)],
    ['generation', () => computeVerifier(serverKey, binding({ generation: 2 }), secret)],
    ['secret', () => computeVerifier(serverKey, binding(), secretOf('s2'))],
    ['server key', () => computeVerifier(otherServerKey, binding(), secret)],
  ])('changes when the %s changes', (_label, other) => {
    // Arrange / Act
    const changed = other();

    // Assert
    expect(changed.equals(base)).toBe(false);
  });

  it('changes when the boundary between tenant and agent moves', () => {
    // Arrange / Act
    const a = computeVerifier(serverKey, binding({ tenant: 'ab', agentId: 'c' }), secret);
    const b = computeVerifier(serverKey, binding({ tenant: 'a', agentId: 'bc' }), secret);

    // Assert
    expect(a.equals(b)).toBe(false);
  });

  it('differs from the commitment of the same profile', () => {
    // Arrange / Act
    const commitment = keys.commitment();

    // Assert
    expect(commitment.equals(base)).toBe(false);
  });
});

describe('constantTimeEqual', () => {
  it('is true for equal byte strings', () => {
    // Arrange / Act / Assert
    expect(constantTimeEqual(Buffer.from('abc'), Uint8Array.from([0x61, 0x62, 0x63]))).toBe(true);
  });

  it('is true for two empty byte strings', () => {
    // Arrange / Act / Assert
    expect(constantTimeEqual(new Uint8Array(0), Buffer.alloc(0))).toBe(true);
  });

  it.each([0, 15, 31])('is false when byte %i differs', (i) => {
    // Arrange
    const a = Buffer.alloc(32, 9);
    const b = Buffer.from(a);
    b[i] = 8;

    // Act / Assert
    expect(constantTimeEqual(a, b)).toBe(false);
  });

  it('is false, without throwing, for different lengths', () => {
    // Arrange
    const a = Buffer.alloc(32, 9);

    // Act / Assert
    expect(constantTimeEqual(a, a.subarray(0, 31))).toBe(false);
    expect(constantTimeEqual(a.subarray(0, 0), a)).toBe(false);
  });
});

describe('slotFor', () => {
  it('is the first 16 bytes of SHA-256("slot/v1" ‖ length-prefixed tenant, agent, name)', () => {
    // Arrange
    const expected = createHash('sha256')
      .update('slot/v1')
      .update(Buffer.concat([lp(Buffer.from('t')), lp(Buffer.from('a')), lp(Buffer.from('n'))]))
      .digest()
      .subarray(0, 16);

    // Act
    const slot = slotFor('t', 'a', 'n');

    // Assert
    expect(slot.equals(expected)).toBe(true);
  });

  it('is deterministic', () => {
    // Arrange / Act
    const a = slotFor('tenant-1', 'agent-1', 'github');
    const b = slotFor('tenant-1', 'agent-1', 'github');

    // Assert
    expect(a).toHaveLength(16);
    expect(a.equals(b)).toBe(true);
  });

  it.each([
    [
      ['ab', 'c', 'n'],
      ['a', 'bc', 'n'],
    ],
    [
      ['t', 'ab', 'c'],
      ['t', 'a', 'bc'],
    ],
    [
      ['t', 'a', ''],
      ['t', '', 'a'],
    ],
  ])('differs between %j and %j', (x, y) => {
    // Arrange / Act
    const a = slotFor(...(x as [string, string, string]));
    const b = slotFor(...(y as [string, string, string]));

    // Assert
    expect(a.equals(b)).toBe(false);
  });
});

describe('sealWithServerKey and openWithServerKey', () => {
  const keyRing = ring('a');

  it('opens what was sealed under the same purpose and context', () => {
    // Arrange
    const blob = sealWithServerKey(keyRing, 'run-output', ['tenant-1', 'run-1'], value);

    // Act
    const opened = openWithServerKey(keyRing, 'run-output', ['tenant-1', 'run-1'], blob);

    // Assert
    expect(opened.equals(value)).toBe(true);
  });

  it('writes the current server key id into the blob', () => {
    // Arrange / Act
    const blob = sealWithServerKey(keyRing, 'p', [], value);

    // Assert
    expect(parseBlob(blob).keyId.equals(keyRing.current.id)).toBe(true);
  });

  it.each<[string, string, string[]]>([
    ['another purpose', 'runner-secret', ['tenant-1', 'run-1']],
    ['another context value', 'run-output', ['tenant-1', 'run-2']],
    ['a shifted context boundary', 'run-output', ['tenant-1r', 'un-1']],
    ['an extra empty context element', 'run-output', ['tenant-1', 'run-1', '']],
    ['a missing context element', 'run-output', ['tenant-1']],
    ['the purpose moved into the context', 'run-outputtenant-1', ['run-1']],
  ])('rejects a blob opened under %s', (_label, purpose, context) => {
    // Arrange
    const blob = sealWithServerKey(keyRing, 'run-output', ['tenant-1', 'run-1'], value);

    // Act
    const rejected = rejects(() => openWithServerKey(keyRing, purpose, context, blob));

    // Assert
    expect(rejected).toBe(true);
  });

  it('rejects a blob whose server key is not in the ring', () => {
    // Arrange
    const blob = sealWithServerKey(keyRing, 'p', [], value);

    // Act
    const rejected = rejects(() => openWithServerKey(ring('b'), 'p', [], blob));

    // Assert
    expect(rejected).toBe(true);
  });

  it('rejects a profile blob, which is sealed under a token-derived key', () => {
    // Arrange
    const blob = keys.seal(FIELD, RV, value);

    // Act
    const rejected = rejects(() => openWithServerKey(keyRing, 'p', [], blob));

    // Assert
    expect(rejected).toBe(true);
  });
});

describe('server key rotation', () => {
  const json1 = ringJson('rot');
  const ring1 = parseServerKeyRing(json1);
  const rotated = rotateServerKeyRingJson(json1);
  const ring2 = parseServerKeyRing(rotated.json);

  it('opens a profile blob sealed under k1 after the ring rotates to k2', () => {
    // Arrange
    const blob = new ProfileKeys(ring1.current, binding(), secret).seal(FIELD, RV, value);

    // Act
    const writtenUnder = serverKeyOfBlob(ring2, blob);
    const opened = new ProfileKeys(writtenUnder, binding(), secret).open(FIELD, RV, blob);

    // Assert
    expect(writtenUnder.name).toBe('k1');
    expect(opened.equals(value)).toBe(true);
  });

  it('writes new profile blobs under k2', () => {
    // Arrange / Act
    const blob = new ProfileKeys(ring2.current, binding(), secret).seal(FIELD, RV, value);

    // Assert
    expect(rotated.name).toBe('k2');
    expect(ring2.current.name).toBe('k2');
    expect(parseBlob(blob).keyId.equals(ring2.current.id)).toBe(true);
    expect(ring2.current.id.equals(ring1.current.id)).toBe(false);
  });

  it('opens a server-sealed blob from before the rotation and seals new ones under k2', () => {
    // Arrange
    const old = sealWithServerKey(ring1, 'p', ['c'], value);

    // Act
    const opened = openWithServerKey(ring2, 'p', ['c'], old);
    const fresh = sealWithServerKey(ring2, 'p', ['c'], value);

    // Assert
    expect(opened.equals(value)).toBe(true);
    expect(parseBlob(fresh).keyId.equals(ring2.current.id)).toBe(true);
  });

  it('rejects a k1 blob opened under the profile keys of k2', () => {
    // Arrange
    const blob = new ProfileKeys(ring1.current, binding(), secret).seal(FIELD, RV, value);

    // Act
    const rejected = rejects(() => new ProfileKeys(ring2.current, binding(), secret).open(FIELD, RV, blob));

    // Assert
    expect(rejected).toBe(true);
  });

  it('throws DecryptionError from serverKeyOfBlob once k1 has left the ring', () => {
    // Arrange
    const blob = new ProfileKeys(ring1.current, binding(), secret).seal(FIELD, RV, value);
    const doc = JSON.parse(rotated.json) as Record<string, string>;
    delete doc.k1;
    const withoutK1 = parseServerKeyRing(JSON.stringify(doc));

    // Act
    const rejected = rejects(() => serverKeyOfBlob(withoutK1, blob));

    // Assert
    expect(rejected).toBe(true);
  });
});
