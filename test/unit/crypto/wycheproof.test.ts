/**
 * Project Wycheproof vectors (C2SP/wycheproof, Apache 2.0; see test/fixtures/wycheproof/README.md)
 * run through our own wrappers, not through node:crypto directly.
 *
 * AES-GCM vectors fall into exactly three categories:
 * - in profile: result "valid", 12-byte IV, 16-byte tag → gcmSeal yields ct‖tag, gcmOpen yields msg;
 * - invalid: result "invalid" → gcmOpen throws;
 * - out of profile: result "valid" but IV ≠ 12 bytes or tag ≠ 16 bytes → gcmOpen throws too (the
 *   vault only accepts 12-byte nonces and 16-byte tags) and gcmSeal refuses the nonce.
 * Counts are asserted so that a loader bug that runs zero vectors fails the suite.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DecryptionError, NONCE_BYTES, TAG_BYTES, gcmOpen, gcmSeal } from '../../../shared/crypto/aead.ts';
import { HKDF_MAX_OUTPUT, hkdf } from '../../../shared/crypto/hkdf.ts';

interface AeadVector {
  tcId: number;
  flags: string[];
  key: string;
  iv: string;
  aad: string;
  msg: string;
  ct: string;
  tag: string;
  result: 'valid' | 'invalid' | 'acceptable';
}
interface AeadGroup {
  ivSize: number;
  keySize: number;
  tagSize: number;
  tests: AeadVector[];
}
interface HkdfVector {
  tcId: number;
  flags: string[];
  ikm: string;
  salt: string;
  info: string;
  size: number;
  okm: string;
  result: 'valid' | 'invalid' | 'acceptable';
}
interface VectorFile<G> {
  algorithm: string;
  numberOfTests: number;
  testGroups: G[];
}

function load<G>(name: string): VectorFile<G> {
  return JSON.parse(readFileSync(new URL(`../../fixtures/wycheproof/${name}`, import.meta.url), 'utf8'));
}

const hex = (s: string) => Buffer.from(s, 'hex');

// ---- AES-GCM ---------------------------------------------------------------------------------

const gcmFile = load<AeadGroup>('aes_gcm_test.json');
const gcmVectors = gcmFile.testGroups.flatMap((g) => g.tests.map((t) => ({ ...t, group: g })));
const inProfile = gcmVectors.filter(
  (v) => v.result === 'valid' && hex(v.iv).length === NONCE_BYTES && hex(v.tag).length === TAG_BYTES,
);
const invalid = gcmVectors.filter((v) => v.result === 'invalid');
const outOfProfile = gcmVectors.filter(
  (v) => v.result === 'valid' && (hex(v.iv).length !== NONCE_BYTES || hex(v.tag).length !== TAG_BYTES),
);

/** Runs `fn` on each vector and returns the tcIds for which it returned false or threw. */
function failing<V extends { tcId: number }>(vectors: V[], fn: (v: V) => boolean): number[] {
  return vectors.flatMap((v) => {
    try {
      return fn(v) ? [] : [v.tcId];
    } catch {
      return [v.tcId];
    }
  });
}

function rejectedByOpen(v: AeadVector): boolean {
  try {
    gcmOpen(hex(v.key), hex(v.iv), hex(v.ct), hex(v.tag), hex(v.aad));
    return false;
  } catch (err) {
    return err instanceof DecryptionError;
  }
}

