import { describe, expect, it } from 'vitest';
import { ValidationError } from '#shared/errors';
import { MAX_EXPIRES_IN_HOURS, expiryFrom, isTokenExpired, tokenState } from '#shared/credentials/token-state';

const NOW = new Date('2026-12-01T12:00:00.000Z');
const inHours = (h: number) => new Date(NOW.getTime() + h * 3_600_000).toISOString();

describe('tokenState', () => {
  it('is valid without an expiry and with more than 24 hours left', () => {
    expect(tokenState(undefined, NOW)).toBe('valid');
    expect(tokenState(inHours(24), NOW)).toBe('valid');
    expect(tokenState(inHours(500), NOW)).toBe('valid');
  });

  it('is expiring_soon with less than 24 hours left', () => {
    expect(tokenState(inHours(23.99), NOW)).toBe('expiring_soon');
    expect(tokenState(new Date(NOW.getTime() + 1).toISOString(), NOW)).toBe('expiring_soon');
  });

  it('is expired at and after the expiry, and for an unreadable date', () => {
    expect(tokenState(NOW.toISOString(), NOW)).toBe('expired');
    expect(tokenState(inHours(-1), NOW)).toBe('expired');
    expect(tokenState('garbage', NOW)).toBe('expired');
    expect(isTokenExpired(inHours(-0.001), NOW)).toBe(true);
    expect(isTokenExpired(inHours(1), NOW)).toBe(false);
  });
});

describe('expiryFrom', () => {
  it('adds the hours to now, or gives no expiry', () => {
    expect(expiryFrom(NOW, 2)).toBe('2026-12-01T14:00:00.000Z');
    expect(expiryFrom(NOW, 0.5)).toBe('2026-12-01T12:30:00.000Z');
    expect(expiryFrom(NOW, undefined)).toBeUndefined();
  });

  it('refuses zero, negative, non-finite and over-long expiries', () => {
    for (const h of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, MAX_EXPIRES_IN_HOURS + 1]) {
      expect(() => expiryFrom(NOW, h)).toThrow(ValidationError);
    }
  });
});
