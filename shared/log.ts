/**
 * Structured logging: one JSON line per entry (what CloudWatch and log tools read), or, for a
 * person at a terminal, one coloured human line. Callers pass only non-secret fields (ids, codes, counts, timings);
 * as a second line of defence, any field whose name suggests a secret is dropped, and strings
 * that look like vault tokens, API keys or signing secrets are masked.
 */
export type Level = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, string | number | boolean | null | undefined>;

export interface Logger {
  log(level: Level, msg: string, fields?: LogFields): void;
}

const SECRET_FIELD = /token|secret|password|api_?key|auth_?data|authorization|credential|session_data|body/i;
const SECRET_VALUE = /\b(avt|avk|avs|avw)_[A-Za-z0-9_-]{8,}/g;

/** Masks anything that looks like a vault credential inside a string. */
export function maskSecrets(s: string): string {
  return s.replace(SECRET_VALUE, (_m, p: string) => `${p}_[REDACTED]`);
}

/** `json`: one JSON object per line. `pretty`: one coloured line for a terminal (the local server on a TTY). */
export type LogFormat = 'json' | 'pretty';

const COLOR = { dim: '\x1b[2m', red: '\x1b[31m', green: '\x1b[32m', yellow: '\x1b[33m', cyan: '\x1b[36m', reset: '\x1b[0m' };
const LEVEL_COLOR: Record<Level, string> = { debug: COLOR.dim, info: COLOR.cyan, warn: COLOR.yellow, error: COLOR.red };

function paint(color: string, text: string): string {
  return `${color}${text}${COLOR.reset}`;
}

function plain(v: unknown): string {
  const text = String(v);
  return /^[^\s"=]+$/.test(text) ? text : JSON.stringify(text);
}

/**
 * `12:03:04.567 INFO  POST /v1/agents → 401 unauthorized (1.2 ms) request_id=…`: request lines
 * read as method, path, status (coloured by class), error code and time; other entries as the
 * message and key=value pairs. Works on the already-masked fields.
 */
export function prettyLine(safe: Record<string, unknown>): string {
  const { level, time, msg, ...rest } = safe as { level: Level; time: string; msg: string } & Record<string, unknown>;
  const head = `${paint(COLOR.dim, time.slice(11, 23))} ${paint(LEVEL_COLOR[level], level.toUpperCase().padEnd(5))}`;
  let text = msg;
  if (msg === 'request' && typeof rest.status === 'number') {
    const { method, path, status, error_code, ms, ...others } = rest;
    const color = status >= 500 ? COLOR.red : status >= 400 ? COLOR.yellow : COLOR.green;
    text = `${method} ${path} → ${paint(color, `${status}${error_code ? ` ${error_code}` : ''}`)} (${ms} ms)`;
    const tail = Object.entries(others).map(([k, v]) => `${k}=${plain(v)}`);
    return `${head} ${text}${tail.length ? ` ${paint(COLOR.dim, tail.join(' '))}` : ''}`;
  }
  const tail = Object.entries(rest).map(([k, v]) => `${k}=${plain(v)}`);
  return `${head} ${text}${tail.length ? ` ${paint(COLOR.dim, tail.join(' '))}` : ''}`;
}

/**
 * Writes one line per call to the given sink (stdout by default, which CloudWatch collects):
 * JSON unless `format` is `pretty`.
 */
export function createLogger(
  sink: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
  minLevel: Level = 'info',
  format: LogFormat = 'json',
): Logger {
  const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };
  return {
    log(level, msg, fields = {}) {
      if (order[level] < order[minLevel]) return;
      const safe: Record<string, unknown> = { level, time: new Date().toISOString(), msg: maskSecrets(msg) };
      for (const [k, v] of Object.entries(fields)) {
        if (v === undefined) continue;
        safe[k] = SECRET_FIELD.test(k) ? '[REDACTED]' : typeof v === 'string' ? maskSecrets(v) : v;
      }
      sink(format === 'pretty' ? prettyLine(safe) : JSON.stringify(safe));
    },
  };
}

/** A logger that drops everything (tests that don't inspect logs, benchmarks). */
export const silentLogger: Logger = { log() {} };
