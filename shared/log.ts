/**
 * Structured JSON logging. Callers pass only non-secret fields (ids, codes, counts, timings);
 * as a second line of defence, any field whose name suggests a secret is dropped, and strings
 * that look like vault tokens, API keys or signing secrets are masked.
 */
export type Level = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, string | number | boolean | null | undefined>;

export interface Logger {
  log(level: Level, msg: string, fields?: LogFields): void;
}

const SECRET_FIELD = /token|secret|password|api_?key|auth_?data|authorization|credential|session_data|body/i;
const SECRET_VALUE = /\b(avt|avk|avs)_[A-Za-z0-9_-]{8,}/g;

/** Masks anything that looks like a vault credential inside a string. */
export function maskSecrets(s: string): string {
  return s.replace(SECRET_VALUE, (_m, p: string) => `${p}_[REDACTED]`);
}

/** Writes one JSON line per call to the given sink (stdout by default, which CloudWatch collects). */
export function createLogger(sink: (line: string) => void = (l) => process.stdout.write(`${l}\n`), minLevel: Level = 'info'): Logger {
  const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };
  return {
    log(level, msg, fields = {}) {
      if (order[level] < order[minLevel]) return;
      const safe: Record<string, unknown> = { level, time: new Date().toISOString(), msg: maskSecrets(msg) };
      for (const [k, v] of Object.entries(fields)) {
        if (v === undefined) continue;
        safe[k] = SECRET_FIELD.test(k) ? '[REDACTED]' : typeof v === 'string' ? maskSecrets(v) : v;
      }
      sink(JSON.stringify(safe));
    },
  };
}

/** A logger that drops everything (tests that don't inspect logs, benchmarks). */
export const silentLogger: Logger = { log() {} };
