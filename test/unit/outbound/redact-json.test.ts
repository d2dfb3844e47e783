/**
 * Redactor.json searches the whole raw text once and runs `text` only on the string tokens a
 * match overlaps; Redactor.jsonSettled also says when redacting the parsed result again would
 * change nothing (shared/runs/webhook.ts then skips that walk). Both must answer exactly as the
 * token-by-token redaction did (`tokenByToken` below is that code, over the public `text`), on
 * any text: valid JSON or not, values inside strings, across token boundaries, overlapping,
 * escaped, in another letter case, numeric; and no form of any value may be left.
 */
import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { REDACTED, Redactor, redactionForms } from '#shared/outbound/redact';

const R = REDACTED;
const NUMBER_LITERAL = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/** The token-by-token Redactor.json this replaced: `text` on every string token. */
function tokenByToken(r: Redactor, values: readonly string[], raw: string): string {
  const numbers = new Set<string>();
  const digits: string[] = [];
  for (const v of values) {
    const t = v.trim();
    if (v.length > 0 && NUMBER_LITERAL.test(t)) {
      numbers.add(t);
      numbers.add(String(Number(t)));
      digits.push(t);
    }
  }
  const numeric = numbers.size > 0;
  let out = '';
  let last = 0;
  let i = 0;
  const n = raw.length;
  while (i < n) {
    const c = raw.charCodeAt(i);
    if (c === 0x22) {
      let j = i + 1;
      while (j < n) {
        const d = raw.charCodeAt(j);
        if (d === 0x5c) j += 2;
        else if (d === 0x22) break;
        else j++;
      }
      const inner = raw.slice(i + 1, Math.min(j, n));
      const redacted = r.text(inner);
      if (redacted !== inner || j >= n) {
        out += `${raw.slice(last, i)}"${redacted}"`;
        last = Math.min(j + 1, n);
      }
      i = j + 1;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      let j = i + 1;
      for (; j < n; j++) {
        const d = raw.charCodeAt(j);
        if (!((d >= 0x30 && d <= 0x39) || d === 0x2e || d === 0x65 || d === 0x45 || d === 0x2b || d === 0x2d)) break;
      }
      if (numeric) {
        const token = raw.slice(i, j);
        if (numbers.has(token) || numbers.has(String(Number(token))) || digits.some((d) => token.includes(d))) {
          out += `${raw.slice(last, i)}"${R}"`;
          last = j;
        }
      }
      i = j;
    } else {
      let j = i + 1;
      while (j < n) {
        const d = raw.charCodeAt(j);
        if (d === 0x22 || d === 0x2d || (d >= 0x30 && d <= 0x39)) break;
        j++;
      }
      i = j;
    }
  }
  return last === 0 ? raw : out + raw.slice(last);
}

/** What shared/runs/webhook.ts did with a parsed answer: the raw text redacted, parsed again, then every value redacted again. */
function twoPasses(r: Redactor, values: readonly string[], raw: string): unknown {
  const text = tokenByToken(r, values, raw);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = JSON.parse(raw);
  }
  return r.value(parsed);
}

/**
 * What it does now (shared/runs/webhook.ts, redactResponse): when the first pass is settled, the
 * changed strings replaced in the first parse (or the redacted text parsed), else both passes.
 */
function settledPass(r: Redactor, raw: string): unknown {
  const first: unknown = JSON.parse(raw);
  const { text, settled, changed } = r.jsonSettled(raw);
  if (settled) {
    const replaced = r.replaceChanged(first, changed);
    if (replaced !== undefined) return replaced;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return r.value(first);
  }
  return settled ? parsed : r.value(parsed);
}

/** Every string and key of a parsed value. */
function strings(v: unknown, into: string[] = []): string[] {
  if (typeof v === 'string') into.push(v);
  else if (Array.isArray(v)) for (const x of v) strings(x, into);
  else if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      into.push(k);
      strings(x, into);
    }
  }
  return into;
}

