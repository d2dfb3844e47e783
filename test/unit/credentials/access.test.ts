import { describe, expect, it } from 'vitest';
import { accessOf, assertCanRead, assertCanWrite, withGrant, withoutGrant } from '#shared/credentials/access';
import { ForbiddenError, NotFoundError } from '#shared/errors';
import { testCaller } from '#test/support/credentials';

const admin = testCaller('acme', 'aaaaaaaaaaaaaaaa', 'admin');
const owner = testCaller('acme', 'bbbbbbbbbbbbbbbb', 'member');
const member = testCaller('acme', 'cccccccccccccccc', 'member');
const notFound = () => new NotFoundError('No auth profile named "p" for agent "a"', 'profile_not_found');

describe('accessOf', () => {
  it('gives admins read_write on everything, profiles from before principals included', () => {
    expect(accessOf(admin, {})).toBe('read_write');
    expect(accessOf(admin, { owner: owner.apiKeyId, visibility: 'private', grants: [] })).toBe('read_write');
  });

  it('gives a member nothing on a profile from before principals (no owner)', () => {
    expect(accessOf(member, {})).toBe('none');
    expect(accessOf(member, { grants: [{ principal: member.apiKeyId, permission: 'read' }], visibility: 'shared' })).toBe('none');
  });

  it('gives the owner read_write and another member nothing on a private profile', () => {
    const item = { owner: owner.apiKeyId, visibility: 'private' as const, grants: [] };
    expect(accessOf(owner, item)).toBe('read_write');
    expect(accessOf(member, item)).toBe('none');
  });

  it('ignores grants while the profile is private', () => {
    expect(accessOf(member, { owner: owner.apiKeyId, visibility: 'private', grants: [{ principal: member.apiKeyId, permission: 'read' }] })).toBe('none');
  });

  it('applies the best matching grant of a shared profile: by key id or role:member', () => {
    const base = { owner: owner.apiKeyId, visibility: 'shared' as const };
    expect(accessOf(member, { ...base, grants: [{ principal: member.apiKeyId, permission: 'read' }] })).toBe('read');
    expect(accessOf(member, { ...base, grants: [{ principal: 'role:member', permission: 'read_write' }] })).toBe('read_write');
    expect(
      accessOf(member, {
        ...base,
        grants: [
          { principal: member.apiKeyId, permission: 'read' },
          { principal: 'role:member', permission: 'read_write' },
        ],
      }),
    ).toBe('read_write');
    expect(accessOf(member, { ...base, grants: [{ principal: 'dddddddddddddddd', permission: 'read_write' }] })).toBe('none');
  });
});

describe('assertCanRead / assertCanWrite', () => {
  const readOnly = { owner: owner.apiKeyId, visibility: 'shared' as const, grants: [{ principal: member.apiKeyId, permission: 'read' as const }] };

  it('answers the caller-supplied 404 without access, and for no profile at all', () => {
    expect(() => assertCanRead(member, { owner: owner.apiKeyId }, notFound)).toThrow(NotFoundError);
    expect(() => assertCanRead(admin, undefined, notFound)).toThrow(NotFoundError);
    expect(() => assertCanWrite(member, { owner: owner.apiKeyId }, notFound, 'Deleting')).toThrow(NotFoundError);
  });

  it('answers 403 forbidden to a write with read only, naming what is missing', () => {
    expect(assertCanRead(member, readOnly, notFound)).toBe(readOnly);
    const err = (() => {
      try {
        assertCanWrite(member, readOnly, notFound, 'Deleting this auth profile');
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ForbiddenError);
    expect((err as ForbiddenError).message).toMatch(/^Deleting this auth profile needs read_write permission/);
  });
});

describe('withGrant / withoutGrant', () => {
  it('replaces a principal\'s grant, shares, and goes private when the last grant goes', () => {
    const one = withGrant([], { principal: 'role:member', permission: 'read' });
    const changed = withGrant(one.grants, { principal: 'role:member', permission: 'read_write' });
    expect(changed).toEqual({ grants: [{ principal: 'role:member', permission: 'read_write' }], visibility: 'shared' });
    expect(withoutGrant(changed.grants, 'role:member')).toEqual({ grants: [], visibility: 'private' });
  });
});
