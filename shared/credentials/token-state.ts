import { ValidationError } from '../errors.ts';
import { MAX_EXPIRES_IN_HOURS } from '../schemas/policy.ts';

/** Longest expiry a token may be given (`expires_in_hours`): ten years. */
export { MAX_EXPIRES_IN_HOURS };

/**
 * A profile token's expiry (`token_expires_at`) and the state the metadata shows for it.
 * Without an expiry a token is `valid` until it is rotated, replaced or the profile deleted.
 */
export type TokenState = 'valid' | 'expiring_soon' | 'expired';

/** A token that expires within this window shows `expiring_soon`. */
export const EXPIRING_SOON_MS = 24 * 3_600_000;


/** `valid` / `expiring_soon` (< 24 h left) / `expired` (at or past `token_expires_at`). */
export function tokenState(expiresAt: string | undefined, now: Date): TokenState {
  if (expiresAt === undefined) return 'valid';
  const left = Date.parse(expiresAt) - now.getTime();
  if (!(left > 0)) return 'expired'; // NaN (a corrupt stored date) counts as expired: fail closed
  return left < EXPIRING_SOON_MS ? 'expiring_soon' : 'valid';
}

/** True if a token with this expiry can no longer be used at `now`. */
export function isTokenExpired(expiresAt: string | undefined, now: Date): boolean {
  return tokenState(expiresAt, now) === 'expired';
}

/** The `token_expires_at` for `expires_in_hours` from now (undefined: no expiry). */
export function expiryFrom(now: Date, expiresInHours: number | undefined): string | undefined {
  if (expiresInHours === undefined) return undefined;
  if (!Number.isFinite(expiresInHours) || expiresInHours <= 0 || expiresInHours > MAX_EXPIRES_IN_HOURS) {
    throw new ValidationError(`expires_in_hours must be a number of hours above 0 and at most ${MAX_EXPIRES_IN_HOURS} (ten years)`);
  }
  return new Date(now.getTime() + Math.round(expiresInHours * 3_600_000)).toISOString();
}