describe('gcmSeal and gcmOpen on Wycheproof AES-GCM vectors', () => {
  it('sorts every vector of the file into exactly one of three categories', () => {
    // Arrange
    const categorised = inProfile.length + invalid.length + outOfProfile.length;

    // Act
    const counts = { inProfile: inProfile.length, invalid: invalid.length, outOfProfile: outOfProfile.length };

    // Assert
    expect(gcmFile.algorithm).toBe('AES-GCM');
    expect(gcmVectors).toHaveLength(gcmFile.numberOfTests);
    expect(categorised).toBe(gcmFile.numberOfTests);
    expect(counts).toEqual({ inProfile: 116, invalid: 87, outOfProfile: 113 });
  });

  it('covers 128-, 192- and 256-bit keys among the in-profile vectors', () => {
    // Arrange / Act
    const keySizes = new Set(inProfile.map((v) => v.group.keySize));

    // Assert
    expect([...keySizes].sort()).toEqual([128, 192, 256]);
  });

  it('encrypts every in-profile vector to exactly ct‖tag', () => {
    // Arrange / Act
    const bad = failing(inProfile, (v) => {
      const sealed = gcmSeal(hex(v.key), hex(v.msg), hex(v.aad), hex(v.iv));
      return (
        Buffer.concat([sealed.ciphertext, sealed.tag]).equals(hex(v.ct + v.tag)) && sealed.nonce.equals(hex(v.iv))
      );
    });

    // Assert
    expect(bad).toEqual([]);
  });

  it('decrypts every in-profile vector back to its message', () => {
    // Arrange / Act
    const bad = failing(inProfile, (v) =>
      gcmOpen(hex(v.key), hex(v.iv), hex(v.ct), hex(v.tag), hex(v.aad)).equals(hex(v.msg)),
    );

    // Assert
    expect(bad).toEqual([]);
  });

  it('rejects every invalid vector with DecryptionError', () => {
    // Arrange / Act
    const accepted = failing(invalid, rejectedByOpen);

    // Assert
    expect(invalid.length).toBeGreaterThan(0);
    expect(accepted).toEqual([]);
  });

  it('rejects every valid vector outside the 12-byte-nonce, 16-byte-tag profile in gcmOpen', () => {
    // Arrange / Act
    const accepted = failing(outOfProfile, rejectedByOpen);

    // Assert
    expect(outOfProfile.length).toBeGreaterThan(0);
    expect(accepted).toEqual([]);
  });

  it('refuses to seal with the nonce of any out-of-profile vector', () => {
    // Arrange
    const nonTwelve = gcmVectors.filter((v) => hex(v.iv).length !== NONCE_BYTES);

    // Act
    const sealed = failing(nonTwelve, (v) => {
      try {
        gcmSeal(hex(v.key), hex(v.msg), hex(v.aad), hex(v.iv));
        return false;
      } catch (err) {
        return err instanceof RangeError;
      }
    });

    // Assert
    expect(nonTwelve).toHaveLength(119);
    expect(sealed).toEqual([]);
  });

  it.each([0, 4, 8, 12, 15])('rejects every in-profile vector whose tag is truncated to %i bytes', (len) => {
    // Arrange
    const truncated = inProfile.map((v) => ({ ...v, tag: v.tag.slice(0, 2 * len) }));

    // Act
    const accepted = failing(truncated, rejectedByOpen);

    // Assert
    expect(accepted).toEqual([]);
  });

  it('rejects every in-profile vector whose tag is extended by one byte', () => {
    // Arrange
    const extended = inProfile.map((v) => ({ ...v, tag: `${v.tag}00` }));

    // Act
    const accepted = failing(extended, rejectedByOpen);

    // Assert
    expect(accepted).toEqual([]);
  });
});

// ---- HKDF-SHA-256 ----------------------------------------------------------------------------

const hkdfFile = load<{ tests: HkdfVector[] }>('hkdf_sha256_test.json');
const hkdfVectors = hkdfFile.testGroups.flatMap((g) => g.tests);
const hkdfValid = hkdfVectors.filter((v) => v.result === 'valid');
const hkdfInvalid = hkdfVectors.filter((v) => v.result === 'invalid');

describe('hkdf on Wycheproof HKDF-SHA-256 vectors', () => {
  it('sorts every vector of the file into valid or invalid', () => {
    // Arrange / Act
    const counts = { valid: hkdfValid.length, invalid: hkdfInvalid.length };

    // Assert
    expect(hkdfFile.algorithm).toBe('HKDF-SHA-256');
    expect(hkdfVectors).toHaveLength(hkdfFile.numberOfTests);
    expect(counts).toEqual({ valid: 83, invalid: 3 });
  });

  it('derives exactly the expected output for every valid vector', () => {
    // Arrange / Act
    const bad = failing(hkdfValid, (v) => hkdf(hex(v.salt), hex(v.ikm), hex(v.info), v.size).equals(hex(v.okm)));

    // Assert
    expect(bad).toEqual([]);
  });

  it('includes empty-salt and maximal-output vectors among the valid ones', () => {
    // Arrange / Act
    const emptySalt = hkdfValid.filter((v) => v.salt === '').length;
    const maximal = hkdfValid.filter((v) => v.size === HKDF_MAX_OUTPUT).length;

    // Assert
    expect(emptySalt).toBeGreaterThan(0);
    expect(maximal).toBe(3);
  });

  it('throws for every invalid vector (output size too large)', () => {
    // Arrange / Act
    const accepted = failing(hkdfInvalid, (v) => {
      try {
        hkdf(hex(v.salt), hex(v.ikm), hex(v.info), v.size);
        return false;
      } catch (err) {
        return err instanceof RangeError;
      }
    });

    // Assert
    expect(hkdfInvalid.every((v) => v.size > HKDF_MAX_OUTPUT)).toBe(true);
    expect(accepted).toEqual([]);
  });
});
