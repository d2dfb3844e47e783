import { describe, expect, it } from 'vitest';
import { namedProfileRef, slotFor } from '#shared/credentials/profile-keys';
import { profileRef, profileRefOf } from '#shared/store/profile-ref';

/** ProfileRef (shared/store/profile-ref.ts): the key of the store port's profile methods, refused when malformed. */
const SLOT = '0123456789abcdef0123456789abcdef';

describe('profileRef', () => {
  it('holds tenant, agent and slot, frozen', () => {
    const ref = profileRef('t1', 'bot', SLOT);
    expect({ ...ref }).toEqual({ tenant: 't1', agentId: 'bot', slot: SLOT });
    expect(Object.isFrozen(ref)).toBe(true);
  });

  it.each([
    ['uppercase hex', SLOT.toUpperCase()],
    ['31 digits', SLOT.slice(1)],
    ['33 digits', `${SLOT}0`],
    ['a non-hex digit', `${SLOT.slice(1)}g`],
    ['a name instead of a slot', 'main'],
    ['an empty slot', ''],
  ])('refuses a slot with %s', (_what, slot) => {
    expect(() => profileRef('t1', 'bot', slot)).toThrow(/32 lowercase hex digits/);
  });

  it('refuses an empty tenant or agent id', () => {
    expect(() => profileRef('', 'bot', SLOT)).toThrow(/tenant/);
    expect(() => profileRef('t1', '', SLOT)).toThrow(/agent id/);
  });
});

describe('profileRefOf', () => {
  it('takes the key attributes of a stored profile or record', () => {
    expect({ ...profileRefOf({ tenant: 't1', agent_id: 'bot', slot: SLOT }) }).toEqual({ tenant: 't1', agentId: 'bot', slot: SLOT });
  });

  it('refuses an item whose slot is malformed', () => {
    expect(() => profileRefOf({ tenant: 't1', agent_id: 'bot', slot: 'not-a-slot' })).toThrow(/32 lowercase hex digits/);
  });
});

describe('namedProfileRef', () => {
  it('names the profile by the slot its name derives (slotFor)', () => {
    expect(namedProfileRef('t1', 'bot', 'main').slot).toBe(slotFor('t1', 'bot', 'main').toString('hex'));
    expect(namedProfileRef('t1', 'bot', 'main').slot).not.toBe(namedProfileRef('t1', 'bot', 'other').slot);
  });

  it('refuses an empty tenant or agent id', () => {
    expect(() => namedProfileRef('', 'bot', 'main')).toThrow(/tenant/);
    expect(() => namedProfileRef('t1', '', 'main')).toThrow(/agent id/);
  });
});