/** The forms of `values` left in `s` outside the [REDACTED] markers (folded forms in any ASCII letter case). */
function leftForms(values: readonly string[], s: string): string[] {
  const { exact, folded } = redactionForms(values);
  const left: string[] = [];
  for (const piece of s.split(R)) {
    for (const f of exact) if (piece.includes(f)) left.push(f);
    for (const f of folded) if (piece.toLowerCase().includes(f.toLowerCase())) left.push(f);
  }
  return left;
}

const VALUE_POOL = [
  'Hunter2-Secret-Value',
  'tok_9f8e7d6c5b4a',
  'pw1',
  'zq"1',
  'a\\b"c/d',
  'pässwörd-ünïcode',
  'xy","z',
  'zq1',
  '12345',
  'ACT',
  '[RED',
  'p@ss w0rd!',
  'abc1',
];
const valuesArb = fc.uniqueArray(fc.constantFrom(...VALUE_POOL), { minLength: 1, maxLength: 4 });

/** Pieces of text that hold values, their forms, parts of them and JSON's structure. */
function piecesFor(values: readonly string[], withExotic: boolean) {
  const forms = [...redactionForms(values).exact, ...redactionForms(values).folded];
  const fromValue = fc
    .constantFrom(...values)
    .chain((v) =>
      fc.constantFrom(
        v,
        v.toUpperCase(),
        v.toLowerCase(),
        JSON.stringify(v).slice(1, -1),
        encodeURIComponent(v),
        Buffer.from(v).toString('base64'),
        v.slice(0, Math.ceil(v.length / 2)),
        v.slice(Math.ceil(v.length / 2)),
      ),
    );
  const structure = [
    '","',
    '":"',
    '", "',
    '{"',
    '"}',
    '["',
    '"]',
    '"',
    '\\',
    '\\"',
    '\\\\',
    ':',
    ',',
    ' ',
    '1',
    '-12',
    '2.5e3',
    'x',
    'é',
    'REDACTED',
  ];
  if (withExotic) structure.push('İ', 'Σ', 'ς', '\u212a', 'TO\u212a_');
  return fc.oneof(
    { arbitrary: fromValue, weight: 3 },
    { arbitrary: fc.constantFrom(...forms), weight: 2 },
    { arbitrary: fc.constantFrom(...structure), weight: 4 },
  );
}

/** Random JSON whose strings and keys are made of the pieces (JSON.stringify escapes what needs it). */
function jsonFor(values: readonly string[], withExotic: boolean) {
  const str = fc.array(piecesFor(values, withExotic), { maxLength: 8 }).map((a) => a.join(''));
  const num = fc.constantFrom(...values.filter((v) => NUMBER_LITERAL.test(v)).map(Number), 7, -3.5, 1.2345e4);
  const { tree } = fc.letrec((tie) => ({
    tree: fc.oneof({ depthSize: 'small', withCrossShrink: true }, str, num, fc.constant(true), fc.constant(null), tie('arr'), tie('obj')),
    arr: fc.array(tie('tree'), { maxLength: 5 }),
    obj: fc.dictionary(str, tie('tree'), { maxKeys: 5 }),
  }));
  return fc.record({ output: tree, error: fc.option(str, { nil: undefined }) });
}

