import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type * as z from '#shared/schemas/zod';
import { AuditChainLink, AuditEventInput, AuditHead, AuditRecord } from '#shared/audit/record';
import { INVALID, parserOf } from '#shared/schemas/item-codec';
import * as items from '#shared/schemas/items';

/**
 * The lean item parser (shared/schemas/item-codec.ts) against zod itself: every case below is
 * derived from the zod schema's own definition (a valid item built from it, then every field
 * removed, replaced by a value of each wrong type, and an unknown attribute added, at every
 * level), and fed to both. They must accept the same inputs and give the same values, fields and
 * field order included.
 */

type Def = { type: string; [k: string]: unknown };
const defOf = (s: unknown) => (s as { _zod: { def: Def; values?: Set<unknown>; optin?: string } })._zod;

/** Strings for leaves whose checks refuse a plain one (names, URLs). */
function stringFor(def: Def): string {
  if (def.format === 'url') return 'https://runner.example/run';
  return 'name_1';
}

/** A value the schema accepts, with every optional field present (`full`) or none. */
function validOf(schema: unknown, full: boolean): unknown {
  const { def, values } = defOf(schema);
  switch (def.type) {
    case 'string':
      return stringFor(def);
    case 'number':
      return 1000;
    case 'boolean':
      return true;
    case 'literal':
    case 'enum':
      return [...(values as Set<unknown>)][0];
    case 'custom':
      return new Uint8Array([1, 2, 3]);
    case 'unknown':
      return { any: ['thing', 1] };
    case 'optional':
    case 'default':
      return validOf(def.innerType, full);
    case 'array':
      return [validOf(def.element, full), validOf(def.element, full)];
    case 'record': {
      const keyValues = defOf(def.keyType).values;
      const key = keyValues ? String([...keyValues][0]) : 'k1';
      return { [key]: validOf(def.valueType, full) };
    }
    case 'pipe':
      return validOf(def.out, full);
    case 'union':
      return validOf((def.options as unknown[])[0], full);
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [k, s] of Object.entries(def.shape as Record<string, unknown>)) {
        if (!full && defOf(s).optin !== undefined) continue;
        out[k] = validOf(s, full);
      }
      return out;
    }
    default:
      throw new Error(`no valid value for a ${def.type} schema`);
  }
}

const WRONG: readonly unknown[] = [
  undefined,
  null,
  0,
  -1,
  1.5,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  2 ** 53,
  '',
  'x',
  'name_1',
  true,
  false,
  [],
  ['x'],
  {},
  { type: 'webhook' },
  new Uint8Array(2),
  Buffer.from('ab'),
  new Date(0),
  new Map(),
  Object.create(null),
];

/** Every variant of `value`: at each object and array inside it, a member removed, replaced by each WRONG value, or an unknown one added. */
function* variants(value: unknown): Generator<unknown> {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      for (const w of WRONG) yield value.map((v, j) => (j === i ? w : v));
      for (const inner of variants(value[i])) yield value.map((v, j) => (j === i ? inner : v));
    }
    yield [];
    return;
  }
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return;
  const obj = value as Record<string, unknown>;
  for (const k of Object.keys(obj)) {
    const { [k]: _gone, ...rest } = obj;
    yield rest;
    for (const w of WRONG) yield { ...obj, [k]: w };
    for (const inner of variants(obj[k])) yield { ...obj, [k]: inner };
  }
  yield { ...obj, unknown_attribute: 'x' };
  yield { ...obj, mac: new Uint8Array(32), mac_key_id: 'k', mac_format: 2 };
}

/** The key order of every object inside a value. */
function keyOrder(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(keyOrder);
  if (v === null || typeof v !== 'object' || v instanceof Uint8Array) return null;
  return Object.entries(v).map(([k, inner]) => [k, keyOrder(inner)]);
}

/** Both parsers on one input: same verdict, same value. */
function agree(schema: z.ZodMiniType, input: unknown): boolean {
  const byZod = schema.safeParse(input);
  const lean = parserOf(schema)(input);
  if (!byZod.success) {
    expect(lean, `accepted what zod refuses: ${String(byZod.error)}`).toBe(INVALID);
    return false;
  }
  expect(lean).not.toBe(INVALID);
  expect(lean).toStrictEqual(byZod.data);
  expect(keyOrder(lean)).toStrictEqual(keyOrder(byZod.data));
  return true;
}

const SCHEMAS: Record<string, z.ZodMiniType> = {
  AgentItem: items.AgentItem,
  ApiKeyItem: items.ApiKeyItem,
  ApiKeyIndexItem: items.ApiKeyIndexItem,
  ProfileItem: items.ProfileItem,
  ProfileNameItem: items.ProfileNameItem,
  SessionItem: items.SessionItem,
  RunItem: items.RunItem,
  RunJobItem: items.RunJobItem,
  GrantItem: items.GrantItem,
  OAuthTokenItem: items.OAuthTokenItem,
  OAuthLinkItem: items.OAuthLinkItem,
  WebhookItem: items.WebhookItem,
  WebhookDeliveryItem: items.WebhookDeliveryItem,
  AuditEventInput,
  AuditChainLink,
  AuditRecord,
  AuditHead,
};

