import { buildConsole } from '../../console/build.ts';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type Metafile } from 'esbuild';
import {
  type BundleFiles,
  bundleFiles,
  bundleFunction,
  type FunctionBundleSettings,
  functionBuildOptions,
} from '../../infra/cdk/bundling.ts';
import { REPO_ROOT, handlerNames } from '../../infra/cdk/paths.ts';
import type { Budget } from './in-process.ts';
import { fmt, fmtRatio, median, q, ratio, table } from './lib/stats.ts';

const FUNCTIONS = handlerNames();

/** The floor: a bundle holding only the DynamoDB client and the document client. */
const BASELINE_SOURCE = `
export { DynamoDBClient } from '@aws-sdk/client-dynamodb';
export { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
`;

/**
 * Every bundle here is built with the CDK functions' own esbuild options (infra/cdk/bundling.ts:
 * node22, ESM, minified, SDK bundled, source maps, code splitting), the floor included, so what is
 * measured is what is deployed, and the floor is bundled alike.
 */
async function bundleSource(source: string, outdir: string, settings: FunctionBundleSettings = {}): Promise<Metafile> {
  const { entryPoints: _entry, ...options } = functionBuildOptions('', outdir, settings);
  const result = await build({
    ...options,
    entryNames: 'index',
    // Resolve the SDK from the project, not from the temp dir.
    stdin: { contents: source, resolveDir: process.cwd(), loader: 'js', sourcefile: 'bench-source.js' },
  });
  return result.metafile as Metafile;
}

/**
 * Bytes in the output per npm package (or per project folder), largest first, over the output
 * files `which` selects: the cold-loaded ones, or those loaded later.
 */
function bytesByPackage(meta: Metafile, files: BundleFiles, which: 'cold' | 'lazy'): Record<string, number> {
  const cold = new Set(files.coldLoaded);
  const sizes: Record<string, number> = {};
  for (const [path, out] of Object.entries(meta.outputs)) {
    if (!path.endsWith('.mjs') || cold.has(resolve(REPO_ROOT, path)) !== (which === 'cold')) continue;
    for (const [file, v] of Object.entries(out.inputs)) {
      const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
      const key = m ? (m[1] as string) : file.split('/').slice(0, 2).join('/');
      sizes[key] = (sizes[key] ?? 0) + v.bytesInOutput;
    }
  }
  return Object.fromEntries(Object.entries(sizes).sort((a, b) => b[1] - a[1]));
}

const sizeOf = (files: readonly string[]) => files.reduce((n, f) => n + statSync(f).size, 0);

/**
 * What each observability package adds to the floor (docs/architecture.md, "Observability"): the
 * floor's source plus the package's entry point, bundled and imported like a function.
 */
const PACKAGE_SOURCES: Record<string, string> = {
  '@aws-lambda-powertools/logger': "export { Logger, LogFormatter, LogItem } from '@aws-lambda-powertools/logger';",
  '@aws-lambda-powertools/metrics': "export { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';",
  '@aws-lambda-powertools/tracer': "export { Tracer } from '@aws-lambda-powertools/tracer';",
};

const OTHER_CLIENTS = ['@aws-sdk/client-lambda', '@aws-sdk/client-kms', '@aws-sdk/client-secrets-manager'];

/**
 * Import time of `file` in a fresh `node` process, measured inside it (ms). With `cpu`, the
 * process's CPU time (user + system) for the import instead: what the import costs whatever else
 * runs on the machine (the wall time grows with the load, the CPU time barely).
 */
function coldImport(file: string, nodeOptions: string, cpu = false): number {
  const script = cpu
    ? 'const c=process.cpuUsage();await import(process.env.BENCH_BUNDLE);const d=process.cpuUsage(c);process.stdout.write(String((d.user+d.system)/1000));'
    : 'const t=performance.now();await import(process.env.BENCH_BUNDLE);process.stdout.write(String(performance.now()-t));';
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { PATH: process.env.PATH, BENCH_BUNDLE: pathToFileURL(file).href, NODE_OPTIONS: nodeOptions, AWS_REGION: 'us-east-1' },
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (r.status !== 0) throw new Error(`import of ${file} failed: ${r.stderr.slice(0, 500)}`);
  return Number(r.stdout);
}

