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

/** The write that counts one use of `kind` at `now`: today's counter up, days out of the window dropped. */
export function useToRecord(item: Pick<ProfileItem, 'daily_uses'>, kind: UseKind, now: Date, inFlightUntil?: Date): UseToRecord {
  const first = firstDayInWindow(now);
  const staleDays: { day: string; kind: UseKind }[] = [];
  for (const [day, kinds] of Object.entries(item.daily_uses)) {
    if (day >= first) continue;
    for (const k of Object.keys(kinds)) staleDays.push({ day, kind: k as UseKind });
  }
  return { kind, at: now.toISOString(), day: utcDay(now), staleDays, inFlightUntil: inFlightUntil?.toISOString() };
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

/** True if the profile was used within `windowMs` or has a run that may still be going. */
export function isInUse(item: Pick<ProfileItem, 'last_used_at' | 'in_flight_until'>, now: Date, windowMs: number): boolean {
  const usedRecently = item.last_used_at !== undefined && now.getTime() - Date.parse(item.last_used_at) < windowMs;
  const inFlight = item.in_flight_until !== undefined && Date.parse(item.in_flight_until) > now.getTime();
  return usedRecently || inFlight;
}