describe('item codec', () => {
  for (const [name, schema] of Object.entries(SCHEMAS)) {
    it(`accepts and refuses what ${name} does, with the same values`, () => {
      const full = validOf(schema, true);
      const minimal = validOf(schema, false);
      expect(agree(schema, full), 'the derived item is valid').toBe(true);
      expect(agree(schema, minimal), 'the derived minimal item is valid').toBe(true);
      let refused = 0;
      let accepted = 0;
      for (const v of [...variants(full), ...variants(minimal), ...WRONG]) {
        if (agree(schema, v)) accepted++;
        else refused++;
      }
      // The derived cases do reach both sides of the schema.
      expect(refused).toBeGreaterThan(10);
      expect(accepted).toBeGreaterThan(1);
    });
  }

  it('gathers day counters and applies defaults on a profile as zod does', () => {
    const profile = validOf(items.ProfileItem, false) as Record<string, unknown>;
    const stored = {
      ...profile,
      uses_20261201_run: 3,
      uses_20261201_test: 1,
      uses_20261202_proxy: 2,
      uses_2026_run: 5,
      uses_20261203_run: 'x',
    };
    expect(agree(items.ProfileItem, stored)).toBe(true);
    const parsed = parserOf(items.ProfileItem)(stored) as items.ProfileItem;
    expect(parsed.daily_uses).toEqual({ '20261201': { run: 3, test: 1 }, '20261202': { proxy: 2 } });
    expect(parsed).toMatchObject({ auth_type: 'custom', active: true, use_count: 0, settings_version: 0, allowed_source_ips: [] });
    // An attribute named __proto__ (a table writer's) is no field and changes no other field.
    const polluted = Object.assign(JSON.parse('{"__proto__": {"active": false, "owner": "intruder", "uses_20261201_run": 99}}'), stored);
    expect(agree(items.ProfileItem, polluted)).toBe(true);
    expect(parserOf(items.ProfileItem)(polluted)).toMatchObject({ active: true, daily_uses: { '20261201': { run: 3, test: 1 } } });
    expect(parserOf(items.ProfileItem)(polluted)).not.toHaveProperty('owner');
    // A default is a fresh value each time: editing one parse's never shows in another's.
    (parserOf(items.ProfileItem)(stored) as items.ProfileItem).allowed_source_ips.push('1.2.3.4');
    expect((parserOf(items.ProfileItem)(stored) as items.ProfileItem).allowed_source_ips).toEqual([]);
  });

  it('refuses the checks it hands to zod (input argument names, runner URLs) as zod does', () => {
    const agent = validOf(items.AgentItem, true) as Record<string, unknown>;
    // Twice: a checked string's verdict is remembered, and must come out the same the second time.
    for (let pass = 0; pass < 2; pass++) checkedLeaves(agent);
    expect(parserOf(items.AgentItem)({ ...agent, input_args: [{ name: '0bad' }] })).toBe(INVALID);
  });

  it('forgets remembered verdicts past its bound and still agrees', () => {
    const agent = validOf(items.AgentItem, true) as Record<string, unknown>;
    for (let i = 0; i < 1200; i++) agree(items.AgentItem, { ...agent, input_args: [{ name: i % 3 === 0 ? `${i}bad` : `arg_${i}` }] });
    checkedLeaves(agent);
  });
});

/** Input argument names and runner URLs: the string leaves whose checks the parser leaves to zod. */
function checkedLeaves(agent: Record<string, unknown>): void {
  for (const name of ['f0', '0bad', 'a b', 'constructor', '__proto__', 'x'.repeat(65), 'ok\u200b']) {
    agree(items.AgentItem, { ...agent, input_args: [{ name }] });
  }
  for (const url of [
    'https://r.example/run',
    'ftp://r.example/',
    'http:r.example',
    ' http://r.example ',
    `https://r.example/${'a'.repeat(2100)}`,
  ]) {
    agree(items.AgentItem, { ...agent, runner: { type: 'webhook', url } });
  }
}

describe('item codec on arbitrary values', () => {
  it('agrees with zod on arbitrary values in every field', () => {
    const full = validOf(items.ProfileItem, true) as Record<string, unknown>;
    const keys = Object.keys(full);
    fc.assert(
      fc.property(fc.constantFrom(...keys), fc.anything({ withTypedArray: true, withMap: true, withSet: true }), (key, value) => {
        agree(items.ProfileItem, { ...full, [key]: value });
        agree(items.AgentItem, { ...(validOf(items.AgentItem, true) as object), [key]: value });
      }),
      { numRuns: 300 },
    );
  });
});
