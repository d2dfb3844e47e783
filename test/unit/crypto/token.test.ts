import { crc32 as zlibCrc32 } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  SECRET_BYTES,
  SLOT_BYTES,
  TOKEN_LENGTH,
  TOKEN_PREFIX,
  TokenFormatError,
  formatToken,
  newToken,
  parseToken,
} from '../../../shared/crypto/token.ts';
import { echoes, secretOf, slotOf, thrown } from './helpers.ts';

const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const slot = slotOf('token');
const secret = secretOf('token');
const token = formatToken(slot, secret);
const body = token.slice(TOKEN_PREFIX.length);

const replaceAt = (s: string, i: number, c: string) => s.slice(0, i) + c + s.slice(i + 1);

/** The TokenFormatError parseToken throws for `bad` (any other outcome fails the test). */
function rejection(bad: string): TokenFormatError {
  const err = thrown(() => parseToken(bad));
  if (!(err instanceof TokenFormatError)) throw new Error(`expected TokenFormatError, got ${err.name}`);
  return err;
}

describe('formatToken', () => {
  it('produces avt_ followed by 70 base64url characters', () => {
    // Arrange / Act
    const t = formatToken(slot, secret);

    // Assert
    expect(TOKEN_LENGTH).toBe(74);
    expect(t).toHaveLength(TOKEN_LENGTH);
    expect(t).toMatch(/^avt_[A-Za-z0-9_-]{70}$/);
  });

  it('encodes slot ‖ secret ‖ big-endian CRC-32 of slot ‖ secret', () => {
    // Arrange / Act
    const decoded = Buffer.from(formatToken(slot, secret).slice(4), 'base64url');

    // Assert
    expect(decoded.subarray(0, 16).equals(slot)).toBe(true);
    expect(decoded.subarray(16, 48).equals(secret)).toBe(true);
    expect(decoded.readUInt32BE(48)).toBe(zlibCrc32(Buffer.concat([slot, secret])));
  });

  it('has the same length for any slot and secret', () => {
    // Arrange / Act / Assert
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: SLOT_BYTES, maxLength: SLOT_BYTES }),
        fc.uint8Array({ minLength: SECRET_BYTES, maxLength: SECRET_BYTES }),
        (s, k) => formatToken(s, k).length === TOKEN_LENGTH,
      ),
      { numRuns: 200 },
    );
  });

  it.each([
    [15, 32],
    [17, 32],
    [16, 31],
    [16, 33],
    [0, 0],
  ])('throws RangeError for a %i-byte slot and %i-byte secret', (slotLen, secretLen) => {
    // Arrange / Act
    const err = thrown(() => formatToken(Buffer.alloc(slotLen), Buffer.alloc(secretLen)));

    // Assert
    expect(err).toBeInstanceOf(RangeError);
  });
});

describe('newToken', () => {
  it('returns a token that parses back to the slot and the returned secret', () => {
    // Arrange / Act
    const { token: t, secret: k } = newToken(slot);
    const parsed = parseToken(t);

    // Assert
    expect(k).toHaveLength(SECRET_BYTES);
    expect(parsed.slot.equals(slot)).toBe(true);
    expect(parsed.secret.equals(k)).toBe(true);
  });

  it('draws a fresh secret every time', () => {
    // Arrange / Act
    const secrets = new Set(Array.from({ length: 32 }, () => newToken(slot).secret.toString('hex')));

    // Assert
    expect(secrets.size).toBe(32);
  });
});

