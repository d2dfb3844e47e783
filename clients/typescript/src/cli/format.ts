/** Human output of the CLI: aligned tables and key/value blocks (`--json` bypasses both). */

/** A cell as shown: '-' for nothing, lists joined, objects as compact JSON. */
export function cell(value: unknown): string {
  if (value === undefined || value === null || value === '') return '-';
  if (Array.isArray(value)) return value.length === 0 ? '-' : value.map(cell).join(',');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value).replace(/\s+/g, ' ');
}

export type Columns<T> = ReadonlyArray<readonly [header: string, pick: (row: T) => unknown]>;

/** An aligned table with a header row; `(none)` when there are no rows. */
export function table<T>(rows: readonly T[], columns: Columns<T>): string {
  if (rows.length === 0) return '(none)\n';
  const cells = rows.map((r) => columns.map(([, pick]) => cell(pick(r))));
  const widths = columns.map(([h], i) => Math.max(h.length, ...cells.map((c) => (c[i] as string).length)));
  const line = (c: readonly string[]) =>
    c
      .map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i] as number)))
      .join('  ')
      .trimEnd();
  return `${[line(columns.map(([h]) => h)), ...cells.map(line)].join('\n')}\n`;
}

/** `key: value` lines, keys aligned. */
export function fields(entries: ReadonlyArray<readonly [string, unknown]>): string {
  const shown = entries.filter(([, v]) => v !== undefined);
  const width = Math.max(...shown.map(([k]) => k.length));
  return `${shown.map(([k, v]) => `${`${k}:`.padEnd(width + 1)} ${cell(v)}`).join('\n')}\n`;
}
