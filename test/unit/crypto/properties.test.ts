/**
 * Property tests (fast-check, 200 runs each) over the profile crypto. Strings are built from
 * well-formed units that stress delimiters and Unicode: '#', '|', '\0', a fake 4-byte length
 * prefix, emoji, combining marks, ZWJ, U+FFFD and arbitrary code points. (Lone surrogates are
 * covered by explicit tests in encoding.test.ts and profile-keys.test.ts.)
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecryptionError } from '../../../shared/crypto/aead.ts';
import { parseBlob } from '../../../shared/crypto/blob.ts';
import { lengthPrefixed } from '../../../shared/crypto/encoding.ts';
import { type ProfileBinding, ProfileKeys } from '../../../shared/credentials/profile-keys.ts';
import { binding, ring, secretOf, valueAad } from './helpers.ts';

const RUNS = { numRuns: 200 };
const serverKey = ring('props').current;
const secret = secretOf('props');

const trickyUnit = fc.oneof(
  fc.constantFrom('#', '|', '\0', ':', '/', '$', '😀', '👩‍💻', 'e\u0301', '\u0301', '\u200d', 'é', '\uFFFD', '\0\0\0\u0004'),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }),
);
const tricky = fc.string({ unit: trickyUnit, maxLength: 10 });

interface Tuple {
  tenant: string;
  agentId: string;
  slot: Uint8Array;
  generation: number;
  field: string;
  recordVersion: number;
}

const tupleArb: fc.Arbitrary<Tuple> = fc.record({
  tenant: tricky,
  agentId: tricky,
  // Few distinct slots and small numbers, so that pairs often share them.
  slot: fc.constantFrom(new Uint8Array(16), new Uint8Array(16).fill(1)),
  generation: fc.nat({ max: 3 }),
  field: tricky,
  recordVersion: fc.nat({ max: 3 }),
});

/** Re-cuts tenant ‖ agentId ‖ field (by code point) at two other positions. */
function resplit(t: Tuple, a: number, b: number): Tuple {
  const cps = Array.from(t.tenant + t.agentId + t.field);
  const [i, j] = [a % (cps.length + 1), b % (cps.length + 1)].sort((x, y) => x - y) as [number, number];
  return { ...t, tenant: cps.slice(0, i).join(''), agentId: cps.slice(i, j).join(''), field: cps.slice(j).join('') };
}

/** Pairs that are independent, resplit versions of each other, or differ in one component. */
const tuplePairArb: fc.Arbitrary<[Tuple, Tuple]> = fc.oneof(
  fc.tuple(tupleArb, tupleArb),
  fc.tuple(tupleArb, fc.nat(), fc.nat()).map(([t, a, b]): [Tuple, Tuple] => [t, resplit(t, a, b)]),
  fc.tuple(tupleArb, tupleArb, fc.constantFrom<keyof Tuple>('tenant', 'agentId', 'slot', 'generation', 'field', 'recordVersion'))
    .map(([t, u, k]): [Tuple, Tuple] => [t, { ...t, [k]: u[k] }]),
);

const sameTuple = (x: Tuple, y: Tuple) =>
  x.tenant === y.tenant &&
  x.agentId === y.agentId &&
  Buffer.from(x.slot).equals(y.slot) &&
  x.generation === y.generation &&
  x.field === y.field &&
  x.recordVersion === y.recordVersion;

const aadOf = (t: Tuple) =>
  valueAad({ tenant: t.tenant, agentId: t.agentId, slot: Buffer.from(t.slot), generation: t.generation }, t.field, t.recordVersion);

const bindingArb: fc.Arbitrary<ProfileBinding> = fc.record({
  tenant: tricky,
  agentId: tricky,
  slot: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b)),
  generation: fc.nat(),
});

