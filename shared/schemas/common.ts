import * as z from 'zod';
import { PayloadTooLargeError, ValidationError } from '../errors.ts';

/** Fields that would poison an object's prototype; never accepted as a key anywhere. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Invisible characters no name may hold (controls are refused by their own rule): format
 * characters (zero-width space/joiners, BOM, soft hyphen, and the bidirectional overrides and
 * isolates that make a name display as another, "Trojan Source") and line/paragraph separators.
 */
const INVISIBLE = /[\p{Cf}\p{Zl}\p{Zp}]/u;

export const AgentId = z
  .string()
  // NFC first, so every check and the stored key see one spelling of the same text.
  .normalize('NFC')
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, 'must be 1-128 characters: letters, digits, ".", "_", ":", "-", starting with a letter or digit')
  .describe('Agent id, unique within the tenant');

export const ProfileName = z
  .string()
  // NFC first: "é" typed precomposed or as e + combining accent names the same profile (the
  // profile's slot is derived from this text).
  .normalize('NFC')
  .min(1, 'must not be empty')
  .max(128, 'must be at most 128 characters')
  .refine((s) => s.isWellFormed(), 'must be well-formed Unicode (no lone surrogates)')
  .refine((s) => !s.includes('/'), 'must not contain "/"')
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this refuses
  .refine((s) => !/[\u0000-\u001f\u007f-\u009f]/u.test(s), 'must not contain control characters')
  .refine(
    (s) => !INVISIBLE.test(s),
    'must not contain invisible or direction-changing characters (zero-width spaces and joiners, BOM, soft hyphen, bidirectional overrides/isolates such as U+202E, line separators)',
  )
  .refine((s) => s !== '.' && s !== '..', 'must not be "." or ".." (they read as paths)')
  .describe('Auth profile name, unique per agent (NFC-normalised)');

export const InputArgName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/, 'must be 1-64 characters: letters, digits, "_", ".", "-", starting with a letter or "_"')
  .refine((s) => !FORBIDDEN_KEYS.has(s), 'is a reserved name');

export const ApiKeyField = z.string().optional().describe('Tenant API key (prefer the Authorization header)');

/** ISO-8601 timestamp. */
export const Timestamp = z.string().describe('ISO-8601 timestamp');

/** Limits of one profile's auth_data (a DynamoDB item holds 400 KB, ciphertext included). */
export const AUTH_DATA_LIMITS = {
  maxKeys: 64,
  minValueBytes: 1,
  maxValueBytes: 16 * 1024,
  maxTotalBytes: 64 * 1024,
} as const;

export const AuthData = z
  .record(z.string(), z.string('auth_data values must be strings').refine((s) => s.isWellFormed(), 'must be well-formed Unicode'))
  .describe(
    `Credentials as string key/value pairs; keys are the agent's input arguments. ` +
      `At most ${AUTH_DATA_LIMITS.maxKeys} keys, values 1 B-16 KiB, 64 KiB in all.`,
  );

/**
 * Checks auth_data against the size limits. Too many keys or an empty value is a 400; a value
 * or total over the byte limits is a 413, whose message says why the limits exist.
 */
export function assertAuthDataLimits(data: Readonly<Record<string, string>>): void {
  const entries = Object.entries(data);
  if (entries.length === 0) throw new ValidationError('auth_data must contain at least one key');
  if (entries.length > AUTH_DATA_LIMITS.maxKeys) {
    throw new ValidationError(`auth_data has ${entries.length} keys; at most ${AUTH_DATA_LIMITS.maxKeys} are allowed`);
  }
  let total = 0;
  for (const [key, value] of entries) {
    const bytes = Buffer.byteLength(value, 'utf8');
    if (bytes < AUTH_DATA_LIMITS.minValueBytes) throw new ValidationError(`auth_data.${key} must not be empty`);
    if (bytes > AUTH_DATA_LIMITS.maxValueBytes) {
      throw new PayloadTooLargeError(
        `auth_data.${key} is ${bytes} bytes; a value may be at most 16 KiB (16384 bytes) so a profile fits in one DynamoDB item (400 KB)`,
      );
    }
    total += bytes;
  }
  if (total > AUTH_DATA_LIMITS.maxTotalBytes) {
    throw new PayloadTooLargeError(
      `auth_data totals ${total} bytes; at most 64 KiB (65536 bytes) in all so a profile fits in one DynamoDB item (400 KB)`,
    );
  }
}

export const ErrorBody = z.object({
  error: z.object({
    code: z.string().describe('Stable snake_case error code'),
    message: z.string().describe('What went wrong and how to fix it'),
  }),
});

/** A JSON Pointer-ish path for messages: `auth_data.password`, `input_args[2].name`. */
function pathOf(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out;
}

/** The value at `path` inside `input` (own properties only), or undefined. */
function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = input;
  for (const p of path) {
    if (v === null || typeof v !== 'object' || !Object.hasOwn(v, p)) return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

/**
 * Parses input with a zod schema; on failure throws a 400 ValidationError listing every problem
 * by field path. Messages describe what was expected, never the received value.
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, what = 'request body'): z.infer<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.slice(0, 10).map((i) => {
    const path = pathOf(i.path);
    let message = i.message;
    if ((i.code === 'invalid_type' || i.code === 'invalid_value') && valueAt(input, i.path) === undefined) message = 'is required';
    // A message that already names its field ("limit must be …") is not prefixed a second time.
    return path && !message.startsWith(`${path} `) ? `${path}: ${message}` : message;
  });
  throw new ValidationError(`Invalid ${what}: ${problems.join('; ')}`);
}
