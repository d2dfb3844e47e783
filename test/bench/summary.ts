import { cpus } from 'node:os';
import { fmtRatio, table } from './lib/stats.ts';

/**
 * The bench's last screen: each figure of the performance goals (issue 21's table, kept in
 * docs/architecture.md, "Performance"), its goal and whether this run met it. Read from the JSON
 * report of the sections that ran; a figure whose section did not run says so.
 */
type Json = Record<string, unknown>;

const at = (o: unknown, ...path: string[]): unknown => path.reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Json)[k] : undefined), o);
const num = (o: unknown, ...path: string[]): number | undefined => {
  const v = at(o, ...path, 'value');
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
};

interface Row {
  readonly figure: string;
  readonly values: (number | undefined)[];
  readonly goal: string;
  readonly ok: (v: number) => boolean;
  readonly show?: (v: number) => string;
}

export function summary(report: Json, loadAtEnd: readonly number[]): string {
  const inProc = (op: string) => num(report, 'in_process_cost', 'vault', 'in-memory store', op, 'ratio_median_to_floor');
  const http = (op: string) => num(report, 'http_load', 'vault', op, 'rps_ratio_to_floor');
  const proxyMem = num(report, 'proxy_latency', 'proxy_in_memory_store', 'median');
  const proxyDirect = num(report, 'proxy_latency', 'direct', 'median');
  const red = (key: string) => {
    const m = num(report, 'redaction', key, 'median');
    const f = num(report, 'redaction', key, 'floor_median');
    return m !== undefined && f ? m / f : undefined;
  };
  // Linear in the worst case: time per KiB of the 1024 KiB almost-matching answer vs the 64 KiB one.
  const w64 = num(report, 'redaction', 'worst_case_64_kib', 'median');
  const w1024 = num(report, 'redaction', 'worst_case_1024_kib', 'median');
  const functions = at(report, 'cold_start', 'functions') as Record<string, Json> | undefined;
  // meta holds no SDK client beyond DynamoDB's and is below the floor; the figure is the largest of the others.
  const worst = (key: string) => {
    if (!functions) return undefined;
    const vals = Object.entries(functions)
      .filter(([fn]) => fn !== 'meta')
      .map(([, f]) => num(f, key))
      .filter((v): v is number => v !== undefined);
    return vals.length ? Math.max(...vals) : undefined;
  };
  const seq = (op: string) => num(report, 'dynamodb_round_trips', op, 'sequential_round_trips');
  const runSeq = seq('run (sync, token)');
  const rows: Row[] = [
    { figure: 'in-process / crypto floor: create · update · run', values: [inProc('create'), inProc('update'), inProc('run')], goal: '≤ ×1.5', ok: (v) => v <= 1.5 },
    { figure: 'local HTTP req/s / bare-dynalite floor: create · run', values: [http('create'), http('run')], goal: '≥ ×0.6', ok: (v) => v >= 0.6 },
    {
      figure: 'proxy, own cost / direct call (in-memory store)',
      values: [proxyMem !== undefined && proxyDirect ? proxyMem / proxyDirect : undefined],
      goal: '≤ ×2',
      ok: (v) => v <= 2,
    },
    { figure: 'redaction of a 1 MiB answer / JSON.parse', values: [red('one_mib_answer')], goal: '≤ ×5', ok: (v) => v <= 5 },
    {
      figure: 'worst case per KiB, 1024 KiB / 64 KiB answer (linear = ×1)',
      values: [w64 && w1024 !== undefined ? w1024 / 1024 / (w64 / 64) : undefined],
      goal: '≤ ×2',
      ok: (v) => v <= 2,
    },
    { figure: 'bundle size / DynamoDB-client-only bundle (largest)', values: [worst('size_ratio_to_floor')], goal: '≤ ×1.3', ok: (v) => v <= 1.3 },
    { figure: 'cold import / that floor (largest), wall time', values: [worst('import_ratio_to_floor')], goal: '≤ ×1.3', ok: (v) => v <= 1.3 },
    { figure: 'cold import / that floor (largest), CPU time', values: [worst('import_cpu_ratio_to_floor')], goal: '≤ ×1.3', ok: (v) => v <= 1.3 },
    {
      figure: 'sequential DynamoDB round trips before credentials leave: run · proxy',
      // The run's last round trip (its run record) comes after the runner answered.
      values: [runSeq !== undefined ? runSeq - 1 : undefined, seq('proxy (bearer, GET)')],
      goal: '≤ 2 · 2',
      ok: (v) => v <= 2,
      show: (v) => String(v),
    },
  ];
  const lines = rows.map((r) => {
    const shown = r.values.map((v) => (v === undefined ? '—' : (r.show ?? fmtRatio)(v))).join(' · ');
    const measured = r.values.filter((v): v is number => v !== undefined);
    const verdict = measured.length === 0 ? 'not measured' : measured.every(r.ok) ? 'met' : 'NOT MET';
    return [r.figure, shown, r.goal, verdict];
  });
  return table('Summary: the performance goals (docs/architecture.md, "Performance")', ['figure', 'this run', 'goal', ''], lines, [
    `load average at end ${loadAtEnd.map((l) => l.toFixed(2)).join(' ')} on ${cpus().length} cores shared with other work: ratios are against floors measured in the same run`,
  ]);
}
