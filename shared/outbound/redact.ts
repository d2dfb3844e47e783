export const REDACTED = '[REDACTED]';

/** Values at least this long are also matched case-insensitively (an echo that upper-cased them). */
export const CASE_INSENSITIVE_MIN_CHARS = 8;
/** Values at least this many UTF-8 bytes also get their base64/base64url/hex forms redacted. */
export const ENCODED_MIN_BYTES = 4;
/**
 * An unaligned base64 core (the value encoded at byte offset 1 or 2 of a longer blob, minus the
 * characters it shares with its neighbours) is matched only from this many characters: shorter
 * cores would redact unrelated base64 text.
 */
const UNALIGNED_CORE_MIN_CHARS = 8;
/** `user:pass` pairs (Basic auth) are built over every ordered pair of values up to this many values. */
const MAX_VALUES_FOR_PAIRS = 16;

/** A JSON number literal (the text a runner might echo a numeric credential as). */
const NUMBER_LITERAL = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const jsonEscaped = (s: string) => JSON.stringify(s).slice(1, -1);
/** JSON escaping as ensure_ascii serialisers (Python's json.dumps) write it: \uXXXX for non-ASCII. */
const jsonAsciiEscaped = (s: string) => jsonEscaped(s).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
const formEncoded = (s: string) => new URLSearchParams({ v: s }).toString().slice(2);

/**
 * The base64 text that stands for `bytes` wherever they sit in a longer base64 blob: the value
 * is encoded behind 0, 1 and 2 filler bytes, and the characters that also carry bits of the
 * neighbouring bytes (and the padding) are cut off.
 */
function base64Cores(bytes: Buffer): { aligned: string[]; unaligned: string[] } {
  const aligned = [bytes.toString('base64'), bytes.toString('base64').replace(/=+$/, '')];
  const unaligned: string[] = [];
  for (let offset = 0; offset < 3; offset++) {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString('base64').replace(/=+$/, '');
    const head = Math.ceil((offset * 8) / 6);
    const tail = (offset + bytes.length) % 3 === 0 ? 0 : 1;
    const core = encoded.slice(head, encoded.length - tail);
    if (core.length >= UNALIGNED_CORE_MIN_CHARS) unaligned.push(core);
  }
  return { aligned, unaligned };
}

