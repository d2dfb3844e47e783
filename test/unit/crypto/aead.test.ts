import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DecryptionError, NONCE_BYTES, TAG_BYTES, gcmOpen, gcmSeal } from '../../../shared/crypto/aead.ts';
import { thrown } from './helpers.ts';

const key = Buffer.alloc(32, 0x11);
const aad = Buffer.from('aad');
const plaintext = Buffer.from('correct horse battery staple');

describe('gcmSeal', () => {
  it('produces a 12-byte nonce, a 16-byte tag and a ciphertext as long as the plaintext', () => {
    // Arrange / Act
    const sealed = gcmSeal(key, plaintext, aad);

    // Assert
    expect(sealed.nonce).toHaveLength(NONCE_BYTES);
    expect(sealed.tag).toHaveLength(TAG_BYTES);
    expect(sealed.ciphertext).toHaveLength(plaintext.length);
  });

  it('draws a fresh random nonce on every call', () => {
    // Arrange / Act
    const nonces = new Set(Array.from({ length: 64 }, () => gcmSeal(key, plaintext, aad).nonce.toString('hex')));

    // Assert
    expect(nonces.size).toBe(64);
  });

  it.each([0, 8, 11, 13, 16])('throws RangeError for an explicit %i-byte nonce', (len) => {
    // Arrange
    const nonce = Buffer.alloc(len);

    // Act
    const err = thrown(() => gcmSeal(key, plaintext, aad, nonce));

    // Assert
    expect(err).toBeInstanceOf(RangeError);
  });

  it.each([0, 15, 31, 33, 64])('throws RangeError for a %i-byte key', (len) => {
    // Arrange
    const badKey = Buffer.alloc(len, 1);

    // Act
    const err = thrown(() => gcmSeal(badKey, plaintext, aad));

    // Assert
    expect(err).toBeInstanceOf(RangeError);
  });

  it('seals an empty plaintext to an empty ciphertext and a tag', () => {
    // Arrange / Act
    const sealed = gcmSeal(key, Buffer.alloc(0), aad);

    // Assert
    expect(sealed.ciphertext).toHaveLength(0);
    expect(gcmOpen(key, sealed.nonce, sealed.ciphertext, sealed.tag, aad)).toHaveLength(0);
  });
});

describe('gcmOpen', () => {
  it('returns the plaintext of a sealed value', () => {
    // Arrange
    const { nonce, ciphertext, tag } = gcmSeal(key, plaintext, aad);

    // Act
    const opened = gcmOpen(key, nonce, ciphertext, tag, aad);

    // Assert
    expect(opened.equals(plaintext)).toBe(true);
  });

  it.each([
    ['key', () => ({ k: Buffer.alloc(32, 0x12) })],
    ['AAD', () => ({ a: Buffer.from('aae') })],
    ['nonce', () => ({ n: randomBytes(12) })],
  ] as const)('throws DecryptionError under a different %s', (_label, change) => {
    // Arrange
    const { nonce, ciphertext, tag } = gcmSeal(key, plaintext, aad);
    const { k = key, a = aad, n = nonce } = change() as { k?: Buffer; a?: Buffer; n?: Buffer };

    // Act
    const err = thrown(() => gcmOpen(k, n, ciphertext, tag, a));

    // Assert
    expect(err).toBeInstanceOf(DecryptionError);
  });

  it('throws DecryptionError for a key of an unsupported length instead of a RangeError', () => {
    // Arrange
    const { nonce, ciphertext, tag } = gcmSeal(key, plaintext, aad);

    // Act
    const err = thrown(() => gcmOpen(Buffer.alloc(31), nonce, ciphertext, tag, aad));

    // Assert
    expect(err).toBeInstanceOf(DecryptionError);
  });

  it('says nothing about why decryption failed', () => {
    // Arrange
    const { nonce, ciphertext, tag } = gcmSeal(key, plaintext, aad);
    const failures = [
      () => gcmOpen(key, nonce.subarray(1), ciphertext, tag, aad),
      () => gcmOpen(key, nonce, ciphertext, tag.subarray(1), aad),
      () => gcmOpen(key, nonce, ciphertext, Buffer.alloc(16), aad),
      () => gcmOpen(key, nonce, ciphertext, tag, Buffer.from('x')),
    ];

    // Act
    const messages = new Set(failures.map((f) => `${thrown(f).name}: ${thrown(f).message}`));

    // Assert
    expect([...messages]).toEqual(['DecryptionError: decryption failed']);
  });
});
