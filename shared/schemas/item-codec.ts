import * as z from './zod.ts';

/**
 * A lean parser compiled from a zod schema, for the stored items the signed store opens and seals
 * on every request (shared/store/signer.ts) and the audit records it writes (shared/audit/record.ts).
 *
 * The zod schema stays the single source of truth: the parser is built from its definition at
 * first use, so a field added to a schema is parsed here too. It accepts exactly what the schema's
 * `safeParse` accepts and returns the same value (the same fields in the same order, defaults
 * applied, unknown attributes left out), without zod's per-node payloads and issue lists. What it
 * does not model itself — a string or number with checks (regex, refine, min/max, url), unions,
 * anything else — it hands to zod for that node alone, so nothing is ever checked less. A refused
 * input answers INVALID; callers that need zod's error parse again with the schema.
 * test/unit/schemas/item-codec.test.ts feeds every item schema and its parser the same valid and
 * invalid items.
 */
export const INVALID: unique symbol = Symbol('invalid');
export type Parser<T> = (input: unknown) => T | typeof INVALID;

type Parse = (input: unknown) => unknown;
// The zod definition fields the compiler reads (zod 4's core `_zod.def`, the same in zod and zod/mini).
type Def = Record<string, unknown> & { type: string; checks?: readonly unknown[] };
type Internals = { def: Def; optin?: 'optional' | 'defaulted'; optout?: 'optional'; values?: ReadonlySet<unknown> };
type Schema = { _zod: Internals };

const compiled = new WeakMap<object, Parse>();

/** The parser of `schema` (compiled once, on first use). */
export function parserOf<S extends z.core.$ZodType>(schema: S): Parser<z.output<S>> {
  let p = compiled.get(schema);
  if (!p) {
    p = compile(schema as unknown as Schema);
    compiled.set(schema, p);
  }
  return p as Parser<z.output<S>>;
}

/** zod itself, for one node: its value, or INVALID for any issue. */
function byZod(schema: Schema): Parse {
  return (input) => {
    const r = z.safeParse(schema as unknown as z.core.$ZodType, input);
    return r.success ? r.data : INVALID;
  };
}

const isObject = (v: unknown): v is Record<PropertyKey, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** zod's isPlainObject (what a record accepts). */
function isPlainObject(o: unknown): o is Record<PropertyKey, unknown> {
  if (!isObject(o)) return false;
  const ctor = (o as { constructor?: unknown }).constructor;
  if (ctor === undefined || typeof ctor !== 'function') return true;
  const prot = (ctor as { prototype?: unknown }).prototype;
  return isObject(prot) && Object.hasOwn(prot, 'isPrototypeOf');
}

function compile(schema: Schema): Parse {
  const def = schema._zod.def;
  const plain = !def.checks || def.checks.length === 0;
  switch (def.type) {
    case 'string':
      if (def.coerce) break;
      if (!plain || def.format !== undefined) return remembered(byZod(schema));
      return (v) => (typeof v === 'string' ? v : INVALID);
    case 'number':
      if (!plain || def.coerce) break;
      // z.int(): a number format that is its own check (safe integers only).
      if (def.format === 'safeint') return (v) => (typeof v === 'number' && Number.isSafeInteger(v) ? v : INVALID);
      if (def.format !== undefined) break;
      return (v) => (typeof v === 'number' && Number.isFinite(v) ? v : INVALID);
    case 'boolean':
      if (!plain || def.coerce) break;
      return (v) => (typeof v === 'boolean' ? v : INVALID);
    case 'literal':
    case 'enum': {
      const values = schema._zod.values;
      if (!plain || !values) break;
      return (v) => (values.has(v) ? v : INVALID);
    }
    case 'unknown':
    case 'any':
      if (!plain) break;
      return (v) => v;
    case 'custom': {
      if (!plain) break;
      const fn = def.fn as (v: unknown) => unknown;
      const zod = byZod(schema);
      return (v) => {
        const ok = fn(v);
        if (ok instanceof Promise) return zod(v);
        return ok ? v : INVALID;
      };
    }
    case 'optional': {
      if (!plain) break;
      const innerSchema = def.innerType as Schema;
      const inner = compile(innerSchema);
      if (innerSchema._zod.optin === 'defaulted') {
        // Absence is handed to a defaulting inner; a failure there yields undefined.
        return (v) => {
          if (v !== undefined) return inner(v);
          const r = inner(undefined);
          return r === INVALID ? undefined : r;
        };
      }
      return (v) => (v === undefined ? undefined : inner(v));
    }
    case 'default': {
      if (!plain) break;
      const inner = compile(def.innerType as Schema);
      // The default is read from the definition every time: zod's getter hands out a fresh copy.
      return (v) => {
        if (v === undefined) return def.defaultValue;
        const r = inner(v);
        return r === undefined ? def.defaultValue : r;
      };
    }
    case 'array': {
      if (!plain) break;
      const element = compile(def.element as Schema);
      return (v) => {
        if (!Array.isArray(v)) return INVALID;
        const out = new Array(v.length);
        for (let i = 0; i < v.length; i++) {
          const r = element(v[i]);
          if (r === INVALID) return INVALID;
          out[i] = r;
        }
        return out;
      };
    }
    case 'object':
      if (!plain || def.catchall !== undefined) break;
      return compileObject(def.shape as Record<string, Schema>) ?? byZod(schema);
    case 'record':
      if (!plain || def.mode === 'loose') break;
      return compileRecord(def) ?? byZod(schema);
    case 'union':
      if (!plain || typeof def.discriminator !== 'string' || def.unionFallback) break;
      return compileDiscriminated(def.discriminator, def.options as Schema[]) ?? byZod(schema);
    case 'pipe': {
      // z.preprocess: a transform, then the schema.
      const from = (def.in as Schema)._zod.def;
      const transform = from.transform as (v: unknown) => unknown;
      // A transform that takes zod's payload (to add issues) is left to zod.
      if (!plain || from.type !== 'transform' || (from.checks && from.checks.length > 0) || transform.length > 1) break;
      const out = compile(def.out as Schema);
      const zod = byZod(schema);
      return (v) => {
        const t = transform(v);
        return t instanceof Promise ? zod(v) : out(t);
      };
    }
  }
  return byZod(schema);
}

