import { createHmac } from 'node:crypto';
import { lengthPrefixed } from './encoding.ts';
import { constantTimeEqual } from './server-seal.ts';
import type { ServerKey, ServerKeyRing } from './server-key.ts';

/**
 * Integrity MACs on stored items: whoever can write the table but holds no server key must not
 * be able to point an agent's runner or an OAuth2 token URL at themselves, widen a profile's
 * policy or grants, or move an API key to another tenant.
 *
 *   v2 (every item, written by the signed store, shared/store/signer.ts):
 *   mac = HMAC-SHA256(mac subkey, "item-mac/v2" ‖ kind ‖ pk ‖ sk ‖ canonical JSON of the covered attributes)
 *
 *   v1 (agents and API keys written before the signed store; still verified, re-signed as v2 on their next write):
 *   mac = HMAC-SHA256(mac subkey, "item-mac/v1" ‖ kind ‖ canonical JSON of the protected fields)
 *
 * The item carries `mac` and `mac_key_id` (the server key that made it), so a rotated ring still
 * verifies items written under an older entry. The caller passes the fields from the key it
 * asked for (tenant, agent id, key hash), not the item's own claims, so an item copied to
 * another partition fails too.
 */
export type MacKind = 'agent' | 'api-key';

/** What an item stores about its MAC. */
export interface ItemMac {
  readonly mac: Buffer;
  readonly mac_key_id: string;
}

/**
 * JSON with object keys sorted at every level and `undefined` members dropped: DynamoDB does not
 * keep the order of a map's keys, so the MAC input must not depend on it. Binary values are
 * encoded as base64 (tagged, so they cannot collide with a string).
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(normalise(value));
}

function normalise(value: unknown): unknown {
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString('base64') };
  if (Array.isArray(value)) return value.map(normalise);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = normalise(v);
    }
    return out;
  }
  return value;
}

/**
 * canonicalJson of `item`'s own attributes minus those `skip` names, written in one pass: the
 * same string (so the same MAC) without the filtered copy, the sorted copy and the byte copies
 * canonicalJson makes first. Object keys sorted at every level, `undefined` (and values JSON
 * leaves out of objects) dropped, bytes as `{"$bytes": base64}`.
 */
export function canonicalJsonOf(item: Readonly<Record<string, unknown>>, skip: (key: string) => boolean): string {
  const plan = planOf(Object.keys(item), skip);
  let out = '{';
  for (let i = 0; i < plan.keys.length; i++) {
    const v = canonicalMember(item[plan.keys[i] as string]);
    if (v === undefined) continue;
    out += out.length === 1 ? `${plan.quoted[i]}:${v}` : `,${plan.quoted[i]}:${v}`;
  }
  return `${out}}`;
}

/** The members an object's canonical JSON writes, in order (jsonKeyOrder, minus `__proto__` and the skipped), each with its key as JSON. */
interface KeyPlan {
  /** The object's own keys as Object.keys listed them: the plan is reused only for the same list. */
  readonly from: readonly string[];
  readonly keys: readonly string[];
  readonly quoted: readonly string[];
}

/** Plans remembered per skip function and key list (items of one kind share a few): at most PLANS each, forgotten all at once when full. */
const PLANS = 64;
const plansBySkip = new WeakMap<(key: string) => boolean, Map<string, KeyPlan>>();

function planOf(keys: string[], skip: (key: string) => boolean): KeyPlan {
  let plans = plansBySkip.get(skip);
  if (!plans) {
    plans = new Map();
    plansBySkip.set(skip, plans);
  }
  const id = keys.join('\u0000');
  const known = plans.get(id);
  // Two lists can join to one id (a key holding U+0000): the plan must be of this very list.
  if (known && sameList(known.from, keys)) return known;
  const from = keys.slice();
  // canonicalJson's copy assigns `__proto__` (setting its prototype), so that key never reaches its JSON.
  const ordered = jsonKeyOrder(keys).filter((k) => k !== '__proto__' && !skip(k));
  const plan: KeyPlan = { from, keys: ordered, quoted: ordered.map((k) => JSON.stringify(k)) };
  if (plans.size >= PLANS) plans.clear();
  plans.set(id, plan);
  return plan;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** One value's canonical JSON, or undefined where JSON.stringify leaves an object member out. */
function canonicalMember(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    case 'bigint':
      return JSON.stringify(value); // throws, as canonicalJson does
  }
  if (value === null) return 'null';
  if (value instanceof Uint8Array) {
    return `{"$bytes":"${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64')}"}`;
  }
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ',';
      out += canonicalMember(value[i]) ?? 'null';
    }
    return `${out}]`;
  }
  return canonicalJsonOf(value as Record<string, unknown>, noSkip);
}
const noSkip = () => false;

