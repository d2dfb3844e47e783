import { describe, expect, it } from 'vitest';
import { publicRandom, publicRandomInto } from '../../../shared/crypto/random.ts';

describe('publicRandom', () => {
  it('returns the requested number of bytes, also beyond the pool size', () => {
    expect(publicRandom(12)).toHaveLength(12);
    expect(publicRandom(10_000)).toHaveLength(10_000);
  });

  it('never hands out the same bytes twice across pool refills', () => {
    // Arrange: enough draws to refill the 4 KiB pool many times.
    const seen = new Set<string>();

    // Act
    for (let i = 0; i < 5_000; i++) seen.add(publicRandom(16).toString('hex'));

    // Assert: 16 random bytes collide with probability ~2^-100.
    expect(seen.size).toBe(5_000);
  });

  it('returns a copy that later draws do not overwrite', () => {
    // Arrange
    const first = publicRandom(16);
    const snapshot = Buffer.from(first);

    // Act: drain and refill the pool.
    for (let i = 0; i < 600; i++) publicRandom(16);

    // Assert
    expect(first.equals(snapshot)).toBe(true);
  });

  it('produces bytes that are not constant', () => {
    const bytes = publicRandom(4096);
    expect(new Set(bytes).size).toBeGreaterThan(200);
  });
});

describe('publicRandomInto', () => {
  it('writes exactly the requested range and leaves the rest of the target alone', () => {
    const target = Buffer.alloc(64, 0xaa);
    publicRandomInto(target, 9, 28);
    expect(target.subarray(0, 9).every((b) => b === 0xaa)).toBe(true);
    expect(target.subarray(37).every((b) => b === 0xaa)).toBe(true);
    expect(target.subarray(9, 37).equals(Buffer.alloc(28, 0xaa))).toBe(false);
  });

  it('never hands out the same bytes twice, also interleaved with publicRandom and across refills', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 3_000; i++) {
      seen.add(publicRandomInto(Buffer.alloc(28), 0, 28).toString('hex'));
      seen.add(publicRandom(16).toString('hex'));
    }
    expect(seen.size).toBe(6_000);
  });

  it('fills ranges larger than the pool', () => {
    const target = Buffer.alloc(10_000);
    publicRandomInto(target, 0, 10_000);
    expect(new Set(target.subarray(5_000)).size).toBeGreaterThan(200);
  });

  it.each([
    [-1, 4],
    [0, 65],
    [60, 5],
    [1.5, 2],
  ])('refuses the range at %s of %s bytes outside a 64-byte target', (at, n) => {
    expect(() => publicRandomInto(Buffer.alloc(64), at, n)).toThrow(RangeError);
  });
});
