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

const jsonEscaped = (s: string) => JSON.stringify(s).slice(1, -1);
/** A unit JSON escaping as ensure_ascii serialisers (Python's json.dumps) write as \uXXXX: outside printable ASCII. */
const NOT_PRINTABLE_ASCII = /[^\x20-\x7e]/g;
/** JSON escaping as ensure_ascii serialisers write it, from the plain JSON escaping `j` of a value. */
const jsonAsciiEscaped = (j: string) => j.replace(NOT_PRINTABLE_ASCII, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
/**
 * application/x-www-form-urlencoded (what URLSearchParams writes), from encodeURIComponent's
 * output: the form encoding also escapes ! ' ( ) ~ and writes a space as +; every other byte is
 * treated alike (test/unit/outbound/redact-forms.test.ts checks it against URLSearchParams).
 */
const FORM_ONLY = /[!'()~]/g;
const formEncodedFrom = (uri: string) =>
  uri.replace(FORM_ONLY, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).replace(/%20/g, '+');
/** A value every JSON, URL and form escaping leaves as it is (most API keys and tokens). */
const NEEDS_NO_ESCAPING = /^[A-Za-z0-9_.*-]*$/;
const unpadded = (b64: string) =>
  b64.charCodeAt(b64.length - 1) !== 0x3d ? b64 : b64.charCodeAt(b64.length - 2) === 0x3d ? b64.slice(0, -2) : b64.slice(0, -1);

/**
 * Adds the base64 and base64url text that stands for `bytes` wherever they sit in a longer
 * base64 blob: the value is encoded behind 0, 1 and 2 filler bytes, and the characters that also
 * carry bits of the neighbouring bytes (and the padding) are cut off; at offset 0 the whole
 * encoding is kept too, with and without padding.
 */
function addBase64Cores(out: string[], bytes: Buffer): void {
  const padded = Buffer.allocUnsafe(bytes.length + 2);
  padded[0] = 0;
  padded[1] = 0;
  bytes.copy(padded, 2);
  for (let offset = 0; offset < 3; offset++) {
    const view = padded.subarray(2 - offset);
    const b64 = view.toString('base64');
    const url = view.toString('base64url'); // base64url without padding
    const bare = unpadded(b64);
    // (Each base64url form only where it differs: the text has + or /.)
    const urlDiffers = url !== bare;
    if (offset === 0) {
      out.push(bare);
      if (urlDiffers) out.push(url);
      if (bare.length !== b64.length) {
        out.push(b64);
        if (urlDiffers) out.push(url + b64.slice(bare.length));
      }
    }
    const head = Math.ceil((offset * 8) / 6);
    const tail = (offset + bytes.length) % 3 === 0 ? 0 : 1;
    if (bare.length - tail - head >= UNALIGNED_CORE_MIN_CHARS && (head > 0 || tail > 0)) {
      out.push(bare.slice(head, bare.length - tail));
      if (urlDiffers) out.push(url.slice(head, url.length - tail));
    }
  }
}

/**
 * Adds every textual form of one value the redactor looks for to `out` (some may come twice:
 * the matcher drops duplicates). See docs/security.md, "Redaction" (what it cannot catch), for
 * what is deliberately not covered.
 */
function addVariants(out: string[], value: string): void {
  out.push(value);
  if (!NEEDS_NO_ESCAPING.test(value)) {
    // Each form only where it differs from the one it is derived from (fewer duplicates to carry).
    const pushIfNew = (form: string, from: string) => {
      if (form !== from) out.push(form);
    };
    const j = jsonEscaped(value);
    pushIfNew(j, value);
    pushIfNew(jsonEscaped(j), j);
    pushIfNew(jsonAsciiEscaped(j), j);
    pushIfNew(j.replace(/\//g, '\\/'), j); // PHP-style escaped slashes
    // encodeURIComponent's output needs no JSON escaping: it is also its JSON-escaped form.
    const uri = encodeURIComponent(value);
    pushIfNew(uri, value);
    pushIfNew(formEncodedFrom(uri), uri);
    pushIfNew(uri.replace(/%20/g, '+'), uri);
  }
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length >= ENCODED_MIN_BYTES) {
    addBase64Cores(out, bytes);
    out.push(bytes.toString('hex')); // upper-case hex is caught by the case-insensitive pass
  }
  if (NUMBER_LITERAL.test(value)) out.push(String(Number(value)));
}

/**
 * "Same letter, any case", one UTF-16 code unit at a time, for texts whose lower-casing changes
 * their length (see LiteralMatcher.replace): the upper case of the unit's lower case, where each
 * is one unit. This is ECMA-262's Canonicalize for a /i regular expression without the u flag
 * (what the matcher used for such texts before), except that it also folds the few non-ASCII
 * units whose case partner is ASCII (ſ with s, the Kelvin sign with k, ı with i), as V8's
 * alternations of literals did: over-redaction is acceptable, a leak is not. Computed for all
 * 65,536 units the first time a text needs it, then kept.
 */
let canonicalTable: Uint16Array | undefined;
function canonical(): Uint16Array {
  if (canonicalTable) return canonicalTable;
  const t = new Uint16Array(0x10000);
  for (let c = 0; c < 0x10000; c++) {
    const lower = String.fromCharCode(c).toLowerCase();
    const upper = (lower.length === 1 ? lower : String.fromCharCode(c)).toUpperCase();
    t[c] = upper.length === 1 ? upper.charCodeAt(0) : c;
  }
  canonicalTable = t;
  return t;
}

/** A key a JS object orders before the others (an array index: 0 … 2^32 - 2; longer digit strings are caught too). */
const INDEX_KEY = /^(?:0|[1-9]\d*)$/;
/**
 * Lower case for matching in any letter case: toLowerCase, with the final sigma ς as σ. toLowerCase
 * writes Σ as ς at the end of a word and σ elsewhere, so a value ending in Σ would not match its
 * own text where a letter follows it; with both as σ it does, and Σ lower-cases by itself. The
 * length and every position stay as toLowerCase leaves them.
 */
function lower(s: string): string {
  const l = s.toLowerCase();
  return l.includes('\u03c2') ? l.replace(/\u03c2/g, '\u03c3') : l;
}

/** A unit above 0x7f: a text without one is ASCII and lower-cases unit by unit. */
const NON_ASCII = /[\u0080-\uffff]/;
/** The only characters above 0x7f whose lower case holds an ASCII character (U+0130 → i + U+0307, the Kelvin sign → k). */
const LOWERS_TO_ASCII = /[\u0130\u212a]/;

/**
 * ASCII upper case to lower case, every other unit unchanged: on an ASCII text, what
 * toLowerCase does, without building the lower-cased copy (a 1 MiB answer's costs about as
 * much as one scan).
 */
let asciiLowerTable: Uint16Array | undefined;
function asciiLower(): Uint16Array {
  if (asciiLowerTable) return asciiLowerTable;
  const t = new Uint16Array(0x10000);
  for (let c = 0; c < 0x10000; c++) t[c] = c >= 0x41 && c <= 0x5a ? c + 0x20 : c;
  asciiLowerTable = t;
  return t;
}

/**
 * An Aho–Corasick automaton over the literals read backwards, so that one right-to-left pass
 * gives, for every position of a text, the length of the longest literal that starts there
 * (the longest dictionary suffix of the state, kept per node). Each text character costs one
 * transition plus, amortised, at most one failure move: linear in the text whatever the
 * literals look like.
 *
 * Memory is a few integers per trie node: a node's first child is created right after it (the
 * next character of the same literal), so that edge is implicit (`node + 1`, its symbol in
 * `nextSym`); only the other edges (where literals part ways) go in an open-addressing table.
 */
class ReverseAutomaton {
  /** Code unit → symbol (1…): ASCII in an array, the rest in a map. 0: in no literal. */
  private readonly ascii = new Int32Array(128);
  private readonly wide = new Map<number, number>();
  private rootNext = new Int32Array(128);
  private readonly nextSym: Int32Array;
  private readonly branches: Uint8Array;
  private readonly edgeFrom: Int32Array;
  private readonly edgeSym: Int32Array;
  private readonly edgeTo: Int32Array;
  private readonly edgeMask: number;
  private readonly fail: Int32Array;
  /** Length of the longest literal that is a suffix of the node's (reversed) string; 0: none. */
  private readonly out: Int32Array;
  /** The parent and symbol of each node reached by a branch edge (the others' parent is `node - 1`). */
  private readonly branchParent = new Map<number, number>();
  private readonly branchSym = new Map<number, number>();
  /** resolve's work stack, and where each entry's walk stands (allocated on first use). */
  private stack = new Int32Array(0);
  private progress = new Int32Array(0);
  /** Steps taken resolving failure links (bounded by the trie's size, not the text's). */
  resolveSteps = 0;
  /** Scratch for `scan`: (position, length) of the longest literal at each position where one starts. */
  hits = new Int32Array(64);
  /** Transitions and failure moves taken by `scan`, all texts together (tests check linearity). */
  steps = 0;

  /** `literals` must be non-empty strings; `map` is applied to each code unit of them (and of texts). */
  constructor(
    literals: readonly string[],
    private readonly map?: Uint16Array,
  ) {
    let total = 0;
    for (const l of literals) total += l.length;
    const nodes = total + 1;
    const nextSym = new Int32Array(nodes);
    const fail = new Int32Array(nodes);
    const out = new Int32Array(nodes);
    this.nextSym = nextSym;
    this.branches = new Uint8Array(nodes);
    this.fail = fail;
    this.out = out;
    // Branch edges: at most one per literal (a literal leaves the existing trie once; the nodes
    // after that are new, each the implicit next of the one before), so the table stays half empty.
    const capacity = 2 ** Math.ceil(Math.log2(Math.max(16, literals.length * 2)));
    this.edgeFrom = new Int32Array(capacity);
    this.edgeSym = new Int32Array(capacity);
    this.edgeTo = new Int32Array(capacity);
    this.edgeMask = capacity - 1;
    const { ascii, wide } = this;
    let symbols = 0;
    const symbolOf = (c: number) => {
      const u = map ? (map[c] as number) : c;
      let s = u < 128 ? (ascii[u] as number) : (wide.get(u) ?? 0);
      if (s === 0) {
        s = ++symbols;
        if (u < 128) ascii[u] = s;
        else wide.set(u, s);
        if (s >= this.rootNext.length) {
          const grown = new Int32Array(this.rootNext.length * 2);
          grown.set(this.rootNext);
          this.rootNext = grown;
        }
      }
      return s;
    };
    let count = 1;
    for (const l of literals) {
      let node = 0;
      for (let k = l.length - 1; k >= 0; k--) {
        const s = symbolOf(l.charCodeAt(k));
        const child = this.child(node, s);
        if (child !== 0) {
          node = child;
          continue;
        }
        // The literal leaves the trie here: its first new node hangs off `node` (a root entry,
        // the implicit next, or a branch edge); the rest of it is a chain of new nodes.
        const first = count++;
        if (node === 0) this.rootNext[s] = first;
        else if (nextSym[node] === 0 && first === node + 1) nextSym[node] = s;
        else {
          this.addEdge(node, s, first);
          this.branchParent.set(first, node);
          this.branchSym.set(first, s);
        }
        node = first;
        for (k--; k >= 0; k--) {
          nextSym[node] = symbolOf(l.charCodeAt(k));
          node = count++;
        }
      }
      out[node] = l.length;
    }
    // Failure links are found when a scan first needs them (resolve): a text visits few of the
    // nodes of long values, and the links of the rest would cost more than the scan. Until then
    // a node's `out` holds -1 - (the length of its own literal, 0: none); depth-1 nodes fail to
    // the root and are resolved now.
    for (let v = 1; v < count; v++) out[v] = -1 - (out[v] as number);
    for (let s = 1; s <= symbols; s++) {
      const v = this.rootNext[s] as number;
      if (v !== 0) out[v] = -1 - (out[v] as number);
    }
  }

  /**
   * Sets the failure link of `v0` (and its longest literal, its own or its failure target's),
   * first resolving the shallower nodes it depends on: its parent, the nodes its walk passes and the
   * target. Each node is resolved once; with the walk's progress kept on the stack, a node's work
   * is what the breadth-first construction would do for it, plus one step per dependency.
   */
  private resolve(v0: number): void {
    const { fail, out, nextSym } = this;
    if (this.stack.length === 0) {
      this.stack = new Int32Array(fail.length);
      this.progress = new Int32Array(fail.length);
    }
    const { stack, progress } = this;
    let top = 0;
    stack[top] = v0;
    progress[top++] = -1;
    while (top > 0) {
      const v = stack[top - 1] as number;
      if ((out[v] as number) >= 0) {
        top--;
        continue;
      }
      const branch = this.branchParent.get(v);
      const p = branch ?? v - 1;
      const s = branch === undefined ? (nextSym[p] as number) : (this.branchSym.get(v) as number);
      if ((out[p] as number) < 0) {
        stack[top] = p;
        progress[top++] = -1;
        continue;
      }
      let f = progress[top - 1] === -1 ? (fail[p] as number) : (progress[top - 1] as number);
      let blocked = -1;
      for (;;) {
        this.resolveSteps++;
        const g = this.child(f, s);
        if (g !== 0) {
          if ((out[g] as number) < 0) blocked = g;
          else {
            fail[v] = g;
            const own = -1 - (out[v] as number);
            out[v] = own > 0 ? own : (out[g] as number);
          }
          break;
        }
        if (f === 0) {
          fail[v] = 0;
          out[v] = -1 - (out[v] as number);
          break;
        }
        if ((out[f] as number) < 0) {
          blocked = f;
          break;
        }
        f = fail[f] as number;
      }
      if (blocked !== -1) {
        progress[top - 1] = f; // come back to this step once `blocked` is resolved
        stack[top] = blocked;
        progress[top++] = -1;
      }
    }
  }

  private slot(node: number, s: number): number {
    let h = Math.imul(node ^ Math.imul(s, 0x85ebca6b), 0x9e3779b1);
    h ^= h >>> 15;
    return h & this.edgeMask;
  }

  private addEdge(node: number, s: number, to: number): void {
    let i = this.slot(node, s);
    while (this.edgeTo[i] !== 0) i = (i + 1) & this.edgeMask;
    this.edgeFrom[i] = node;
    this.edgeSym[i] = s;
    this.edgeTo[i] = to;
    this.branches[node] = 1;
  }

  /** The child of `node` on symbol `s`, or 0 (the root is nobody's child). */
  private child(node: number, s: number): number {
    if (node === 0) return this.rootNext[s] as number;
    if (this.nextSym[node] === s) return node + 1;
    if (this.branches[node] === 0) return 0;
    for (let i = this.slot(node, s); ; i = (i + 1) & this.edgeMask) {
      const to = this.edgeTo[i] as number;
      if (to === 0) return 0;
      if (this.edgeFrom[i] === node && this.edgeSym[i] === s) return to;
    }
  }

  /**
   * The positions of `text` from `from` on where a literal starts, with the length of the longest
   * one starting there: `hits[2k]` and `hits[2k + 1]` for k below the returned count, positions
   * in decreasing order (`hits` is scratch, valid until the next call). Only matches are written,
   * so a text that holds none costs no memory of its size.
   */
  scan(text: string, from = 0, map = this.map): number {
    const n = text.length;
    let hits = this.hits;
    const { ascii, wide, fail, out } = this;
    let state = 0;
    let steps = 0;
    let count = 0;
    for (let i = n - 1; i >= from; i--) {
      const c = map ? (map[text.charCodeAt(i)] as number) : text.charCodeAt(i);
      const s = c < 128 ? (ascii[c] as number) : (wide.get(c) ?? 0);
      if (s === 0) {
        // In no literal: no match spans it.
        state = 0;
        continue;
      }
      for (;;) {
        steps++;
        const g = this.child(state, s);
        if (g !== 0) {
          state = g;
          break;
        }
        if (state === 0) break;
        if ((out[state] as number) < 0) this.resolve(state);
        state = fail[state] as number;
      }
      let len = out[state] as number;
      if (len < 0) {
        this.resolve(state);
        len = out[state] as number;
      }
      if (len > 0) {
        if (count * 2 + 2 > hits.length) {
          const grown = new Int32Array(hits.length * 2);
          grown.set(hits);
          hits = grown;
          this.hits = grown;
        }
        hits[count * 2] = i;
        hits[count * 2 + 1] = len;
        count++;
      }
    }
    this.steps += steps;
    return count;
  }
}

/** The prefix index keys a literal by its first PREFIX_UNITS code units (7 bits each: 28 bits). */
const PREFIX_UNITS = 4;
/** The search moves a window as long as the shortest literal (at most this) over the text, by up to its length less SHIFT_GRAM_UNITS - 1. */
const MAX_WINDOW = 32;
/** The window's last this many units (7 bits each) decide how far it may move. */
const SHIFT_GRAM_UNITS = 3;
/** A candidate's first this many units are compared one by one, the rest of a longer literal at once. */
const VERIFY_HEAD_UNITS = 8;
const GOLDEN = 0x9e3779b1;

/**
 * Finds many literal strings in a text and replaces, left to right, the longest one starting at
 * the leftmost position, then goes on after it (what an alternation sorted longest-first does),
 * in time linear in the text and independent of the literals' lengths.
 *
 * The search (Wu–Manber) moves a window as long as the shortest literal (at most MAX_WINDOW
 * units) left to right over the text: the window's last SHIFT_GRAM_UNITS units, looked up in a
 * table built from every literal's first window, say how far it may move without passing the
 * start of a literal (up to its length less two units; where a literal may start, zero). There
 * the literal's first PREFIX_UNITS units are looked up in a bit set, then the literals with that
 * exact key, longest first, are compared with the text (VERIFY_HEAD_UNITS one by one, the rest
 * at once). A text that holds no literal (most answers) costs about one lookup per window
 * length, with nothing built per text. The comparisons of candidates that fail have a budget (a
 * quarter of the text's length plus PREFIX_SEARCH_SLACK units): a text that spends it (it almost
 * matches a long literal everywhere, as in docs/architecture.md, "Redaction") is finished by the
 * automaton (ReverseAutomaton, built on first need) from where the search stopped, so the worst
 * case stays linear: at most a quarter more than the automaton alone.
 */
const PREFIX_SEARCH_SLACK = 256;

class LiteralMatcher {
  private readonly literals: readonly string[];
  /** The shortest literal's length: a shorter text holds none. */
  private readonly shortest: number;
  /** Whether every literal is ASCII (spanScan then folds only a text's ASCII letters). */
  private readonly asciiOnly: boolean;
  /** The index (built on first use): the key length, and below the window, shift table, bit set and buckets. */
  private q = 0;
  /** Wu–Manber: the window (the shortest literal's length, at most MAX_WINDOW), the units of a shift gram, and the shift table. */
  private window = 0;
  private gram = 1;
  private shifts = new Uint8Array(0);
  private shiftsShift = 0;
  private filter = new Int32Array(0);
  private filterShift = 0;
  private buckets?: Map<number, string[]>;
  private built?: ReverseAutomaton;
  /** Folded literals matched the way a /i regular expression matches them (see `replace`). */
  private canonicalAutomaton?: ReverseAutomaton;
  /** Matches of the last prefix search: (start, length) pairs. */
  private found = new Int32Array(64);
  private foundCount = 0;
  /** Result of the last spanScan: (start, length) pairs. */
  spans = new Int32Array(64);
  /** Positions visited and units compared by the prefix search, all texts together. */
  private searchSteps = 0;
  /** How many times the prefix search ran over budget and the automaton finished the text. */
  fallbacks = 0;

  /**
   * `literals` may hold empty strings (dropped) and duplicates (kept: a duplicate only costs a
   * comparison that fails like the first); `lowered`: folded literals are already lower-cased.
   */
  constructor(
    literals: readonly string[],
    private readonly fold: boolean,
    lowered = false,
  ) {
    const kept: string[] = [];
    let shortest = Number.MAX_SAFE_INTEGER;
    for (const l of literals) {
      if (l.length === 0) continue;
      const folded = fold && !lowered ? lower(l) : l;
      kept.push(folded);
      if (folded.length < shortest) shortest = folded.length;
    }
    this.literals = kept;
    this.shortest = shortest;
    this.asciiOnly = !kept.some((l) => NON_ASCII.test(l));
  }

  private index(): Map<number, string[]> {
    if (this.buckets) return this.buckets;
    let m = MAX_WINDOW;
    for (const l of this.literals) if (l.length < m) m = l.length;
    const q = Math.min(PREFIX_UNITS, m);
    const g = m >= SHIFT_GRAM_UNITS ? SHIFT_GRAM_UNITS : 1;
    const gramMask = (1 << (7 * g)) - 1;
    const bits = 2 ** Math.min(22, Math.max(10, Math.ceil(Math.log2(this.literals.length * 64))));
    const filter = new Int32Array(bits / 32);
    const shift = 32 - Math.log2(bits);
    const shiftBits = Math.min(16, Math.max(8, Math.ceil(Math.log2(this.literals.length * (m - g + 1) * 8))));
    const shifts = new Uint8Array(2 ** shiftBits).fill(m - g + 1);
    const buckets = new Map<number, string[]>();
    for (const l of this.literals) {
      let key = 0;
      for (let k = 0; k < q; k++) key = (key << 7) | (l.charCodeAt(k) & 0x7f);
      const h = Math.imul(key, GOLDEN) >>> shift;
      filter[h >>> 5] = (filter[h >>> 5] as number) | (1 << (h & 31));
      const bucket = buckets.get(key);
      if (bucket) bucket.push(l);
      else buckets.set(key, [l]);
      // Wu–Manber: how far the window may move when its last `g` units are the units that end at j in this literal's first window.
      let gram = 0;
      for (let j = 0; j < m; j++) {
        gram = ((gram << 7) | (l.charCodeAt(j) & 0x7f)) & gramMask;
        if (j < g - 1) continue;
        const at = Math.imul(gram, GOLDEN) >>> (32 - shiftBits);
        if ((shifts[at] as number) > m - 1 - j) shifts[at] = m - 1 - j;
      }
    }
    for (const bucket of buckets.values()) if (bucket.length > 1) bucket.sort((x, y) => y.length - x.length);
    this.q = q;
    this.window = m;
    this.gram = g;
    this.filter = filter;
    this.filterShift = shift;
    this.shifts = shifts;
    this.shiftsShift = 32 - shiftBits;
    this.buckets = buckets;
    return buckets;
  }

  /** The automaton over the literals, built when a prefix search first runs over budget. */
  private get automaton(): ReverseAutomaton {
    this.built ??= new ReverseAutomaton(this.literals);
    return this.built;
  }

  get size(): number {
    return this.literals.length;
  }

  /** The literals as matched (lower-cased when the matcher folds). */
  get list(): readonly string[] {
    return this.literals;
  }

  /** Prefix-search positions and comparisons, automaton transitions, failure moves and failure-link resolutions so far (tests check they grow linearly). */
  get steps(): number {
    const { built: a, canonicalAutomaton: c } = this;
    return this.searchSteps + (a ? a.steps + a.resolveSteps : 0) + (c ? c.steps + c.resolveSteps : 0);
  }

  /**
   * The leftmost-longest matches of the literals in `hay` (ASCII letters lower-cased first when
   * `foldAscii`), as (start, length) pairs in `found`; stops at the first when `firstOnly`.
   * Returns -1, or the position p where the comparisons ran over budget (the matches before p
   * are in `found`; the automaton goes on from p). `foundCount` is the number of matches.
   */
  private prefixSearch(hay: string, foldAscii: boolean, firstOnly: boolean): number {
    const buckets = this.index();
    const n = hay.length;
    const { q, window: m, gram: g, filter, filterShift, shifts, shiftsShift } = this;
    this.foundCount = 0;
    let budget = (n >> 2) + PREFIX_SEARCH_SLACK;
    let steps = 0;
    let count = 0;
    // `end`: the last unit of the window (the first `m` units of a literal starting at end - m + 1).
    let end = m - 1;
    while (end < n) {
      steps++;
      let gram = 0;
      for (let k = end - g + 1; k <= end; k++) {
        let c = hay.charCodeAt(k);
        if (foldAscii && c >= 0x41 && c <= 0x5a) c += 0x20;
        gram = (gram << 7) | (c & 0x7f);
      }
      const skip = shifts[Math.imul(gram, GOLDEN) >>> shiftsShift] as number;
      if (skip > 0) {
        end += skip;
        continue;
      }
      const i = end - m + 1;
      let key = 0;
      for (let k = i; k < i + q; k++) {
        let c = hay.charCodeAt(k);
        if (foldAscii && c >= 0x41 && c <= 0x5a) c += 0x20;
        key = (key << 7) | (c & 0x7f);
      }
      let len = 0;
      const h = Math.imul(key, GOLDEN) >>> filterShift;
      if (((filter[h >>> 5] as number) & (1 << (h & 31))) !== 0) {
        const bucket = buckets.get(key);
        if (bucket !== undefined) {
          for (const l of bucket) {
            const ll = l.length;
            let k = 0;
            if (ll <= n - i) {
              // The first units here (most candidates differ early), the rest by the engine's own comparison.
              const head = Math.min(ll, VERIFY_HEAD_UNITS);
              if (foldAscii) {
                for (; k < head; k++) {
                  let c = hay.charCodeAt(i + k);
                  if (c >= 0x41 && c <= 0x5a) c += 0x20;
                  if (c !== l.charCodeAt(k)) break;
                }
              } else while (k < head && hay.charCodeAt(i + k) === l.charCodeAt(k)) k++;
              if (k === head && head < ll) k = (foldAscii ? hay.slice(i, i + ll).toLowerCase() === l : hay.startsWith(l, i)) ? ll : ll - 1;
              if (k === ll) {
                len = ll;
                steps += ll;
                break;
              }
            }
            steps += k + 1;
            budget -= k + 1;
          }
          if (len === 0 && budget < 0) {
            this.searchSteps += steps;
            this.foundCount = count;
            return i;
          }
        }
      }
      if (len === 0) {
        end++;
        continue;
      }
      if (count * 2 + 2 > this.found.length) {
        const grown = new Int32Array(this.found.length * 2);
        grown.set(this.found);
        this.found = grown;
      }
      this.found[count * 2] = i;
      this.found[count * 2 + 1] = len;
      count++;
      if (firstOnly) break;
      end = i + len + m - 1;
    }
    this.searchSteps += steps;
    this.foundCount = count;
    return -1;
  }

  /**
   * Whether any literal occurs in `hay` (ASCII letters lower-cased first when `foldAscii`); the
   * automaton scans with `map` if the prefix search runs over budget.
   */
  private occurs(hay: string, foldAscii: boolean, map: Uint16Array | undefined): boolean {
    if (hay.length < this.shortest) return false;
    const stop = this.prefixSearch(hay, foldAscii, true);
    if (this.foundCount > 0) return true;
    if (stop < 0) return false;
    this.fallbacks++;
    return this.automaton.scan(hay, stop, map) > 0;
  }

  /**
   * Where literals occur in a whole text, for Redactor.json: (start, length) pairs in `spans`,
   * ascending by start, their count returned. Every position where a literal starts (matched as
   * `replace` matches it in any piece of `text` between two '"') is the start of a span
   * or lies inside one: the prefix search examines every position outside the matches it reports
   * (a window moves only as far as no literal can start in what it passes), and the automaton,
   * from where the search stopped, reports every position where a literal starts. -1 when the
   * text holds U+0130 (it changes length when lower-cased, see `replace`): the caller then
   * redacts each piece on its own.
   */
  spanScan(text: string): number {
    if (text.length < this.shortest) return 0;
    let hay = text;
    let foldAscii = false;
    if (this.fold) {
      // When every literal is ASCII, a non-ASCII unit matches none of their units once
      // lower-cased unless it lower-cases to ASCII (U+0130, the Kelvin sign): without those,
      // lower-casing a text's ASCII letters finds what lower-casing all of it finds, and costs
      // no copy of the text.
      if (!NON_ASCII.test(text) || (this.asciiOnly && !LOWERS_TO_ASCII.test(text))) foldAscii = true;
      else {
        // `lower` maps each code point alone (toLowerCase but for Σ, whose final form it
        // writes as σ): a piece lower-cases as its part of the whole text does, its ASCII units
        // as asciiLower does. Only U+0130 changes the length.
        hay = lower(text);
        if (hay.length !== text.length) return -1;
      }
    }
    const stop = this.prefixSearch(hay, foldAscii, false);
    let count = this.foundCount;
    if (this.spans.length < this.found.length) this.spans = new Int32Array(this.found.length);
    this.spans.set(this.found.subarray(0, count * 2));
    if (stop < 0) return count;
    this.fallbacks++;
    const hits = this.automaton.scan(hay, stop, foldAscii ? asciiLower() : undefined);
    const h = this.automaton.hits;
    if (this.spans.length < (count + hits) * 2) {
      const grown = new Int32Array((count + hits) * 2);
      grown.set(this.spans.subarray(0, count * 2));
      this.spans = grown;
    }
    // The automaton's hits come in decreasing order, all at or after `stop` (after the search's matches).
    for (let k = hits - 1; k >= 0; k--) {
      this.spans[count * 2] = h[k * 2] as number;
      this.spans[count * 2 + 1] = h[k * 2 + 1] as number;
      count++;
    }
    return count;
  }

  /** Whether any literal occurs in `text` (used with exact literals: the digits of numeric secrets). */
  has(text: string): boolean {
    return this.occurs(this.fold ? lower(text) : text, false, undefined);
  }

  /** Whether any literal occurs in `text`, an ASCII-only text (no NON_ASCII unit), matched as `replace` matches it. */
  occursInAscii(text: string): boolean {
    return this.occurs(text, this.fold, this.fold ? asciiLower() : undefined);
  }

  replace(text: string, by: string): string {
    if (text.length < this.shortest) return text;
    let hay = text;
    let foldAscii = false;
    if (this.fold) {
      if (!NON_ASCII.test(text)) foldAscii = true;
      else {
        hay = lower(text);
        // A few characters change length when lower-cased (U+0130): positions in `hay` would
        // not line up with `text`. Such texts are matched unit by unit the way a /i regular
        // expression compares (ECMA-262 Canonicalize), which keeps every position in place.
        if (hay.length !== text.length) {
          this.canonicalAutomaton ??= new ReverseAutomaton(this.literals, canonical());
          const count = this.canonicalAutomaton.scan(text);
          return pick(text, by, this.canonicalAutomaton.hits, count, '', 0);
        }
      }
    }
    const stop = this.prefixSearch(hay, foldAscii, false);
    const { found, foundCount } = this;
    if (stop < 0 && foundCount === 0) return text;
    let out = '';
    let last = 0;
    for (let m = 0; m < foundCount; m++) {
      const start = found[m * 2] as number;
      out += text.slice(last, start) + by;
      last = start + (found[m * 2 + 1] as number);
    }
    if (stop < 0) return out + text.slice(last);
    // Over budget at `stop`: the automaton finds the matches from there on.
    this.fallbacks++;
    const hits = this.automaton.scan(hay, stop, foldAscii ? asciiLower() : undefined);
    return pick(text, by, this.automaton.hits, hits, out, last);
  }
}

/**
 * Goes on replacing in `text` (where `out` holds the replaced text up to `last`) with the
 * `count` matches of an automaton scan (`hits`: positions in decreasing order, each with the
 * longest literal there), left to right, skipping those inside a match already taken.
 */
function pick(text: string, by: string, hits: Int32Array, count: number, out: string, last: number): string {
  if (count === 0) return last === 0 ? text : out + text.slice(last);
  let end = last;
  for (let k = count - 1; k >= 0; k--) {
    const i = hits[k * 2] as number;
    if (i < end) continue;
    out += text.slice(last, i) + by;
    end = i + (hits[k * 2 + 1] as number);
    last = end;
  }
  return out + text.slice(last);
}

/**
 * Every literal the redactor looks for, from distinct non-empty values: `folded` (matched in any
 * letter case: the forms of values of CASE_INSENSITIVE_MIN_CHARS or more, and of pairs) and
 * `exact`, possibly with duplicates and empty strings (LiteralMatcher drops them).
 */
function collectForms(values: readonly string[], lowerFolded: boolean): { exact: string[]; folded: string[] } {
  const exact: string[] = [];
  const folded: string[] = [];
  for (const value of values) {
    if (value.length < CASE_INSENSITIVE_MIN_CHARS) addVariants(exact, value);
    else if (!lowerFolded) addVariants(folded, value);
    else {
      const forms: string[] = [];
      addVariants(forms, value);
      for (const f of forms) folded.push(lower(f));
    }
  }
  // Basic auth and friends: base64 of `user:pass` for every ordered pair of values. The
  // password part is also caught by the unaligned cores above; this catches the pair whole.
  // All pairs are encoded in one buffer, each from a multiple of 3 bytes with zero bytes after
  // it: a pair's characters in the whole encoding are then its own unpadded encoding.
  if (values.length > 1 && values.length <= MAX_VALUES_FOR_PAIRS) {
    const bytes = values.map((v) => Buffer.from(v, 'utf8'));
    let total = 0;
    for (let i = 0; i < values.length; i++) {
      for (let k = 0; k < values.length; k++)
        if (values[i] !== values[k]) total += Math.ceil(((bytes[i] as Buffer).length + 1 + (bytes[k] as Buffer).length) / 3) * 3;
    }
    const all = Buffer.alloc(total);
    let at = 0;
    for (let i = 0; i < values.length; i++) {
      for (let k = 0; k < values.length; k++) {
        if (values[i] === values[k]) continue;
        const u = bytes[i] as Buffer;
        const p = bytes[k] as Buffer;
        u.copy(all, at);
        all[at + u.length] = 0x3a; // ':'
        p.copy(all, at + u.length + 1);
        at += Math.ceil((u.length + 1 + p.length) / 3) * 3;
      }
    }
    const b64 = all.toString('base64');
    const url = all.toString('base64url');
    // Base64 text is ASCII: lower-casing it whole is lower-casing each slice.
    let lowerB64 = b64;
    let lowerUrl = url;
    if (lowerFolded) {
      lowerB64 = b64.toLowerCase();
      lowerUrl = url.toLowerCase();
    }
    at = 0;
    for (let i = 0; i < values.length; i++) {
      for (let k = 0; k < values.length; k++) {
        if (values[i] === values[k]) continue;
        const user = values[i] as string;
        const pass = values[k] as string;
        const pair = `${user}:${pass}`;
        const n = (bytes[i] as Buffer).length + 1 + (bytes[k] as Buffer).length;
        const start = (at / 3) * 4;
        const end = start + Math.ceil((n * 4) / 3);
        const fold = pair.length >= CASE_INSENSITIVE_MIN_CHARS;
        const lowerCase = fold && lowerFolded;
        const bare = (lowerCase ? lowerB64 : b64).slice(start, end);
        const urlForm = (lowerCase ? lowerUrl : url).slice(start, end);
        const into = fold ? folded : exact;
        into.push(lowerCase ? lower(pair) : pair, bare);
        if (urlForm !== bare) into.push(urlForm);
        if (n % 3 !== 0) into.push(bare + (n % 3 === 1 ? '==' : '='));
        at += Math.ceil(n / 3) * 3;
      }
    }
  }
  return { exact, folded };
}

/**
 * Every literal the redactor looks for, as sets (see collectForms). Exported for
 * test/unit/outbound/redact-linear.test.ts, which checks the matcher against a plain reference
 * over the same literals, and test/unit/outbound/redact-forms.test.ts.
 */
export function redactionForms(values: readonly string[]): { exact: Set<string>; folded: Set<string> } {
  const { exact, folded } = collectForms(values, false);
  const nonEmpty = (forms: string[]) => new Set(forms.filter((f) => f.length > 0));
  return { exact: nonEmpty(exact), folded: nonEmpty(folded) };
}

/** What mapJsonTree does with each kind of leaf of a parsed JSON value. */
interface JsonTreeMap {
  readonly string: (s: string) => string;
  readonly key: (k: string) => string;
  readonly number?: (n: number) => unknown;
  /** Told when two keys of one object became the same (the copy keeps the last one's value, as JSON.parse does). */
  readonly collision?: () => void;
}

/**
 * Maps the strings, object keys and numbers of a parsed JSON value (Redactor.value and
 * Redactor.replaceChanged). Never modifies `v`: what holds a change is copied, the rest (and `v`
 * itself if nothing changed) is returned as it is; `__proto__` keys stay plain own properties.
 */
function mapJsonTree(v: unknown, map: JsonTreeMap): unknown {
  if (typeof v === 'string') return map.string(v);
  if (typeof v === 'number') return map.number ? map.number(v) : v;
  if (Array.isArray(v)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const inner: unknown = v[i];
      const mapped = mapJsonTree(inner, map);
      if (copy) copy.push(mapped);
      else if (mapped !== inner) {
        copy = v.slice(0, i);
        copy.push(mapped);
      }
    }
    return copy ?? v;
  }
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v);
    let entries: [string, unknown][] | undefined;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i] as string;
      const inner: unknown = (v as Record<string, unknown>)[k];
      const key = map.key(k);
      const mapped = mapJsonTree(inner, map);
      if (entries) entries.push([key, mapped]);
      else if (key !== k || mapped !== inner) {
        entries = keys.slice(0, i).map((p) => [p, (v as Record<string, unknown>)[p]]);
        entries.push([key, mapped]);
      }
    }
    if (!entries) return v;
    // fromEntries defines own data properties, as JSON.parse does: a "__proto__" key stays one.
    const copy = Object.fromEntries(entries);
    if (map.collision && Object.keys(copy).length !== entries.length) map.collision();
    return copy;
  }
  return v;
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
  private readonly numberDigits: LiteralMatcher;
  /** Every literal, folded and exact, matched in any letter case (built on clean's first use). */
  private anyCase?: LiteralMatcher;
  readonly empty: boolean;

  constructor(secrets: readonly string[]) {
    const values = [...new Set(secrets.filter((s) => s.length > 0))];
    const { exact, folded } = collectForms(values, true);
    const numbers = new Set<string>();
    const digits: string[] = [];
    for (const value of values) {
      if (NUMBER_LITERAL.test(value.trim())) {
        numbers.add(value.trim());
        numbers.add(String(Number(value.trim())));
        digits.push(value.trim());
      }
    }
    this.exact = new LiteralMatcher(exact, false);
    this.folded = new LiteralMatcher(folded, true, true);
    this.numbers = numbers;
    this.numberDigits = new LiteralMatcher(digits, false);
    this.empty = values.length === 0;
  }

  /**
   * Search work done by this redactor so far: window positions and units compared by the prefix
   * search (the failed comparisons within a quarter of the text's length), plus the automaton's
   * transitions and failure moves (at most two per character searched) and failure links resolved
   * (once per trie node a text reaches, whatever the texts). test/unit/outbound/redact-linear.test.ts
   * holds it to a few per character.
   */
  get steps(): number {
    return this.exact.steps + this.folded.steps + this.numberDigits.steps + (this.anyCase?.steps ?? 0);
  }

  /** How many searches ran over their comparison budget and were finished by an automaton (tests check both paths). */
  get fallbacks(): number {
    return this.exact.fallbacks + this.folded.fallbacks + this.numberDigits.fallbacks + (this.anyCase?.fallbacks ?? 0);
  }

  /**
   * Whether a runner's raw JSON answer certainly holds no form of any value, raw or once parsed,
   * so that it needs no redaction at all: no literal occurs anywhere in it, it is ASCII and has no
   * escape sequence (every string and key it parses to is then a piece of it, matched alike), and
   * no value is numeric (a number may be written in another form than the value's). Linear in the
   * text: one search for every literal in any letter case (a superset of what the two matchers
   * find); only if that finds one do the folded and exact matchers answer precisely.
   */
  clean(raw: string): boolean {
    if (this.empty) return true;
    if (this.numbers.size > 0 || raw.includes('\\') || NON_ASCII.test(raw)) return false;
    this.anyCase ??= new LiteralMatcher(
      this.exact.size === 0 ? this.folded.list : [...this.folded.list, ...this.exact.list],
      true,
      this.exact.size === 0,
    );
    if (!this.anyCase.occursInAscii(raw)) return true;
    return !(this.folded.size > 0 && this.folded.occursInAscii(raw)) && !(this.exact.size > 0 && this.exact.occursInAscii(raw));
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
   * [REDACTED]. Never modifies `value`: what holds a match is copied, the rest (and `value`
   * itself if nothing matched) is returned as it is; `__proto__` keys stay plain own properties.
   */
  value<T>(value: T): T {
    if (this.empty) return value;
    const numeric = this.numbers.size > 0;
    const text = (t: string) => this.text(t);
    return mapJsonTree(value, {
      string: text,
      key: text,
      number: (n) => (numeric && this.numbers.has(String(n)) ? REDACTED : n),
    }) as T;
  }

  /**
   * Redacts raw JSON text before it is parsed: inside string tokens every form is replaced by
   * [REDACTED]; a number token that contains a numeric secret becomes the string "[REDACTED]"
   * (so a long digit string is caught before JSON.parse rounds it). The result is still JSON
   * unless a match cut through an escape sequence; the caller then falls back to redacting the
   * parsed value (see webhook.ts).
   */
  json(raw: string): string {
    return this.jsonSettled(raw).text;
  }

  /**
   * JSON.parse(json(raw)), from `parsed` = JSON.parse(raw) and a settled first pass (`changed`:
   * each string token's text that it changed, with what it became): the strings `parsed` holds
   * are its tokens' texts (no escape sequence), so replacing those in it gives the tree that
   * parsing the redacted text gives, without a second parse of a text as long. Copies only what
   * changes (as `value`); undefined when two keys of one object became the same (the parse of
   * the redacted text keeps the last one's value) or an index-like key changed (its place among
   * the keys would differ): the caller then parses the redacted text.
   */
  replaceChanged<T>(parsed: T, changed: ReadonlyMap<string, string>): T | undefined {
    if (changed.size === 0) return parsed;
    // Most strings are not looked up: only those as long as a changed one.
    const lengths = new Set<number>();
    for (const k of changed.keys()) lengths.add(k.length);
    const swap = (s: string) => (lengths.has(s.length) ? (changed.get(s) ?? s) : s);
    let collided = false;
    const out = mapJsonTree(parsed, {
      string: swap,
      key: (k) => {
        const key = swap(k);
        // An index-like key goes first in an object, the key it became in the order of the text: the caller parses.
        if (key !== k && INDEX_KEY.test(k)) collided = true;
        return key;
      },
      collision: () => {
        collided = true;
      },
    }) as T;
    return collided ? undefined : out;
  }

  /**
   * `json`, and whether redacting the parsed result again (`value`, `text` on its strings) would
   * change nothing: `settled` is true only when the text has no backslash (each string JSON.parse
   * gives is then exactly its token's text), no value is numeric, and each string token that was
   * redacted is left as it is by `text` (the others hold no form, see below). When settled,
   * `changed` maps each token text that changed to what it became (see replaceChanged).
   *
   * Each string token's text is redacted by `text` on its own, as it always was; what is new is
   * which tokens it runs on. Both matchers first search the whole text once (spanScan): a token
   * no reported span overlaps holds no literal (a literal inside it would start at a span's start
   * or inside a span, which then overlaps the token), so `text` would leave it as it is and it is
   * not looked at. The tokens a span overlaps (a match that crosses a token's quotes included) go
   * through `text`, so the result is the one a call per token gives (test/unit/outbound/redact-json.test.ts
   * holds the two equal). If the text holds U+0130 (spanScan: -1), every token goes through `text`.
   */
  jsonSettled(raw: string): { text: string; settled: boolean; changed: Map<string, string> } {
    const changed = new Map<string, string>();
    if (this.empty) return { text: raw, settled: true, changed };
    const numeric = this.numbers.size > 0;
    let settled = !numeric && !raw.includes('\\');
    // Spans of both matchers, merged as the tokens are walked (each list ascending by start).
    let fSpans: Int32Array | undefined;
    let fCount = 0;
    let eSpans: Int32Array | undefined;
    let eCount = 0;
    let everyToken = false;
    if (this.folded.size > 0) {
      fCount = this.folded.spanScan(raw);
      fSpans = this.folded.spans;
    }
    if (this.exact.size > 0) {
      eCount = this.exact.spanScan(raw);
      eSpans = this.exact.spans;
    }
    if (fCount < 0 || eCount < 0) everyToken = true;
    let fk = 0;
    let ek = 0;
    /** The furthest end of the spans that start before the current token's end. */
    let reach = 0;
    // Only what changes is rebuilt: `out` holds the redacted text up to `last`.
    let out = '';
    let last = 0;
    let i = numeric ? 0 : raw.indexOf('"');
    const n = raw.length;
    if (i < 0) i = n;
    while (i < n) {
      const c = raw.charCodeAt(i);
      if (c === 0x22 /* " */) {
        // The closing quote: the first one after an even run of backslashes.
        let j = raw.indexOf('"', i + 1);
        while (j >= 0) {
          let b = j - 1;
          while (b > i && raw.charCodeAt(b) === 0x5c /* \ */) b--;
          if ((j - 1 - b) % 2 === 0) break;
          j = raw.indexOf('"', j + 1);
        }
        if (j < 0) j = n;
        const start = i + 1;
        let touched = everyToken || j >= n;
        if (!touched && j > start) {
          while (fk < fCount && ((fSpans as Int32Array)[fk * 2] as number) < j) {
            const end = ((fSpans as Int32Array)[fk * 2] as number) + ((fSpans as Int32Array)[fk * 2 + 1] as number);
            if (end > reach) reach = end;
            fk++;
          }
          while (ek < eCount && ((eSpans as Int32Array)[ek * 2] as number) < j) {
            const end = ((eSpans as Int32Array)[ek * 2] as number) + ((eSpans as Int32Array)[ek * 2 + 1] as number);
            if (end > reach) reach = end;
            ek++;
          }
          touched = reach > start;
        }
        if (touched) {
          const inner = raw.slice(start, j);
          const redacted = this.text(inner);
          // (An unterminated string is closed, as the redacted text always was.)
          if (redacted !== inner || j >= n) {
            out += `${raw.slice(last, i)}"${redacted}"`;
            last = Math.min(j + 1, n);
            if (settled) {
              if (this.text(redacted) !== redacted) settled = false;
              else changed.set(inner, redacted);
            }
          }
        }
        i = j + 1;
        if (!numeric) {
          i = i < n ? raw.indexOf('"', i) : n;
          if (i < 0) i = n;
        }
      } else if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
        // (Reached only when a value is numeric.)
        let j = i + 1;
        for (; j < n; j++) {
          const d = raw.charCodeAt(j);
          // 0-9 . e E + -
          if (!((d >= 0x30 && d <= 0x39) || d === 0x2e || d === 0x65 || d === 0x45 || d === 0x2b || d === 0x2d)) break;
        }
        const token = raw.slice(i, j);
        if (this.numbers.has(token) || this.numbers.has(String(Number(token))) || this.numberDigits.has(token)) {
          out += `${raw.slice(last, i)}"${REDACTED}"`;
          last = j;
        }
        i = j;
      } else {
        // Structure, whitespace and literals: skip the run up to the next string or number.
        let j = i + 1;
        while (j < n) {
          const d = raw.charCodeAt(j);
          if (d === 0x22 || d === 0x2d || (d >= 0x30 && d <= 0x39)) break;
          j++;
        }
        i = j;
      }
    }
    return { text: last === 0 ? raw : out + raw.slice(last), settled, changed };
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
