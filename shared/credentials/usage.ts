import { type ProfileItem, USE_KINDS, type UseKind } from '../schemas/items.ts';
import type { UseToRecord } from '../store/types.ts';

/**
 * Usage of a profile from the counters on its own item (no audit read needed): last use, total,
 * and uses per kind over the last 7 UTC days (today and the six before), kept as one counter per
 * day and kind that each use increments and old days drop out of.
 */
export const USAGE_WINDOW_DAYS = 7;

/** The UTC day of a time as yyyymmdd. */
export function utcDay(at: Date): string {
  return at.toISOString().slice(0, 10).replaceAll('-', '');
}

/** The yyyymmdd of the oldest day inside the window ending today. */
function firstDayInWindow(now: Date): string {
  return utcDay(new Date(now.getTime() - (USAGE_WINDOW_DAYS - 1) * 86_400_000));
}

/**
 * The uses that make a profile "in use" for a delete: runs and proxied calls. A test is counted
 * like any use (use_count, uses_last_7_days, last_used_at, the usage list) but is not one of them.
 */
export const REAL_USE_KINDS: readonly UseKind[] = ['run', 'proxy'];

/** The write that counts one use of `kind` at `now`: today's counter up, days out of the window dropped. */
export function useToRecord(item: Pick<ProfileItem, 'daily_uses'>, kind: UseKind, now: Date, inFlightUntil?: Date): UseToRecord {
  const first = firstDayInWindow(now);
  const staleDays: { day: string; kind: UseKind }[] = [];
  for (const [day, kinds] of Object.entries(item.daily_uses)) {
    if (day >= first) continue;
    for (const k of Object.keys(kinds)) staleDays.push({ day, kind: k as UseKind });
  }
  const at = now.toISOString();
  return { kind, at, day: utcDay(now), staleDays, realUseAt: REAL_USE_KINDS.includes(kind) ? at : undefined, inFlightUntil: inFlightUntil?.toISOString() };
}

export type UsesByKind = Record<UseKind, number>;

/** Uses per kind over the last 7 UTC days. */
export function usesLast7Days(item: Pick<ProfileItem, 'daily_uses'>, now: Date): UsesByKind {
  const first = firstDayInWindow(now);
  const out: UsesByKind = { run: 0, proxy: 0, test: 0 };
  for (const [day, kinds] of Object.entries(item.daily_uses)) {
    if (day < first) continue;
    for (const k of USE_KINDS) out[k] += kinds[k] ?? 0;
  }
  return out;
}

export interface UsageSummary {
  last_used_at?: string;
  use_count: number;
  uses_last_7_days: UsesByKind;
  /** A run of this profile may still be going until then. */
  in_flight_until?: string;
}

export function usageSummary(item: Pick<ProfileItem, 'last_used_at' | 'use_count' | 'daily_uses' | 'in_flight_until'>, now: Date): UsageSummary {
  const inFlight = item.in_flight_until !== undefined && Date.parse(item.in_flight_until) > now.getTime() ? item.in_flight_until : undefined;
  return { last_used_at: item.last_used_at, use_count: item.use_count, uses_last_7_days: usesLast7Days(item, now), in_flight_until: inFlight };
}

type InUseFields = Pick<ProfileItem, 'last_used_at' | 'last_real_use_at' | 'daily_uses' | 'in_flight_until'>;

/**
 * When the profile was last really used (a run or a proxied call), in epoch ms; undefined if never.
 * Items counted before last_real_use_at existed have only last_used_at, which may be a test's:
 * their day counters say which days had runs or proxied calls, and the end of the last such day
 * (no later than last_used_at) stands for it — at most a day late, never early.
 */
function lastRealUse(item: InUseFields): number | undefined {
  if (item.last_real_use_at !== undefined) return Date.parse(item.last_real_use_at);
  if (item.last_used_at === undefined) return undefined;
  const days = Object.entries(item.daily_uses)
    .filter(([, kinds]) => REAL_USE_KINDS.some((k) => (kinds[k] ?? 0) > 0))
    .map(([day]) => day)
    .sort();
  const day = days.at(-1);
  if (day === undefined) return undefined;
  const endOfDay = Date.parse(`${day.slice(0, 4)}-${day.slice(4, 6)}-${day.slice(6, 8)}T00:00:00.000Z`) + 86_400_000 - 1;
  return Math.min(endOfDay, Date.parse(item.last_used_at));
}

/**
 * True if the profile had a real use (a run or a proxied call; a test is not one) within
 * `windowMs`, or has a run that has not ended (in_flight_until ahead: set when a run starts,
 * removed when it ends, and a bound if its end is never recorded).
 */
export function isInUse(item: InUseFields, now: Date, windowMs: number): boolean {
  const last = lastRealUse(item);
  const usedRecently = last !== undefined && now.getTime() - last < windowMs;
  const inFlight = item.in_flight_until !== undefined && Date.parse(item.in_flight_until) > now.getTime();
  return usedRecently || inFlight;
}
