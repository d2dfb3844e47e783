import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '#shared/audit/record';
import { ValidationError } from '#shared/errors';
import { setRawAttribute } from '#test/support/raw-table';
import { IntegrityError } from '#shared/errors';
import { type ItemKey, keys } from '#shared/keys';
import { dynamoStore } from '#shared/store/dynamodb';
import { profileRef } from '#shared/store/profile-ref';
import { memoryStore } from '#test/support/memory-store';
import type { ProfileItem, RunItem } from '#shared/schemas/items';
import type { ApiKeyRecord, NewAgentItem, ProfileRecord, SessionRecord, Store } from '#shared/store/types';
import { type TestDb, startTestDb, testSigner } from '#test/support/dynamo';

/**
 * One contract, two implementations: the in-memory store (unit tests, bench) must answer as the
 * DynamoDB one does on dynalite, for every conditional write, TTL'd read and page the domain
 * relies on — and both are signed (shared/store/signer.ts): every item written verifies when
 * read, every partial write leaves a verifiable item, and an item edited in the table (`tamper`,
 * as a table writer without the server key would) is refused. A difference fails here, under
 * the implementation's name.
 */
let testDb: TestDb;
beforeAll(async () => {
  testDb = await startTestDb();
});
afterAll(async () => {
  await testDb?.close();
});

/** Sets (or, with undefined, removes) one attribute of a stored item behind the store's back. */
type Tamper = (store: Store, k: ItemKey, attr: string, value: unknown) => Promise<void>;

const signer = testSigner();
const implementations: [string, () => Store, Tamper][] = [
  [
    'memory',
    () => memoryStore(),
    async (store, k, attr, value) =>
      (store as ReturnType<typeof memoryStore>).tamper(k, (i) => {
        if (value === undefined) delete i[attr];
        else i[attr] = value;
      }),
  ],
  ['dynamodb (dynalite)', () => dynamoStore(testDb.db, signer), (_store, k, attr, value) => setRawAttribute(testDb.db, k, attr, value)],
];

const id = () => randomBytes(4).toString('hex');
const slot = () => randomBytes(16).toString('hex');
const NOW = '2026-01-01T00:00:00.000Z';
const agent = (tenant: string, agentId: string, version = 1): NewAgentItem => ({
  tenant,
  agent_id: agentId,
  name: 'bot',
  input_args: [{ name: 'password', required: false, secret: true }],
  runner: { type: 'webhook', url: 'http://127.0.0.1:9/run' },
  signing_secret: new Uint8Array(60),
  incarnation: 'abcdabcdabcdabcd',
  version,
  created_at: NOW,
  updated_at: NOW,
});

const apiKey = (tenant: string, keyId: string, role: 'admin' | 'member' = 'admin'): ApiKeyRecord => ({
  tenant,
  label: 'ci',
  created_at: NOW,
  key_id: keyId,
  name: `key ${keyId}`,
  role,
});

const profile = (tenant: string, agentId: string, slotHex: string, generation = 1, recordVersion = 1): ProfileRecord => ({
  tenant,
  agent_id: agentId,
  slot: slotHex,
  name: `p-${slotHex.slice(0, 6)}`,
  agent_incarnation: 'abcdabcdabcdabcd',
  generation,
  record_version: recordVersion,
  server_key_id: '00'.repeat(8),
  verifier: new Uint8Array(32).fill(generation),
  commitment: new Uint8Array(32).fill(recordVersion),
  fields: { password: new Uint8Array([1, 2, 3, recordVersion]) },
  auth_type: 'custom',
  should_save_session: false,
  runner_origin: 'http://127.0.0.1:9',
  runner_approval: new Uint8Array(32),
  created_at: NOW,
  updated_at: NOW,
  use_count: 0,
  daily_uses: {},
  active: true,
  allowed_source_ips: [],
  settings_version: 0,
});

/** The profile as read (what a partial write takes). */
const read = async (store: Store, t: string, a: string, s: string) => (await store.profiles.get(profileRef(t, a, s))) as ProfileItem;

const use = (day = '20260101', staleDays: { day: string; kind: 'run' | 'proxy' | 'test' }[] = []) => ({
  kind: 'proxy' as const,
  at: NOW,
  day,
  staleDays,
});

const session = (generation: number, version: number, profileCreatedAt?: string): SessionRecord => ({
  generation,
  version,
  blob: new Uint8Array([version]),
  updated_at: NOW,
  ...(profileCreatedAt ? { profile_created_at: profileCreatedAt } : {}),
});

const auditRecord = (tenant: string, i: number, over: Partial<AuditRecord> = {}): AuditRecord => ({
  id: `id${String(i).padStart(4, '0')}`,
  at: `2026-01-01T00:00:${String(i).padStart(2, '0')}.000Z`,
  expires_at: 2_000,
  tenant,
  key_id: 'k1',
  action: 'run',
  agent_id: 'bot',
  profile: 'a',
  slot: 'aa'.repeat(16),
  status: 200,
  result: 'ok',
  mac_key_id: '00'.repeat(8),
  mac: 'ff',
  ...over,
});

