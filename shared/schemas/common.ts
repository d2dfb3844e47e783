import * as z from './zod.ts';
import { describe } from './zod.ts';
import { PayloadTooLargeError, type UnknownField, UnknownFieldError, ValidationError } from '../errors.ts';

/** Fields that would poison an object's prototype; never accepted as a key anywhere. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Unicode format characters (general category Cf): zero-width space/joiners, the BOM (U+FEFF),
 * soft hyphen, and the bidirectional overrides and isolates that make a name display as another
 * ("Trojan Source"). Invisible, so "main" and "main" + U+200B would be two names that look one.
 */
const FORMAT_CHARACTER = /\p{Cf}/u;
/** Line and paragraph separators (Zl, Zp): invisible breaks no name may hold either. */
const SEPARATOR = /[\p{Zl}\p{Zp}]/u;

const codePoint = (c: string) => `U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;

/**
 * Refuses any Unicode format character (category Cf) in a name or id, naming the character and
 * the class. A refusal, never a strip: stripping (String.prototype.trim removes U+FEFF) would make
 * "main" + U+FEFF the same name as "main", and another invisible character a different one.
 * Runs before the other checks and stops them, so the answer says why the text was refused.
 */
export function refuseFormatCharacters(s: string, ctx: z.core.$RefinementCtx<string>): void {
  const m = FORMAT_CHARACTER.exec(s);
  if (m) {
    ctx.addIssue({
      code: 'custom',
      message: `must not contain invisible or direction-changing characters: ${codePoint(m[0])} at position ${m.index} is a Unicode format character (category Cf), a class refused in names and ids (zero-width spaces and joiners, BOM, soft hyphen, bidirectional overrides/isolates such as U+202E)`,
      continue: false,
    });
  }
}

export const AgentId = describe(
  z.string().check(
    // NFC first, so every check and the stored key see one spelling of the same text.
    z.normalize('NFC'),
    z.superRefine(refuseFormatCharacters),
    z.regex(
      /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/,
      'must be 1-128 characters: letters, digits, ".", "_", ":", "-", starting with a letter or digit',
    ),
  ),
  'Agent id, unique within the tenant',
);

export const ProfileName = describe(
  z.string().check(
    // NFC first: "é" typed precomposed or as e + combining accent names the same profile (the
    // profile's slot is derived from this text).
    z.normalize('NFC'),
    z.superRefine(refuseFormatCharacters),
    z.minLength(1, 'must not be empty'),
    z.maxLength(128, 'must be at most 128 characters'),
    z.refine((s) => s.isWellFormed(), 'must be well-formed Unicode (no lone surrogates)'),
    z.refine((s) => !s.includes('/'), 'must not contain "/"'),
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this refuses
    z.refine((s) => !/[\u0000-\u001f\u007f-\u009f]/u.test(s), 'must not contain control characters'),
    z.refine(
      (s) => !SEPARATOR.test(s),
      'must not contain invisible or direction-changing characters: line and paragraph separators (U+2028, U+2029) are refused',
    ),
    z.refine((s) => s !== '.' && s !== '..', 'must not be "." or ".." (they read as paths)'),
  ),
  'Auth profile name, unique per agent (NFC-normalised)',
);

export const InputArgName = z.string().check(
  z.superRefine(refuseFormatCharacters),
  z.regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/, 'must be 1-64 characters: letters, digits, "_", ".", "-", starting with a letter or "_"'),
  z.refine((s) => !FORBIDDEN_KEYS.has(s), 'is a reserved name'),
);

export const ApiKeyField = describe(z.optional(z.string()), 'Tenant API key (prefer the Authorization header)');

/** ISO-8601 timestamp. */
export const Timestamp = describe(z.string(), 'ISO-8601 timestamp');

/** Limits of one profile's auth_data (a DynamoDB item holds 400 KB, ciphertext included). */
export const AUTH_DATA_LIMITS = {
  maxKeys: 64,
  minValueBytes: 1,
  maxValueBytes: 16 * 1024,
  maxTotalBytes: 64 * 1024,
} as const;

export const AuthData = describe(
  z.record(
    z.string(),
    z.string('auth_data values must be strings').check(z.refine((s) => s.isWellFormed(), 'must be well-formed Unicode')),
  ),
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
    code: describe(z.string(), 'Stable snake_case error code'),
    message: describe(z.string(), 'What went wrong and how to fix it'),
    unknown_fields: describe(
      z.optional(
        z.array(
          z.object({
            field: describe(z.string(), 'Its path in the request: allowed_source_ip, input_args[0].secrte'),
            suggestion: describe(z.optional(z.string()), 'The nearest known field of that object, when it looks like a typo of one'),
            hint: describe(z.optional(z.string()), 'Where the field (or the suggested one) is set instead'),
          }),
        ),
      ),
      'unknown_field only: every field the request carried that the route does not know (request bodies and queries are strict)',
    ),
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

/** A request that takes no body: strict and empty, so any field sent is a 400 unknown_field. */
export const NoBody = describe(z.strictObject({}), 'This request takes no body');

/** A request that takes no query parameters: strict and empty, so any parameter is a 400 unknown_field. */
export const NoQuery = describe(z.strictObject({}), 'This request takes no query parameters');

/** What the unknown-field walk reads of a zod schema: zod 4 keeps each schema's definition in `_zod.def`. */
interface SchemaNode {
  readonly _zod: { readonly def: { readonly type: string; readonly [key: string]: unknown } };
}

/** The schemas that check a value at this point, wrappers (optional, default, the input side of a pipe, …) removed. */
function unwrap(schema: SchemaNode, depth = 0): SchemaNode[] {
  if (depth > 32) return [];
  const def = schema._zod.def;
  switch (def.type) {
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'nonoptional':
    case 'readonly':
    case 'catch':
      return unwrap(def.innerType as SchemaNode, depth + 1);
    case 'pipe':
      return unwrap(def.in as SchemaNode, depth + 1);
    case 'lazy':
      return unwrap((def.getter as () => SchemaNode)(), depth + 1);
    case 'union':
      return (def.options as SchemaNode[]).flatMap((o) => unwrap(o, depth + 1));
    case 'intersection':
      return [...unwrap(def.left as SchemaNode, depth + 1), ...unwrap(def.right as SchemaNode, depth + 1)];
    default:
      return [schema];
  }
}

/** The field names the schema knows for the object at `path` (every union member's, for a union). */
export function knownFieldsAt(schema: z.core.$ZodType, path: readonly PropertyKey[]): string[] {
  let nodes = unwrap(schema as unknown as SchemaNode);
  for (const segment of path) {
    nodes = nodes.flatMap((node) => {
      const def = node._zod.def;
      if (def.type === 'object') {
        const shape = def.shape as Record<string, SchemaNode>;
        return typeof segment === 'string' && Object.hasOwn(shape, segment) ? unwrap(shape[segment] as SchemaNode) : [];
      }
      if (def.type === 'array') return typeof segment === 'number' ? unwrap(def.element as SchemaNode) : [];
      if (def.type === 'record') return unwrap(def.valueType as SchemaNode);
      return [];
    });
  }
  const names = new Set<string>();
  for (const node of nodes) if (node._zod.def.type === 'object') for (const k of Object.keys(node._zod.def.shape as object)) names.add(k);
  return [...names];
}

/** Edit distance with adjacent transpositions (optimal string alignment): "methdo" is 1 from "method". */
function editDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) (rows[0] as number[])[j] = j;
  for (let i = 1; i <= a.length; i++) {
    const row = rows[i] as number[];
    const prev = rows[i - 1] as number[];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, ((rows[i - 2] as number[])[j - 2] as number) + 1);
      row[j] = d;
    }
  }
  return (rows[a.length] as number[])[b.length] as number;
}

/** Letter case, "_" and "-" aside: `allowedHosts`, `Allowed-Hosts` and `allowed_hosts` are one name. */
const looseSpelling = (s: string) => s.toLowerCase().replace(/[-_]/g, '');

/**
 * The known field an unknown one most likely meant: the same name spelt with other case or
 * separators, else the nearest by edit distance when it is a likely typo (1 edit under 5
 * characters, 2 under 15, else 3), else the one known field that begins or ends with it as a whole
 * word (`hosts` → `allowed_hosts`, `timeout` → `timeout_ms`).
 */
export function nearestField(unknown: string, known: readonly string[]): string | undefined {
  if (unknown.length === 0 || unknown.length > 64) return undefined;
  const loose = looseSpelling(unknown);
  const sameLoosely = known.find((k) => looseSpelling(k) === loose);
  if (sameLoosely !== undefined) return sameLoosely;
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const k of known) {
    const d = editDistance(unknown.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  // A typo is one or two edits; three only in a long name ("auth_token" is not a typo of "auth_type").
  const allowed = unknown.length < 5 ? 1 : unknown.length < 15 ? 2 : 3;
  if (best !== undefined && bestDistance <= allowed) return best;
  const word = unknown.toLowerCase();
  const partOf = word.length >= 4 ? known.filter((k) => k.toLowerCase().endsWith(`_${word}`) || k.toLowerCase().startsWith(`${word}_`)) : [];
  return partOf.length === 1 ? partOf[0] : undefined;
}

/** How much of a field name a message quotes (a name is the caller's text, of any length). */
const MAX_QUOTED = 64;
/** How many unknown fields one answer names. */
const MAX_NAMED = 20;

const shortened = (s: string) => (s.length > MAX_QUOTED ? `${s.slice(0, MAX_QUOTED)}…` : s);
const quote = (s: string) => JSON.stringify(shortened(s));

/** Per request schema: fields it does not take that another request sets, and how to set them. */
const FIELDS_ELSEWHERE = new WeakMap<z.core.$ZodType, Readonly<Record<string, string>>>();

/**
 * Marks fields a request body does not take but another request sets (`allowed_source_ips` on a
 * profile create: PATCH sets it), so the unknown-field answer says where to set them rather than
 * only "remove it". Returns the schema itself; register the schema that is passed to parseInput.
 */
export function withFieldsElsewhere<S extends z.core.$ZodType>(schema: S, fields: Readonly<Record<string, string>>): S {
  FIELDS_ELSEWHERE.set(schema, fields);
  return schema;
}

/** "did you mean …?" and/or where the field is set, for one unknown field; undefined when neither applies. */
function fieldHint(f: UnknownField): string | undefined {
  const mean = f.suggestion !== undefined ? `did you mean ${quote(f.suggestion)}?` : undefined;
  if (f.hint === undefined) return mean;
  return mean ? `${mean} That one is not set here: ${f.hint}` : `it is not set here: ${f.hint}`;
}

/** The 400 unknown_field for the unrecognized keys in `issues`, or undefined when there are none. */
function unknownFieldError(
  schema: z.core.$ZodType,
  issues: readonly z.core.$ZodIssue[],
  what: string,
  otherProblems: readonly string[],
): UnknownFieldError | undefined {
  const found: UnknownField[] = [];
  let knownOfFirst: string[] = [];
  for (const issue of issues) {
    if (issue.code !== 'unrecognized_keys') continue;
    const known = knownFieldsAt(schema, issue.path);
    const elsewhere = issue.path.length === 0 ? (FIELDS_ELSEWHERE.get(schema) ?? {}) : {};
    if (found.length === 0) knownOfFirst = known;
    for (const key of issue.keys) {
      const field = shortened(pathOf([...issue.path, key]));
      if (Object.hasOwn(elsewhere, key)) {
        found.push({ field, hint: elsewhere[key] });
        continue;
      }
      const suggestion = nearestField(key, [...known, ...Object.keys(elsewhere)]);
      const hint = suggestion !== undefined && Object.hasOwn(elsewhere, suggestion) ? elsewhere[suggestion] : undefined;
      found.push({ field, ...(suggestion !== undefined ? { suggestion } : {}), ...(hint !== undefined ? { hint } : {}) });
    }
  }
  if (found.length === 0) return undefined;
  const named = found.slice(0, MAX_NAMED);
  let message: string;
  if (found.length === 1) {
    const [only] = named as [UnknownField];
    const hint =
      fieldHint(only) ??
      (knownOfFirst.length > 0 ? `remove it; the known fields there are ${knownOfFirst.join(', ')}` : 'remove it; none is accepted there');
    message = `Unknown field ${quote(only.field)} in ${what}; ${hint}`;
  } else {
    const list = named
      .map((f) => {
        const hint = fieldHint(f);
        return hint !== undefined ? `${quote(f.field)} (${hint})` : quote(f.field);
      })
      .join(', ');
    const more = found.length > named.length ? ` and ${found.length - named.length} more` : '';
    message = `Unknown fields in ${what}: ${list}${more}; remove or correct them`;
  }
  if (otherProblems.length > 0) message += `${message.endsWith('?') ? '' : '.'} Also: ${otherProblems.join('; ')}`;
  return new UnknownFieldError(message, named);
}

/**
 * Parses input with a zod schema; on failure throws a 400 listing every problem by field path.
 * Messages describe what was expected, never the received value. Request objects are strict: a
 * field the schema does not know is a 400 `unknown_field` that names it with its path and the
 * nearest known field of its object (a misspelled setting must never be dropped silently).
 */
export function parseInput<S extends z.core.$ZodType>(schema: S, input: unknown, what = 'request body'): z.output<S> {
  const result = z.safeParse(schema, input);
  if (result.success) return result.data;
  const problems = result.error.issues
    .filter((i) => i.code !== 'unrecognized_keys')
    .slice(0, 10)
    .map((i) => {
      const path = pathOf(i.path);
      let message = i.message;
      if ((i.code === 'invalid_type' || i.code === 'invalid_value') && valueAt(input, i.path) === undefined) message = 'is required';
      // A message that already names its field ("limit must be …") is not prefixed a second time.
      return path && !message.startsWith(`${path} `) ? `${path}: ${message}` : message;
    });
  const unknown = unknownFieldError(schema, result.error.issues, what, problems);
  if (unknown) throw unknown;
  throw new ValidationError(`Invalid ${what}: ${problems.join('; ')}`);
}
