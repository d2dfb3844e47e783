import { describe, expect, it } from 'vitest';
import { REDACTED, redactSecrets } from '#shared/outbound/redact';

describe('redactSecrets', () => {
  it('replaces a secret inside a top-level string', () => {
    expect(redactSecrets('login with hunter2 failed', ['hunter2'])).toBe(`login with ${REDACTED} failed`);
  });

  it('replaces every occurrence, not only the first', () => {
    expect(redactSecrets('hunter2/hunter2', ['hunter2'])).toBe(`${REDACTED}/${REDACTED}`);
  });

  it('replaces secrets in strings nested in objects and arrays', () => {
    const value = { a: { b: ['x', { c: 'pw=hunter2' }] }, d: ['hunter2'] };

    expect(redactSecrets(value, ['hunter2'])).toEqual({ a: { b: ['x', { c: `pw=${REDACTED}` }] }, d: [REDACTED] });
  });

  it('replaces secrets in object keys', () => {
    const out = redactSecrets({ 'user:hunter2': 1, nested: { hunter2: true } }, ['hunter2']);

    expect(out).toEqual({ [`user:${REDACTED}`]: 1, nested: { [REDACTED]: true } });
  });

  it('removes a secret that contains another one whole (longest first)', () => {
    expect(redactSecrets('token=abc123def', ['abc', 'abc123def'])).toBe(`token=${REDACTED}`);
  });

  it('removes the shorter secret where it also appears alone', () => {
    expect(redactSecrets('abc123def and abc', ['abc', 'abc123def'])).toBe(`${REDACTED} and ${REDACTED}`);
  });

  it('leaves booleans, null, undefined and other numbers untouched', () => {
    const value = { n: 12345, b: true, z: null, u: undefined, arr: [5, false] };

    expect(redactSecrets(value, ['1234', 'true', 'false', 'null'])).toEqual(value);
  });

  it('redacts a number whose text is a secret (a PIN echoed as a number)', () => {
    expect(redactSecrets({ pin: 1234, nested: [1234, 12345] }, ['1234'])).toEqual({ pin: REDACTED, nested: [REDACTED, 12345] });
    expect(redactSecrets(42, ['42'])).toBe(REDACTED);
  });

  it('returns a scalar that is not a secret as it is', () => {
    expect(redactSecrets(42, ['43'])).toBe(42);
    expect(redactSecrets(undefined, ['x'])).toBeUndefined();
  });

  it('ignores empty secrets instead of redacting between every character', () => {
    expect(redactSecrets('abc', [''])).toBe('abc');
    expect(redactSecrets('abc', ['', 'b'])).toBe(`a${REDACTED}c`);
  });

  it('does not modify the value it is given', () => {
    const value = { a: ['hunter2'], b: 'hunter2' };
    const copy = structuredClone(value);

    redactSecrets(value, ['hunter2']);

    expect(value).toEqual(copy);
  });

  it('keeps a "__proto__" key as an own property without changing the prototype', () => {
    const value = JSON.parse('{"__proto__": {"polluted": "hunter2"}, "ok": 1}') as Record<string, unknown>;

    const out = redactSecrets(value, ['hunter2']) as Record<string, unknown>;

    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect((out as { polluted?: unknown }).polluted).toBeUndefined();
    expect(Object.getOwnPropertyDescriptor(out, '__proto__')?.value).toEqual({ polluted: REDACTED });
  });

  it('returns strings with no secret unchanged', () => {
    expect(redactSecrets({ a: 'nothing to see' }, ['hunter2'])).toEqual({ a: 'nothing to see' });
  });
});