/** Verdicts remembered per checked string leaf (bounded: forgotten all at once when full). */
const REMEMBERED = 512;

/**
 * A string leaf with checks (a name's pattern and refinements, a URL), remembered per input: the
 * checks are functions of the string alone, and the same names and URLs are read on every
 * request, so each distinct string is checked by zod once per REMEMBERED.
 */
function remembered(parse: Parse): Parse {
  let seen = new Map<string, unknown>();
  return (v) => {
    if (typeof v !== 'string') return INVALID;
    const known = seen.get(v);
    if (known !== undefined) return known;
    const r = parse(v);
    if (seen.size >= REMEMBERED) seen = new Map();
    seen.set(v, r);
    return r;
  };
}

/** A discriminated union: the option its discriminator names (none: refused, as zod does without a fallback). */
function compileDiscriminated(discriminator: string, options: readonly Schema[]): Parse | undefined {
  const byValue = new Map<unknown, Parse>();
  for (const option of options) {
    const values = (option._zod as { propValues?: Record<string, ReadonlySet<unknown>> }).propValues?.[discriminator];
    if (!values || values.has(undefined)) return undefined;
    const parse = compile(option);
    for (const value of values) {
      if (byValue.has(value)) return undefined;
      byValue.set(value, parse);
    }
  }
  return (input) => {
    if (!isObject(input)) return INVALID;
    const parse = byValue.get(input[discriminator]);
    return parse ? parse(input) : INVALID;
  };
}

/** A strip-mode object: the shape's keys in order, each as zod's object parse handles presence and absence. */
function compileObject(shape: Record<string, Schema>): Parse | undefined {
  if (Object.getOwnPropertySymbols(shape).length > 0) return undefined;
  const fields = Object.keys(shape)
    .filter((key) => key !== '__proto__')
    .map((key) => {
      const s = shape[key] as Schema;
      return { key, parse: compile(s), optin: s._zod.optin, optionalOut: s._zod.optout === 'optional' };
    });
  return (input) => {
    if (!isObject(input)) return INVALID;
    const out: Record<string, unknown> = {};
    for (const { key, parse, optin, optionalOut } of fields) {
      const r = parse(input[key]);
      const present = key in input;
      if (optin !== undefined && optionalOut) {
        // Optional in and out: a failure on an absent key is ignored (and nothing is assigned).
        if (r === INVALID) {
          if (present) return INVALID;
          continue;
        }
        if (optin === 'optional' ? present : r !== undefined || present) out[key] = r;
      } else if (optin === undefined) {
        if (r === INVALID || !present) return INVALID;
        out[key] = r;
      } else {
        if (r === INVALID) return INVALID;
        if (optin === 'defaulted' || r !== undefined || present) out[key] = r;
      }
    }
    return out;
  };
}

/** A record keyed by plain strings, or (partial) by an enum of strings. */
function compileRecord(def: Def): Parse | undefined {
  const keyType = (def.keyType as Schema)._zod;
  const value = compile(def.valueType as Schema);
  const keyPlain = !keyType.def.checks || keyType.def.checks.length === 0;
  let keyOk: (k: string) => boolean;
  if (keyType.def.type === 'string' && keyPlain && !keyType.def.coerce && keyType.def.format === undefined && !keyType.values) {
    keyOk = () => true;
  } else if (
    keyType.def.type === 'enum' &&
    keyPlain &&
    def.partial === true &&
    keyType.values &&
    [...keyType.values].every((k) => typeof k === 'string')
  ) {
    // Keys outside the enum are unrecognized; a numeric key's retry as a number cannot match string values.
    const values = keyType.values;
    keyOk = (k) => values.has(k);
  } else {
    return undefined;
  }
  return (input) => {
    if (!isPlainObject(input)) return INVALID;
    const out: Record<string, unknown> = {};
    for (const key of Reflect.ownKeys(input)) {
      if (key === '__proto__' || !Object.prototype.propertyIsEnumerable.call(input, key)) continue;
      if (typeof key !== 'string' || !keyOk(key)) return INVALID;
      const r = value(input[key]);
      if (r === INVALID) return INVALID;
      out[key] = r;
    }
    return out;
  };
}
