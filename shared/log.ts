import { LogFormatter, LogItem, Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import type { LogAttributes, UnformattedAttributes } from '@aws-lambda-powertools/logger/types';
import type { Context } from 'aws-lambda';

/**
 * Structured logging with Powertools for AWS Lambda's Logger: one JSON line per entry (what
 * CloudWatch and log tools read; on AWS with the Lambda context and the API Gateway request id as
 * correlation id), or, for a person at a terminal, one coloured human line. Callers pass only
 * non-secret fields (ids, codes, counts, timings); as a second line of defence the log formatter
 * (MaskingLogFormatter) drops any field whose name suggests a secret and masks strings that look
 * like vault tokens, API keys or signing secrets (docs/architecture.md, "Observability").
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

/** A field value, masked: secret-named keys dropped to [REDACTED] at any depth, vault credentials masked in strings. */
function maskValue(v: unknown, depth = 0): unknown {
  if (typeof v === 'string') return maskSecrets(v);
  if (v === null || typeof v !== 'object' || depth > 8) return v;
  if (Array.isArray(v)) return v.map((x) => maskValue(x, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, inner] of Object.entries(v)) {
    if (inner === undefined) continue;
    out[k] = SECRET_FIELD.test(k) ? '[REDACTED]' : maskValue(inner, depth + 1);
  }
  return out;
}

/**
 * The vault's masking as a Powertools log formatter: `{level, time, msg, …fields}` as the vault
 * has always logged, plus, inside Lambda, the function's context (service, cold_start,
 * function_name, function_request_id, xray_trace_id) and the correlation id.
 */
export class MaskingLogFormatter extends LogFormatter {
  override formatAttributes(attributes: UnformattedAttributes, additional: LogAttributes): LogItem {
    const safe: Record<string, unknown> = {
      level: String(attributes.logLevel).toLowerCase(),
      time: attributes.timestamp.toISOString(),
      msg: maskSecrets(String(attributes.message)),
    };
    const ctx = attributes.lambdaContext;
    if (ctx) {
      safe.service = attributes.serviceName;
      safe.cold_start = ctx.coldStart;
      safe.function_name = ctx.functionName;
      safe.function_request_id = ctx.awsRequestId;
      if (attributes.xRayTraceId) safe.xray_trace_id = attributes.xRayTraceId;
    }
    for (const [k, v] of Object.entries(additional)) {
      if (v === undefined || k in safe) continue;
      safe[k] = SECRET_FIELD.test(k) ? '[REDACTED]' : maskValue(v);
    }
    return new LogItem({ attributes: safe as LogAttributes });
  }
}

const POWERTOOLS_LEVEL = { debug: 'DEBUG', info: 'INFO', warn: 'WARN', error: 'ERROR' } as const;

/**
 * The vault's Logger over Powertools': the `log(level, msg, fields)` the code calls, Powertools'
 * context and correlation id, and every line printed through `sink` (JSON, or the readable line).
 */
export class VaultLogger extends PowertoolsLogger implements Logger {
  readonly #sink: (line: string) => void;
  readonly #format: LogFormat;

  constructor(sink: (line: string) => void, minLevel: Level, format: LogFormat) {
    super({
      serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'agent-vault',
      logLevel: POWERTOOLS_LEVEL[minLevel],
      logFormatter: new MaskingLogFormatter(),
    });
    this.#sink = sink;
    this.#format = format;
  }

  log(level: Level, msg: string, fields: LogFields = {}): void {
    this[level](msg, fields);
  }

  /** One request's Lambda context and correlation id (the API Gateway request id), until `endRequest`. */
  beginRequest(context: Context | undefined, correlationId: string | undefined): void {
    if (context?.awsRequestId) this.addContext(context);
    if (correlationId) this.setCorrelationId(correlationId);
  }

  endRequest(): void {
    this.resetKeys();
  }

  protected override printLog(_level: number, item: LogItem): void {
    const attributes = item.getAttributes();
    this.#sink(this.#format === 'pretty' ? prettyLine(attributes) : JSON.stringify(attributes, this.getJsonReplacer()));
  }
}

/**
 * Writes one line per call to the given sink (stdout by default, which CloudWatch collects):
 * JSON unless `format` is `pretty`.
 */
export function createLogger(
  sink: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
  minLevel: Level = 'info',
  format: LogFormat = 'json',
): VaultLogger {
  return new VaultLogger(sink, minLevel, format);
}

/** A logger that drops everything (tests that don't inspect logs, benchmarks). */
export const silentLogger: Logger = { log() {} };