describe('ProfileKeys (properties)', () => {
  it('opens exactly what it sealed for arbitrary bytes, field names and bindings', () => {
    // Arrange / Act / Assert
    fc.assert(
      fc.property(bindingArb, tricky, fc.nat(), fc.uint8Array({ maxLength: 512 }), (b, field, rv, plaintext) => {
        const keys = new ProfileKeys(serverKey, b, secret);
        return keys.open(field, rv, keys.seal(field, rv, plaintext)).equals(plaintext);
      }),
      RUNS,
    );
  });

  // A ciphertext as short as the plaintext (1 byte) collides by chance 1 time in 256, so the
  // ciphertext is compared together with its 16-byte tag.
  it('never repeats salt, nonce or ciphertext‖tag across two encryptions of one value', () => {
    // Arrange
    const keys = new ProfileKeys(serverKey, binding(), secret);

    // Act / Assert
    fc.assert(
      fc.property(tricky, fc.uint8Array({ minLength: 1, maxLength: 64 }), (field, plaintext) => {
        const a = parseBlob(keys.seal(field, 0, plaintext));
        const b = parseBlob(keys.seal(field, 0, plaintext));
        const sealedA = Buffer.concat([a.ciphertext, a.tag]);
        const sealedB = Buffer.concat([b.ciphertext, b.tag]);
        return !a.salt.equals(b.salt) && !a.nonce.equals(b.nonce) && !sealedA.equals(sealedB);
      }),
      RUNS,
    );
  });

  it('never opens a value with a random wrong token secret', () => {
    // Arrange
    const keys = new ProfileKeys(serverKey, binding(), secret);
    const blob = keys.seal('password', 1, Buffer.from('hunter2'));

    // Act / Assert
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (wrong) => {
        fc.pre(!secret.equals(wrong));
        const other = new ProfileKeys(serverKey, binding(), wrong);
        expect(() => other.open('password', 1, blob)).toThrow(DecryptionError);
        expect(other.commitment().equals(keys.commitment())).toBe(false);
      }),
      RUNS,
    );
  });
});

describe('valueAad (properties)', () => {
  it('gives equal AAD exactly for equal (tenant, agent, slot, generation, field, record version) tuples', () => {
    // Arrange / Act / Assert
    fc.assert(
      fc.property(tuplePairArb, ([x, y]) => aadOf(x).equals(aadOf(y)) === sameTuple(x, y)),
      RUNS,
    );
  });

  it('gives different AAD for field names that differ, with everything else equal', () => {
    // Arrange
    const b = binding();

    // Act / Assert
    fc.assert(
      fc.property(tricky, tricky, (f1, f2) => {
        fc.pre(f1 !== f2);
        return !valueAad(b, f1, 1).equals(valueAad(b, f2, 1));
      }),
      RUNS,
    );
  });
});

describe('lengthPrefixed (properties)', () => {
  const partsArb = fc.array(tricky, { maxLength: 5 });

  /** Re-cuts the concatenation of `parts` (by code point) into `cuts.length + 1` parts. */
  const recut = (parts: string[], cuts: number[]) => {
    const cps = Array.from(parts.join(''));
    const at = cuts.map((c) => c % (cps.length + 1)).sort((x, y) => x - y);
    return [0, ...at].map((start, k) => cps.slice(start, at[k] ?? cps.length).join(''));
  };

  it('encodes two lists of strings the same only when they are equal', () => {
    // Arrange
    const pairs = fc.oneof(
      fc.tuple(partsArb, partsArb),
      fc.tuple(partsArb, fc.array(fc.nat(), { maxLength: 5 })).map(([p, cuts]): [string[], string[]] => [p, recut(p, cuts)]),
    );

    // Act / Assert
    fc.assert(
      fc.property(pairs, ([a, b]) => {
        const same = a.length === b.length && a.every((s, i) => s === b[i]);
        return lengthPrefixed(...a).equals(lengthPrefixed(...b)) === same;
      }),
      RUNS,
    );
  });

  it('encodes two lists of byte strings the same only when they are equal', () => {
    // Arrange
    const bytesList = fc.array(fc.uint8Array({ maxLength: 6 }), { maxLength: 4 });

    // Act / Assert
    fc.assert(
      fc.property(bytesList, bytesList, (a, b) => {
        const same = a.length === b.length && a.every((x, i) => Buffer.from(x).equals(b[i] as Uint8Array));
        return lengthPrefixed(...a).equals(lengthPrefixed(...b)) === same;
      }),
      RUNS,
    );
  });

  it('encodes a list so that it decodes back to the same parts', () => {
    // Arrange / Act / Assert
    fc.assert(
      fc.property(partsArb, (parts) => {
        const enc = lengthPrefixed(...parts);
        const decoded: string[] = [];
        for (let off = 0; off < enc.length; ) {
          const len = enc.readUInt32BE(off);
          decoded.push(enc.subarray(off + 4, off + 4 + len).toString('utf8'));
          off += 4 + len;
        }
        return decoded.length === parts.length && decoded.every((s, i) => s === parts[i]);
      }),
      RUNS,
    );
  });
});