const toUrlAlphabet = (b64: string) => b64.replace(/\+/g, '-').replace(/\//g, '_');

/**
 * Every textual form of one value the redactor looks for. See README "What redaction cannot
 * catch" for what is deliberately not covered.
 */
function variantsOf(value: string): string[] {
  const out = new Set<string>([value, jsonEscaped(value), jsonEscaped(jsonEscaped(value)), jsonAsciiEscaped(value)]);
  out.add(jsonEscaped(value).replace(/\//g, '\\/')); // PHP-style escaped slashes
  out.add(encodeURIComponent(value));
  out.add(formEncoded(value));
  out.add(encodeURIComponent(value).replace(/%20/g, '+'));
  out.add(jsonEscaped(encodeURIComponent(value)));
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length >= ENCODED_MIN_BYTES) {
    const { aligned, unaligned } = base64Cores(bytes);
    for (const b of [...aligned, ...unaligned]) {
      out.add(b);
      out.add(toUrlAlphabet(b));
    }
    out.add(bytes.toString('hex')); // upper-case hex is caught by the case-insensitive pass
  }
  if (NUMBER_LITERAL.test(value)) out.add(String(Number(value)));
  out.delete('');
  return [...out];
}

const TABLE_SIZE = 1024;
const TABLE_MASK = TABLE_SIZE - 1;

/** A 4-character window hash (polynomial, 32-bit) for the literal matcher below. */
function quadHash(s: string, i: number): number {
  return (Math.imul(s.charCodeAt(i), 29791) + Math.imul(s.charCodeAt(i + 1), 961) + Math.imul(s.charCodeAt(i + 2), 31) + s.charCodeAt(i + 3)) | 0;
}

/**
 * Finds many literal strings in one left-to-right pass, replacing the longest match at the
 * leftmost position (what an alternation sorted longest-first does, but in time linear in the
 * text: a regex alternation of a thousand literals costs ~1 s per MiB in V8, this ~10 ms).
 * Candidates are found by the hash of their first four characters (shorter literals by their
 * first character) and confirmed with startsWith.
 */
class LiteralMatcher {
  // Small filters (a false positive only costs a Map lookup): large typed arrays cost more to
  // allocate, once per run, than they save.
  private readonly first = new Uint8Array(TABLE_SIZE);
  private readonly bloom = new Uint8Array(TABLE_SIZE);
  private readonly long = new Map<number, string[]>();
  private readonly short = new Map<number, string[]>();
  private readonly literals: readonly string[];
  private fallback?: RegExp;

  constructor(
    literals: Iterable<string>,
    private readonly fold: boolean,
  ) {
    const list = [...new Set([...literals].map((l) => (fold ? l.toLowerCase() : l)))].filter((l) => l.length > 0);
    list.sort((a, b) => b.length - a.length);
    this.literals = list;
    for (const l of list) {
      this.first[l.charCodeAt(0) & TABLE_MASK] = 1;
      if (l.length >= 4) {
        const h = quadHash(l, 0);
        this.bloom[h & TABLE_MASK] = 1;
        this.long.set(h, [...(this.long.get(h) ?? []), l]);
      } else {
        this.short.set(l.charCodeAt(0), [...(this.short.get(l.charCodeAt(0)) ?? []), l]);
      }
    }
  }

  get size(): number {
    return this.literals.length;
  }

  replace(text: string, by: string): string {
    const hay = this.fold ? text.toLowerCase() : text;
    // A few characters change length when lower-cased (U+0130): positions would not line up,
    // so such rare texts take the (slower) regex route.
    if (hay.length !== text.length) return text.replace(this.regex(), by);
    const n = hay.length;
    let out = '';
    let last = 0;
    let i = 0;
    while (i < n) {
      const c = hay.charCodeAt(i);
      if (this.first[c & TABLE_MASK] === 0) {
        i++;
        continue;
      }
      let len = 0;
      if (i + 4 <= n) {
        const h = quadHash(hay, i);
        if (this.bloom[h & TABLE_MASK] === 1) {
          for (const l of this.long.get(h) ?? []) {
            if (hay.startsWith(l, i)) {
              len = l.length;
              break;
            }
          }
        }
      }
      if (len === 0) {
        for (const l of this.short.get(c) ?? []) {
          if (hay.startsWith(l, i)) {
            len = l.length;
            break;
          }
        }
      }
      if (len === 0) {
        i++;
        continue;
      }
      out += text.slice(last, i) + by;
      i += len;
      last = i;
    }
    return last === 0 ? text : out + text.slice(last);
  }

  private regex(): RegExp {
    this.fallback ??= new RegExp(this.literals.map(escapeRegExp).join('|'), this.fold ? 'gi' : 'g');
    return this.fallback;
  }
}

/**
 * Redacts the credential values of one run from what the runner sends back. Built once per run
 * (every variant is computed and compiled here), then applied to the raw response text and to the
 * parsed values. Over-redaction is acceptable; a leak is not.
 */
export class Redactor {
  private readonly exact: LiteralMatcher;
  private readonly folded: LiteralMatcher;
  /** Number texts (as written, and as JSON.parse then String() turns them) that are secrets. */
  private readonly numbers: ReadonlySet<string>;
  /** Digit strings of numeric secrets, searched inside number tokens of the raw text. */
  private readonly numberDigits: readonly string[];
  readonly empty: boolean;

  constructor(secrets: readonly string[]) {
    const values = [...new Set(secrets.filter((s) => s.length > 0))];
    const exact = new Set<string>();
    const folded = new Set<string>();
    const numbers = new Set<string>();
    const digits = new Set<string>();
    const add = (source: string, variants: readonly string[]) => {
      for (const v of variants) (source.length >= CASE_INSENSITIVE_MIN_CHARS ? folded : exact).add(v);
    };
    for (const value of values) {
      add(value, variantsOf(value));
      if (NUMBER_LITERAL.test(value.trim())) {
        numbers.add(value.trim());
        numbers.add(String(Number(value.trim())));
        digits.add(value.trim());
      }
    }
    // Basic auth and friends: base64 of `user:pass` for every ordered pair of values. The
    // password part is also caught by the unaligned cores above; this catches the pair whole.
    if (values.length <= MAX_VALUES_FOR_PAIRS) {
      for (const user of values) {
        for (const pass of values) {
          if (user === pass) continue;
          const pair = `${user}:${pass}`;
          const b = Buffer.from(pair, 'utf8').toString('base64');
          const bare = b.replace(/=+$/, '');
          add(pair, [pair, b, bare, toUrlAlphabet(bare)]);
        }
      }
    }
    this.exact = new LiteralMatcher(exact, false);
    this.folded = new LiteralMatcher(folded, true);
    this.numbers = numbers;
    this.numberDigits = [...digits].sort((a, b) => b.length - a.length);
    this.empty = values.length === 0;
  }

  /** Replaces every known form of every value inside a string. */
  text(s: string): string {
    let out = s;
    if (this.folded.size > 0) out = this.folded.replace(out, REDACTED);
    if (this.exact.size > 0) out = this.exact.replace(out, REDACTED);
    return out;
  }

  /**
   * Redacts strings (and object keys) inside a parsed JSON value; a number whose text is a
   * secret, or that a numeric secret became after losing precision, becomes the string
   * [REDACTED]. Returns a copy; `__proto__` keys stay plain own properties.
   */
  value<T>(value: T): T {
    if (this.empty) return value;
    const walk = (v: unknown): unknown => {
      if (typeof v === 'string') return this.text(v);
      if (typeof v === 'number') return this.numbers.has(String(v)) ? REDACTED : v;
      if (Array.isArray(v)) return v.map(walk);
      if (v !== null && typeof v === 'object') {
        const out: Record<string, unknown> = {};
        for (const [k, inner] of Object.entries(v)) {
          Object.defineProperty(out, this.text(k), { value: walk(inner), enumerable: true, writable: true, configurable: true });
        }
        return out;
      }
      return v;
    };
    return walk(value) as T;
  }

  /**
   * Redacts raw JSON text before it is parsed: inside string tokens every form is replaced by
   * [REDACTED]; a number token that contains a numeric secret becomes the string "[REDACTED]"
   * (so a long digit string is caught before JSON.parse rounds it). The result is still JSON
   * unless a match cut through an escape sequence; the caller then falls back to redacting the
   * parsed value (see webhook.ts).
   */
  json(raw: string): string {
    if (this.empty) return raw;
    let out = '';
    let i = 0;
    const n = raw.length;
    while (i < n) {
      const c = raw.charCodeAt(i);
      if (c === 0x22 /* " */) {
        let j = i + 1;
        while (j < n) {
          const d = raw.charCodeAt(j);
          if (d === 0x5c /* \ */) j += 2;
          else if (d === 0x22) break;
          else j++;
        }
        out += `"${this.text(raw.slice(i + 1, Math.min(j, n)))}"`;
        i = j + 1;
      } else if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
        let j = i + 1;
        while (j < n && /[0-9.eE+-]/.test(raw[j] as string)) j++;
        const token = raw.slice(i, j);
        const hit = this.numbers.has(token) || this.numbers.has(String(Number(token))) || this.numberDigits.some((d) => token.includes(d));
        out += hit ? `"${REDACTED}"` : token;
        i = j;
      } else {
        // Structure, whitespace and literals: copy the run up to the next string or number.
        let j = i + 1;
        while (j < n) {
          const d = raw.charCodeAt(j);
          if (d === 0x22 || d === 0x2d || (d >= 0x30 && d <= 0x39)) break;
          j++;
        }
        out += raw.slice(i, j);
        i = j;
      }
    }
    return out;
  }
}

/**
 * Replaces every known form of a secret value inside strings (and object keys) of a JSON value
 * with [REDACTED], and a number whose text is a secret by the string [REDACTED]. One-shot
 * convenience over {@link Redactor}; build a Redactor to redact several values of one run.
 */
export function redactSecrets<T>(value: T, secrets: readonly string[]): T {
  return new Redactor(secrets).value(value);
}
