import { buildConsole } from '../../console/build.ts';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type BuildOptions, build, type Metafile } from 'esbuild';
import type { Budget } from './in-process.ts';
import { fmt, fmtRatio, median, q, ratio, table } from './lib/stats.ts';

/**
 * The createRequire shim ESM Lambda bundles carry so bundled CommonJS dependencies that call
 * `require` for Node built-ins keep working (the banner the CDK VaultFunction passes to esbuild).
 */
export const ESM_REQUIRE_BANNER = "import { createRequire } from 'module';const require = createRequire(import.meta.url);";

const FUNCTIONS = ['agents', 'profiles', 'runs', 'meta', 'run-worker', 'run-failure'];

/** The floor: a bundle holding only the DynamoDB client and the document client. */
const BASELINE_SOURCE = `
export { DynamoDBClient } from '@aws-sdk/client-dynamodb';
export { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
`;

/** The same esbuild settings as the CDK functions: node22, ESM, minified, SDK bundled, source map. */
const FUNCTION_BUILD: BuildOptions = {
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'esm',
  minify: true,
  sourcemap: true,
  // As infra/cdk/constructs/vault-function.ts bundles while the tracing deploy setting is off (the default).
  external: ['@aws-lambda-powertools/tracer'],
  mainFields: ['module', 'main'],
  banner: { js: ESM_REQUIRE_BANNER },
  logLevel: 'silent',
};

async function bundle(entry: string, outfile: string): Promise<Record<string, number>> {
  const result = await build({ ...FUNCTION_BUILD, entryPoints: [entry], outfile, metafile: true });
  return bytesByPackage(result.metafile);
}

