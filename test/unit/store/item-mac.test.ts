import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { lengthPrefixed } from '#shared/crypto/encoding';
import { canonicalJson, canonicalJsonOf, lengthPrefixedText } from '#shared/crypto/item-mac';
import { parseServerKeyRing } from '#shared/crypto/server-key';
import { silentLogger } from '#shared/log';
import { itemSigner } from '#shared/store/signer';

/**
 * The item MAC's bytes never change (docs/architecture.md, "Integrity: the signed store"): items
 * already stored must still verify. The expected MACs below were computed by the signer before
 * its canonical JSON was written in one pass (shared/crypto/item-mac.ts canonicalJsonOf), over
 * items that exercise what canonical JSON must get right: key order at every level (integer-like
 * keys included), bytes, unicode and escapes, -0, unsigned and unknown attributes, a stale MAC.
 */
const RING = JSON.stringify({ current: 'k1', k1: 'fixed-test-material-for-the-item-mac-vector-0123456789' });
const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
const PROFILE = {
  pk: 'TENANT#acme#AGENT#agent-1',
  sk: 'PROFILE#0123456789abcdef0123456789abcdef',
  entity: 'profile',
  tenant: 'acme',
  agent_id: 'agent-1',
  name: 'Prod ünïcode ✓',
  slot: '0123456789abcdef0123456789abcdef',
  agent_incarnation: 'inc-1',
  generation: 3,
  record_version: 2,
  server_key_id: 'abcd',
  verifier: bytes(32, 1),
  commitment: bytes(32, 2),
  fields: { '10': bytes(40, 3), '9': bytes(40, 4), password: bytes(40, 5), Zeta: bytes(40, 6), '0': bytes(1, 7) },
  auth_type: 'bearer',
  auth_config: { b: [1, 'two', { z: null, a: true }], a: { '2': 'x', '1': 'y', k: 1.5 }, '7': -0 },
  allowed_hosts: ['api.example.com', '*.example.org:8443'],
  allowed_methods: ['GET'],
  should_save_session: true,
  runner_origin: 'https://runner.example',
  runner_approval: bytes(32, 8),
  runner_delivery: 'proxy',
  created_at: '2026-01-02T03:04:05.678Z',
  updated_at: '2026-02-02T03:04:05.678Z',
  use_count: 12,
  uses_20261201_run: 4,
  uses_20261202_proxy: 1,
  last_used_at: '2026-12-02T00:00:00.000Z',
  in_flight_until: '2026-12-02T00:01:00.000Z',
  active: false,
  description: 'line\nbreak "quoted" \u2028',
  allowed_source_ips: ['10.0.0.0/8'],
  owner: 'key-1',
  visibility: 'shared',
  grants: [{ principal: 'role:member', permission: 'read' }],
  settings_version: 4,
  rename_to: 'x',
  rename_at: 'y',
  name_index_pk: 'ignored-attribute',
  mac: bytes(32, 9),
  mac_key_id: 'stale',
  mac_format: 2,
};
const AGENT = {
  pk: 'TENANT#acme',
  sk: 'AGENT#agent-1',
  entity: 'agent',
  tenant: 'acme',
  agent_id: 'agent-1',
  name: 'Agent',
  input_args: [{ name: 'f0' }, { name: 'f1', required: true, secret: false, description: 'd' }],
  runner: { type: 'webhook', url: 'https://runner.example/run', timeout_ms: 10000 },
  credential_delivery: 'parameters',
  signing_secret: bytes(60, 10),
  incarnation: 'inc-1',
  owner: 'key-1',
  version: 5,
  created_at: '2026-01-02T03:04:05.678Z',
  updated_at: '2026-01-02T03:04:05.678Z',
};
const RUN = {
  pk: 'RUN#s1',
  sk: 'RUN',
  entity: 'run',
  tenant: 'acme',
  agent_id: 'agent-1',
  session_id: 's1',
  status: 'succeeded',
  result: bytes(20, 11),
  created_at: 'c',
  started_at: 's',
  finished_at: 'f',
  expires_at: 1800000000,
};

const EXPECTED = {
  profile: '0e3df0bc1ee3426bb86794fb30ce795f9e1a30d6a56715771b914e8d1183faed',
  agent: 'bf958a4f8fc9dd8ec323b85b709442081f9b3254c4f0a17b0aae23089f493c09',
  run: '787495b75cdb8a4ed701680d1f56ece51c12bad4769f97f6916055c34f3e0bf4',
} as const;