/**
 * Keys in the order JSON.stringify writes canonicalJson's sorted copy: sorted, except that a
 * JavaScript object lists integer-like keys ("0", "20261201") first, in numeric order.
 */
function jsonKeyOrder(keys: string[]): string[] {
  keys.sort();
  if (!keys.some(isArrayIndex)) return keys;
  const indices = keys.filter(isArrayIndex).sort((a, b) => Number(a) - Number(b));
  return [...indices, ...keys.filter((k) => !isArrayIndex(k))];
}

/** A key JavaScript orders as an integer: a canonical decimal array index (below 2^32 - 1). */
function isArrayIndex(k: string): boolean {
  const c = k.charCodeAt(0);
  return c >= 48 && c <= 57 && k.length <= 10 && /^(?:0|[1-9][0-9]*)$/.test(k) && Number(k) < 4_294_967_295;
}

function compute(key: ServerKey, kind: MacKind, fields: Readonly<Record<string, unknown>>): Buffer {
  return createHmac('sha256', key.macKey)
    .update(lengthPrefixed('item-mac/v1', kind, canonicalJson(fields)))
    .digest();
}

/** The v2 MAC of an item: its kind, its key and its covered attributes (length-prefixed, so no part can run into the next). */
export function itemMacV2(key: ServerKey, kind: string, pk: string, sk: string, fields: Readonly<Record<string, unknown>>): Buffer {
  return itemMacV2Json(key, kind, pk, sk, canonicalJson(fields));
}

/** itemMacV2 over the canonical JSON of the covered attributes, already written (canonicalJsonOf). */
export function itemMacV2Json(key: ServerKey, kind: string, pk: string, sk: string, json: string): Buffer {
  // lengthPrefixedText(['item-mac/v2', kind, pk, sk, json]), with the JSON (the long part) hashed
  // as the string it is rather than copied into that buffer first: the same bytes.
  if (!json.isWellFormed()) throw new RangeError('string parts must be well-formed Unicode');
  const head = lengthPrefixedText(['item-mac/v2', kind, pk, sk], 4);
  head.writeUInt32BE(Buffer.byteLength(json, 'utf8'), head.length - 4);
  return createHmac('sha256', key.macKey).update(head).update(json, 'utf8').digest();
}

/**
 * lengthPrefixed (shared/crypto/encoding.ts) of strings, the same bytes written straight into one
 * buffer: no buffer per part (the MAC inputs of items and audit records have up to 23 parts).
 * `spare` bytes are left at the end for the caller to write.
 */
export function lengthPrefixedText(parts: readonly string[], spare = 0): Buffer {
  let size = spare;
  for (const part of parts) {
    if (!part.isWellFormed()) throw new RangeError('string parts must be well-formed Unicode');
    size += 4 + Buffer.byteLength(part, 'utf8');
  }
  const out = Buffer.allocUnsafe(size); // every byte is written below (the `spare` ones by the caller)
  let off = 0;
  for (const part of parts) {
    const written = out.write(part, off + 4, 'utf8');
    out.writeUInt32BE(written, off);
    off += 4 + written;
  }
  return out;
}

/** MACs `fields` under the ring's current key (v1). */
export function macItem(ring: ServerKeyRing, kind: MacKind, fields: Readonly<Record<string, unknown>>): ItemMac {
  return { mac: compute(ring.current, kind, fields), mac_key_id: ring.current.idHex };
}

/**
 * True if `stored` is a MAC of `fields` under the ring entry it names. A missing MAC, an unknown
 * key id and a wrong MAC are all false; the comparison is constant-time.
 */
export function verifyItemMac(
  ring: ServerKeyRing,
  kind: MacKind,
  fields: Readonly<Record<string, unknown>>,
  stored: { mac?: Uint8Array; mac_key_id?: string },
): boolean {
  const key = stored.mac_key_id === undefined ? undefined : ring.byId(stored.mac_key_id);
  if (!key || !stored.mac) return false;
  return constantTimeEqual(compute(key, kind, fields), stored.mac);
}