export async function coldStart(budget: Budget): Promise<{ text: string; json: unknown }> {
  const runs = budget.quick ? 5 : 9;
  // The meta bundle embeds the console: build it first, and report its size (the browser's download).
  const consoleSizes = buildConsole().sizes;
  const dir = mkdtempSync(join(tmpdir(), 'agent-vault-bundles-'));
  try {
    interface Built {
      readonly name: string;
      readonly files: BundleFiles;
      readonly meta: Metafile;
    }
    const baseDir = join(dir, 'floor');
    const baseMeta = await bundleSource(BASELINE_SOURCE, baseDir);
    const baseline: Built = { name: 'floor', files: bundleFiles(baseMeta, baseDir), meta: baseMeta };
    // Build everything first, then time the imports round-robin (bundle after bundle, run after
    // run), so drifting load on the machine hits every bundle and the floor alike.
    const built: Built[] = [];
    const failed: { fn: string; message: string }[] = [];
    for (const fn of FUNCTIONS) {
      const entry = resolve('functions', `${fn}.ts`);
      if (!existsSync(entry)) continue;
      const outdir = join(dir, fn);
      try {
        const meta = await bundleFunction(entry, outdir);
        built.push({ name: fn, files: bundleFiles(meta, outdir), meta });
      } catch (err) {
        failed.push({ fn, message: err instanceof Error ? (err.message.split('\n')[0] as string) : String(err) });
      }
    }
    const packageBuilds: Built[] = [];
    for (const [pkg, source] of Object.entries(PACKAGE_SOURCES)) {
      const outdir = join(dir, pkg.replace(/\W+/g, '_'));
      try {
        // The Tracer is external only where tracing is off: bundled here, as with tracing on.
        const meta = await bundleSource(`${BASELINE_SOURCE}\n${source}`, outdir, { tracing: true });
        packageBuilds.push({ name: pkg, files: bundleFiles(meta, outdir), meta });
      } catch (err) {
        failed.push({ fn: pkg, message: err instanceof Error ? (err.message.split('\n')[0] as string) : String(err) });
      }
    }
    const entries = [baseline.files.entry, ...built.map((b) => b.files.entry), ...packageBuilds.map((p) => p.files.entry)];
    const plain = new Map<string, number[]>(entries.map((f) => [f, []]));
    const maps = new Map<string, number[]>(entries.map((f) => [f, []]));
    const cpuTimes = new Map<string, number[]>(entries.map((f) => [f, []]));
    for (let i = 0; i < runs; i++) {
      for (const f of entries) {
        plain.get(f)?.push(coldImport(f, ''));
        maps.get(f)?.push(coldImport(f, '--enable-source-maps'));
        cpuTimes.get(f)?.push(coldImport(f, '', true));
      }
    }
    const measured = ({ files }: Built) => ({
      cold: sizeOf(files.coldLoaded),
      total: sizeOf(files.all),
      coldFiles: files.coldLoaded.length,
      allFiles: files.all.length,
      map: sizeOf(files.all.map((f) => `${f}.map`)),
      plain: median(plain.get(files.entry) ?? []),
      maps: median(maps.get(files.entry) ?? []),
      cpu: median(cpuTimes.get(files.entry) ?? []),
    });
    const base = measured(baseline);
    const clientNotes: string[] = [];
    let largest = '';
    const rows: string[][] = [];
    const json: Record<string, unknown> = {
      runs_per_figure: q(runs, 'processes'),
      esbuild:
        'infra/cdk/bundling.ts, as the CDK functions: bundle, platform node, target node22, format esm, code splitting (lazy import() = chunk loaded on first use), minify, sourcemap, SDK bundled, createRequire banner',
      floor: {
        what: '@aws-sdk/client-dynamodb + @aws-sdk/lib-dynamodb only, bundled alike',
        size: q(base.cold, 'bytes'),
        total_size: q(base.total, 'bytes'),
        import_median: q(base.plain, 'ms'),
        import_median_enable_source_maps: q(base.maps, 'ms'),
        import_cpu_median: q(base.cpu, 'ms'),
      },
      functions: {},
    };
    for (const b of built) {
      const m = measured(b);
      const cold = bytesByPackage(b.meta, b.files, 'cold');
      const lazy = bytesByPackage(b.meta, b.files, 'lazy');
      const clients = (sizes: Record<string, number>) =>
        OTHER_CLIENTS.filter((c) => sizes[c]).map(
          (c) => `${c.replace('@aws-sdk/client-', '')} ${((sizes[c] as number) / 1024).toFixed(0)}K`,
        );
      const coldClients = clients(cold);
      const lazyClients = clients(lazy);
      if (coldClients.length || lazyClients.length) {
        clientNotes.push(
          `${b.name}: ${coldClients.length ? `cold ${coldClients.join(', ')}` : 'none cold'}${lazyClients.length ? `; lazy ${lazyClients.join(', ')}` : ''}`,
        );
      }
      rows.push([
        `functions/${b.name}.ts`,
        fmt(m.cold / 1024, 1),
        fmt(m.total / 1024, 1),
        fmtRatio(ratio(m.cold, base.cold)),
        fmt(m.plain, 1),
        fmtRatio(ratio(m.plain, base.plain)),
        fmt(m.maps, 1),
        fmtRatio(ratio(m.maps, base.maps)),
        fmt(m.cpu, 1),
        fmtRatio(ratio(m.cpu, base.cpu)),
      ]);
      (json.functions as Record<string, unknown>)[b.name] = {
        size: q(m.cold, 'bytes'),
        size_what: 'cold-loaded: index.mjs and the chunks it imports statically',
        total_size: q(m.total, 'bytes'),
        files: { cold_loaded: m.coldFiles, all: m.allFiles },
        source_map_size: q(m.map, 'bytes'),
        size_ratio_to_floor: q(ratio(m.cold, base.cold), 'ratio'),
        total_size_ratio_to_floor: q(ratio(m.total, base.total), 'ratio'),
        import_median: q(m.plain, 'ms'),
        import_ratio_to_floor: q(ratio(m.plain, base.plain), 'ratio'),
        import_median_enable_source_maps: q(m.maps, 'ms'),
        import_enable_source_maps_ratio_to_floor: q(ratio(m.maps, base.maps), 'ratio'),
        import_cpu_median: q(m.cpu, 'ms'),
        import_cpu_ratio_to_floor: q(ratio(m.cpu, base.cpu), 'ratio'),
        largest_inputs: Object.fromEntries(
          Object.entries(cold)
            .slice(0, 10)
            .map(([k, v]) => [k, q(v, 'bytes')]),
        ),
        largest_lazy_inputs: Object.fromEntries(
          Object.entries(lazy)
            .slice(0, 6)
            .map(([k, v]) => [k, q(v, 'bytes')]),
        ),
      };
      if (!largest) {
        largest = `${b.name}: ${Object.entries(cold)
          .slice(0, 8)
          .map(([k, v]) => `${k} ${(v / 1024).toFixed(0)}K`)
          .join(', ')}`;
      }
    }
    for (const { fn, message } of failed) {
      rows.push([`functions/${fn}.ts`, 'FAILED', '', '', '', '', '', '', '', '']);
      (json.functions as Record<string, unknown>)[fn] = { error: message };
    }
    const packages: Record<string, unknown> = {};
    const packageRows: string[][] = [];
    for (const p of packageBuilds) {
      const m = measured(p);
      packageRows.push([
        p.name,
        fmt((m.cold - base.cold) / 1024, 1),
        fmtRatio(ratio(m.cold, base.cold)),
        fmt(m.plain - base.plain, 1),
        fmtRatio(ratio(m.plain, base.plain)),
        fmt(m.cpu - base.cpu, 1),
        fmtRatio(ratio(m.cpu, base.cpu)),
      ]);
      packages[p.name] = {
        added_size: q(m.cold - base.cold, 'bytes'),
        size_ratio_to_floor: q(ratio(m.cold, base.cold), 'ratio'),
        added_import: q(m.plain - base.plain, 'ms'),
        import_ratio_to_floor: q(ratio(m.plain, base.plain), 'ratio'),
        added_import_cpu: q(m.cpu - base.cpu, 'ms'),
        import_cpu_ratio_to_floor: q(ratio(m.cpu, base.cpu), 'ratio'),
      };
    }
    json.observability_packages = packages;
    const consoleFiles = Object.values(consoleSizes);
    const consoleBytes = consoleFiles.reduce((n, f) => n + f.bytes, 0);
    const consoleGzip = consoleFiles.reduce((n, f) => n + f.gzip, 0);
    rows.push(['console/ (browser: app.js + app.css + index.html)', '', fmt(consoleBytes / 1024, 1), '', '', '', '', '', '', '']);
    json.console = {
      what: 'files the browser downloads from /console/ (also embedded in the meta bundle)',
      total: q(consoleBytes, 'bytes'),
      total_gzip: q(consoleGzip, 'bytes'),
      files: Object.fromEntries(Object.entries(consoleSizes).map(([f, v]) => [f, { size: q(v.bytes, 'bytes'), gzip: q(v.gzip, 'bytes') }])),
    };
    rows.push([
      'floor: DynamoDB clients only',
      fmt(base.cold / 1024, 1),
      fmt(base.total / 1024, 1),
      '×1.00',
      fmt(base.plain, 1),
      '×1.00',
      fmt(base.maps, 1),
      '×1.00',
      fmt(base.cpu, 1),
      '×1.00',
    ]);
    const failures = Object.entries(json.functions as Record<string, { error?: string }>).filter(([, v]) => v.error);
    const text =
      table(
        `4. Cold start: esbuild bundles (infra/cdk/bundling.ts) and cold import time (median of ${runs} fresh node processes each)`,
        ['bundle', 'cold KiB', 'total KiB', 'cold/floor', 'import ms', 'ratio', 'w/ src-maps ms', 'ratio', 'cpu ms', 'ratio'],
        rows,
        [
          'cold KiB = index.mjs + the chunks it imports statically (what a cold start loads); total KiB = every .mjs of the asset, the chunks loaded on first use',
          "  (import() of a path's SDK client, the server-key read, the SDK's optional credential providers) included; the floor is bundled alike;",
          'import ms = time of `await import(index.mjs)` inside a fresh `node` process; "w/ src-maps" = same with NODE_OPTIONS=--enable-source-maps (as the CDK functions set it);',
          '  cpu ms = the CPU time (user + system) of the same import: it barely moves with the load on the machine, the wall times do',
          `node ${process.version} here; Lambda runs nodejs22.x. floor ms ${fmt(base.plain, 1)}.`,
          `largest cold-loaded inputs (bytes in output) of ${largest}`,
          `console: ${Object.entries(consoleSizes)
            .map(([f, v]) => `${f} ${(v.bytes / 1024).toFixed(1)} KiB`)
            .join(', ')}; ${(consoleGzip / 1024).toFixed(1)} KiB gzip in all (no framework: console/src/*.ts)`,
          ...(clientNotes.length ? [`SDK clients besides DynamoDB: ${clientNotes.join('; ')}`] : []),
          ...failures.map(([fn, v]) => `${fn}: bundle failed: ${v.error}`),
        ],
      ) +
      table(
        '4b. What each Powertools package adds to the floor bundle (floor + the package, bundled and imported alike)',
        ['package', '+KiB', 'size/floor', '+import ms', 'import/floor', '+cpu ms', 'cpu/floor'],
        packageRows,
      );
    return { text, json };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