describe('item MAC (v2)', () => {
  const signer = itemSigner(parseServerKeyRing(RING), silentLogger);
  const cases = [
    ['profile', PROFILE],
    ['agent', AGENT],
    ['run', RUN],
  ] as const;

  for (const [kind, item] of cases) {
    it(`keeps the MAC bytes of a stored ${kind}`, () => {
      const sealed = signer.seal(kind, item);
      expect(Buffer.from(sealed.mac).toString('hex')).toBe(EXPECTED[kind]);
      expect(Buffer.from(signer.macFor(kind, item).mac).toString('hex')).toBe(EXPECTED[kind]);
      // An item stored with that MAC opens; any covered change does not.
      const stored = { ...item, mac: Buffer.from(EXPECTED[kind], 'hex'), mac_key_id: sealed.mac_key_id, mac_format: 2 };
      expect(signer.intact(kind, stored)).toBe(true);
      expect(signer.intact(kind, { ...stored, created_at: '2027-01-01T00:00:00.000Z' })).toBe(false);
    });
  }

  it('leaves out __proto__ keys at every level, as canonicalJson does', () => {
    const item = JSON.parse('{"a":1,"__proto__":{"x":2},"n":{"__proto__":3,"b":[{"__proto__":null}]}}');
    expect(canonicalJsonOf(item, () => false)).toBe('{"a":1,"n":{"b":[{}]}}');
    expect(canonicalJsonOf(item, () => false)).toBe(canonicalJson(item));
  });

  it('writes the same canonical JSON as canonicalJson of the filtered item', () => {
    const key = fc.oneof(
      fc.string(),
      fc.nat().map(String),
      fc.constantFrom('0', '01', '4294967294', '4294967295', '9007199254740993', '-1', '1.5'),
    );
    const leaf = fc.oneof(
      fc.string(),
      fc.double(),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.constant(undefined),
      fc.uint8Array({ maxLength: 40 }),
      fc.uint8Array({ minLength: 8, maxLength: 40 }).map((b) => b.subarray(3)),
    );
    const value = fc.letrec((tie) => ({
      v: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('v'), { maxLength: 4 }), fc.dictionary(key, tie('v'), { maxKeys: 5 })),
    })).v;
    fc.assert(
      fc.property(fc.dictionary(key, value, { maxKeys: 8 }), fc.array(key, { maxLength: 3 }), (item, skipped) => {
        const skip = new Set(skipped);
        const filtered = Object.fromEntries(Object.entries(item).filter(([k]) => !skip.has(k)));
        expect(canonicalJsonOf(item, (k) => skip.has(k))).toBe(canonicalJson(filtered));
      }),
      { numRuns: 500 },
    );
  });
});

describe('canonicalJsonOf, key plans reused across items', () => {
  it('writes each item right when one skip function sees many key lists', () => {
    const skip = (k: string) => k === 'mac' || k === 's';
    const key = fc.constantFrom('a', 'b', 's', 'mac', '0', '10', '2', 'a\u0000b', '__proto__', 'é');
    fc.assert(
      fc.property(
        fc.array(fc.tuple(key, fc.oneof(fc.string(), fc.integer(), fc.uint8Array({ maxLength: 8 }))), { maxLength: 8 }),
        (entries) => {
          const item: Record<string, unknown> = {};
          for (const [k, v] of entries) Object.defineProperty(item, k, { value: v, enumerable: true, writable: true, configurable: true });
          const filtered = Object.fromEntries(Object.entries(item).filter(([k]) => !skip(k)));
          expect(canonicalJsonOf(item, skip)).toBe(canonicalJson(filtered));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('tells apart two key lists that join to the same text', () => {
    const skip = () => false;
    expect(canonicalJsonOf({ 'a\u0000b': 1 }, skip)).toBe('{"a\\u0000b":1}');
    expect(canonicalJsonOf({ a: 1, b: 2 }, skip)).toBe('{"a":1,"b":2}');
    expect(canonicalJsonOf({ 'a\u0000b': 3 }, skip)).toBe('{"a\\u0000b":3}');
  });

  it('follows a key order that changes between items of one shape', () => {
    const skip = () => false;
    expect(canonicalJsonOf({ b: 1, a: 2 }, skip)).toBe('{"a":2,"b":1}');
    expect(canonicalJsonOf({ a: 2, b: 1 }, skip)).toBe('{"a":2,"b":1}');
    expect(canonicalJsonOf({ a: 2, c: 1 }, skip)).toBe('{"a":2,"c":1}');
  });
});

describe('lengthPrefixedText', () => {
  it('writes the bytes lengthPrefixed writes, and refuses what it refuses', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'binary' }), { maxLength: 25 }), (parts) => {
        const wellFormed = parts.every((p) => p.isWellFormed());
        if (wellFormed) expect(lengthPrefixedText(parts).equals(lengthPrefixed(...parts))).toBe(true);
        else expect(() => lengthPrefixedText(parts)).toThrow(RangeError);
      }),
      { numRuns: 500 },
    );
    expect(() => lengthPrefixed('\ud800')).toThrow(RangeError);
  });
});
