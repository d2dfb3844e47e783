import { crc32 as zlibCrc32 } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32 } from '../../../shared/crypto/crc32.ts';

describe('crc32', () => {
  it('gives the IEEE check value 0xCBF43926 for "123456789"', () => {
    // Arrange / Act
    const c = crc32(Buffer.from('123456789'));

    // Assert
    expect(c).toBe(0xcbf43926);
  });

  it('gives 0 for empty input', () => {
    // Arrange / Act
    const c = crc32(new Uint8Array(0));

    // Assert
    expect(c).toBe(0);
  });

  it('returns an unsigned 32-bit integer equal to zlib’s CRC-32 for arbitrary bytes', () => {
    // Arrange / Act / Assert
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (data) => {
        const c = crc32(data);
        return Number.isInteger(c) && c >= 0 && c <= 0xffffffff && c === zlibCrc32(data);
      }),
      { numRuns: 200 },
    );
  });
});