describe('Redactor.json: one search of the whole text, then only the tokens a match overlaps', () => {
  it('gives the token-by-token result on any text (valid JSON or not, unterminated strings, escapes, non-ASCII)', () => {
    fc.assert(
      fc.property(
        valuesArb.chain((values) =>
          fc.tuple(
            fc.constant(values),
            fc.array(piecesFor(values, true), { maxLength: 30 }).map((a) => a.join('')),
          ),
        ),
        ([values, raw]) => {
          const r = new Redactor(values);
          expect(r.json(raw)).toBe(tokenByToken(r, values, raw));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('gives the token-by-token result on random JSON, and with the second walk skipped when settled, the two-pass result', () => {
    fc.assert(
      fc.property(
        valuesArb.chain((values) => fc.tuple(fc.constant(values), jsonFor(values, true))),
        ([values, answer]) => {
          const raw = JSON.stringify(answer);
          const r = new Redactor(values);
          expect(r.json(raw)).toBe(tokenByToken(r, values, raw));
          // (Compared as JSON text: the same keys in the same order.)
          expect(JSON.stringify(settledPass(r, raw))).toBe(JSON.stringify(twoPasses(r, values, raw)));
          const { text, settled, changed } = r.jsonSettled(raw);
          const replaced = settled ? r.replaceChanged(JSON.parse(raw), changed) : undefined;
          if (replaced !== undefined) expect(JSON.stringify(replaced)).toBe(JSON.stringify(JSON.parse(text)));
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('leaves no form of any value in any string or key of the redacted answer', () => {
    fc.assert(
      fc.property(
        valuesArb.chain((values) => fc.tuple(fc.constant(values), jsonFor(values, false))),
        ([values, answer]) => {
          const raw = JSON.stringify(answer);
          const r = new Redactor(values);
          for (const s of strings(settledPass(r, raw))) expect(leftForms(values, s)).toEqual([]);
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('redacts a value inside a token that a longer match reaching in from the token before hides from the search', () => {
    // The whole-text search matches `xy","z` from the first token into the second; `zq1` starts
    // inside that match, so the search never reports it: the second token is redacted because
    // the match overlaps it.
    const values = ['xy","z', 'zq1'];
    const r = new Redactor(values);
    const raw = '["xy","zq1"]';
    expect(r.json(raw)).toBe(`["xy","${R}"]`);
    expect(r.json(raw)).toBe(tokenByToken(r, values, raw));
    // The same across two matchers: a folded form (8 units or more) reaching into an exact one.
    const mixed = ['ab","cdzq', 'zq9'];
    const m = new Redactor(mixed);
    expect(m.json('["ab","cdzq9"]')).toBe(`["ab","cd${R}"]`);
    expect(m.json('["AB","CDZQ9"]')).toBe(tokenByToken(m, mixed, '["AB","CDZQ9"]'));
  });

  it('gives the token-by-token result when the search runs over budget and the automaton finishes the text', () => {
    const secret = 'a'.repeat(600);
    const miss = `${'a'.repeat(599)}!`;
    const values = [secret, 'zq1'];
    const r = new Redactor(values);
    const raw = JSON.stringify({
      a: miss.repeat(8),
      b: `x${secret}y`,
      c: ['zq1', 'A'.repeat(300), `${'a'.repeat(300)}","${'a'.repeat(300)}`],
      d: 'plain',
    });
    const before = r.fallbacks;
    const out = r.json(raw);
    expect(r.fallbacks).toBeGreaterThan(before);
    expect(out).toBe(tokenByToken(r, values, raw));
    expect(out).toContain(`"x${R}y"`);
    expect(out).toContain(`["${R}"`);
  });

  it('redacts a value whose k is written as the Kelvin sign (non-ASCII, lower-cases to ASCII) in a non-ASCII text', () => {
    const values = ['tok_9f8e7d6c5b4a-secret'];
    const r = new Redactor(values);
    const raw = '["amét","TO\u212a_9F8E7D6C5B4A-SECRET"]';
    expect(r.json(raw)).toBe(`["amét","${R}"]`);
    expect(r.json(raw)).toBe(tokenByToken(r, values, raw));
  });

  it('gives the token-by-token result where lower-casing the whole text is not lower-casing each token (U+0130, Σ)', () => {
    // U+0130 lower-cases to two units (every token then goes through `text`); Σ lower-cases to ς
    // at the end of a word, and a token's quotes end a word as the token's ends do.
    const values = ['ΑΒΓΔΕΖΗΣ', 'ΑΒΓΔΕΖΗΣ-long', 'Hunter2-Secret-Value'];
    const r = new Redactor(values);
    for (const raw of ['["İ","hunter2-secret-value"]', '["Σ","HUNTER2-SECRET-VALUE","ΑΒΓΔΕΖΗΣ-LONG"]', '["ΑΒΓΔΕΖΗΣ","xΣ","Σ.b"]']) {
      expect(r.json(raw)).toBe(tokenByToken(r, values, raw));
      expect(r.json(raw)).not.toBe(raw);
    }
  });
});

describe('Redactor.replaceChanged (the first parse with the changed strings replaced, instead of a second parse)', () => {
  const r = new Redactor(['Hunter2-Secret-Value', 'abc1']);

  it('gives what parsing the redacted text gives, sharing what did not change', () => {
    const raw = '{"output":{"items":[{"t":"a hunter2-secret-value"},{"t":"plain"}],"HUNTER2-SECRET-VALUE":1},"session":{"s":1}}';
    const first = JSON.parse(raw) as { output: { items: unknown[] }; session: unknown };
    const { text, settled, changed } = r.jsonSettled(raw);
    expect(settled).toBe(true);
    const replaced = r.replaceChanged(first, changed) as typeof first;
    expect(JSON.stringify(replaced)).toBe(JSON.stringify(JSON.parse(text)));
    expect(replaced.session).toBe(first.session);
    expect(replaced.output.items[1]).toBe(first.output.items[1]);
    expect(JSON.stringify(first)).toBe(raw);
  });

  it('leaves the caller to parse when two keys become one, or an index-like key changes (their order would differ)', () => {
    for (const raw of ['{"output":{"x hunter2-secret-value":1,"b":2,"x HUNTER2-SECRET-VALUE":3}}', '{"output":{"b":1,"61626331":2}}']) {
      const { text, settled, changed } = r.jsonSettled(raw);
      expect(settled).toBe(true);
      expect(r.replaceChanged(JSON.parse(raw), changed)).toBeUndefined();
      expect(JSON.stringify(settledPass(r, raw))).toBe(JSON.stringify(JSON.parse(text)));
    }
    expect(JSON.stringify(settledPass(r, '{"output":{"b":1,"61626331":2}}'))).toBe(`{"output":{"b":1,"${R}":2}}`);
    expect(settledPass(r, '{"output":{"x hunter2-secret-value":1,"b":2,"x HUNTER2-SECRET-VALUE":3}}')).toEqual({
      output: { [`x ${R}`]: 3, b: 2 },
    });
  });
});

describe('Redactor.jsonSettled', () => {
  it('is settled for an answer without backslashes whose redacted tokens stay as they are', () => {
    const r = new Redactor(['Hunter2-Secret-Value']);
    const raw = '{"output":{"a":"x hunter2-secret-value","b":"amét"},"error":"HUNTER2-SECRET-VALUE"}';
    const { text, settled } = r.jsonSettled(raw);
    expect(text).toBe(`{"output":{"a":"x ${R}","b":"amét"},"error":"${R}"}`);
    expect(settled).toBe(true);
    const parsed = JSON.parse(text) as { output: unknown; error: string };
    expect(r.value(parsed.output)).toBe(parsed.output);
  });

  it('is not settled when a redacted token would change again (a value inside [REDACTED])', () => {
    const values = ['ACT'];
    const r = new Redactor(values);
    const raw = '{"output":"xACTx"}';
    const { settled } = r.jsonSettled(raw);
    expect(settled).toBe(false);
    expect(settledPass(r, raw)).toEqual(twoPasses(r, values, raw));
    expect(settledPass(r, raw)).toEqual({ output: `x[RED${R}ED]x` });
  });

  it('is not settled when the text has a backslash (a form may appear only once unescaped) or a value is numeric', () => {
    const r = new Redactor(['Hunter2-Secret-Value']);
    const escaped = '{"output":"\\u0048unter2-Secret-Value"}';
    expect(r.jsonSettled(escaped)).toMatchObject({ text: escaped, settled: false });
    expect(settledPass(r, escaped)).toEqual({ output: R });
    const numeric = new Redactor(['12345']);
    expect(numeric.jsonSettled('{"output":"x"}').settled).toBe(false);
    expect(settledPass(numeric, '{"output":1.2345e4}')).toEqual({ output: R });
  });
});
