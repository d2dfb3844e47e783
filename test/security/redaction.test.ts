import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDACTED, Redactor } from '#shared/outbound/redact';
import { callWebhookRunner } from '#shared/runs/webhook';
import { startTestRunner } from '#test/support/runner';

const PASSWORD = 'Tr0ub4dor&3 horse/staple+"q"';
const USER = 'alice@example.com';
const LONG_DIGITS = '12345678901234567890123';

const redactor = new Redactor([PASSWORD, USER, LONG_DIGITS, 'pin1']);
const clean = (s: string) => redactor.text(s);
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

describe('Redactor.text', () => {
  it.each([
    ['JSON-escaped', JSON.stringify(PASSWORD).slice(1, -1)],
    ['double JSON-escaped', JSON.stringify(JSON.stringify(PASSWORD)).slice(1, -1)],
    ['percent-encoded (%20)', encodeURIComponent(PASSWORD)],
    ['form-encoded (+)', new URLSearchParams({ p: PASSWORD }).toString().slice(2)],
    ['base64', b64(PASSWORD)],
    ['base64 without padding', b64(PASSWORD).replace(/=+$/, '')],
    ['base64url', Buffer.from(PASSWORD).toString('base64url')],
    ['hex', Buffer.from(PASSWORD).toString('hex')],
    ['upper-case hex', Buffer.from(PASSWORD).toString('hex').toUpperCase()],
    ['upper-cased', PASSWORD.toUpperCase()],
    ['Basic auth of user:pass', `Basic ${b64(`${USER}:${PASSWORD}`)}`],
    ['base64 inside a longer blob (offset 1)', b64(`x${PASSWORD}yz`)],
    ['base64 inside a longer blob (offset 2)', b64(`xy${PASSWORD}z`)],
  ])('redacts the %s form', (_, form) => {
    const out = clean(`before ${form} after`);

    expect(out).toContain(REDACTED);
    expect(out).not.toContain(form);
    expect(out.startsWith('before ')).toBe(true);
  });

  it('redacts user:pass whose password is too short for the unaligned base64 cores', () => {
    const r = new Redactor(['bob', 'pw12']);
    const header = b64('bob:pw12');

    expect(r.text(`Authorization: Basic ${header}`)).toBe(`Authorization: Basic ${REDACTED}`);
  });

  it('matches case-insensitively only from 8 characters', () => {
    expect(clean('PIN1 pin1')).toBe(`PIN1 ${REDACTED}`);
    expect(clean(USER.toUpperCase())).toBe(REDACTED);
  });

  it('redacts ensure_ascii (\\uXXXX) escapes of non-ASCII values', () => {
    const r = new Redactor(['pässwörd-ü']);

    expect(r.text('{"p": "p\\u00e4ssw\\u00f6rd-\\u00fc"}')).toBe(`{"p": "${REDACTED}"}`);
  });

  it('leaves text without any form of a value alone', () => {
    const text = 'nothing here: aGVsbG8gd29ybGQ= 68656c6c6f %41 +';

    expect(clean(text)).toBe(text);
  });
});

describe('Redactor.value', () => {
  it('redacts a number that lost precision when parsed', () => {
    const parsed = JSON.parse(`{"n": ${LONG_DIGITS}}`) as { n: number };
    expect(String(parsed.n)).not.toBe(LONG_DIGITS);

    expect(redactor.value(parsed)).toEqual({ n: REDACTED });
  });
});

describe('Redactor.json', () => {
  it('turns a number token holding a numeric secret into the string [REDACTED] and stays JSON', () => {
    const out = redactor.json(`{"output": {"account": ${LONG_DIGITS}, "nested": [-${LONG_DIGITS}9, 7]}}`);

    expect(JSON.parse(out)).toEqual({ output: { account: REDACTED, nested: [REDACTED, 7] } });
  });

  it('redacts escaped forms inside string tokens', () => {
    const raw = JSON.stringify({ output: { echoed: JSON.stringify({ p: PASSWORD }) } });

    expect(JSON.parse(redactor.json(raw))).toEqual({ output: { echoed: `{"p":"${REDACTED}"}` } });
  });
});

describe('callWebhookRunner with a redactor', () => {
  let runner: Awaited<ReturnType<typeof startTestRunner>>;
  beforeAll(async () => {
    runner = await startTestRunner(() => ({ body: {} }));
  });
  afterAll(async () => {
    await runner.close();
  });
  const call = () =>
    callWebhookRunner({
      url: runner.url,
      signingSecret: 'avs_test',
      payload: {},
      timeoutMs: 5000,
      allowPrivate: true,
      nowSeconds: Math.floor(Date.now() / 1000),
      redactor,
    });

  it('redacts the raw text before parsing: a long digit string never reaches the output rounded', async () => {
    runner.setBehaviour(() => ({ body: `{"output": {"acct": ${LONG_DIGITS}, "auth": "Basic ${b64(`${USER}:${PASSWORD}`)}"}, "error": "${encodeURIComponent(PASSWORD)}"}` }));

    const result = await call();

    expect(result).toEqual({ ok: true, output: { acct: REDACTED, auth: `Basic ${REDACTED}` }, error: REDACTED, session: undefined });
  });

  it('keeps the session unredacted (sealed, never shown)', async () => {
    runner.setBehaviour(() => ({ body: { output: PASSWORD, session: { cookie: PASSWORD } } }));

    const result = await call();

    expect(result).toMatchObject({ ok: true, output: REDACTED, session: { cookie: PASSWORD } });
  });

  it('falls back to the parsed values when redacting the text breaks an escape', async () => {
    // The value ends in a backslash: in the raw text it sits before an escaped quote.
    const r = new Redactor(['slash\\']);
    runner.setBehaviour(() => ({ body: '{"output": "slash\\\\ and slash\\"", "error": null}' }));

    const result = await callWebhookRunner({
      url: runner.url,
      signingSecret: 'avs_test',
      payload: {},
      timeoutMs: 5000,
      allowPrivate: true,
      nowSeconds: 0,
      redactor: r,
    });

    expect(result).toMatchObject({ ok: true, output: `${REDACTED} and slash"` });
  });
});
