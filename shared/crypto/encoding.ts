/**
 * Unambiguous byte encodings used to build HKDF info strings, HMAC inputs and AAD: every part
 * carries a 4-byte big-endian length, so ("ab","c") and ("a","bc") never encode the same.
 */
export type Part = string | Uint8Array | number;

function partBytes(part: Part): Uint8Array {
  if (typeof part === 'string') {
    // UTF-8 would turn every lone surrogate into U+FFFD, so two different strings could encode
    // the same; such strings are refused instead (the HTTP schemas reject them first).
    if (!part.isWellFormed()) throw new RangeError('string parts must be well-formed Unicode');
    return Buffer.from(part, 'utf8');
  }
  if (typeof part === 'number') {
    if (!Number.isSafeInteger(part) || part < 0) throw new RangeError('parts must be non-negative integers');
    const b = Buffer.allocUnsafe(8);
    b.writeUInt32BE(Math.floor(part / 0x1_0000_0000), 0);
    b.writeUInt32BE(part >>> 0, 4);
    return b;
  }
  return part;
}

/** Length-prefixes each part and concatenates them. */
export function lengthPrefixed(...parts: Part[]): Buffer {
  const bytes = parts.map(partBytes);
  const out = Buffer.allocUnsafe(bytes.reduce((n, b) => n + 4 + b.length, 0)); // every byte is written below
  let off = 0;
  for (const b of bytes) {
    off = out.writeUInt32BE(b.length, off);
    out.set(b, off);
    off += b.length;
  }
  return out;
}
