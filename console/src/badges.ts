import { badge } from './dom.ts';
import type { Profile } from './types.ts';

/** Within this many hours of its expiry a token is "expiring soon". */
export const EXPIRING_SOON_HOURS = 24;

/** valid / expiring soon / expired, from `token_expires_at`; undefined when the profile has no expiry. */
export function tokenState(p: Profile, now = Date.now()): 'valid' | 'expiring soon' | 'expired' | undefined {
  if (!p.token_expires_at) return p.token_expires_at === undefined ? undefined : 'valid';
  const left = Date.parse(p.token_expires_at) - now;
  if (Number.isNaN(left)) return undefined;
  if (left <= 0) return 'expired';
  return left <= EXPIRING_SOON_HOURS * 3_600_000 ? 'expiring soon' : 'valid';
}

export function tokenBadge(p: Profile) {
  // The vault's own token_state when it sends one (its clock decides); else computed here.
  const state = p.token_state ? (p.token_state === 'expiring_soon' ? 'expiring soon' : p.token_state) : tokenState(p);
  if (state === 'valid' && !p.token_expires_at) return badge('valid', 'ok');
  if (state === undefined) return badge('no expiry', 'muted');
  return badge(state, state === 'valid' ? 'ok' : state === 'expired' ? 'bad' : 'warn');
}

export const activeBadge = (p: Profile) => (p.active === false ? badge('inactive', 'bad') : badge('active', 'ok'));

export const runBadge = (status: string) =>
  badge(status, status === 'succeeded' ? 'ok' : status === 'failed' ? 'bad' : 'warn');

/** oauth2_authorization_code: pending / connected / needs_reauth / disconnected (docs/api.md "Delegated OAuth"). */
const CONNECTION_KINDS = { pending: 'warn', connected: 'ok', needs_reauth: 'bad', disconnected: 'muted' } as const;
export const connectionBadge = (p: Profile) => (p.connection_state ? badge(p.connection_state, CONNECTION_KINDS[p.connection_state]) : null);