describe('parseToken', () => {
  it('round-trips any slot and secret through formatToken', () => {
    // Arrange / Act / Assert
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: SLOT_BYTES, maxLength: SLOT_BYTES }),
        fc.uint8Array({ minLength: SECRET_BYTES, maxLength: SECRET_BYTES }),
        (s, k) => {
          const parsed = parseToken(formatToken(s, k));
          return parsed.slot.equals(s) && parsed.secret.equals(k);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('returns copies that do not alias each other', () => {
    // Arrange
    const parsed = parseToken(token);

    // Act
    parsed.slot.fill(0);

    // Assert
    expect(parsed.secret.equals(secret)).toBe(true);
    expect(parseToken(token).slot.equals(slot)).toBe(true);
  });

  it.each([
    ['no prefix', body.padEnd(TOKEN_LENGTH, 'A')],
    ['upper-case prefix', `AVT_${body}`],
    ['API-key prefix', `avk_${body}`],
    ['leading space', ` ${token.slice(0, -1)}`],
    ['empty string', ''],
  ])('rejects a token with %s', (_label, bad) => {
    // Arrange / Act
    const err = rejection(bad);

    // Assert
    expect(err.message).toMatch(/start with "avt_"/);
  });

  it.each([
    ['one character short', token.slice(0, -1)],
    ['one character long', `${token}A`],
    ['four characters long', `${token}AAAA`],
    ['only the prefix', TOKEN_PREFIX],
    ['a trailing newline', `${token}\n`],
    ['doubled', token + token],
  ])('rejects a token that is %s', (_label, bad) => {
    // Arrange / Act
    const err = rejection(bad);

    // Assert
    expect(err.message).toMatch(/characters long/);
  });

  it.each(['+', '/', '=', ' ', '.', '\n', '\0', 'é', '%'])('rejects the non-base64url character %j', (c) => {
    // Arrange
    const bad = replaceAt(token, 30, c);

    // Act
    const err = rejection(bad);

    // Assert
    expect(bad).toHaveLength(TOKEN_LENGTH);
    expect(err.message).toMatch(/outside base64url/);
  });

  it('rejects a standard-base64 form of the same bytes', () => {
    // Arrange: find a token whose base64url body contains '-' or '_', then use '+' and '/'.
    const t = Array.from({ length: 64 }, (_, i) => formatToken(slotOf(`b64-${i}`), secretOf(`b64-${i}`))).find((x) =>
      /[-_]/.test(x.slice(4)),
    ) as string;
    const standard = `avt_${t.slice(4).replaceAll('-', '+').replaceAll('_', '/')}`;

    // Act
    const err = rejection(standard);

    // Assert
    expect(err).toBeInstanceOf(TokenFormatError);
  });

  it('rejects a non-canonical final character that decodes to the same bytes', () => {
    // Arrange: the last character carries 2 data bits; the other 4 must be zero.
    const last = body.at(-1) as string;
    const value = BASE64URL_ALPHABET.indexOf(last);
    const alias = BASE64URL_ALPHABET[value | 0b0001] as string;
    const bad = replaceAt(token, TOKEN_LENGTH - 1, alias);

    // Act
    const err = rejection(bad);

    // Assert
    expect(value & 0b1111).toBe(0);
    expect(Buffer.from(bad.slice(4), 'base64url').equals(Buffer.from(body, 'base64url'))).toBe(true);
    expect(err.message).toMatch(/canonical/);
  });

  it('rejects a well-formed token whose checksum does not match', () => {
    // Arrange
    const bytes = Buffer.from(body, 'base64url');
    bytes[51] = (bytes[51] as number) ^ 0x01;
    const bad = TOKEN_PREFIX + bytes.toString('base64url');

    // Act
    const err = rejection(bad);

    // Assert
    expect(err.message).toMatch(/checksum/);
  });

  it('rejects every single-character substitution anywhere in the token', () => {
    // Arrange
    const alphabet = `${BASE64URL_ALPHABET}+/=. `;
    const accepted: string[] = [];
    let tried = 0;

    // Act
    for (let i = 0; i < token.length; i++) {
      for (const c of alphabet) {
        if (c === token[i]) continue;
        tried++;
        try {
          parseToken(replaceAt(token, i, c));
          accepted.push(`${i}:${c}`);
        } catch (err) {
          if (!(err instanceof TokenFormatError)) accepted.push(`${i}:${c} threw ${String(err)}`);
        }
      }
    }

    // Assert
    expect(tried).toBe(TOKEN_LENGTH * (alphabet.length - 1));
    expect(accepted).toEqual([]);
  });

  it('rejects every single-character substitution for many random tokens', () => {
    // Arrange / Act / Assert
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 48, maxLength: 48 }),
        fc.integer({ min: 0, max: TOKEN_LENGTH - 1 }),
        fc.constantFrom(...BASE64URL_ALPHABET),
        (bytes, i, c) => {
          const t = formatToken(bytes.subarray(0, 16), bytes.subarray(16));
          fc.pre(t[i] !== c);
          return thrown(() => parseToken(replaceAt(t, i, c))) instanceof TokenFormatError;
        },
      ),
      { numRuns: 200 },
    );
  });

  it('never echoes any part of the token in its error messages', () => {
    // Arrange
    const bytes = Buffer.from(body, 'base64url');
    bytes[0] = (bytes[0] as number) ^ 0x80;
    const bad = [
      `AVT_${body}`,
      token.slice(0, -1),
      `${token}A`,
      replaceAt(token, 40, '+'),
      replaceAt(token, TOKEN_LENGTH - 1, 'B'),
      TOKEN_PREFIX + bytes.toString('base64url'),
    ];

    // Act
    const messages = bad.map((b) => rejection(b).message);

    // Assert
    for (const [i, m] of messages.entries()) {
      expect(echoes(m, body, 6), `message ${i}: ${m}`).toBe(false);
      expect(echoes(m, bad[i] as string, 8), `message ${i}: ${m}`).toBe(false);
    }
  });
});
