/**
 * The search in shared/outbound/redact.ts (LiteralMatcher): a window as long as the shortest
 * literal moves over the text by up to its length (Wu–Manber), candidates are compared head first
 * then at once; and the copy-on-write of Redactor.value and Redactor.json. These pin the edges
 * of those paths: matches at the text's ends and back to back, overlapping and nested forms,
 * literals of very different lengths, texts shorter than the window.
 */
import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { REDACTED, Redactor } from '#shared/outbound/redact';

const R = REDACTED;

describe('Redactor.text at the edges of the window search', () => {
  const r = new Redactor(['s3cr3t-token-value']);

  it('redacts a value that is the whole text, starts it or ends it', () => {
    expect(r.text('s3cr3t-token-value')).toBe(R);
    expect(r.text('s3cr3t-token-value and more')).toBe(`${R} and more`);
    expect(r.text('more and s3cr3t-token-value')).toBe(`more and ${R}`);
    expect(r.text('S3CR3T-TOKEN-VALUE')).toBe(R);
  });

  it('redacts copies back to back, and one cut by a single character only where it is whole', () => {
    expect(r.text('s3cr3t-token-values3cr3t-token-value')).toBe(`${R}${R}`);
    expect(r.text('s3cr3t-token-valu s3cr3t-token-value 3cr3t-token-value')).toBe(`s3cr3t-token-valu ${R} 3cr3t-token-value`);
  });

  it('leaves texts shorter than the shortest form alone', () => {
    expect(r.text('')).toBe('');
    expect(r.text('s3cr3t')).toBe('s3cr3t');
  });

  it('redacts a value that ends in Σ where a letter follows it, and its lower case (ς at the end of a word, σ inside one)', () => {
    // toLowerCase writes the value's last Σ as ς alone and as σ before a letter: both are σ to the matcher.
    const sigma = new Redactor(['ΑΒΓΔΕΖΗΣ']);
    expect(sigma.text('ΑΒΓΔΕΖΗΣx')).toBe(`${R}x`);
    expect(sigma.text('ΑΒΓΔΕΖΗΣ')).toBe(R);
    expect(sigma.text('αβγδεζησ-x αβγδεζης')).toBe(`${R}-x ${R}`);
    expect(sigma.text('İ ΑΒΓΔΕΖΗΣx')).toBe(`İ ${R}x`);
    expect(sigma.json('["ΑΒΓΔΕΖΗΣx"]')).toBe(`["${R}x"]`);
    expect(new Redactor(['ΑΒΓΔΕΖΗσ']).text('αβγδεζης')).toBe(R);
  });

  it('takes the longest form at the leftmost position when forms overlap', () => {
    const two = new Redactor(['abcdefgh', 'cdefghijkl']);
    expect(two.text('abcdefghijkl')).toBe(`${R}ijkl`);
    expect(two.text('xxcdefghijkl')).toBe(`xx${R}`);
    expect(new Redactor(['abc', 'abcdefghijk']).text('abcdefghijk abc')).toBe(`${R} ${R}`);
  });

  it('finds a long form when a one-character value makes the window one character wide', () => {
    const mixed = new Redactor(['x', 'a-long-secret-value-1234']);
    expect(mixed.text('yxy a-long-secret-value-1234!')).toBe(`y${R}y ${R}!`);
  });

  it('compares a form longer than the head one by one and the rest at once, in any letter case', () => {
    const long = 'Q'.repeat(7) + 'w'.repeat(500);
    const one = new Redactor([long]);
    expect(one.text(`<${long.toLowerCase()}>`)).toBe(`<${R}>`);
    expect(one.text(`<${long.slice(0, -1)}W>`)).toBe(`<${R}>`);
    expect(one.text(`<${long.slice(0, -1)}x>`)).toBe(`<${long.slice(0, -1)}x>`);
    // Non-ASCII text: matched on its lower-cased copy, replaced in the original.
    expect(one.text(`é${long.toUpperCase()}é`)).toBe(`é${R}é`);
  });

  it('redacts every copy wherever it sits in random noise, each form of several values', () => {
    const values = ['Hunter2-Secret', 'tok_9f8e7d6c5b4a', 'p@ss w0rd', 'pin1'];
    const forms = [
      'Hunter2-Secret',
      'HUNTER2-SECRET',
      Buffer.from('tok_9f8e7d6c5b4a').toString('base64'),
      encodeURIComponent('p@ss w0rd'),
      Buffer.from('Hunter2-Secret').toString('hex').toUpperCase(),
      'pin1',
    ];
    const redactor = new Redactor(values);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.string({ unit: fc.constantFrom('x', 'y', ' ', '=', '%', 'é'), maxLength: 6 }), fc.constantFrom(...forms))),
        (parts) => {
          const text = parts.map(([noise, form]) => `${noise}|${form}|`).join('');
          const out = redactor.text(text);
          expect(out).toBe(parts.map(([noise]) => `${noise}|${R}|`).join(''));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('the window search skips', () => {
  it('looks at a small fraction of the positions of a long answer that holds no form (the window moves by up to its length)', () => {
    const r = new Redactor(Array.from({ length: 10 }, (_, i) => `Zq${i}x7Kp2Wm9Rt4Yv8Bn3Hc6Jd`));
    const answer = JSON.stringify({
      output: { items: Array.from({ length: 2000 }, (_, i) => ({ id: i, text: 'lorem ipsum dolor sit amet '.repeat(4) })) },
    });
    const before = r.steps;

    expect(r.clean(answer)).toBe(true);
    expect(r.text(answer)).toBe(answer);
    expect(r.steps - before).toBeLessThan((2 * answer.length) / 8);
  });
});

describe('Redactor.text with many matches on the automaton paths', () => {
  it('redacts each of 200 copies in a text that grows when lower-cased (matched unit by unit, U+0130)', () => {
    const r = new Redactor(['Secret-Value-1']);
    const text = `İ ${Array.from({ length: 200 }, (_, i) => `${i % 2 ? 'SECRET-VALUE-1' : 'secret-value-1'},`).join('')}`;

    expect(r.text(text)).toBe(`İ ${`${R},`.repeat(200)}`);
  });

  it('redacts each of 200 copies after the comparison budget ran out', () => {
    const secret = 'a'.repeat(300);
    const miss = `${secret.slice(0, -1)}!`;
    const r = new Redactor([secret]);
    const text = `${miss.repeat(10)}${`${secret},`.repeat(200)}`;

    expect(r.text(text)).toBe(`${miss.repeat(10)}${`${R},`.repeat(200)}`);
    expect(r.fallbacks).toBe(1);
  });
});

describe('Redactor.clean with the any-case search first', () => {
  it('is true when only an upper-cased short value occurs (short values match in their own case only)', () => {
    const r = new Redactor(['pin1', 'Hunter2-Secret']);
    const raw = JSON.stringify({ output: 'PIN1 and hunter2' });

    expect(r.clean(raw)).toBe(true);
    expect(r.value(JSON.parse(raw))).toEqual(JSON.parse(raw));
  });

  it('is false when the short value occurs in its own case, or a long one in any case', () => {
    const r = new Redactor(['pin1', 'Hunter2-Secret']);

    expect(r.clean(JSON.stringify({ output: 'x pin1 y' }))).toBe(false);
    expect(r.clean(JSON.stringify({ output: 'x hUNTER2-sECRET y' }))).toBe(false);
  });
});

describe('Redactor.value and Redactor.json copy only what changes', () => {
  const r = new Redactor(['hunter2-secret']);

  it('returns the value itself when nothing in it matches', () => {
    const value = { a: [1, 'x', { b: 'y' }], c: null };
    expect(r.value(value)).toBe(value);
  });

  it('copies the path to a match and shares the untouched parts, leaving the input as it was', () => {
    const untouched = { deep: ['keep'] };
    const value = { a: untouched, b: ['x', { c: 'pw hunter2-secret' }], d: 'hunter2-secret' };
    const copy = structuredClone(value);

    const out = r.value(value);

    expect(out).toEqual({ a: { deep: ['keep'] }, b: ['x', { c: `pw ${R}` }], d: R });
    expect(out.a).toBe(untouched);
    expect(out.b).not.toBe(value.b);
    expect(value).toEqual(copy);
  });

  it('keeps key order and a "__proto__" key as an own property when a later key changes', () => {
    const value = JSON.parse('{"__proto__": {"x": 1}, "first": 1, "hunter2-secret": 2}') as Record<string, unknown>;

    const out = r.value(value);

    expect(Object.keys(out)).toEqual(['__proto__', 'first', R]);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(out, '__proto__')?.value).toEqual({ x: 1 });
  });

  it('returns the raw text itself when no token changes, and rebuilds only around the changed ones', () => {
    const raw = '{"a": "plain", "n": [1, 2.5e3], "b": true}';
    expect(r.json(raw)).toBe(raw);
    expect(r.json('{"a": "x hunter2-secret", "n": -12, "b": "HUNTER2-SECRET"}')).toBe(`{"a": "x ${R}", "n": -12, "b": "${R}"}`);
  });

  it('closes an unterminated string as the token-by-token rebuild did', () => {
    expect(r.json('{"a": "open')).toBe('{"a": "open"');
  });
});
