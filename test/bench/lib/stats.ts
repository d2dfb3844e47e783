/**
 * Small statistics and reporting helpers for the benchmark. Every figure the bench records is a
 * `Quantity` (value + unit) so `--json` never carries a bare number whose unit must be guessed.
 */

export interface Quantity {
  readonly value: number;
  readonly unit: string;
}

export const q = (value: number, unit: string): Quantity => ({ value: Number.isFinite(value) ? round(value) : value, unit });

function round(v: number): number {
  if (Number.isInteger(v)) return v;
  const digits = Math.abs(v) >= 100 ? 1 : Math.abs(v) >= 1 ? 3 : 5;
  return Number(v.toFixed(digits));
}

/** Nearest-rank percentile (p in 0..100) of an unsorted sample; NaN for an empty one. */
export function percentile(sample: readonly number[], p: number): number {
  if (sample.length === 0) return Number.NaN;
  const sorted = Float64Array.from(sample).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

export interface Summary {
  readonly n: number;
  readonly median: number;
  readonly p99: number;
  readonly mean: number;
}

export function summarize(sample: readonly number[]): Summary {
  const mean = sample.reduce((a, b) => a + b, 0) / (sample.length || 1);
  return { n: sample.length, median: percentile(sample, 50), p99: percentile(sample, 99), mean };
}

export const median = (sample: readonly number[]) => percentile(sample, 50);

/** Milliseconds since `start` (a performance.now() reading). */
export const since = (start: number) => performance.now() - start;

/**
 * Times `op` `iterations` times after `warmup` untimed calls; returns per-call durations in µs.
 * `prepare(i)` runs before each call outside the timed region (building events, bodies).
 */
export async function timeLoop<P>(
  iterations: number,
  warmup: number,
  prepare: (i: number) => P,
  op: (p: P, i: number) => Promise<unknown> | unknown,
): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await op(prepare(i), i);
  const out: number[] = new Array(iterations);
  for (let i = 0; i < iterations; i++) {
    const p = prepare(warmup + i);
    const t0 = performance.now();
    await op(p, warmup + i);
    out[i] = (performance.now() - t0) * 1000;
  }
  return out;
}

/** Ratio a/b printed as "×1.23" (or "n/a"). */
export function ratio(a: number, b: number): number {
  return b > 0 && Number.isFinite(a) && Number.isFinite(b) ? a / b : Number.NaN;
}

export function fmt(v: number, digits?: number): string {
  if (!Number.isFinite(v)) return 'n/a';
  if (v === 0) return '0';
  if (digits !== undefined) return v.toFixed(digits);
  const a = Math.abs(v);
  return a >= 1000 ? v.toFixed(0) : a >= 100 ? v.toFixed(1) : a >= 10 ? v.toFixed(2) : v.toFixed(3);
}

export const fmtRatio = (r: number) => (Number.isFinite(r) ? `×${r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2)}` : 'n/a');

/** A plain-text table: header row, a rule, rows; columns padded to their widest cell. */
export function table(
  title: string,
  header: readonly string[],
  rows: readonly (readonly string[])[],
  notes: readonly string[] = [],
): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number)))
      .join('  ')
      .trimEnd();
  const out = [`== ${title}`, line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
  for (const n of notes) out.push(`   ${n}`);
  return `${out.join('\n')}\n`;
}