/** Bytes in the output per npm package (or per project folder), largest first. */
function bytesByPackage(meta: Metafile): Record<string, number> {
  const out = Object.values(meta.outputs).find((o) => o.entryPoint !== undefined) ?? Object.values(meta.outputs)[0];
  const sizes: Record<string, number> = {};
  for (const [file, v] of Object.entries(out?.inputs ?? {})) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
    const key = m ? (m[1] as string) : file.split('/').slice(0, 2).join('/');
    sizes[key] = (sizes[key] ?? 0) + v.bytesInOutput;
  }
  return Object.fromEntries(Object.entries(sizes).sort((a, b) => b[1] - a[1]));
}

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
    const baselineOut = join(dir, 'baseline.mjs');
    // Resolve the SDK from the project, not from the temp dir.
    await build({
      ...FUNCTION_BUILD,
      stdin: { contents: BASELINE_SOURCE, resolveDir: process.cwd(), loader: 'js' },
      outfile: baselineOut,
    });
    // Build everything first, then time the imports round-robin (bundle after bundle, run after
    // run), so drifting load on the machine hits every bundle and the floor alike.
    const built: { fn: string; out: string; packages: Record<string, number> }[] = [];
    const failed: { fn: string; message: string }[] = [];
    for (const fn of FUNCTIONS) {
      const entry = resolve('functions', `${fn}.ts`);
      if (!existsSync(entry)) continue;
      const out = join(dir, `${fn}.mjs`);
      try {
        built.push({ fn, out, packages: await bundle(entry, out) });
      } catch (err) {
        failed.push({ fn, message: err instanceof Error ? (err.message.split('\n')[0] as string) : String(err) });
      }
    }
    const packageOuts: { pkg: string; out: string }[] = [];
    for (const [pkg, source] of Object.entries(PACKAGE_SOURCES)) {
      const out = join(dir, `${pkg.replace(/\W+/g, '_')}.mjs`);
      try {
        await build({ ...FUNCTION_BUILD, external: [], stdin: { contents: `${BASELINE_SOURCE}\n${source}`, resolveDir: process.cwd(), loader: 'js' }, outfile: out });
        packageOuts.push({ pkg, out });
      } catch (err) {
        failed.push({ fn: pkg, message: err instanceof Error ? (err.message.split('\n')[0] as string) : String(err) });
      }
    }
    const files = [baselineOut, ...built.map((b) => b.out), ...packageOuts.map((p) => p.out)];
    const plain = new Map<string, number[]>(files.map((f) => [f, []]));
    const maps = new Map<string, number[]>(files.map((f) => [f, []]));
    const cpuTimes = new Map<string, number[]>(files.map((f) => [f, []]));
    for (let i = 0; i < runs; i++) {
      for (const f of files) {
        plain.get(f)?.push(coldImport(f, ''));
        maps.get(f)?.push(coldImport(f, '--enable-source-maps'));
        cpuTimes.get(f)?.push(coldImport(f, '', true));
      }
    }
    const measured = (file: string) => ({
      size: statSync(file).size,
      map: statSync(`${file}.map`).size,
      plain: median(plain.get(file) ?? []),
      maps: median(maps.get(file) ?? []),
      cpu: median(cpuTimes.get(file) ?? []),
    });
    const base = measured(baselineOut);
    const clientNotes: string[] = [];
    let largest = '';
    const rows: string[][] = [];
    const json: Record<string, unknown> = {
      runs_per_figure: q(runs, 'processes'),
      esbuild: 'bundle, platform node, target node22, format esm, minify, sourcemap, SDK bundled, createRequire banner',
      floor: {
        what: '@aws-sdk/client-dynamodb + @aws-sdk/lib-dynamodb only',
        size: q(base.size, 'bytes'),
        import_median: q(base.plain, 'ms'),
        import_median_enable_source_maps: q(base.maps, 'ms'),
        import_cpu_median: q(base.cpu, 'ms'),
      },
      functions: {},
    };
    for (const { fn, out, packages } of built) {
      const m = measured(out);
      const others = OTHER_CLIENTS.filter((c) => packages[c]).map(
        (c) => `${c.replace('@aws-sdk/client-', '')} ${((packages[c] as number) / 1024).toFixed(0)}K`,
      );
      if (others.length) clientNotes.push(`${fn}: ${others.join(', ')}`);
      rows.push([
        `functions/${fn}.ts`,
        fmt(m.size / 1024, 1),
        fmtRatio(ratio(m.size, base.size)),
        fmt(m.plain, 1),
        fmt(base.plain, 1),
        fmtRatio(ratio(m.plain, base.plain)),
        fmt(m.maps, 1),
        fmtRatio(ratio(m.maps, base.maps)),
        fmt(m.cpu, 1),
        fmtRatio(ratio(m.cpu, base.cpu)),
      ]);
      (json.functions as Record<string, unknown>)[fn] = {
        size: q(m.size, 'bytes'),
        source_map_size: q(m.map, 'bytes'),
        size_ratio_to_floor: q(ratio(m.size, base.size), 'ratio'),
        import_median: q(m.plain, 'ms'),
        import_ratio_to_floor: q(ratio(m.plain, base.plain), 'ratio'),
        import_median_enable_source_maps: q(m.maps, 'ms'),
        import_enable_source_maps_ratio_to_floor: q(ratio(m.maps, base.maps), 'ratio'),
        import_cpu_median: q(m.cpu, 'ms'),
        import_cpu_ratio_to_floor: q(ratio(m.cpu, base.cpu), 'ratio'),
        largest_inputs: Object.fromEntries(
          Object.entries(packages)
            .slice(0, 10)
            .map(([k, v]) => [k, q(v, 'bytes')]),
        ),
      };
      if (!largest) {
        largest = `${fn}: ${Object.entries(packages)
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
    for (const { pkg, out } of packageOuts) {
      const m = measured(out);
      packageRows.push([
        pkg,
        fmt((m.size - base.size) / 1024, 1),
        fmtRatio(ratio(m.size, base.size)),
        fmt(m.plain - base.plain, 1),
        fmtRatio(ratio(m.plain, base.plain)),
        fmt(m.cpu - base.cpu, 1),
        fmtRatio(ratio(m.cpu, base.cpu)),
      ]);
      packages[pkg] = {
        added_size: q(m.size - base.size, 'bytes'),
        size_ratio_to_floor: q(ratio(m.size, base.size), 'ratio'),
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
    rows.push(['console/ (browser: app.js + app.css + index.html)', fmt(consoleBytes / 1024, 1), '', '', '', '', '', '', '', '']);
    json.console = {
      what: 'files the browser downloads from /console/ (also embedded in the meta bundle)',
      total: q(consoleBytes, 'bytes'),
      total_gzip: q(consoleGzip, 'bytes'),
      files: Object.fromEntries(Object.entries(consoleSizes).map(([f, v]) => [f, { size: q(v.bytes, 'bytes'), gzip: q(v.gzip, 'bytes') }])),
    };
    rows.push([
      'floor: DynamoDB clients only',
      fmt(base.size / 1024, 1),
      '×1.00',
      fmt(base.plain, 1),
      fmt(base.plain, 1),
      '×1.00',
      fmt(base.maps, 1),
      '×1.00',
      fmt(base.cpu, 1),
      '×1.00',
    ]);
    const failures = Object.entries(json.functions as Record<string, { error?: string }>).filter(([, v]) => v.error);
    const text = table(
      `4. Cold start: esbuild bundle size and cold import time (median of ${runs} fresh node processes each)`,
      ['bundle', 'KiB', 'size/floor', 'import ms', 'floor ms', 'ratio', 'w/ src-maps ms', 'ratio', 'cpu ms', 'ratio'],
      rows,
      [
        'import ms = time of `await import(bundle)` inside a fresh `node` process; "w/ src-maps" = same with NODE_OPTIONS=--enable-source-maps (as the CDK functions set it);',
        '  cpu ms = the CPU time (user + system) of the same import: it barely moves with the load on the machine, the wall times do',
        `node ${process.version} here; Lambda runs nodejs22.x. Bundles: node22 ESM minified, SDK bundled, createRequire banner, external source map.`,
        `largest inputs (bytes in output) of ${largest}`,
        `console: ${Object.entries(consoleSizes)
          .map(([f, v]) => `${f} ${(v.bytes / 1024).toFixed(1)} KiB`)
          .join(', ')}; ${(consoleGzip / 1024).toFixed(1)} KiB gzip in all (no framework: console/src/*.ts)`,
        ...(clientNotes.length ? [`SDK clients besides DynamoDB in each bundle: ${clientNotes.join('; ')}`] : []),
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
