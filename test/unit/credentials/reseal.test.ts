import { describe, expect, it } from 'vitest';
import { computeVerifier } from '#shared/credentials/profile-keys';
import { type ProfileMeta, openProfileKeys, openValues, resealProfile, sealProfile, verifyToken } from '#shared/credentials/sealed-profile';
import { parseServerKeyRing, rotateServerKeyRingJson } from '#shared/crypto/server-key';
import { silentLogger } from '#shared/log';
import type { ProfileItem } from '#shared/schemas/items';
import { binding, ringJson, secretOf } from '../crypto/helpers.ts';

const json = ringJson('reseal');
const ring = parseServerKeyRing(json);
const rotated = parseServerKeyRing(rotateServerKeyRingJson(json).json);
const secret = secretOf('reseal');
const b = binding();
const approval = { origin: 'https://runner.example', delivery: 'parameters' as const };
const meta: ProfileMeta = { name: 'p', agent_incarnation: 'i1', should_save_session: false, created_at: 'c', updated_at: 'u' };

/** A profile sealed under `ring`'s current key, opened with its token as the gate does. */
function opened(keyRing = ring) {
  const record = sealProfile(keyRing.current, b, secret, 1, { a: 'one', b: 'two' }, approval, meta);
  const item = { ...record, pk: 'pk', sk: 'sk', entity: 'profile' } as unknown as ProfileItem;
  const deps = { serverKeys: keyRing, log: silentLogger };
  return { deps, opened: openProfileKeys(deps, verifyToken(deps, b.tenant, b.agentId, { slot: b.slot, secret }, item)) };
}

describe('resealProfile (update in place)', () => {
  it('writes the verifier and commitment sealProfile would, and values that open under the token', () => {
    const { deps, opened: o } = opened();
    const again = resealProfile(ring.current, b, o, 2, { a: 'one', b: 'three' }, approval, meta);
    const fresh = sealProfile(ring.current, b, secret, 2, { a: 'one', b: 'three' }, approval, meta);
    expect(Buffer.from(again.verifier).equals(computeVerifier(ring.current, b, secret))).toBe(true);
    expect(Buffer.from(again.commitment).equals(Buffer.from(fresh.commitment))).toBe(true);
    expect(Buffer.from(again.runner_approval as Uint8Array).equals(Buffer.from(fresh.runner_approval as Uint8Array))).toBe(true);
    const item = { ...again, pk: 'pk', sk: 'sk', entity: 'profile' } as unknown as ProfileItem;
    const reopened = openProfileKeys(deps, verifyToken(deps, b.tenant, b.agentId, { slot: b.slot, secret }, item));
    expect(openValues(deps, reopened)).toEqual({ a: 'one', b: 'three' });
  });

  it('derives everything again under a new current server key (the profile moves to it)', () => {
    // Opened under the old key of a rotated ring: nothing of the old key's derivation is reused.
    const { opened: o } = opened();
    const again = resealProfile(rotated.current, b, o, 2, { a: 'one' }, approval, meta);
    expect(again.server_key_id).toBe(rotated.current.idHex);
    expect(again.server_key_id).not.toBe(ring.current.idHex);
    expect(Buffer.from(again.verifier).equals(computeVerifier(rotated.current, b, secret))).toBe(true);
    const fresh = sealProfile(rotated.current, b, secret, 2, { a: 'one' }, approval, meta);
    expect(Buffer.from(again.commitment).equals(Buffer.from(fresh.commitment))).toBe(true);
  });

  it('derives everything again for another binding (another generation)', () => {
    const { opened: o } = opened();
    const next = { ...b, generation: b.generation + 1 };
    const again = resealProfile(ring.current, next, o, 2, { a: 'one' }, approval, meta);
    expect(Buffer.from(again.verifier).equals(computeVerifier(ring.current, next, secret))).toBe(true);
    expect(
      Buffer.from(again.commitment).equals(Buffer.from(sealProfile(ring.current, next, secret, 2, {}, approval, meta).commitment)),
    ).toBe(true);
    expect(Buffer.from(again.commitment).equals(Buffer.from(o.item.commitment))).toBe(false);
  });

  it('assigns the later meta parts over meta in order, as one merged meta would', () => {
    const { opened: o } = opened();
    const parts = [{ description: 'a', updated_at: 'u2' }, { description: 'b' }, { token_expires_at: undefined }];
    const again = resealProfile(ring.current, b, o, 2, { a: 'one' }, approval, meta, ...parts);
    const merged = resealProfile(ring.current, b, o, 2, { a: 'one' }, approval, Object.assign({}, meta, ...parts));
    const { fields: _f1, ...rest } = again;
    const { fields: _f2, ...restMerged } = merged;
    expect(Object.keys(again)).toEqual(Object.keys(merged));
    expect(rest).toEqual(restMerged);
    expect(again.description).toBe('b');
    expect(again.updated_at).toBe('u2');
  });

  it("hands out a copy of the remembered commitment (a caller's change cannot alter the next one)", () => {
    const { opened: o } = opened();
    const first = o.keys.commitment();
    first.fill(0);
    expect(o.keys.commitment().equals(Buffer.from(o.item.commitment))).toBe(true);
  });
});
