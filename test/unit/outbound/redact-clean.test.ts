/**
 * Redactor.clean (a runner's answer that holds no form of any value is passed on without a
 * token-by-token walk, shared/runs/webhook.ts) must answer exactly as the full redaction does,
 * and one redactor must answer its thousandth text as its first.
 */
import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { REDACTED, Redactor } from '#shared/outbound/redact';

const VALUES = ['Hunter2-Secret', 'tok_9f8e7d6c5b4a', 'p@ss w0rd'];

describe('Redactor.clean', () => {
  const r = new Redactor(VALUES);

  it('is true for an answer that holds no form of any value', () => {
    expect(r.clean(JSON.stringify({ output: { ok: true, items: ['a', 'b'], n: 3 } }))).toBe(true);
  });

  it('is false when a value occurs, in any letter case or in an encoded form', () => {
    expect(r.clean(JSON.stringify({ output: 'x HUNTER2-SECRET y' }))).toBe(false);
    expect(r.clean(JSON.stringify({ output: Buffer.from('tok_9f8e7d6c5b4a').toString('base64') }))).toBe(false);
    expect(r.clean(JSON.stringify({ output: encodeURIComponent('p@ss w0rd') }))).toBe(false);
  });

  it('is false for an answer with an escape sequence (a value may appear only once parsed), or with non-ASCII text', () => {
    const escaped = '{"output":"\\u0048unter2-Secret"}';
    expect((JSON.parse(escaped) as { output: string }).output).toBe('Hunter2-Secret');
    expect(r.clean(escaped)).toBe(false);
    expect(r.clean(JSON.stringify({ output: 'café' }))).toBe(false);
  });

  it('is false whenever a value is numeric (a number may be written in another form than the value)', () => {
    const numeric = new Redactor(['12345']);
    expect(numeric.clean('{"output":1.2345e4}')).toBe(false);
    expect(numeric.value(JSON.parse('{"output":1.2345e4}'))).toEqual({ output: REDACTED });
  });

  it('never says clean when the full redaction would change the parsed answer', () => {
    const pieces = fc.constantFrom(
      'hunter2-secret',
      'HUNTER2',
      'Secret',
      'tok_',
      '9f8e7d6c5b4a',
      'p@ss',
      ' w0rd',
      'dG9rXzlm',
      'x',
      '"',
      '\\',
      'é',
      '1',
      ' ',
    );
    fc.assert(
      fc.property(fc.array(pieces, { maxLength: 12 }), fc.array(pieces, { maxLength: 4 }), (a, b) => {
        const raw = JSON.stringify({ output: { [b.join('')]: a.join('') }, error: b.join('') });
        const parsed = JSON.parse(raw) as { output: unknown; error: string };
        if (!r.clean(raw)) return;
        expect(r.value(parsed.output)).toEqual(parsed.output);
        expect(r.text(parsed.error)).toBe(parsed.error);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('many texts through one redactor', () => {
  it('finds a value in the thousandth short text as in the first', () => {
    const r = new Redactor(VALUES);
    for (let i = 0; i < 1000; i++) expect(r.text(`line ${i} ok`)).toBe(`line ${i} ok`);
    expect(r.text('a hunter2-secret b')).toBe(`a ${REDACTED} b`);
    expect(new Redactor(VALUES).text('a hunter2-secret b')).toBe(`a ${REDACTED} b`);
  });

  it('answers a random text as a fresh redactor does, whatever it searched before (no state carried over)', () => {
    const pieces = fc.constantFrom(
      'Hunter2-Secret',
      'hunter2',
      '-secret',
      'tok_9f8e7d6c5b4a',
      'TOK_9F8E',
      'p@ss w0rd',
      'p%40ss',
      'İ',
      'x',
      ' ',
    );
    const used = new Redactor(VALUES);
    fc.assert(
      fc.property(fc.array(pieces, { maxLength: 10 }), (a) => {
        const text = a.join('');
        expect(used.text(text)).toBe(new Redactor(VALUES).text(text));
        expect(used.clean(JSON.stringify({ output: text }))).toBe(new Redactor(VALUES).clean(JSON.stringify({ output: text })));
      }),
      { numRuns: 500 },
    );
  });
});
