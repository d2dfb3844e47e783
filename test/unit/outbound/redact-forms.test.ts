/**
 * The forms shared/outbound/redact.ts derives from a profile's values (redactionForms) are built
 * with shortcuts (no escaping work for values that need none, the form encoding derived from
 * encodeURIComponent's, base64url cores from one buffer): they must be exactly the forms the
 * plain derivation below (the code as it was before the shortcuts) gives, for any values.
 */
import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { REDACTED, Redactor, redactionForms } from '#shared/outbound/redact';

const CASE_INSENSITIVE_MIN_CHARS = 8;
const ENCODED_MIN_BYTES = 4;
const UNALIGNED_CORE_MIN_CHARS = 8;
const MAX_VALUES_FOR_PAIRS = 16;
const NUMBER_LITERAL = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
const jsonEscaped = (s: string) => JSON.stringify(s).slice(1, -1);
const jsonAsciiEscaped = (s: string) =>
  jsonEscaped(s).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
const formEncoded = (s: string) => new URLSearchParams({ v: s }).toString().slice(2);
const toUrlAlphabet = (b64: string) => b64.replace(/\+/g, '-').replace(/\//g, '_');

function base64Cores(bytes: Buffer): { aligned: string[]; unaligned: string[] } {
  const aligned = [bytes.toString('base64'), bytes.toString('base64').replace(/=+$/, '')];
  const unaligned: string[] = [];
  for (let offset = 0; offset < 3; offset++) {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes])
      .toString('base64')
      .replace(/=+$/, '');
    const head = Math.ceil((offset * 8) / 6);
    const tail = (offset + bytes.length) % 3 === 0 ? 0 : 1;
    const core = encoded.slice(head, encoded.length - tail);
    if (core.length >= UNALIGNED_CORE_MIN_CHARS) unaligned.push(core);
  }
  return { aligned, unaligned };
}

function variantsOf(value: string): string[] {
  const out = new Set<string>([value, jsonEscaped(value), jsonEscaped(jsonEscaped(value)), jsonAsciiEscaped(value)]);
  out.add(jsonEscaped(value).replace(/\//g, '\\/'));
  out.add(encodeURIComponent(value));
  out.add(formEncoded(value));
  out.add(encodeURIComponent(value).replace(/%20/g, '+'));
  out.add(jsonEscaped(encodeURIComponent(value)));
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length >= ENCODED_MIN_BYTES) {
    const { aligned, unaligned } = base64Cores(bytes);
    for (const b of [...aligned, ...unaligned]) {
      out.add(b);
      out.add(toUrlAlphabet(b));
    }
    out.add(bytes.toString('hex'));
  }
  if (NUMBER_LITERAL.test(value)) out.add(String(Number(value)));
  out.delete('');
  return [...out];
}

function referenceForms(values: readonly string[]): { exact: Set<string>; folded: Set<string> } {
  const exact = new Set<string>();
  const folded = new Set<string>();
  const add = (source: string, variants: readonly string[]) => {
    for (const v of variants) (source.length >= CASE_INSENSITIVE_MIN_CHARS ? folded : exact).add(v);
  };
  for (const value of values) add(value, variantsOf(value));
  if (values.length <= MAX_VALUES_FOR_PAIRS) {
    for (const user of values) {
      for (const pass of values) {
        if (user === pass) continue;
        const pair = `${user}:${pass}`;
        const b = Buffer.from(pair, 'utf8').toString('base64');
        const bare = b.replace(/=+$/, '');
        add(pair, [pair, b, bare, toUrlAlphabet(bare)]);
      }
    }
  }
  return { exact, folded };
}

const sorted = (s: Set<string>) => [...s].sort();
const same = (values: string[]) => {
  const distinct = [...new Set(values.filter((v) => v.length > 0))];
  const got = redactionForms(distinct);
  const want = referenceForms(distinct);
  expect(sorted(got.exact)).toEqual(sorted(want.exact));
  expect(sorted(got.folded)).toEqual(sorted(want.folded));
};

// Every character class the escapings treat differently: unreserved, form-only (! ' ( ) ~), *,
// space, JSON specials, /, controls, non-ASCII, astral, digits and number syntax.
const UNITS = [...'aZ09-_.*!\'()~ "\\/+=%:&?#\n\t\u0001\u007f\u00e9\u00df\u0130\u2028', '😀', 'e', 'E', '1', '-'];
const value = fc.string({ unit: fc.constantFrom(...UNITS), minLength: 1, maxLength: 20 });
// Lone surrogates make encodeURIComponent throw (as they did before): left out.
const anyValue = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 24 });

describe('redactionForms', () => {
  it('derives exactly the forms of the plain derivation, for values of every character class', () => {
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 5 }), (values) => same(values)),
      { numRuns: 1000 },
    );
  });

  it('derives exactly the forms of the plain derivation, for any printable values and numbers', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(anyValue, fc.double().map(String), fc.bigInt().map(String)), { minLength: 1, maxLength: 4 }),
        (values) => same(values),
      ),
      { numRuns: 500 },
    );
  });

  it('derives the same forms for token-like values (no escaping needed) of every length modulo 3', () => {
    same(['abc', 'abcd', 'abcde', 'abcdef', 'ABCDEFGH', 'tok_9f8e7d6c5b4a', 'a.b-c*d_e', 'x'.repeat(40)]);
  });

  it('derives the forms of more values than get pairs (no pairs) alike', () => {
    same(Array.from({ length: MAX_VALUES_FOR_PAIRS + 1 }, (_, i) => `value-${i}/ü`));
  });

  it('redacts the form encoding of a value with every character only the form encoding escapes', () => {
    const secret = "it's (a) ~secret! ok";
    const r = new Redactor([secret]);
    const form = new URLSearchParams({ v: secret }).toString().slice(2);

    expect(form).toBe('it%27s+%28a%29+%7Esecret%21+ok');
    expect(r.text(`q=${form}&x=1`)).toBe(`q=${REDACTED}&x=1`);
  });
});
