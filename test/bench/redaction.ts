import { randomBytes } from 'node:crypto';
import { Redactor } from '#shared/outbound/redact';
import type { Budget } from './in-process.ts';
import { fmt, fmtRatio, q, ratio, summarize, table, timeLoop } from './lib/stats.ts';

/**
 * 7. The leak guard's cost: building every form of a profile's values (once per run) and
 * redacting a runner answer (raw text, then the parsed values), against JSON.parse of the same
 * text as the floor — the one thing the vault must do with an answer anyway.
 */
/**
 * Like timeLoop, but per-call CPU time of the process (process.cpuUsage, µs): on a shared
 * machine a call of milliseconds is far likelier to be preempted than one of microseconds, which
 * would make wall time grow faster than the work does.
 */
function cpuLoop<P>(iterations: number, warmup: number, prepare: () => P, op: (p: P) => unknown): number[] {
  for (let i = 0; i < warmup; i++) op(prepare());
  const out: number[] = new Array(iterations);
  for (let i = 0; i < iterations; i++) {
    const p = prepare();
    const c = process.cpuUsage();
    op(p);
    const d = process.cpuUsage(c);
    out[i] = d.user + d.system;
  }
  return out;
}

export async function redactionCost(budget: Budget): Promise<{ text: string; json: Record<string, unknown> }> {
  const iterations = budget.quick ? 200 : 2000;
  const bigIterations = budget.quick ? 9 : 30;
  const values = (n: number) => Array.from({ length: n }, () => randomBytes(18).toString('base64url'));
  const ten = values(10);
  const redactor = new Redactor(ten);
  const small = JSON.stringify({ output: { ok: true, message: 'logged in, fetched 3 invoices', count: 3 }, session: { cookie: 'abc' } });
  const big = JSON.stringify({
    output: { items: Array.from({ length: 8000 }, (_, i) => ({ id: i, text: 'lorem ipsum dolor sit amet '.repeat(4) })) },
  });
  // What shared/runs/webhook.ts (redactResponse) does with a runner's answer: parse it, and unless
  // it is clean, redact the raw text; if that pass is settled, replace the strings it changed in
  // the parsed answer, else parse the redacted text and redact its values again.
  const guard = (text: string) => {
    const parsed = (JSON.parse(text) as { output: unknown }).output;
    if (redactor.clean(text)) return parsed;
    const { text: redacted, settled, changed } = redactor.jsonSettled(text);
    const replaced = settled ? redactor.replaceChanged(parsed, changed) : undefined;
    if (replaced !== undefined) return replaced;
    const output = redacted === text ? parsed : (JSON.parse(redacted) as { output: unknown }).output;
    return settled ? output : redactor.value(output);
  };

  const rows: string[][] = [];
  const json: Record<string, unknown> = {};
  const add = (what: string, key: string, sample: number[], floor?: number[]) => {
    const s = summarize(sample);
    const f = floor ? summarize(floor) : undefined;
    rows.push([what, String(s.n), fmt(s.median), fmt(s.p99), f ? fmt(f.median) : '—', f ? fmtRatio(ratio(s.median, f.median)) : '—']);
    json[key] = {
      median: q(s.median, 'µs'),
      p99: q(s.p99, 'µs'),
      iterations: q(s.n, 'count'),
      ...(f ? { floor_median: q(f.median, 'µs') } : {}),
    };
  };
  add(
    'build forms, 10 values (+90 user:pass pairs)',
    'build_10_values',
    await timeLoop(
      iterations,
      50,
      () => ten,
      (v) => new Redactor(v),
    ),
  );
  const sixtyFour = values(64);
  add(
    'build forms, 64 values (no pairs)',
    'build_64_values',
    await timeLoop(
      Math.ceil(iterations / 4),
      10,
      () => sixtyFour,
      (v) => new Redactor(v),
    ),
  );
  add(
    `redact a small answer (${small.length} B)`,
    'small_answer',
    await timeLoop(iterations, 100, () => small, guard),
    await timeLoop(
      iterations,
      100,
      () => small,
      (t) => JSON.parse(t),
    ),
  );
  add(
    `redact a 1 MiB answer (${Math.round(big.length / 1024)} KiB), CPU`,
    'one_mib_answer',
    cpuLoop(bigIterations, 2, () => big, guard),
    cpuLoop(
      bigIterations,
      2,
      () => big,
      (t) => JSON.parse(t),
    ),
  );
  // Not clean: non-ASCII text and a value in 1 % of the items, so every string is redacted,
  // in the raw text and again once parsed.
  const dirty = JSON.stringify({
    output: {
      items: Array.from({ length: 8000 }, (_, i) => ({
        id: i,
        text: `${'lorem ipsum dolor sit amét '.repeat(4)}${i % 100 === 0 ? ten[i % 10] : ''}`,
      })),
    },
  });
  add(
    'redact a 1 MiB answer that holds values (non-ASCII), CPU',
    'one_mib_dirty_answer',
    cpuLoop(bigIterations, 2, () => dirty, guard),
    cpuLoop(
      bigIterations,
      2,
      () => dirty,
      (t) => JSON.parse(t),
    ),
  );
  // The adversarial case: one 16 KiB bearer secret, and answers made of copies of it that each
  // miss its last character, so every position almost matches. A matcher that confirms
  // candidates character by character does O(answer × secret) work here. Each size is timed after
  // one untimed call (the redactor builds its automaton once), so that the per-KiB figures
  // compare the steady cost of each size.
  const bearer = 'a'.repeat(16 * 1024);
  const randomValues = (n: number, bytes: number) =>
    Array.from({ length: n }, () => randomBytes(bytes).toString('base64url').slice(0, bytes));
  const oneBig = randomValues(1, 16 * 1024);
  add(
    'build forms, one 16 KiB random value',
    'build_16_kib_value',
    await timeLoop(
      budget.quick ? 3 : 10,
      1,
      () => oneBig,
      (v) => new Redactor(v),
    ),
  );
  const sixtyFourKiB = randomValues(64, 1024);
  add(
    'build forms, 64 values of 1 KiB (auth_data cap)',
    'build_64_kib_values',
    await timeLoop(
      budget.quick ? 3 : 10,
      1,
      () => sixtyFourKiB,
      (v) => new Redactor(v),
    ),
  );
  const worst = new Redactor([bearer]);
  const almost = `${bearer.slice(0, -1)}!`;
  for (const [kib, iters] of [
    [64, budget.quick ? 9 : 25],
    [128, budget.quick ? 5 : 13],
    [1024, budget.quick ? 3 : 7],
  ] as const) {
    const answer = JSON.stringify({ echo: almost.repeat(Math.ceil((kib * 1024) / almost.length)).slice(0, kib * 1024 - 12) });
    add(
      `worst case: 16 KiB secret, ${kib} KiB answer that almost matches it, CPU`,
      `worst_case_${kib}_kib`,
      cpuLoop(
        iters,
        1,
        () => answer,
        (t) => worst.text(t),
      ),
      cpuLoop(
        Math.max(iters, 5),
        1,
        () => answer,
        (t) => JSON.parse(t),
      ),
    );
  }
  const text = table(
    '7. Redaction (leak guard) cost, 10-value profile unless stated',
    ['what', 'n', 'median µs', 'p99 µs', 'floor med µs', 'med/floor'],
    rows,
    [
      'floor: JSON.parse of the same answer (the vault parses every answer anyway)',
      'worst case: Redactor.text (what the proxy runs on an answer) with one 16 KiB secret',
      'rows marked CPU: CPU time of the process (process.cpuUsage), as their floor: long calls on a shared machine are preempted more often',
    ],
  );
  return { text, json };
}