describe.each(implementations)('store contract: %s', (_name, make, tamper) => {
  describe('agents', () => {
    it('creates an agent once, replaces it only at the version read, deletes it once', async () => {
      const store = make();
      const [t, a] = [id(), id()];
      expect(await store.agents.create(agent(t, a))).toBe(true);
      expect(await store.agents.create(agent(t, a))).toBe(false);
      expect(await store.agents.replace({ ...agent(t, a, 2), name: 'v2' }, 5)).toBe(false);
      expect(await store.agents.replace({ ...agent(t, a, 2), name: 'v2' }, 1)).toBe(true);
      const got = await store.agents.get(t, a);
      expect(got?.name).toBe('v2');
      expect(got?.version).toBe(2);
      expect(got).not.toHaveProperty('mac');
      expect(await store.agents.delete(t, a)).toBe(true);
      expect(await store.agents.delete(t, a)).toBe(false);
      expect(await store.agents.get(t, a)).toBeUndefined();
      expect(await store.agents.replace(agent(t, a, 2), 1)).toBe(false);
    });

    it('pages agents in id order; a full page carries a cursor even when nothing follows; cursors are bound to the partition', async () => {
      const store = make();
      const t = id();
      for (const a of ['a3', 'a1', 'a2']) await store.agents.create(agent(t, a));
      // The tenant partition also holds the API-key marker: a listing must skip it.
      await store.apiKeys.put(randomBytes(32).toString('hex'), apiKey(t, 'k1'));
      const first = await store.agents.list(t, 2);
      expect(first.items.map((i) => i.agent_id)).toEqual(['a1', 'a2']);
      const second = await store.agents.list(t, 1, first.next);
      expect(second.items.map((i) => i.agent_id)).toEqual(['a3']);
      expect(second.next).toBeDefined();
      const third = await store.agents.list(t, 1, second.next);
      expect(third).toEqual({ items: [], next: undefined });
      expect((await store.agents.list(t, 10)).next).toBeUndefined();
      await expect(store.agents.list(id(), 2, first.next)).rejects.toBeInstanceOf(ValidationError);
      await expect(store.agents.list(t, 2, 'not-a-cursor')).rejects.toBeInstanceOf(ValidationError);
    });
  });

  describe('API keys', () => {
    it('stores a key hash once, marks the tenant, and replaces an item only when it fails its integrity check', async () => {
      const store = make();
      const [hash, t] = [randomBytes(32).toString('hex'), id()];
      const record = apiKey(t, 'k1');
      expect(await store.apiKeys.tenantHasKey(t)).toBe(false);
      expect(await store.apiKeys.put(hash, record)).toBe(true);
      expect(await store.apiKeys.put(hash, { ...record, tenant: 'other' })).toBe(false);
      expect(await store.apiKeys.tenantHasKey(t)).toBe(true);
      expect((await store.apiKeys.get(hash))?.tenant).toBe(t);
      expect(await store.apiKeys.replaceUnverified(hash, { ...record, label: 'replaced' })).toBe(false);
      await tamper(store, keys.apiKey(hash), 'role', 'member');
      await expect(store.apiKeys.get(hash)).rejects.toBeInstanceOf(IntegrityError);
      expect(await store.apiKeys.replaceUnverified(hash, { ...record, label: 'replaced' })).toBe(true);
      expect(await store.apiKeys.get(hash)).toMatchObject({ label: 'replaced', role: 'admin' });
      const bare = randomBytes(32).toString('hex');
      expect(await store.apiKeys.replaceUnverified(bare, record)).toBe(false);
      expect(await store.apiKeys.get(bare)).toBeUndefined();
    });

    it('indexes keys per tenant by key id, lists them in key-id order, and revokes a key only for its tenant', async () => {
      const store = make();
      const t = id();
      const hashes = ['k2', 'k1', 'k3'].map((k) => [k, randomBytes(32).toString('hex')] as const);
      for (const [k, hash] of hashes) expect(await store.apiKeys.put(hash, apiKey(t, k, k === 'k3' ? 'member' : 'admin'))).toBe(true);
      expect(await store.apiKeys.putIndex('ff', apiKey(t, 'k1'))).toBe(false);
      const first = await store.apiKeys.list(t, 2);
      expect(first.items.map((i) => [i.key_id, i.role])).toEqual([
        ['k1', 'admin'],
        ['k2', 'admin'],
      ]);
      expect((await store.apiKeys.list(t, 2, first.next)).items.map((i) => i.key_id)).toEqual(['k3']);
      const [, h2] = hashes[0] as readonly [string, string];
      expect(await store.apiKeys.getIndex(t, 'k2')).toMatchObject({ key_hash: h2, name: 'key k2' });
      expect(await store.apiKeys.delete(id(), 'k2', h2)).toBe(false);
      expect((await store.apiKeys.get(h2))?.tenant).toBe(t);
      expect(await store.apiKeys.delete(t, 'k2', h2)).toBe(true);
      expect(await store.apiKeys.get(h2)).toBeUndefined();
      expect(await store.apiKeys.getIndex(t, 'k2')).toBeUndefined();
      expect(await store.apiKeys.delete(t, 'k2', h2)).toBe(false);
      // The tenant's agents listing never shows its key entries.
      expect((await store.agents.list(t, 10)).items).toEqual([]);
    });
  });

  describe('profiles', () => {
    it('guards writes by generation, record version and settings version', async () => {
      const store = make();
      const [t, a, s] = [id(), id(), slot()];
      expect(await store.profiles.create(profile(t, a, s))).toBe(true);
      expect(await store.profiles.create(profile(t, a, s))).toBe(false);
      const created = await read(store, t, a, s);
      expect(await store.profiles.rewrite(profile(t, a, s, 1, 2), created)).toBe(true);
      expect(await store.profiles.rewrite(profile(t, a, s, 1, 3), created)).toBe(false);
      const rewritten = await read(store, t, a, s);
      // A patch from a read before the rewrite loses (it would MAC a stale record_version's state).
      expect(await store.profiles.patchSettings(profileRef(t, a, s), { description: 'x' }, created, NOW)).toBeUndefined();
      const patched = await store.profiles.patchSettings(
        profileRef(t, a, s),
        { description: 'd', allowed_hosts: ['api.example.com'] },
        rewritten,
        NOW,
      );
      expect(patched).toMatchObject({ description: 'd', allowed_hosts: ['api.example.com'], settings_version: 1, record_version: 2 });
      expect(await store.profiles.patchSettings(profileRef(t, a, s), { description: 'e' }, rewritten, NOW)).toBeUndefined();
      // A rewrite from a read before the patch loses too (it would MAC stale settings).
      expect(await store.profiles.rewrite(profile(t, a, s, 1, 3), rewritten)).toBe(false);
      expect(await store.profiles.replace(profile(t, a, s, 2, 3), { generation: 1, record_version: 2, settings_version: 0 })).toBe(false);
      expect(await store.profiles.replace(profile(t, a, s, 2, 3), { generation: 1, record_version: 2, settings_version: 1 })).toBe(true);
      const item = await store.profiles.get(profileRef(t, a, s));
      expect(item).toMatchObject({ generation: 2, record_version: 3, settings_version: 0, auth_type: 'custom' });
      expect(item?.description).toBeUndefined();
      expect(item?.fields.password).toEqual(new Uint8Array([1, 2, 3, 3]));
      expect(await store.profiles.patchSettings(profileRef(t, a, s), { active: false }, patched as ProfileItem, NOW)).toBeUndefined();
      await store.profiles.delete(profileRef(t, a, s));
      expect(await store.profiles.patchSettings(profileRef(t, a, s), { active: false }, item as ProfileItem, NOW)).toBeUndefined();
    });

    it('writes grants through the settings write (one version), and a checked delete only at the version read', async () => {
      const store = make();
      const [t, a, s] = [id(), id(), slot()];
      await store.profiles.create({ ...profile(t, a, s), owner: 'aaaaaaaaaaaaaaaa', visibility: 'private', grants: [] });
      const shared = await store.profiles.patchSettings(
        profileRef(t, a, s),
        { grants: [{ principal: 'role:member', permission: 'read' }], visibility: 'shared' },
        await read(store, t, a, s),
        NOW,
      );
      expect(shared).toMatchObject({
        owner: 'aaaaaaaaaaaaaaaa',
        visibility: 'shared',
        grants: [{ principal: 'role:member', permission: 'read' }],
        settings_version: 1,
      });
      expect(await store.profiles.delete(profileRef(t, a, s), { generation: 1, settings_version: 0 })).toBe(false);
      expect(await store.profiles.get(profileRef(t, a, s))).toBeDefined();
      expect(await store.profiles.delete(profileRef(t, a, s), { generation: 1, settings_version: 1 })).toBe(true);
      expect(await store.profiles.get(profileRef(t, a, s))).toBeUndefined();
      expect(await store.profiles.delete(profileRef(t, a, s))).toBe(false);
    });

    it('removes settings patched to null and leaves the rest', async () => {
      const store = make();
      const [t, a, s] = [id(), id(), slot()];
      await store.profiles.create({ ...profile(t, a, s), description: 'keep?', allowed_methods: ['GET'] });
      const out = await store.profiles.patchSettings(
        profileRef(t, a, s),
        { description: null, active: false },
        await read(store, t, a, s),
        NOW,
      );
      expect(await store.profiles.get(profileRef(t, a, s))).toEqual(out);
      // Removing a defaulted setting: the item reads (and verifies) with the default.
      const back = await store.profiles.patchSettings(profileRef(t, a, s), { active: null }, out as ProfileItem, NOW);
      expect(back?.active).toBe(true);
      expect(await store.profiles.get(profileRef(t, a, s))).toEqual(back);
      expect(out?.description).toBeUndefined();
      expect(out?.active).toBe(false);
      expect(out?.allowed_methods).toEqual(['GET']);
    });

    it('rewrites in place: sets a new expiry, keeps the old one otherwise, removes policy absent from the record, keeps counters', async () => {
      const store = make();
      const [t, a, s] = [id(), id(), slot()];
      await store.profiles.create({ ...profile(t, a, s), token_expires_at: '2030-01-01T00:00:00.000Z', allowed_hosts: ['a.example'] });
      await store.profiles.recordUse(profileRef(t, a, s), 1, use());
      await store.profiles.rewrite(profile(t, a, s, 1, 2), await read(store, t, a, s));
      let item = await store.profiles.get(profileRef(t, a, s));
      expect(item).toMatchObject({ token_expires_at: '2030-01-01T00:00:00.000Z', use_count: 1, record_version: 2 });
      expect(item?.allowed_hosts).toBeUndefined();
      await store.profiles.rewrite({ ...profile(t, a, s, 1, 3), token_expires_at: '2031-01-01T00:00:00.000Z' }, item as ProfileItem);
      item = await store.profiles.get(profileRef(t, a, s));
      expect(item?.token_expires_at).toBe('2031-01-01T00:00:00.000Z');
    });

    it('counts uses of the current generation only, per day, dropping stale days', async () => {
      const store = make();
      const [t, a, s] = [id(), id(), slot()];
      await store.profiles.create({ ...profile(t, a, s), daily_uses: { '20251220': { run: 4 } } });
      expect(await store.profiles.recordUse(profileRef(t, a, s), 1, use('20260101'))).toBe(true);
      expect(
        await store.profiles.recordUse(profileRef(t, a, s), 1, {
          ...use('20260101', [{ day: '20251220', kind: 'run' }]),
          kind: 'run',
          inFlightUntil: '2026-01-01T00:05:00.000Z',
        }),
      ).toBe(true);
      expect(await store.profiles.recordUse(profileRef(t, a, s), 2, use())).toBe(false);
      expect(await store.profiles.recordUse(profileRef(id(), a, s), 1, use())).toBe(false);
      const item = await store.profiles.get(profileRef(t, a, s));
      expect(item).toMatchObject({ use_count: 2, last_used_at: NOW, in_flight_until: '2026-01-01T00:05:00.000Z' });
      expect(item?.daily_uses).toEqual({ '20260101': { proxy: 1, run: 1 } });
    });

    it('stores last_real_use_at only for a use that says so (a run or a proxied call, not a test)', async () => {
      const store = make();
      const [t, a, s] = [id(), id(), slot()];
      await store.profiles.create(profile(t, a, s));
      expect(await store.profiles.recordUse(profileRef(t, a, s), 1, { ...use(), kind: 'test' })).toBe(true);
      expect((await store.profiles.get(profileRef(t, a, s)))?.last_real_use_at).toBeUndefined();
      expect(await store.profiles.recordUse(profileRef(t, a, s), 1, { ...use(), realUseAt: NOW })).toBe(true);
      expect(await store.profiles.get(profileRef(t, a, s))).toMatchObject({ use_count: 2, last_used_at: NOW, last_real_use_at: NOW });
    });

    it("never moves an in-flight mark earlier, and ends a run's mark only while it is still that run's", async () => {
      const store = make();
      const [t, a, s] = [id(), id(), slot()];
      const ref = profileRef(t, a, s);
      const [early, late] = ['2026-01-01T00:00:30.000Z', '2026-01-01T00:05:30.000Z'];
      await store.profiles.create(profile(t, a, s));
      expect(await store.profiles.recordUse(ref, 1, { ...use(), kind: 'run', inFlightUntil: late })).toBe(true);
      // A shorter run after a longer one: counted, the later mark kept.
      expect(await store.profiles.recordUse(ref, 1, { ...use(), kind: 'run', inFlightUntil: early })).toBe(true);
      expect(await store.profiles.get(ref)).toMatchObject({ use_count: 2, in_flight_until: late });
      // Another generation: neither counted nor marked.
      expect(await store.profiles.recordUse(ref, 2, { ...use(), kind: 'run', inFlightUntil: '2026-01-02T00:00:00.000Z' })).toBe(false);
      // The shorter run ends: the longer run's mark stays.
      expect(await store.profiles.endInFlight(ref, early)).toBe(false);
      expect((await store.profiles.get(ref))?.in_flight_until).toBe(late);
      // The longer run ends: its mark goes; the rest of the item (and its MAC) stays.
      expect(await store.profiles.endInFlight(ref, late)).toBe(true);
      const item = await store.profiles.get(ref);
      expect(item?.in_flight_until).toBeUndefined();
      expect(item).toMatchObject({ use_count: 2 });
      expect(await store.profiles.endInFlight(ref, late)).toBe(false);
      // No item is made for a profile that is gone.
      const gone = profileRef(t, a, slot());
      expect(await store.profiles.endInFlight(gone, late)).toBe(false);
      expect(await store.profiles.get(gone)).toBeUndefined();
    });

    it('records tests and token errors for the current generation only', async () => {
      const store = make();
      const [t, a, s] = [id(), id(), slot()];
      await store.profiles.create(profile(t, a, s));
      expect(await store.profiles.recordTest(profileRef(t, a, s), 1, NOW, false)).toBe(true);
      expect(await store.profiles.recordTest(profileRef(t, a, s), 2, NOW, true)).toBe(false);
      expect(await store.profiles.recordTokenError(profileRef(t, a, s), 1, 'token endpoint answered 401', NOW)).toBe(true);
      expect(await store.profiles.get(profileRef(t, a, s))).toMatchObject({
        last_test_ok: false,
        last_tested_at: NOW,
        last_error: 'token endpoint answered 401',
      });
      expect(await store.profiles.recordTokenError(profileRef(t, a, s), 1, undefined, NOW)).toBe(true);
      const item = await store.profiles.get(profileRef(t, a, s));
      expect(item?.last_error).toBeUndefined();
      expect(item?.last_error_at).toBeUndefined();
      expect(await store.profiles.recordTokenError(profileRef(t, a, slot()), 1, undefined, NOW)).toBe(false);
    });

    it('lists in slot order, knows whether any exist, and deletes an agent partition counting each kind', async () => {
      const store = make();
      const [t, a] = [id(), id()];
      expect(await store.profiles.hasAny(t, a)).toBe(false);
      const slots = ['0a', '0b', '0c'].map((p) => p + slot().slice(2));
      for (const s of [...slots].reverse()) await store.profiles.create(profile(t, a, s));
      await store.sessions.save(profileRef(t, a, slots[0] as string), session(1, 1), undefined);
      const first = await store.profiles.list(t, a, 2);
      expect(first.items.map((p) => p.slot)).toEqual(slots.slice(0, 2));
      expect((await store.profiles.list(t, a, 2, first.next)).items.map((p) => p.slot)).toEqual(slots.slice(2));
      expect(await store.profiles.hasAny(t, a)).toBe(true);
      expect(await store.profiles.delete(profileRef(t, a, slots[1] as string))).toBe(true);
      expect(await store.profiles.delete(profileRef(t, a, slots[1] as string))).toBe(false);
      expect(await store.profiles.deleteAllOfAgent(t, a)).toEqual({ profiles: 2, sessions: 1, other: 0 });
      expect(await store.profiles.hasAny(t, a)).toBe(false);
      expect(await store.profiles.deleteAllOfAgent(t, a)).toEqual({ profiles: 0, sessions: 0, other: 0 });
    });

    it('reports each profile an agent delete removed, as it was, except one that fails its check', async () => {
      const store = make();
      const [t, a] = [id(), id()];
      const slots = Array.from({ length: 27 }, () => slot());
      await Promise.all(slots.map((s, i) => store.profiles.create(profile(t, a, s, i % 2 === 0 ? 1 : 2))));
      await store.sessions.save(profileRef(t, a, slots[0] as string), session(1, 1), undefined);
      // A table writer's edit: the item goes with the rest, but its name is not reported.
      await tamper(store, keys.profile(profileRef(t, a, slots[1] as string)), 'name', 'forged');
      const reported: ProfileItem[] = [];

      expect(await store.profiles.deleteAllOfAgent(t, a, (item) => reported.push(item))).toEqual({ profiles: 27, sessions: 1, other: 0 });

      const expected = slots.flatMap((s, i) => (i === 1 ? [] : [[s, `p-${s.slice(0, 6)}`, i % 2 === 0 ? 1 : 2]]));
      expect(reported.map((p) => [p.slot, p.name, p.generation]).sort()).toEqual(expected.sort());
      expect(await store.profiles.hasAny(t, a)).toBe(false);
    });

    it('deletes partitions larger than one batch', async () => {
      const store = make();
      const [t, a] = [id(), id()];
      await Promise.all(Array.from({ length: 30 }, () => store.profiles.create(profile(t, a, slot()))));
      expect(await store.profiles.deleteAllOfAgent(t, a)).toEqual({ profiles: 30, sessions: 0, other: 0 });
    });
  });

  describe('profile names, renames and listings', () => {
    it('writes a name claim over nothing or over exactly the claim read, and releases it only where it points', async () => {
      const store = make();
      const [t, a, home, target] = [id(), id(), slot(), slot()];
      const claim = { tenant: t, agent_id: a, name: 'main', slot: target, nonce: 'n1', claimed_at: NOW };

      expect(await store.profileNames.put(home, claim, undefined)).toBe(true);
      expect(await store.profileNames.put(home, { ...claim, nonce: 'n2' }, undefined)).toBe(false);
      const read1 = await store.profileNames.get(t, a, home);
      expect(read1).toMatchObject({ name: 'main', slot: target, nonce: 'n1' });
      expect(await store.profileNames.put(home, { ...claim, nonce: 'n2' }, read1)).toBe(true);
      expect(await store.profileNames.put(home, { ...claim, nonce: 'n3' }, read1)).toBe(false);
      expect(await store.profileNames.release(t, a, home, slot())).toBe(false);
      expect(await store.profileNames.release(t, a, home, target, 'n1')).toBe(false);
      expect(await store.profileNames.release(t, a, home, target, 'n2')).toBe(true);
      expect(await store.profileNames.get(t, a, home)).toBeUndefined();
    });

    it('reads a name claim with the agent and profile in the context load (withNameClaim), and refuses a tampered one', async () => {
      const store = make();
      const [t, a, s] = [id(), id(), slot()];
      await store.agents.create(agent(t, a));
      await store.profiles.create(profile(t, a, s));
      await store.profileNames.put(
        s,
        { tenant: t, agent_id: a, name: `p-${s.slice(0, 6)}`, slot: s, nonce: 'n', claimed_at: NOW },
        undefined,
      );

      const ctx = await store.profileContext.load(profileRef(t, a, s), { withNameClaim: true });
      expect(ctx.nameClaim).toMatchObject({ slot: s });
      await tamper(store, keys.profileName(t, a, s), 'slot', slot());
      await expect(store.profileNames.get(t, a, s)).rejects.toBeInstanceOf(IntegrityError);
    });

    it('renames only under its own fence and at the versions read; the post-state verifies', async () => {
      const store = make();
      const [t, a, s] = [id(), id(), slot()];
      await store.profiles.create(profile(t, a, s));
      const ref = profileRef(t, a, s);
      const from = `p-${s.slice(0, 6)}`;

      expect(await store.profiles.markRename(ref, 'not-its-name', 'x', NOW)).toBe(false);
      expect(await store.profiles.markRename(ref, from, 'new', NOW)).toBe(true);
      const marked = await read(store, t, a, s);
      expect(marked).toMatchObject({ rename_to: 'new', rename_at: NOW });
      expect(await store.profiles.rename(ref, marked, 'other', NOW, NOW)).toBeUndefined();
      expect(await store.profiles.cancelRename(ref, 'new', '2000-01-01T00:00:00.000Z')).toBe(false);
      const renamed = await store.profiles.rename(ref, marked, 'new', NOW, NOW);
      expect(renamed).toMatchObject({ name: 'new', settings_version: marked.settings_version + 1 });
      expect(renamed?.rename_to).toBeUndefined();
      expect((await read(store, t, a, s)).name).toBe('new');
      // The same read again: its versions are stale now.
      expect(await store.profiles.markRename(ref, 'new', 'again', NOW)).toBe(true);
      expect(await store.profiles.rename(ref, marked, 'again', NOW, NOW)).toBeUndefined();
      expect(await store.profiles.cancelRename(ref, 'again', NOW)).toBe(true);
    });

    it('lists a tenant’s profiles across agents in name order, paging with a filter', async () => {
      const store = make();
      const [t, a1, a2] = [id(), `a1${id()}`, `a2${id()}`];
      for (const [a, name] of [
        [a2, 'b'],
        [a1, 'c'],
        [a1, 'a'],
        [a2, 'a'],
      ] as const) {
        await store.profiles.create({ ...profile(t, a, slot()), name });
      }
      await store.profiles.create({ ...profile(id(), a1, slot()), name: 'other-tenant' });

      const all = await store.profiles.listMatching({ tenant: t }, 10, undefined, () => true);
      expect(all.items.map((i) => `${i.name}/${i.agent_id === a1 ? 1 : 2}`)).toEqual(['a/1', 'a/2', 'b/2', 'c/1']);
      const first = await store.profiles.listMatching({ tenant: t }, 1, undefined, (i) => i.agent_id === a1);
      expect(first.items.map((i) => i.name)).toEqual(['a']);
      const second = await store.profiles.listMatching({ tenant: t }, 1, first.next, (i) => i.agent_id === a1);
      expect(second.items.map((i) => i.name)).toEqual(['c']);
      const perAgent = await store.profiles.listMatching({ tenant: t, agentId: a1 }, 10, undefined, (i) => i.name === 'c');
      expect(perAgent.items.map((i) => i.name)).toEqual(['c']);
    });
  });

  describe('sessions and the profile context', () => {
    it('saves a session only over the one read, and loads agent, profile and session in one call', async () => {
      const store = make();
      const [t, a, s] = [id(), id(), slot()];
      await store.agents.create(agent(t, a));
      await store.profiles.create(profile(t, a, s));
      expect(await store.sessions.save(profileRef(t, a, s), session(1, 1), undefined)).toBe(true);
      expect(await store.sessions.save(profileRef(t, a, s), session(1, 2), undefined)).toBe(false);
      expect(await store.sessions.save(profileRef(t, a, s), session(1, 2), { version: 9, generation: 1 })).toBe(false);
      expect(await store.sessions.save(profileRef(t, a, s), session(1, 2), { version: 1, generation: 1 })).toBe(true);
      const ctx = await store.profileContext.load(profileRef(t, a, s), { withSession: true });
      expect(ctx.agent?.agent_id).toBe(a);
      expect(ctx.profile?.slot).toBe(s);
      expect(ctx.session?.version).toBe(2);
      expect((await store.profileContext.load(profileRef(t, a, s))).session).toBeUndefined();
      const agentOnly = await store.profileContext.load({ tenant: t, agentId: a });
      expect([agentOnly.agent?.agent_id, agentOnly.profile]).toEqual([a, undefined]);
      expect(await store.profileContext.load(profileRef(t, id(), s), { withSession: true })).toEqual({
        agent: undefined,
        profile: undefined,
        session: undefined,
      });
    });

    it('orders blind saves by (profile_created_at, generation) so a late run of an older profile never overwrites', async () => {
      const store = make();
      const [t, a, s] = [id(), id(), slot()];
      const older = '2026-01-01T00:00:00.000Z';
      const newer = '2026-01-02T00:00:00.000Z';
      expect(await store.sessions.save(profileRef(t, a, s), session(2, 1, newer), undefined)).toBe(true);
      expect(await store.sessions.save(profileRef(t, a, s), session(5, 1, older), undefined)).toBe(false);
      expect(await store.sessions.save(profileRef(t, a, s), session(2, 1, newer), undefined)).toBe(false);
      expect(await store.sessions.save(profileRef(t, a, s), session(3, 1, newer), undefined)).toBe(true);
      // Keep the current generation's session; delete only older ones, and only exactly what was written.
      expect(await store.sessions.deleteOlderThan(profileRef(t, a, s), { generation: 3, profile_created_at: newer })).toBe(false);
      expect(await store.sessions.deleteIfWritten(profileRef(t, a, s), { version: 2, generation: 3, profile_created_at: newer })).toBe(
        false,
      );
      expect(await store.sessions.deleteIfWritten(profileRef(t, a, s), { version: 1, generation: 3, profile_created_at: newer })).toBe(
        true,
      );
      await store.sessions.save(profileRef(t, a, s), session(1, 1), undefined);
      expect(await store.sessions.deleteOlderThan(profileRef(t, a, s), { generation: 1, profile_created_at: newer })).toBe(true);
      expect(await store.sessions.deleteOlderThan(profileRef(t, a, s), { generation: 1, profile_created_at: newer })).toBe(false);
      await store.sessions.save(profileRef(t, a, s), session(1, 1, older), undefined);
      await store.sessions.delete(profileRef(t, a, s));
      await store.sessions.delete(profileRef(t, a, s));
      expect((await store.profileContext.load(profileRef(t, a, s), { withSession: true })).session).toBeUndefined();
    });
  });

  describe('runs, run jobs and grants', () => {
    it('moves a run only from the states named, and hides a run past its TTL', async () => {
      const store = make();
      const sid = randomUUID();
      const base = { tenant: id(), agent_id: 'a', session_id: sid, created_at: NOW, expires_at: 2_000 };
      expect(await store.runs.create({ ...base, status: 'queued' })).toBe(true);
      expect(await store.runs.create({ ...base, status: 'queued' })).toBe(false);
      const queued = (await store.runs.get(sid, 1_000)) as RunItem;
      expect(await store.runs.transition(queued, ['running'], 'failed', {})).toBeUndefined();
      const running = await store.runs.transition(queued, ['queued'], 'running', { started_at: NOW });
      expect(running).toMatchObject({ status: 'running', started_at: NOW });
      expect(await store.runs.get(sid, 1_000)).toEqual(running);
      // From a stale read (queued), the run is read again and moved from where it is (running).
      expect(
        await store.runs.transition(queued, ['queued', 'running'], 'succeeded', { result: new Uint8Array([7]), finished_at: NOW }),
      ).toBeDefined();
      expect(await store.runs.get(sid, 1_000)).toMatchObject({
        status: 'succeeded',
        started_at: NOW,
        finished_at: NOW,
        result: new Uint8Array([7]),
      });
      expect(await store.runs.get(sid, 2_000)).toBeUndefined();
      expect(await store.runs.transition({ ...queued, session_id: randomUUID() }, ['queued'], 'running', {})).toBeUndefined();
      expect(await store.runs.transition(queued, ['queued', 'running'], 'failed', {})).toBeUndefined();
    });

    it('stores a run job once, hides it past its TTL, deletes idempotently', async () => {
      const store = make();
      const sid = randomUUID();
      const job = {
        v: 1,
        tenant: 't',
        agent_id: 'a',
        session_id: sid,
        encrypted_key: new Uint8Array([1]),
        ciphertext: new Uint8Array([2]),
        expires_at: 2_000,
      };
      expect(await store.runJobs.create(job)).toBe(true);
      expect(await store.runJobs.create(job)).toBe(false);
      expect((await store.runJobs.get(sid, 1_999))?.ciphertext).toEqual(new Uint8Array([2]));
      expect(await store.runJobs.get(sid, 2_000)).toBeUndefined();
      await store.runJobs.delete(sid);
      await store.runJobs.delete(sid);
      expect(await store.runJobs.get(sid, 0)).toBeUndefined();
    });

    it('writes a grant once and deletes it', async () => {
      const store = make();
      const idHex = randomBytes(16).toString('hex');
      const grant = {
        id_hex: idHex,
        tenant: 't',
        agent_id: 'a',
        slot: slot(),
        generation: 1,
        profile_created_at: NOW,
        session_id: randomUUID(),
        deadline_ms: 1,
        server_key_id: '00'.repeat(8),
        sealed: new Uint8Array([5]),
        expires_at: 1,
      };
      expect(await store.grants.create(grant)).toBe(true);
      expect(await store.grants.create(grant)).toBe(false);
      expect(await store.grants.get(idHex)).toMatchObject({ tenant: 't', sealed: new Uint8Array([5]) });
      await store.grants.delete(idHex);
      expect(await store.grants.get(idHex)).toBeUndefined();
    });
  });

  describe('OAuth token cache', () => {
    it('is read with the agent and profile in one call when asked (withOAuthToken), and only then', async () => {
      const store = make();
      const [t, a, s] = [id(), id(), slot()];
      const ref = profileRef(t, a, s);
      await store.agents.create(agent(t, a));
      await store.profiles.create(profile(t, a, s));
      expect((await store.profileContext.load(profileRef(t, a, s), { withOAuthToken: true })).oauthToken).toBeUndefined();
      expect(await store.oauthTokens.takeLease(ref, undefined, 'one', 1_000, 2_000)).toBe(true);

      const ctx = await store.profileContext.load(profileRef(t, a, s), { withOAuthToken: true, withSession: true });

      expect([ctx.agent?.agent_id, ctx.profile?.slot, ctx.session]).toEqual([a, s, undefined]);
      expect(ctx.oauthToken).toEqual(await store.oauthTokens.get(ref));
      expect(ctx.oauthToken).toMatchObject({ version: 1, lease_id: 'one' });
      expect((await store.profileContext.load(profileRef(t, a, s))).oauthToken).toBeUndefined();
    });

    it('takes the lease on the version read only, lets an ended lease be taken over, and stores or fails only under the lease', async () => {
      const store = make();
      const ref = profileRef(id(), 'a', slot());
      expect(await store.oauthTokens.get(ref)).toBeUndefined();
      expect(await store.oauthTokens.takeLease(ref, 1, 'x', 1_000, 2_000)).toBe(false);
      expect(await store.oauthTokens.takeLease(ref, undefined, 'one', 1_000, 2_000)).toBe(true);
      expect(await store.oauthTokens.takeLease(ref, undefined, 'two', 1_000, 2_000)).toBe(false);
      expect(await store.oauthTokens.takeLease(ref, 1, 'two', 1_500, 2_500)).toBe(false);
      const owner = { generation: 1, record_version: 2, profile_created_at: NOW };
      expect(await store.oauthTokens.storeFailure(ref, 'two', 'm', 3_000, owner)).toBe(false);
      expect(await store.oauthTokens.storeFailure(ref, 'one', 'endpoint answered 500', 3_000, owner)).toBe(true);
      expect(await store.oauthTokens.get(ref)).toMatchObject({
        version: 2,
        error_message: 'endpoint answered 500',
        error_until: 3_000,
        error_generation: 1,
        error_record_version: 2,
        error_profile_created_at: NOW,
      });
      expect((await store.oauthTokens.get(ref))?.lease_id).toBeUndefined();
      expect(await store.oauthTokens.takeLease(ref, 2, 'three', 1_000, 2_000)).toBe(true);
      // A lease that ended before now may be taken over.
      expect(await store.oauthTokens.takeLease(ref, 3, 'four', 2_001, 9_000)).toBe(true);
      const token = {
        blob: new Uint8Array([9]),
        token_expires_at: 10,
        refresh_at: 5,
        expires_at: 99,
        generation: 1,
        record_version: 1,
        profile_created_at: NOW,
      };
      expect(await store.oauthTokens.storeToken(ref, 'three', token)).toBe(false);
      expect(await store.oauthTokens.storeToken(ref, 'four', token)).toBe(true);
      const item = await store.oauthTokens.get(ref);
      expect(item).toMatchObject({ version: 5, blob: new Uint8Array([9]), token_expires_at: 10, generation: 1 });
      expect([item?.lease_id, item?.lease_until, item?.error_message, item?.error_until]).toEqual([
        undefined,
        undefined,
        undefined,
        undefined,
      ]);
    });

    it('stores a connection over a held lease (a refresh of the old one cannot store after it), keeps a refresh token, and clears it', async () => {
      const store = make();
      const ref = profileRef(id(), 'a', slot());
      const owner = { generation: 1, record_version: 1, profile_created_at: NOW };
      expect(await store.oauthTokens.takeLease(ref, undefined, 'old-refresh', 1_000, 9_000)).toBe(true);

      await store.oauthTokens.storeConnection(ref, {
        blob: new Uint8Array([1]),
        refresh_blob: new Uint8Array([2]),
        token_expires_at: 10,
        refresh_at: 5,
        ...owner,
      });

      expect(
        await store.oauthTokens.storeToken(ref, 'old-refresh', {
          blob: new Uint8Array([3]),
          token_expires_at: 10,
          refresh_at: 5,
          ...owner,
        }),
      ).toBe(false);
      const connected = await store.oauthTokens.get(ref);
      expect(connected).toMatchObject({ blob: new Uint8Array([1]), refresh_blob: new Uint8Array([2]), generation: 1 });
      expect([connected?.lease_id, connected?.expires_at]).toEqual([undefined, undefined]);
      expect(await store.oauthTokens.takeLease(ref, connected?.version, 'refresh', 1_000, 9_000)).toBe(true);
      expect(await store.oauthTokens.clearConnection(ref, 'other')).toBe(false);
      expect(await store.oauthTokens.clearConnection(ref, 'refresh')).toBe(true);
      const cleared = await store.oauthTokens.get(ref);
      expect([cleared?.blob, cleared?.refresh_blob, cleared?.token_expires_at, cleared?.lease_id]).toEqual([
        undefined,
        undefined,
        undefined,
        undefined,
      ]);
      await store.oauthTokens.delete(ref);
      expect(await store.oauthTokens.get(ref)).toBeUndefined();
      expect(await store.oauthTokens.clearConnection(ref)).toBe(false);
    });
  });

  describe('OAuth connect links and states', () => {
    const link = (t: string) => ({
      tenant: t,
      agent_id: 'a',
      slot: slot(),
      generation: 1,
      profile_created_at: NOW,
      deadline_ms: 5_000,
      server_key_id: '00'.repeat(8),
      sealed: new Uint8Array([7]),
      expires_at: 5,
    });

    it('creates a link once per id, reads it back, and lets exactly one of 10 parallel consumers have it', async () => {
      const store = make();
      const idHex = slot();
      expect(await store.oauthLinks.create({ ...link(id()), id_hex: idHex, purpose: 'CONNECT' })).toBe(true);
      expect(await store.oauthLinks.create({ ...link(id()), id_hex: idHex, purpose: 'CONNECT' })).toBe(false);
      expect(await store.oauthLinks.get('STATE', idHex)).toBeUndefined();
      expect(await store.oauthLinks.get('CONNECT', idHex)).toMatchObject({
        generation: 1,
        deadline_ms: 5_000,
        sealed: new Uint8Array([7]),
      });

      const won = await Promise.all(Array.from({ length: 10 }, () => store.oauthLinks.consume('CONNECT', idHex)));

      expect(won.filter(Boolean)).toHaveLength(1);
      expect(await store.oauthLinks.get('CONNECT', idHex)).toBeUndefined();
    });

    it('records the observed connection on the profile outside the MAC, only for the generation and creation named', async () => {
      const store = make();
      const [t, a, s] = [id(), id(), slot()];
      const ref = profileRef(t, a, s);
      await store.profiles.create(profile(t, a, s));
      expect(await store.profiles.recordConnection(ref, { generation: 2, created_at: NOW }, { connection_state: 'connected' })).toBe(false);

      expect(
        await store.profiles.recordConnection(
          ref,
          { generation: 1, created_at: NOW },
          { connection_state: 'connected', scopes_granted: ['a', 'b'], last_error: 'x' },
        ),
      ).toBe(true);
      expect(await store.profiles.recordConnection(ref, { generation: 1, created_at: NOW }, { last_error: null })).toBe(true);

      const item = await read(store, t, a, s);
      expect(item).toMatchObject({ connection_state: 'connected', scopes_granted: ['a', 'b'] });
      expect(item.last_error).toBeUndefined();
    });
  });

  describe('audit', () => {
    it('writes every view and pages each newest first, with filters applied after the limit', async () => {
      const store = make();
      const t = id();
      for (let i = 0; i < 7; i++)
        await store.audit.write(auditRecord(t, i, { action: i % 3 === 0 ? 'rotate' : 'run', ...(i === 6 ? { slot: undefined } : {}) }));
      await store.audit.write(auditRecord(t, 7, { expires_at: 500 }));
      await store.audit.write(auditRecord(t, 8, { agent_id: 'other', slot: undefined, profile: undefined }));
      const q = { tenant: t, nowSeconds: 1_000 };
      const ids = (r: { records: AuditRecord[] }) => r.records.map((x) => x.id);
      const first = await store.audit.query({ ...q, limit: 3 });
      expect(ids(first)).toEqual(['id0008', 'id0006', 'id0005']);
      const second = await store.audit.query({ ...q, limit: 3, cursor: first.next });
      expect(ids(second)).toEqual(['id0004', 'id0003', 'id0002']);
      const third = await store.audit.query({ ...q, limit: 3, cursor: second.next });
      expect(ids(third)).toEqual(['id0001', 'id0000']);
      expect(third.next).toBeUndefined();
      expect(ids(await store.audit.query({ ...q, agentId: 'bot', limit: 50 }))).toEqual([
        'id0006',
        'id0005',
        'id0004',
        'id0003',
        'id0002',
        'id0001',
        'id0000',
      ]);
      expect(ids(await store.audit.query({ ...q, agentId: 'bot', slot: 'aa'.repeat(16), limit: 50 }))).toHaveLength(6);
      const rotations = await store.audit.query({ ...q, actions: ['rotate'], limit: 2 });
      expect(ids(rotations)).toEqual(['id0006', 'id0003']);
      expect(ids(await store.audit.query({ ...q, actions: ['rotate'], limit: 2, cursor: rotations.next }))).toEqual(['id0000']);
      expect(ids(await store.audit.query({ ...q, since: '2026-01-01T00:00:05', limit: 50 }))).toEqual(['id0008', 'id0006', 'id0005']);
      await expect(store.audit.query({ ...q, tenant: id(), limit: 1, cursor: first.next })).rejects.toBeInstanceOf(ValidationError);
    });

    it('scans the stored audit items of a tenant, raw', async () => {
      const store = make();
      const t = id();
      await store.audit.write(auditRecord(t, 1));
      const items: Record<string, unknown>[] = [];
      for await (const item of store.audit.scanAll(t)) items.push(item);
      expect(items.map((i) => i.view).sort()).toEqual(['agent', 'profile', 'tenant']);
      expect(items.every((i) => i.entity === 'audit' && i.tenant === t && i.mac === 'ff')).toBe(true);
    });
  });

  describe('signed store (shared/store/signer.ts)', () => {
    it('refuses an item whose covered attribute was edited, in a read and in the profile context; accepts edited counters', async () => {
      const store = make();
      const [t, a, s] = [id(), id(), slot()];
      await store.agents.create(agent(t, a));
      await store.profiles.create({
        ...profile(t, a, s),
        auth_type: 'oauth2_client_credentials',
        auth_config: { token_url: 'https://auth.example/token' },
      });
      await store.profiles.recordUse(profileRef(t, a, s), 1, use());
      const k = keys.profile(profileRef(t, a, s));
      for (const [attr, value] of [
        ['use_count', 42],
        ['uses_20260101_proxy', 7],
        ['last_used_at', 'edited'],
        ['last_real_use_at', 'edited'],
        ['in_flight_until', 'edited'],
        ['last_test_ok', false],
        ['last_error', 'edited'],
      ] as const) {
        await tamper(store, k, attr, value);
      }
      expect(await store.profiles.get(profileRef(t, a, s))).toMatchObject({ use_count: 42 });
      await tamper(store, k, 'auth_config', { token_url: 'https://adversary.example/token' });
      await expect(store.profiles.get(profileRef(t, a, s))).rejects.toBeInstanceOf(IntegrityError);
      await expect(store.profileContext.load(profileRef(t, a, s))).rejects.toBeInstanceOf(IntegrityError);
      // A listing leaves it out.
      const s2 = slot();
      await store.profiles.create(profile(t, a, s2));
      expect((await store.profiles.list(t, a, 10)).items.map((p) => p.slot)).toEqual([s2]);
    });

    it('refuses an item moved under another key, an unsigned item, and a run, grant, session or token cache edited', async () => {
      const store = make();
      const [t, a, s] = [id(), id(), slot()];
      await store.agents.create(agent(t, a));
      await tamper(store, keys.agent(t, a), 'mac_format', undefined);
      await expect(store.agents.get(t, a)).rejects.toBeInstanceOf(IntegrityError);
      await store.agents.create(agent(t, 'b'));
      await tamper(store, keys.agent(t, 'b'), 'mac', undefined);
      await expect(store.agents.get(t, 'b')).rejects.toThrow(/sign-items/);
      expect((await store.agents.list(t, 10)).items).toEqual([]);
      expect(await store.agents.exists(t, 'b')).toBe(true);

      const sid = randomUUID();
      await store.runs.create({
        tenant: t,
        agent_id: a,
        session_id: sid,
        status: 'queued',
        started_by: 'k1',
        created_at: NOW,
        expires_at: 2_000,
      });
      await tamper(store, keys.run(sid), 'started_by', 'k2');
      await expect(store.runs.get(sid, 1_000)).rejects.toBeInstanceOf(IntegrityError);

      const idHex = randomBytes(16).toString('hex');
      await store.grants.create({
        id_hex: idHex,
        tenant: t,
        agent_id: a,
        slot: s,
        generation: 1,
        profile_created_at: NOW,
        session_id: sid,
        deadline_ms: 5,
        server_key_id: '00',
        sealed: new Uint8Array(8),
        expires_at: 9,
      });
      expect(await store.grants.get(idHex)).toMatchObject({ deadline_ms: 5 });
      await tamper(store, keys.grant(idHex), 'deadline_ms', 9_999_999);
      await expect(store.grants.get(idHex)).rejects.toBeInstanceOf(IntegrityError);

      await store.sessions.save(profileRef(t, a, s), session(1, 1, NOW), undefined);
      await tamper(store, keys.session(profileRef(t, a, s)), 'generation', 2);
      await expect(store.profileContext.load(profileRef(t, a, s), { withSession: true })).rejects.toBeInstanceOf(IntegrityError);

      const ref = profileRef(t, a, s);
      expect(await store.oauthTokens.takeLease(ref, undefined, 'one', 1_000, 2_000)).toBe(true);
      expect(
        await store.oauthTokens.storeToken(ref, 'one', {
          blob: new Uint8Array([9]),
          token_expires_at: 10,
          refresh_at: 5,
          expires_at: 99,
          generation: 1,
          record_version: 1,
          profile_created_at: NOW,
        }),
      ).toBe(true);
      // The lease and the last failure are outside the MAC: another lease and a failure keep it verifying.
      expect(await store.oauthTokens.takeLease(ref, 2, 'two', 1_000, 2_000)).toBe(true);
      expect(
        await store.oauthTokens.storeFailure(ref, 'two', 'endpoint answered 500', 3_000, {
          generation: 1,
          record_version: 1,
          profile_created_at: NOW,
        }),
      ).toBe(true);
      expect(await store.oauthTokens.get(ref)).toMatchObject({ blob: new Uint8Array([9]), error_message: 'endpoint answered 500' });
      await tamper(store, keys.oauthToken(profileRef(t, a, s)), 'token_expires_at', 99_999);
      await expect(store.oauthTokens.get(ref)).rejects.toBeInstanceOf(IntegrityError);
    });

    it('refuses an item whose identity attributes (slot, session id) no longer match its key and MAC', async () => {
      const store = make();
      const [t, a, s] = [id(), id(), slot()];
      await store.profiles.create(profile(t, a, s));
      const sid = randomUUID();
      await store.runs.create({ tenant: t, agent_id: a, session_id: sid, status: 'queued', created_at: NOW, expires_at: 2_000 });
      await tamper(store, keys.profile(profileRef(t, a, s)), 'slot', slot());
      await expect(store.profiles.get(profileRef(t, a, s))).rejects.toBeInstanceOf(IntegrityError);
      await tamper(store, keys.run(sid), 'session_id', randomUUID());
      await expect(store.runs.get(sid, 1_000)).rejects.toBeInstanceOf(IntegrityError);
    });
  });

  describe('rate limits', () => {
    it('admits up to the limit per window and counts nothing it refuses', async () => {
      const store = make();
      const t = id();
      const admitted = [];
      for (let i = 0; i < 4; i++) admitted.push(await store.rateLimits.take(t, 100, 3, 200));
      expect(admitted).toEqual([true, true, true, false]);
      expect(await store.rateLimits.take(t, 101, 3, 201)).toBe(true);
    });
  });
});
