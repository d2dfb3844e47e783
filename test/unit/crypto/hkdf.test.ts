import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { HKDF_MAX_OUTPUT, hkdf, hkdfExpand, hkdfExtract } from '../../../shared/crypto/hkdf.ts';
import { thrown } from './helpers.ts';

const prk = Buffer.alloc(32, 7);

describe('hkdfExtract', () => {
  it('treats an empty salt as 32 zero bytes', () => {
    // Arrange
    const ikm = Buffer.from('input keying material');

    // Act
    const fromEmpty = hkdfExtract(Buffer.alloc(0), ikm);
    const fromZeros = hkdfExtract(Buffer.alloc(32), ikm);

    // Assert
    expect(fromEmpty.equals(fromZeros)).toBe(true);
  });

  it('is HMAC-SHA-256 keyed with the salt over the input keying material', () => {
    // Arrange
    const salt = Buffer.from('salt');
    const ikm = Buffer.from('ikm');

    // Act
    const out = hkdfExtract(salt, ikm);

    // Assert
    expect(out.equals(createHmac('sha256', salt).update(ikm).digest())).toBe(true);
  });
});

describe('hkdfExpand', () => {
  it('returns an empty buffer for length 0', () => {
    // Arrange / Act
    const out = hkdfExpand(prk, Buffer.from('info'), 0);

    // Assert
    expect(out).toHaveLength(0);
  });

  it('returns exactly the requested number of bytes at the 255·HashLen limit', () => {
    // Arrange / Act
    const out = hkdfExpand(prk, Buffer.alloc(0), HKDF_MAX_OUTPUT);

    // Assert
    expect(HKDF_MAX_OUTPUT).toBe(8160);
    expect(out).toHaveLength(HKDF_MAX_OUTPUT);
  });

  it('returns a prefix of a longer output for a shorter length', () => {
    // Arrange
    const info = Buffer.from('info');

    // Act
    const short = hkdfExpand(prk, info, 40);
    const long = hkdfExpand(prk, info, 100);

    // Assert
    expect(short.equals(long.subarray(0, 40))).toBe(true);
  });

  it.each([1, 16, 31, 32])('gives the first %i bytes of the multi-block output for a one-block length (its shortcut)', (length) => {
    // Arrange
    const info = Buffer.from('enc/v1 one block');

    // Act
    const short = hkdfExpand(prk, info, length);
    const long = hkdfExpand(prk, info, 64);

    // Assert
    expect(short.toString('hex')).toBe(long.subarray(0, length).toString('hex'));
    expect(hkdfExpand(prk, info, 32).equals(createHmac('sha256', prk).update(info).update(Uint8Array.of(1)).digest())).toBe(true);
  });

  it.each([-1, 1.5, Number.NaN, HKDF_MAX_OUTPUT + 1, Number.POSITIVE_INFINITY])(
    'throws RangeError for output length %s',
    (length) => {
      // Arrange / Act
      const err = thrown(() => hkdfExpand(prk, Buffer.alloc(0), length));

      // Assert
      expect(err).toBeInstanceOf(RangeError);
    },
  );

  it('throws RangeError for a PRK shorter than 32 bytes', () => {
    // Arrange
    const shortPrk = Buffer.alloc(31, 7);

    // Act
    const err = thrown(() => hkdfExpand(shortPrk, Buffer.alloc(0), 32));

    // Assert
    expect(err).toBeInstanceOf(RangeError);
  });

  it('gives different outputs for different info strings', () => {
    // Arrange / Act
    const a = hkdfExpand(prk, Buffer.from('enc/v1'), 32);
    const b = hkdfExpand(prk, Buffer.from('commit/v1'), 32);

    // Assert
    expect(a.equals(b)).toBe(false);
  });
});

describe('hkdf', () => {
  it('matches RFC 5869 test case 1', () => {
    // Arrange
    const ikm = Buffer.alloc(22, 0x0b);
    const salt = Buffer.from('000102030405060708090a0b0c', 'hex');
    const info = Buffer.from('f0f1f2f3f4f5f6f7f8f9', 'hex');

    // Act
    const okm = hkdf(salt, ikm, info, 42);

    // Assert
    expect(okm.toString('hex')).toBe(
      '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865',
    );
  });
});
