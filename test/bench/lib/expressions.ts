/**
 * A small evaluator for the DynamoDB expression subset the vault's repositories use, so the
 * in-memory fake document client enforces the same conditions as DynamoDB:
 *   conditions: attribute_exists(p), attribute_not_exists(p), begins_with(p, v), =, <>, <, <=, >, >=,
 *               `p IN (v, …)`, AND, OR, NOT, parentheses
 *   updates:    SET p = operand[, …]  ADD p :n[, …]  REMOVE p[, …]
 * Paths are top-level attribute names (or #placeholders). Anything else throws, so the bench
 * fails loudly instead of measuring a fake that silently ignores a condition.
 */

export type Item = Record<string, unknown>;
type Names = Readonly<Record<string, string>> | undefined;
type Values = Readonly<Record<string, unknown>> | undefined;

type Tok = { t: 'id' | 'val' | 'op' | 'lp' | 'rp' | 'comma'; v: string };

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  const re = /\s*(?:(<>|<=|>=|=|<|>)|(\()|(\))|(,)|(:[A-Za-z0-9_]+)|(#?[A-Za-z0-9_.]+))/y;
  let m: RegExpExecArray | null;
  re.lastIndex = 0;
  while (re.lastIndex < src.length) {
    const start = re.lastIndex;
    m = re.exec(src);
    if (!m) {
      if (/^\s*$/.test(src.slice(start))) break;
      throw new Error(`fake DynamoDB: cannot parse expression near "${src.slice(start)}"`);
    }
    if (m[1]) out.push({ t: 'op', v: m[1] });
    else if (m[2]) out.push({ t: 'lp', v: '(' });
    else if (m[3]) out.push({ t: 'rp', v: ')' });
    else if (m[4]) out.push({ t: 'comma', v: ',' });
    else if (m[5]) out.push({ t: 'val', v: m[5] });
    else if (m[6]) out.push({ t: 'id', v: m[6] });
  }
  return out;
}

function attrName(tok: string, names: Names): string {
  if (tok.startsWith('#')) {
    const n = names?.[tok];
    if (n === undefined) throw new Error(`fake DynamoDB: undefined name placeholder ${tok}`);
    return n;
  }
  if (tok.includes('.')) throw new Error(`fake DynamoDB: nested paths are not supported (${tok})`);
  return tok;
}

function value(tok: string, values: Values): unknown {
  if (!values || !(tok in values)) throw new Error(`fake DynamoDB: undefined value placeholder ${tok}`);
  return values[tok];
}

function equal(a: unknown, b: unknown): boolean {
  if (a instanceof Uint8Array && b instanceof Uint8Array) return Buffer.from(a).equals(Buffer.from(b));
  return a === b;
}

/** Evaluates a ConditionExpression against an item (undefined: the item does not exist). */
export function evaluateCondition(expr: string, item: Item | undefined, names: Names, values: Values): boolean {
  const toks = tokenize(expr);
  let i = 0;
  const peek = () => toks[i];
  const next = () => {
    const t = toks[i++];
    if (!t) throw new Error(`fake DynamoDB: unexpected end of "${expr}"`);
    return t;
  };
  const expect = (t: Tok['t']) => {
    const k = next();
    if (k.t !== t) throw new Error(`fake DynamoDB: expected ${t} in "${expr}"`);
    return k;
  };
  const operand = (): unknown => {
    const t = next();
    if (t.t === 'val') return value(t.v, values);
    if (t.t === 'id') return item?.[attrName(t.v, names)];
    throw new Error(`fake DynamoDB: bad operand in "${expr}"`);
  };
  const isKw = (t: Tok | undefined, kw: string) => t?.t === 'id' && t.v.toUpperCase() === kw;

  function primary(): boolean {
    const t = peek();
    if (t?.t === 'lp') {
      next();
      const v = orExpr();
      expect('rp');
      return v;
    }
    if (isKw(t, 'NOT')) {
      next();
      return !primary();
    }
    if (t?.t === 'id' && toks[i + 1]?.t === 'lp' && /^(attribute_exists|attribute_not_exists|begins_with)$/.test(t.v)) {
      next();
      expect('lp');
      const path = attrName(expect('id').v, names);
      if (t.v === 'begins_with') {
        expect('comma');
        const prefix = operand();
        expect('rp');
        const v = item?.[path];
        return typeof v === 'string' && typeof prefix === 'string' && v.startsWith(prefix);
      }
      expect('rp');
      const exists = item !== undefined && item[path] !== undefined;
      return t.v === 'attribute_exists' ? exists : !exists;
    }
    const left = operand();
    const op = next();
    if (op.t === 'id' && op.v.toUpperCase() === 'IN') {
      expect('lp');
      const list = [operand()];
      while (peek()?.t === 'comma') {
        next();
        list.push(operand());
      }
      expect('rp');
      return list.some((v) => equal(left, v));
    }
    if (op.t !== 'op') throw new Error(`fake DynamoDB: expected a comparison in "${expr}"`);
    const right = operand();
    if (left === undefined || right === undefined) return op.v === '<>' ? left !== right : false;
    switch (op.v) {
      case '=':
        return equal(left, right);
      case '<>':
        return !equal(left, right);
      case '<':
        return (left as number) < (right as number);
      case '<=':
        return (left as number) <= (right as number);
      case '>':
        return (left as number) > (right as number);
      default:
        return (left as number) >= (right as number);
    }
  }
  function andExpr(): boolean {
    let v = primary();
    while (isKw(peek(), 'AND')) {
      next();
      const r = primary();
      v = v && r;
    }
    return v;
  }
  function orExpr(): boolean {
    let v = andExpr();
    while (isKw(peek(), 'OR')) {
      next();
      const r = andExpr();
      v = v || r;
    }
    return v;
  }
  const result = orExpr();
  if (i !== toks.length) throw new Error(`fake DynamoDB: trailing tokens in "${expr}"`);
  return result;
}

/** Applies an UpdateExpression to `item` (mutated in place). */
export function applyUpdate(expr: string, item: Item, names: Names, values: Values): void {
  const toks = tokenize(expr);
  let i = 0;
  let clause = '';
  while (i < toks.length) {
    const t = toks[i] as Tok;
    if (t.t === 'id' && /^(SET|ADD|REMOVE)$/i.test(t.v)) {
      clause = t.v.toUpperCase();
      i++;
      continue;
    }
    if (t.t === 'comma') {
      i++;
      continue;
    }
    if (t.t !== 'id') throw new Error(`fake DynamoDB: expected a path in update "${expr}"`);
    const path = attrName(t.v, names);
    i++;
    if (clause === 'SET') {
      if (toks[i]?.v !== '=') throw new Error(`fake DynamoDB: expected "=" in "${expr}"`);
      const rhs = toks[i + 1];
      i += 2;
      if (rhs?.t === 'val') item[path] = value(rhs.v, values);
      else if (rhs?.t === 'id') item[path] = item[attrName(rhs.v, names)];
      else throw new Error(`fake DynamoDB: unsupported SET operand in "${expr}"`);
      if (toks[i] && toks[i]?.t !== 'comma' && !(toks[i]?.t === 'id' && /^(SET|ADD|REMOVE)$/i.test(toks[i]?.v ?? ''))) {
        throw new Error(`fake DynamoDB: SET arithmetic/functions are not supported ("${expr}")`);
      }
    } else if (clause === 'ADD') {
      const rhs = toks[i];
      i++;
      if (rhs?.t !== 'val') throw new Error(`fake DynamoDB: ADD needs a value in "${expr}"`);
      const n = value(rhs.v, values);
      if (typeof n !== 'number') throw new Error('fake DynamoDB: only numeric ADD is supported');
      item[path] = ((item[path] as number | undefined) ?? 0) + n;
    } else if (clause === 'REMOVE') {
      delete item[path];
    } else {
      throw new Error(`fake DynamoDB: update expression must start with SET/ADD/REMOVE ("${expr}")`);
    }
  }
}

/** Applies a ProjectionExpression (top-level names only). */
export function project(item: Item, expr: string | undefined, names: Names): Item {
  if (!expr) return item;
  const out: Item = {};
  for (const raw of expr.split(',')) {
    const name = attrName(raw.trim(), names);
    if (item[name] !== undefined) out[name] = item[name];
  }
  return out;
}
