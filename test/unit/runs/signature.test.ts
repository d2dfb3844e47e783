import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SIGNATURE_HEADER, signPayload, verifySignature } from '#shared/runs/signature';

const SECRET = 'avs_test-signing-secret-0123456789abcdefghijklmnop';
const BODY = '{"session_id":"s","agent_id":"a","parameters":{"x":"1"},"session":null}';
const T = 1_700_000_000;

describe('signPayload', () => {
  it('writes t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>', () => {
    const expected = createHmac('sha256', SECRET).update(`${T}.${BODY}`).digest('hex');

    expect(signPayload(SECRET, BODY, T)).toBe(`t=${T},v1=${expected}`);
  });

  it('names the header in lower case as Node delivers it', () => {
    expect(SIGNATURE_HEADER).toBe('x-agent-vault-signature');
  });
});

describe('verifySignature', () => {
  it('accepts a signature made with the same secret over the same raw body', () => {
    const header = signPayload(SECRET, BODY, T);

    expect(verifySignature(SECRET, BODY, header, { nowSeconds: T })).toBe(true);
  });

  it('rejects a signature made with another secret', () => {
    const header = signPayload(`${SECRET}x`, BODY, T);

    expect(verifySignature(SECRET, BODY, header, { nowSeconds: T })).toBe(false);
  });

  it('rejects a tampered body', () => {
    const header = signPayload(SECRET, BODY, T);

    expect(verifySignature(SECRET, BODY.replace('"1"', '"2"'), header, { nowSeconds: T })).toBe(false);
  });

  it('rejects the same JSON serialised differently (the raw bytes are signed)', () => {
    const header = signPayload(SECRET, BODY, T);

    expect(verifySignature(SECRET, JSON.stringify(JSON.parse(BODY), null, 1), header, { nowSeconds: T })).toBe(false);
  });

  it('rejects a timestamp changed after signing', () => {
    const header = signPayload(SECRET, BODY, T).replace(`t=${T}`, `t=${T + 1}`);

    expect(verifySignature(SECRET, BODY, header, { nowSeconds: T })).toBe(false);
  });

  it('accepts a timestamp exactly at the default tolerance of 300 s', () => {
    const header = signPayload(SECRET, BODY, T);

    expect(verifySignature(SECRET, BODY, header, { nowSeconds: T + 300 })).toBe(true);
  });

  it('rejects a timestamp older than the default tolerance (replay)', () => {
    const header = signPayload(SECRET, BODY, T);

    expect(verifySignature(SECRET, BODY, header, { nowSeconds: T + 301 })).toBe(false);
  });

  it('rejects a timestamp further in the future than the tolerance', () => {
    const header = signPayload(SECRET, BODY, T);

    expect(verifySignature(SECRET, BODY, header, { nowSeconds: T - 301 })).toBe(false);
  });

  it('honours a custom tolerance', () => {
    const header = signPayload(SECRET, BODY, T);

    expect(verifySignature(SECRET, BODY, header, { nowSeconds: T + 10, toleranceSeconds: 5 })).toBe(false);
    expect(verifySignature(SECRET, BODY, header, { nowSeconds: T + 5, toleranceSeconds: 5 })).toBe(true);
  });

  it('checks against the current clock by default', () => {
    const now = Math.floor(Date.now() / 1000);

    expect(verifySignature(SECRET, BODY, signPayload(SECRET, BODY, now))).toBe(true);
    expect(verifySignature(SECRET, BODY, signPayload(SECRET, BODY, now - 3600))).toBe(false);
  });

  it('accepts a header with several v1 values when one of them matches', () => {
    const good = signPayload(SECRET, BODY, T).split('v1=')[1] as string;
    const other = signPayload('avs_previous-secret', BODY, T).split('v1=')[1] as string;

    expect(verifySignature(SECRET, BODY, `t=${T},v1=${other},v1=${good}`, { nowSeconds: T })).toBe(true);
    expect(verifySignature(SECRET, BODY, `t=${T},v1=${good},v1=${other}`, { nowSeconds: T })).toBe(true);
  });

  it('rejects a header with several v1 values when none matches', () => {
    const a = signPayload('avs_a', BODY, T).split('v1=')[1] as string;
    const b = signPayload('avs_b', BODY, T).split('v1=')[1] as string;

    expect(verifySignature(SECRET, BODY, `t=${T},v1=${a},v1=${b}`, { nowSeconds: T })).toBe(false);
  });

  it('accepts spaces after the commas', () => {
    const header = signPayload(SECRET, BODY, T).replace(',', ', ');

    expect(verifySignature(SECRET, BODY, header, { nowSeconds: T })).toBe(true);
  });

  it.each([
    ['a missing header', undefined],
    ['an empty header', ''],
    ['a header without t', `v1=${'0'.repeat(64)}`],
    ['a header without v1', `t=${T}`],
    ['a non-numeric timestamp', `t=abc,v1=${'0'.repeat(64)}`],
    ['a v1 of the wrong length', `t=${T},v1=abcdef`],
    ['a v1 that is not hex', `t=${T},v1=${'z'.repeat(64)}`],
  ])('rejects %s', (_label, header) => {
    expect(verifySignature(SECRET, BODY, header, { nowSeconds: T })).toBe(false);
  });
});
