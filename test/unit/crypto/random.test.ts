import { describe, expect, it } from 'vitest';
import { publicRandom } from '../../../shared/crypto/random.ts';

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
