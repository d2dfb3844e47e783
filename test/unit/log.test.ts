import { describe, expect, it } from 'vitest';
import { createLogger } from '#shared/log';

/** ANSI colour sequences (ESC [ … m), stripped to read the text. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching the ESC byte is the point
const ANSI_SGR = /\x1b\[[0-9;]*m/g;

const ESC = '\x1b[';

function capture(format?: 'json' | 'pretty') {
  const lines: string[] = [];
  return { lines, log: createLogger((l) => lines.push(l), 'info', format) };
}

describe('createLogger', () => {
  it('writes one JSON object per line by default (what log tools read)', () => {
    const { lines, log } = capture();

    log.log('warn', 'run failed', { session_id: 's1', reason: 'runner could not be reached: ECONNREFUSED 127.0.0.1:4999' });

    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] as string)).toMatchObject({ level: 'warn', msg: 'run failed', session_id: 's1', reason: 'runner could not be reached: ECONNREFUSED 127.0.0.1:4999' });
    expect(lines[0]).not.toContain(ESC);
  });

  it('writes a request as one coloured human line in pretty format, with the error code of a 4xx', () => {
    const { lines, log } = capture('pretty');

    log.log('info', 'request', { method: 'GET', path: '/v1/agents', status: 401, error_code: 'unauthorized', ms: 1.5, request_id: 'r-1' });

    expect(lines).toHaveLength(1);
    const line = lines[0] as string;
    expect(line).not.toContain('\n');
    expect(line).toContain(ESC); // coloured
    const text = line.replace(ANSI_SGR, '');
    expect(text).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}GET \/v1\/agents → 401 unauthorized \(1\.5 ms\) request_id=r-1$/);
  });

  it('writes other entries as the message and key=value pairs, quoting values with spaces', () => {
    const { lines, log } = capture('pretty');

    log.log('warn', 'run failed', { session_id: 's1', reason: 'runner answered HTTP 401: was the signing secret rotated?' });

    const text = (lines[0] as string).replace(ANSI_SGR, '');
    expect(text).toMatch(/ WARN {2}run failed session_id=s1 reason="runner answered HTTP 401: was the signing secret rotated\?"$/);
  });

  it('masks secrets in the pretty format as in JSON', () => {
    const { lines, log } = capture('pretty');

    log.log('info', 'saw avk_abcdefghijklmnop', { api_key: 'avk_abcdefghijklmnop', note: 'avt_abcdefghijklmnop' });

    expect(lines[0]).not.toMatch(/abcdefghijklmnop/);
    expect(lines[0]).toContain('[REDACTED]');
  });
});
